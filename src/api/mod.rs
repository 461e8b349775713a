//! The HTTP layer. Two routers: the HTTPS one (vaults, login) and the plain-HTTP one
//! (managed identity, emulator controls). Handlers stay thin: extract → authorize → call a
//! service → map to wire. No SQL, crypto or lifecycle rules live here.

pub mod arm;
pub mod attestation;
pub mod audit;
pub mod body;
pub mod cloud_metadata;
pub mod dashboard;
pub mod emulator;
pub mod errors;
pub mod extract;
pub mod front_door;
pub mod graph;
pub mod host;
#[cfg(test)]
mod import_graph;
pub mod login;
pub mod messages;
pub mod msi;
pub mod routes;
pub mod vault;

#[cfg(test)]
mod router_tests;
#[cfg(test)]
pub(crate) mod test_app;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use uuid::Uuid;

use crate::auth::identity::Identities;
use crate::auth::issuer::{LazySigner, TokenIssuer};
use crate::auth::validate::TokenValidator;
use crate::clock::Clock;
use crate::keys::KeyService;
use crate::vaults::VaultRegistry;
use errors::ApiError;

/// Facts about this running emulator that handlers need.
#[derive(Debug)]
pub struct Settings {
    /// Object ids allowed to use the management API besides the default admin.
    pub owners: Vec<Uuid>,
    pub domain: String,
    pub tenant_id: Uuid,
    pub ca_pem: String,
    pub ready: AtomicBool,
    /// The per-start token the dashboard page carries; a browser's write to `/_emulator` needs it.
    pub dashboard_token: String,
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

/// What every handler reaches: cloned per request (axum hands each one its own), so it is one
/// reference count, not a dozen.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl From<Services> for AppState {
    fn from(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub clock: Clock,
    pub keys: KeyService,
    pub vaults: VaultRegistry,
    /// Purges and rotations the clock made due; a clock move runs it at once.
    pub due_work: crate::due_work::DueWorkScheduler,
    pub identities: Identities,
    pub issuer: TokenIssuer,
    /// The attestation authority's own key (secure key release).
    pub attestation: Arc<LazySigner>,
    /// The workload-identity issuer's own key: it signs federated assertions.
    pub federation: Arc<LazySigner>,
    pub validator: TokenValidator,
    pub settings: Arc<Settings>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub faults: Arc<crate::faults::Faults>,
    /// How strictly `api-version` is checked (`--lenient-api-version`).
    pub api_versions: Arc<crate::api_version::Policy>,
    pub audit: Arc<crate::audit::AuditLog>,
}

/// The routes served over HTTPS: the vaults, the Entra-like login endpoints, attestation and
/// the management API.
pub fn https_routes(state: &AppState) -> routes::Routes {
    routes::Routes::new()
        .merge(vault::router(state.clone()))
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

pub use body::MAX_BODY_BYTES;

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

/// Every request on both ports: a fresh `x-ms-request-id` and the caller's
/// `x-ms-client-request-id` echoed back (as Azure does), one log event (target `request`), and
/// the metrics by route template and status, with the authorization denials among them.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let request_id = request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    let audited = state.audit.enabled().then(|| audited_request(&req));
    let mut response = next.run(req).await;
    let elapsed = started.elapsed();
    if let Some(exchange) = audited
        && let Some(mut pending) = response.extensions_mut().remove::<crate::audit::PendingAudit>()
    {
        pending.exchange = crate::audit::Exchange {
            request_id: request_id.to_string(),
            client_request_id: client_request_id.as_ref().and_then(|id| id.to_str().ok()).map(str::to_owned),
            status: response.status().as_u16(),
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            resolved_version: response.extensions().get::<crate::audit::ResolvedVersion>().map(|v| v.0.clone()),
            ..exchange
        };
        state.audit.submit(pending);
    }

    let route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED_ROUTE);
    let status = response.status().as_u16();
    state.metrics.record_request(route, method.as_str(), status, elapsed);
    if let Some(errors::AuthorizationDenied(code)) = response.extensions().get() {
        state.metrics.record_denial(route, code);
    }
    tracing::info!(
        target: "request",
        request_id = %request_id,
        client_request_id = client_request_id.as_ref().and_then(|id| id.to_str().ok()).unwrap_or(""),
        method = %method,
        path,
        route,
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
    );
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&request_id.to_string()) {
        headers.insert("x-ms-request-id", id);
    }
    if let Some(id) = client_request_id {
        headers.insert("x-ms-client-request-id", id);
    }
    response
}

