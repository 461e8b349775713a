//! The built-in attestation authority on the HTTPS port (see `auth::attestation`): its OpenID
//! metadata and keys, and test tokens to use as a release `target`.

use crate::api::routes::Routes;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::errors::{ApiError, ApiResult};
use super::extract::{KvJson, Origin};
use crate::auth::attestation;

pub fn router() -> Routes {
    Routes::new()
        .route("/attestation/.well-known/openid-configuration", get(openid_configuration))
        .route("/attestation/certs", get(certs))
        .route("/attestation/generate-test-token", get(sdk_test_token).post(test_token))
}

async fn openid_configuration(Origin(origin): Origin) -> Response {
    Json(attestation::openid_configuration(&origin)).into_response()
}

async fn certs(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let jwks = signer(&state).await?.jwks().map_err(|e| ApiError::Internal { detail: e.to_string() })?;
    Ok(Json(jwks))
}

pub(crate) async fn signer(state: &AppState) -> ApiResult<&crate::auth::issuer::TokenIssuer> {
    state
        .attestation
        .get()
        .await
        .map_err(|detail| ApiError::Internal { detail: format!("attestation signing key: {detail}") })
}

fn minted(token: Result<String, String>) -> ApiResult<Json<serde_json::Value>> {
    token
        .map(|token| Json(serde_json::json!({ "token": token })))
        .map_err(|detail| ApiError::Internal { detail: format!("minting an attestation token: {detail}") })
}

async fn sdk_test_token(State(state): State<AppState>, Origin(origin): Origin) -> ApiResult<Json<serde_json::Value>> {
    minted(attestation::sdk_test_token(signer(&state).await?, &origin))
}

/// A test token with the caller's claims and, to unwrap what a release returns, the caller's
/// own RSA public key(s) as `x-ms-runtime.keys` (JWKs with `kid`, `kty: RSA`, `use: enc`, `n`, `e`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestTokenRequest {
    #[serde(default)]
    claims: serde_json::Map<String, serde_json::Value>,
    runtime_keys: Option<Vec<serde_json::Value>>,
}

async fn test_token(
    State(state): State<AppState>,
    Origin(origin): Origin,
    KvJson(request): KvJson<TestTokenRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    minted(attestation::mint(signer(&state).await?, &origin, Some(&request.claims), request.runtime_keys))
}
