//! The HTTP layer. Two routers: the HTTPS one (vaults, login) and the plain-HTTP one
//! (managed identity, emulator controls). Handlers stay thin: extract → authorize → call a
//! service → map to wire. No SQL, crypto or lifecycle rules live here.

pub mod emulator;
pub mod errors;
pub mod extract;
pub mod login;
pub mod messages;
pub mod msi;
pub mod vault;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use uuid::Uuid;

use crate::auth::identity::IdentityDirectory;
use crate::auth::issuer::TokenIssuer;
use crate::auth::validate::TokenValidator;
use crate::keys::KeyService;
use crate::vault::VaultRegistry;
use errors::ApiError;

/// Facts about this running emulator that handlers need.
#[derive(Debug)]
pub struct Settings {
    pub domain: String,
    pub tenant_id: Uuid,
    pub ca_pem: String,
    pub ready: AtomicBool,
}

impl Settings {
    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
pub struct AppState {
    pub keys: KeyService,
    pub vaults: VaultRegistry,
    pub identities: Arc<IdentityDirectory>,
    pub issuer: TokenIssuer,
    pub validator: TokenValidator,
    pub settings: Arc<Settings>,
}

/// Everything served over HTTPS: the vaults and the Entra-like login endpoints.
pub fn https_router(state: AppState) -> Router {
    Router::new()
        .merge(vault::router(state.clone()))
        .merge(login::router())
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(key_vault_headers))
        .with_state(state)
}

/// Everything served over plain HTTP: managed identity and the emulator's own controls.
pub fn http_router(state: AppState) -> Router {
    Router::new()
        .merge(msi::router())
        .merge(emulator::router())
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound { message: messages::route_not_found(method.as_str(), uri.path()) }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed { message: messages::method_not_allowed(method.as_str(), uri.path()) }
}

/// The response headers the real service sends on every answer (contract §2).
async fn key_vault_headers(req: Request, next: Next) -> Response {
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&Uuid::new_v4().to_string()) {
        headers.insert("x-ms-request-id", id);
    }
    if let Some(id) = client_request_id {
        headers.insert("x-ms-client-request-id", id);
    }
    let fixed = [
        (header::CACHE_CONTROL.as_str(), "no-cache"),
        (header::PRAGMA.as_str(), "no-cache"),
        (header::EXPIRES.as_str(), "-1"),
        ("x-ms-keyvault-service-version", concat!("1.9.0.0-emulator-", env!("CARGO_PKG_VERSION"))),
        ("x-ms-keyvault-region", messages::REGION),
        (header::STRICT_TRANSPORT_SECURITY.as_str(), "max-age=31536000;includeSubDomains"),
        (header::X_CONTENT_TYPE_OPTIONS.as_str(), "nosniff"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if headers.get(header::CONTENT_TYPE).is_some_and(|v| v == "application/json") {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    }
    response
}

/// Collapses empty path segments before routing: SDKs address the current version with an
/// empty segment, e.g. `/keys/{name}//wrapkey` (contract §1), which means `/keys/{name}/wrapkey`.
pub fn normalize_path<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = req.uri().path();
    if path.contains("//") {
        let mut collapsed = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{collapsed}?{q}"),
            None => collapsed,
        };
        if let Ok(path_and_query) = rebuilt.parse::<axum::http::uri::PathAndQuery>() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}
