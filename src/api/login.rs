//! The Entra-like login endpoints on the HTTPS port. This slice serves the signing keys
//! (JWKS); the OpenID configuration and token endpoint arrive with service principals.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/discovery/v2.0/keys", get(jwks))
}

/// Entra's error body for a tenant it does not know (AADSTS90002).
fn unknown_tenant(tenant: &str) -> Response {
    let body = serde_json::json!({
        "error": "invalid_tenant",
        "error_description": format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        "error_codes": [90002],
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    if uuid::Uuid::parse_str(&tenant).ok() != Some(state.settings.tenant_id) {
        return unknown_tenant(&tenant);
    }
    Json(state.issuer.jwks()).into_response()
}
