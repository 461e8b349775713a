//! Handlers for the cryptographic operations: encrypt, decrypt, wrapKey, unwrapKey, sign, verify.
//! The version segment may be empty (`/keys/{name}//wrapkey`), meaning the current version.

use axum::Json;
use axum::extract::State;

use super::wire::{
    GetRandomBytesRequest, KeyOperationResult, KeyOperationsParameters, KeySignParameters, KeyVerifyParameters,
    KeyVerifyResult, RandomBytes, SignatureRequest, versioned_id,
};
use crate::api::AppState;
use crate::api::errors::ApiResult;
use crate::api::extract::{ApiVersion, KvJson, KvPath, VaultRequest};
use crate::crypto::base64url::Base64Url;
use crate::keys::model::{KeyName, KeyOperation};
use crate::keys::service::{CipherOutput, EncryptionAlgorithm, KeyService};

#[derive(Clone, Copy)]
enum Direction {
    Encrypt,
    Decrypt,
}

async fn run(
    state: AppState,
    ctx: VaultRequest,
    name: &str,
    version: &str,
    (key_operation, direction): (KeyOperation, Direction),
    body: KeyOperationsParameters,
) -> ApiResult<Json<KeyOperationResult>> {
    let name = KeyName::parse(name)?;
    let algorithm = EncryptionAlgorithm::parse(&body.alg)?;
    let input = body.into();
    let (key, output) = match direction {
        Direction::Encrypt => {
            state.keys.encrypt(&ctx.vault, &name, Some(version), key_operation, algorithm, input).await?
        }
        Direction::Decrypt => {
            state.keys.decrypt(&ctx.vault, &name, Some(version), key_operation, algorithm, input).await?
        }
    };
    state.metrics.record_crypto(key_operation.as_str(), algorithm.as_str());
    Ok(Json(KeyOperationResult::new(versioned_id(&ctx.origin, &key), output)))
}

const ENCRYPT: (KeyOperation, Direction) = (KeyOperation::Encrypt, Direction::Encrypt);
const DECRYPT: (KeyOperation, Direction) = (KeyOperation::Decrypt, Direction::Decrypt);
const WRAP: (KeyOperation, Direction) = (KeyOperation::WrapKey, Direction::Encrypt);
const UNWRAP: (KeyOperation, Direction) = (KeyOperation::UnwrapKey, Direction::Decrypt);

/// Generates the versioned and the current-version handler of one operation.
macro_rules! crypto_handlers {
    ($versioned:ident, $latest:ident, $op:expr) => {
        pub async fn $versioned(
            State(state): State<AppState>,
            ctx: VaultRequest,
            _version: ApiVersion,
            KvPath((name, version)): KvPath<(String, String)>,
            KvJson(body): KvJson<KeyOperationsParameters>,
        ) -> ApiResult<Json<KeyOperationResult>> {
            run(state, ctx, &name, &version, $op, body).await
        }

        pub async fn $latest(
            State(state): State<AppState>,
            ctx: VaultRequest,
            _version: ApiVersion,
            KvPath(name): KvPath<String>,
            KvJson(body): KvJson<KeyOperationsParameters>,
        ) -> ApiResult<Json<KeyOperationResult>> {
            run(state, ctx, &name, "", $op, body).await
        }
    };
}

crypto_handlers!(encrypt, encrypt_latest, ENCRYPT);
crypto_handlers!(decrypt, decrypt_latest, DECRYPT);
crypto_handlers!(wrap_key, wrap_key_latest, WRAP);
crypto_handlers!(unwrap_key, unwrap_key_latest, UNWRAP);

/// Generates the versioned and the current-version handler of sign and verify.
macro_rules! signature_handlers {
    ($versioned:ident, $latest:ident, $run:ident, $params:ty, $result:ty) => {
        pub async fn $versioned(
            State(state): State<AppState>,
            ctx: VaultRequest,
            api_version: ApiVersion,
            KvPath((name, version)): KvPath<(String, String)>,
            KvJson(body): KvJson<$params>,
        ) -> ApiResult<Json<$result>> {
            $run(state, ctx, &api_version, &name, &version, body).await
        }

        pub async fn $latest(
            State(state): State<AppState>,
            ctx: VaultRequest,
            api_version: ApiVersion,
            KvPath(name): KvPath<String>,
            KvJson(body): KvJson<$params>,
        ) -> ApiResult<Json<$result>> {
            $run(state, ctx, &api_version, &name, "", body).await
        }
    };
}

/// The algorithm name metrics count an ML-DSA operation under: the key's parameter set.
fn ml_dsa_name(key: &crate::keys::model::Key) -> &'static str {
    key.public.ml_dsa().map_or("ML-DSA", |a| a.as_str())
}

async fn run_sign(
    state: AppState,
    ctx: VaultRequest,
    api_version: &ApiVersion,
    name: &str,
    version: &str,
    body: KeySignParameters,
) -> ApiResult<Json<KeyOperationResult>> {
    let name = KeyName::parse(name)?;
    let (key, signature, algorithm) = match body.into_request(api_version.served)? {
        SignatureRequest::Digest { alg, digest } => {
            let (key, signature) = state.keys.sign(&ctx.vault, &name, Some(version), alg, &digest).await?;
            (key, signature, alg.as_str())
        }
        SignatureRequest::MlDsa { alg, input } => {
            let (key, signature) =
                state.keys.sign_ml_dsa(&ctx.vault, &name, Some(version), alg.as_deref(), input).await?;
            let algorithm = ml_dsa_name(&key);
            (key, signature, algorithm)
        }
    };
    state.metrics.record_crypto(KeyOperation::Sign.as_str(), algorithm);
    Ok(Json(KeyOperationResult::new(versioned_id(&ctx.origin, &key), CipherOutput::value(signature))))
}

async fn run_verify(
    state: AppState,
    ctx: VaultRequest,
    api_version: &ApiVersion,
    name: &str,
    version: &str,
    body: KeyVerifyParameters,
) -> ApiResult<Json<KeyVerifyResult>> {
    let name = KeyName::parse(name)?;
    let (request, signature) = body.into_request(api_version.served)?;
    let (value, algorithm) = match request {
        SignatureRequest::Digest { alg, digest } => {
            let value = state.keys.verify(&ctx.vault, &name, Some(version), alg, &digest, &signature).await?;
            (value, alg.as_str())
        }
        SignatureRequest::MlDsa { alg, input } => {
            let value =
                state.keys.verify_ml_dsa(&ctx.vault, &name, Some(version), alg.as_deref(), input, &signature).await?;
            (value, "ML-DSA")
        }
    };
    state.metrics.record_crypto(KeyOperation::Verify.as_str(), algorithm);
    Ok(Json(KeyVerifyResult { value }))
}

signature_handlers!(sign, sign_latest, run_sign, KeySignParameters, KeyOperationResult);
signature_handlers!(verify, verify_latest, run_verify, KeyVerifyParameters, KeyVerifyResult);

/// `POST /rng`: random bytes from the emulator's secure source.
pub async fn get_random_bytes(
    _ctx: VaultRequest,
    _version: ApiVersion,
    KvJson(body): KvJson<GetRandomBytesRequest>,
) -> ApiResult<Json<RandomBytes>> {
    Ok(Json(RandomBytes { value: Base64Url(KeyService::random_bytes(body.count)?) }))
}
