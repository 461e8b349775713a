//! Secure key release (`POST /keys/{name}/{version}/release`) and key attestation
//! (`GET /keys/{name}/{version}/attestation`). The version may be empty or absent.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::key_ref::KeyRef;
use super::wire::{KeyBundle, base_id};
use crate::api::AppState;
use crate::api::errors::{ApiError, ApiResult};
use crate::api::extract::{ApiVersion, KvJson, VaultRequest};
use crate::auth::attestation;
use crate::crypto::base64url;
use crate::keys::release::ReleaseWrapping;

#[derive(Debug, Deserialize)]
pub struct KeyReleaseParameters {
    pub target: String,
    pub nonce: Option<String>,
    pub enc: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct KeyReleaseResult {
    pub value: String,
}

/// What the JWS of a release says was asked for (the real service echoes it).
#[derive(Serialize)]
struct ReleaseRequestEcho<'a> {
    #[serde(rename = "api-version")]
    api_version: &'a str,
    enc: &'static str,
    kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

pub async fn release_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KeyRef { name, version }: KeyRef,
    KvJson(body): KvJson<KeyReleaseParameters>,
) -> ApiResult<Json<KeyReleaseResult>> {
    let version = version.as_deref();
    if body.target.is_empty() {
        return Err(ApiError::bad_parameter(crate::messages::data_plane::TARGET_ATTESTATION_REQUIRED));
    }
    let wrapping = ReleaseWrapping::parse(body.enc.as_deref())?;
    let authority = crate::api::attestation::signer(&state).await?;
    let claims = attestation::verify(authority, &body.target).map_err(|reason| {
        ApiError::bad_parameter(crate::messages::data_plane::target_attestation_invalid(&reason.to_string()))
    })?;
    let released = state.keys.release_key(&ctx.vault, &name, version, &claims, wrapping).await?;

    let key_hsm = serde_json::json!({
        "schema_version": "1.0",
        "header": { "kid": released.wrapped_for.kid, "alg": "dir", "enc": wrapping.as_str() },
        "ciphertext": base64url::encode(&released.ciphertext),
    });
    let mut bundle = KeyBundle::new(&released.key, &ctx.vault, &ctx.origin, api_version.served);
    bundle.key.key_hsm = Some(base64url::encode(key_hsm.to_string().as_bytes()));
    if let Some(policy) = bundle.release_policy.as_mut() {
        // The vault's release JWS shows the policy without its content type.
        policy.content_type = None;
    }
    let requested_kid = match version {
        Some(version) => format!("{}/{version}", base_id(&ctx.origin, &released.key)),
        None => base_id(&ctx.origin, &released.key),
    };
    let payload = serde_json::json!({
        "request": ReleaseRequestEcho { api_version: &api_version.requested, enc: wrapping.as_str(), kid: requested_kid, nonce: body.nonce.as_deref() },
        "response": { "key": bundle },
    });
    // Signed by the attestation authority's key, published at /attestation/certs.
    let value = authority
        .sign_claims(&payload)
        .map_err(|e| ApiError::Internal { detail: format!("signing the release: {e}") })?;
    Ok(Json(KeyReleaseResult { value }))
}

/// A software vault has no HSM to attest keys: the key comes back without `attestation`, as
/// the SDKs accept (contract §5 item 25).
pub async fn get_key_attestation(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    key: KeyRef,
) -> ApiResult<Json<KeyBundle>> {
    let key = state.keys.get_key(&ctx.vault, &key.name, key.version()).await?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}
