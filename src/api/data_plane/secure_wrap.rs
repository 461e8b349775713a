//! `securewrapkey` and `secureunwrapkey` (api-version 2026-01-01-preview and later): a fresh
//! AES-256 key returned wrapped, and its unwrapping for an attested environment. The version
//! segment may be empty or absent, as for wrapKey.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::key_ref::KeyRef;
use super::wire::versioned_id;
use crate::api::AppState;
use crate::api::errors::{ApiError, ApiResult};
use crate::api::extract::{ApiVersion, KvJson, VaultRequest};
use crate::api_version::Feature;
use crate::auth::attestation;
use crate::crypto::base64url::Base64Url;
use crate::keys::secure_wrap::parse_wrap_algorithm;

#[derive(Debug, Deserialize)]
pub struct SecureKeyWrapParameters {
    pub alg: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecureKeyUnwrapParameters {
    pub alg: String,
    pub value: Base64Url,
    pub target: String,
    /// A Payment HSM cluster's issuer (2026-07-01-preview); the emulator trusts its own
    /// attestation authority only, so the value is accepted and has no effect.
    #[serde(default)]
    pub application_trusted_issuer: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SecureKeyOperationResult {
    pub kid: String,
    pub alg: &'static str,
    pub value: Base64Url,
}

pub async fn secure_wrap_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KeyRef { name, version }: KeyRef,
    KvJson(body): KvJson<SecureKeyWrapParameters>,
) -> ApiResult<Json<SecureKeyOperationResult>> {
    api_version.require(Feature::SecureWrapAndKeySize, crate::messages::data_plane::SECURE_WRAP_OPERATION)?;
    let algorithm = parse_wrap_algorithm(&body.alg)?;
    let (key, wrapped) = state.keys.secure_wrap_key(&ctx.vault, &name, version.as_deref(), algorithm).await?;
    state.metrics.record_crypto("secureWrapKey", algorithm.as_str());
    let kid = versioned_id(&ctx.origin, &key);
    Ok(Json(SecureKeyOperationResult { kid, alg: algorithm.as_str(), value: Base64Url(wrapped) }))
}

pub async fn secure_unwrap_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KeyRef { name, version }: KeyRef,
    KvJson(body): KvJson<SecureKeyUnwrapParameters>,
) -> ApiResult<Json<SecureKeyOperationResult>> {
    api_version.require(Feature::SecureWrapAndKeySize, crate::messages::data_plane::SECURE_UNWRAP_OPERATION)?;
    let algorithm = parse_wrap_algorithm(&body.alg)?;
    if body.target.is_empty() {
        return Err(ApiError::bad_parameter(crate::messages::data_plane::TARGET_ATTESTATION_REQUIRED));
    }
    let authority = crate::api::attestation::signer(&state).await?;
    let claims = attestation::verify(authority, &body.target).map_err(|reason| {
        ApiError::bad_parameter(crate::messages::data_plane::target_attestation_invalid(&reason.to_string()))
    })?;
    let (key, unwrapped) =
        state.keys.secure_unwrap_key(&ctx.vault, &name, version.as_deref(), algorithm, body.value.0, &claims).await?;
    state.metrics.record_crypto("secureUnwrapKey", algorithm.as_str());
    let kid = versioned_id(&ctx.origin, &key);
    Ok(Json(SecureKeyOperationResult { kid, alg: algorithm.as_str(), value: Base64Url(unwrapped) }))
}