/// What the audit log keeps of a request, taken before the handler consumes it.
fn audited_request(req: &Request) -> crate::audit::Exchange {
    let text = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    crate::audit::Exchange {
        client_address: req.extensions().get::<crate::audit::ClientAddress>().map(|a| a.0),
        user_agent: text(header::USER_AGENT),
        host: Some(host::request_authority(req)),
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().map(str::to_owned),
        ..crate::audit::Exchange::default()
    }
}

/// A random (v4) request id from AWS-LC's generator: `Uuid::new_v4` asks the kernel on every
/// call, a system call per request.
fn request_id() -> Uuid {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return Uuid::new_v4();
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound { message: messages::route_not_found(method.as_str(), uri.path()) }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed { message: messages::method_not_allowed(method.as_str(), uri.path()) }
}

/// The response headers the real service sends on every answer (contract §2).
async fn key_vault_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
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

/// Path words Key Vault matches case-insensitively (contract §5). Only these positions are
/// folded: `/keys` itself and the operation after a key name or version; names keep their case.
const COLLECTIONS: &[&str] = &["keys", "deletedkeys", "rng"];
const ARM_WORDS: &[&str] = &[
    "subscriptions",
    "resourcegroups",
    "providers",
    "microsoft.keyvault",
    "vaults",
    "accesspolicies",
    "keys",
    "microsoft.managedidentity",
    "userassignedidentities",
    "microsoft.authorization",
    "roleassignments",
    "roledefinitions",
    "deletedvaults",
    "locations",
    "purge",
    "resources",
    "managedhsms",
    "deletedmanagedhsms",
    "checkmhsmnameavailability",
];
const OPERATIONS: &[&str] = &[
    "create",
    "versions",
    "encrypt",
    "decrypt",
    "wrapkey",
    "unwrapkey",
    "securewrapkey",
    "secureunwrapkey",
    "sign",
    "verify",
    "backup",
    "restore",
    "recover",
    "rotate",
    "rotationpolicy",
    "release",
    "attestation",
];

/// The canonical form of a vault path: empty segments collapsed (SDKs address the current
/// version with an empty segment, `/keys/{name}//wrapkey`, contract §1) and the literal words
/// lower-cased. `None` when the path is already canonical.
fn canonical_path(path: &str) -> Option<String> {
    let trailing_slash = path.len() > 1 && path.ends_with('/');
    let mut segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let fold = |segment: &mut String, words: &[&str]| {
        if let Some(word) = words.iter().find(|w| w.eq_ignore_ascii_case(segment)) {
            *segment = (*word).to_owned();
        }
    };
    if segments.first().is_some_and(|s| s.eq_ignore_ascii_case("subscriptions")) {
        // Resource Manager paths: every literal word matches case-insensitively.
        for segment in &mut segments {
            fold(segment, ARM_WORDS);
        }
    } else if let Some(first) = segments.first_mut() {
        fold(first, COLLECTIONS);
    }
    if segments.first().is_some_and(|s| COLLECTIONS.contains(&s.as_str()))
        && (3..=4).contains(&segments.len())
        && let Some(last) = segments.last_mut()
    {
        fold(last, OPERATIONS);
    }
    let mut canonical = format!("/{}", segments.join("/"));
    if trailing_slash && canonical != "/" {
        canonical.push('/');
    }
    (canonical != path).then_some(canonical)
}

/// The listener's request with axum's body type, which the front-door middleware takes.
pub fn with_axum_body<B>(req: axum::http::Request<B>) -> Request
where
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    req.map(axum::body::Body::new)
}

/// Rewrites the request path to its canonical form before routing.
pub fn normalize_path<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let Some(canonical) = canonical_path(req.uri().path()) else { return req };
    let rebuilt = match req.uri().query() {
        Some(q) => format!("{canonical}?{q}"),
        None => canonical,
    };
    if let Ok(path_and_query) = rebuilt.parse::<axum::http::uri::PathAndQuery>() {
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn paths_are_canonicalized() {
        assert_eq!(canonical_path("/keys/k1//wrapkey").as_deref(), Some("/keys/k1/wrapkey"));
        assert_eq!(canonical_path("/Keys/MyKey/WrapKey").as_deref(), Some("/keys/MyKey/wrapkey"));
        assert_eq!(canonical_path("/keys/Create/Versions").as_deref(), Some("/keys/Create/versions"));
        assert_eq!(
            canonical_path("/keys/k/0123456789abcdef0123456789abcdef/UnwrapKey").as_deref(),
            Some("/keys/k/0123456789abcdef0123456789abcdef/unwrapkey")
        );
        assert_eq!(canonical_path("/keys/k1/"), None);
        assert_eq!(canonical_path("/keys/Versions"), None, "a key named Versions keeps its name");
        assert_eq!(canonical_path("/keys"), None);
        assert_eq!(canonical_path("/"), None);
    }
}
