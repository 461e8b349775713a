//! The middleware around both routers and before routing: the request log, metrics and audit
//! completion (`observe`), the Key Vault response headers, and path canonicalisation.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

use super::state::AppState;
use super::{errors, host};
use crate::messages;

/// Every request on both ports: a fresh `x-ms-request-id` and the caller's
/// `x-ms-client-request-id` echoed back (as Azure does), one log event (target `request`), and
/// the metrics by route template and status, with the authorization denials among them.
pub(super) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
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

/// The response headers the real service sends on every answer (contract §2).
pub(super) async fn key_vault_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CACHE_CONTROL.as_str(), "no-cache"),
        (header::PRAGMA.as_str(), "no-cache"),
        (header::EXPIRES.as_str(), "-1"),
        ("x-ms-keyvault-service-version", concat!("1.9.0.0-emulator-", env!("CARGO_PKG_VERSION"))),
        ("x-ms-keyvault-region", messages::data_plane::REGION),
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
