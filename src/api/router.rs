//! The two routers: the HTTPS one (vaults and Managed HSMs, login, attestation, Resource Manager,
//! Graph) and the plain-HTTP one (managed identity, emulator controls, audit, dashboard), with
//! what both do around their routes and the answers for a path or method nothing serves.

use axum::Router;
use axum::http::{Method, Uri};
use axum::middleware;

use super::errors::{self, ApiError};
use super::middleware::{key_vault_headers, observe};
use super::state::AppState;
use super::{arm, attestation, audit, cloud_metadata, dashboard, data_plane, emulator, graph, login, msi, routes};
use crate::messages;

/// The routes served over HTTPS: the vaults, the Entra-like login endpoints, attestation and
/// the management API.
pub fn https_routes(state: &AppState) -> routes::Routes {
    routes::Routes::new()
        .merge(data_plane::router(state.clone()))
        .merge(login::router())
        .merge(attestation::router())
        .merge(arm::router(state.clone()))
        .merge(cloud_metadata::router())
        .merge(graph::router(state.clone()))
}

/// The routes served over plain HTTP: managed identity and the emulator's own controls.
#[must_use]
pub fn http_routes() -> routes::Routes {
    routes::Routes::new()
        .merge(msi::router())
        .merge(emulator::router())
        .merge(audit::router())
        .merge(dashboard::router())
}

/// Everything served over HTTPS, with the Key Vault response headers.
pub fn https_router(state: AppState) -> Router {
    serve(https_routes(&state), state).layer(middleware::from_fn(key_vault_headers))
}

/// Everything served over plain HTTP.
pub fn http_router(state: AppState) -> Router {
    let token_guard = middleware::from_fn_with_state(state.clone(), dashboard::browser_writes_need_token);
    serve(http_routes().map_router(|router| router.route_layer(token_guard)), state)
}

/// What both listeners do around their routes: the fallbacks, the internal-error log, and the
/// request log and metrics. The Host, Origin, admin-token and body checks come before routing,
/// in [`front_door::front_door`].
fn serve(routes: routes::Routes, state: AppState) -> Router {
    routes
        .into_router()
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(errors::log_internal_errors))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound { message: messages::data_plane::route_not_found(method.as_str(), uri.path()) }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed { message: messages::data_plane::method_not_allowed(method.as_str(), uri.path()) }
}
