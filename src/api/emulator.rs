//! Emulator controls on the plain-HTTP port, reachable before anyone trusts the CA:
//! health and the CA certificate.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/_emulator/health", get(health)).route("/_emulator/ca.pem", get(ca_pem))
}

async fn health(State(state): State<AppState>) -> Response {
    if state.settings.is_ready() {
        Json(serde_json::json!({ "status": "ready" })).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "starting" }))).into_response()
    }
}

async fn ca_pem(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], state.settings.ca_pem.clone()).into_response()
}
