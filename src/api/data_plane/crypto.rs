//! Handlers for the cryptographic operations: encrypt, decrypt, wrapKey, unwrapKey, sign, verify.
//! One handler per operation serves `/keys/{name}/{op}` and `/keys/{name}/{version}/{op}`; the
//! version segment may be empty (`/keys/{name}//wrapkey`), meaning the current version.

use axum::Json;
use axum::extract::State;

use super::key_ref::KeyRef;
use super::wire::{
    GetRandomBytesRequest, KeyOperationResult, KeyOperationsParameters, KeySignParameters, KeyVerifyParameters,
    KeyVerifyResult, RandomBytes, SignatureRequest, versioned_id,
};
use crate::api::AppState;
use crate::api::errors::ApiResult;
use crate::api::extract::{ApiVersion, KvJson, VaultRequest};
use crate::audit::ResolvedVersion;
use crate::crypto::base64url::Base64Url;
use crate::keys::model::{Key, KeyOperation};
use crate::keys::service::{CipherOutput, EncryptionAlgorithm, KeyService};

/// Metrics count each cipher operation under its key operation and algorithm.
fn cipher_result(
    state: &AppState,
    ctx: &VaultRequest,
    operation: KeyOperation,
    algorithm: EncryptionAlgorithm,
    (key, output): (Key, CipherOutput),
) -> CipherResponse {
    state.metrics.record_crypto(operation.as_str(), algorithm.as_str());
    // The audit log records the version used, also when the request named none.
    let version = axum::Extension(ResolvedVersion(key.version.to_string()));
    (version, Json(KeyOperationResult::new(versioned_id(&ctx.origin, &key), output)))
}

/// A cipher operation's answer, with the version it used for the audit record.
pub type CipherResponse = (axum::Extension<ResolvedVersion>, Json<KeyOperationResult>);

pub async fn encrypt(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    key: KeyRef,
    KvJson(body): KvJson<KeyOperationsParameters>,
) -> ApiResult<CipherResponse> {
    let algorithm = EncryptionAlgorithm::parse(&body.alg)?;
    let done = state.keys.encrypt(&ctx.vault, &key.name, key.version(), algorithm, body.into()).await?;
    Ok(cipher_result(&state, &ctx, KeyOperation::Encrypt, algorithm, done))
}

pub async fn decrypt(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    key: KeyRef,
    KvJson(body): KvJson<KeyOperationsParameters>,
) -> ApiResult<CipherResponse> {
    let algorithm = EncryptionAlgorithm::parse(&body.alg)?;
    let done = state.keys.decrypt(&ctx.vault, &key.name, key.version(), algorithm, body.into()).await?;
    Ok(cipher_result(&state, &ctx, KeyOperation::Decrypt, algorithm, done))
}

pub async fn wrap_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    key: KeyRef,
    KvJson(body): KvJson<KeyOperationsParameters>,
) -> ApiResult<CipherResponse> {
    let algorithm = EncryptionAlgorithm::parse(&body.alg)?;
    let done = state.keys.wrap_key(&ctx.vault, &key.name, key.version(), algorithm, body.into()).await?;
    Ok(cipher_result(&state, &ctx, KeyOperation::WrapKey, algorithm, done))
}

pub async fn unwrap_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    key: KeyRef,
    KvJson(body): KvJson<KeyOperationsParameters>,
) -> ApiResult<CipherResponse> {
    let algorithm = EncryptionAlgorithm::parse(&body.alg)?;
    let done = state.keys.unwrap_key(&ctx.vault, &key.name, key.version(), algorithm, body.into()).await?;
    Ok(cipher_result(&state, &ctx, KeyOperation::UnwrapKey, algorithm, done))
}

/// The algorithm name metrics count an ML-DSA operation under: the key's parameter set.
fn ml_dsa_name(key: &Key) -> &'static str {
    key.public.ml_dsa().map_or("ML-DSA", |a| a.as_str())
}

pub async fn sign(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KeyRef { name, version }: KeyRef,
    KvJson(body): KvJson<KeySignParameters>,
) -> ApiResult<CipherResponse> {
    let version = version.as_deref();
    let (key, signature, algorithm) = match body.into_request(api_version.served)? {
        SignatureRequest::Digest { alg, digest } => {
            let (key, signature) = state.keys.sign(&ctx.vault, &name, version, alg, &digest).await?;
            (key, signature, alg.as_str())
        }
        SignatureRequest::MlDsa { alg, input } => {
            let (key, signature) = state.keys.sign_ml_dsa(&ctx.vault, &name, version, alg.as_deref(), input).await?;
            let algorithm = ml_dsa_name(&key);
            (key, signature, algorithm)
        }
    };
    state.metrics.record_crypto(KeyOperation::Sign.as_str(), algorithm);
    let used = axum::Extension(ResolvedVersion(key.version.to_string()));
    Ok((used, Json(KeyOperationResult::new(versioned_id(&ctx.origin, &key), CipherOutput::value(signature)))))
}

pub async fn verify(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KeyRef { name, version }: KeyRef,
    KvJson(body): KvJson<KeyVerifyParameters>,
) -> ApiResult<Json<KeyVerifyResult>> {
    let version = version.as_deref();
    let (request, signature) = body.into_request(api_version.served)?;
    let (value, algorithm) = match request {
        SignatureRequest::Digest { alg, digest } => {
            let value = state.keys.verify(&ctx.vault, &name, version, alg, &digest, &signature).await?;
            (value, alg.as_str())
        }
        SignatureRequest::MlDsa { alg, input } => {
            let value = state.keys.verify_ml_dsa(&ctx.vault, &name, version, alg.as_deref(), input, &signature).await?;
            (value, "ML-DSA")
        }
    };
    state.metrics.record_crypto(KeyOperation::Verify.as_str(), algorithm);
    Ok(Json(KeyVerifyResult { value }))
}

/// `POST /rng`: random bytes from the emulator's secure source.
pub async fn get_random_bytes(
    _ctx: VaultRequest,
    _version: ApiVersion,
    KvJson(body): KvJson<GetRandomBytesRequest>,
) -> ApiResult<Json<RandomBytes>> {
    Ok(Json(RandomBytes { value: Base64Url(KeyService::random_bytes(body.count)?) }))
}
