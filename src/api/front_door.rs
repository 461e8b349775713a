//! The front door of both ports, before routing (DESIGN.md, Security model): the Host must be
//! one the emulator serves, a browser's `Origin` must be the emulator's own, the plain-HTTP port
//! asks for the admin token when one is configured, and the body is put under its limits (it is
//! read later, only when a handler asks for it: see `body.rs`).
//!
//! What this defeats: a web page's cross-site request (its `Origin` is foreign, and it cannot
//! send `application/json` without a CORS preflight the emulator never grants), DNS rebinding
//! (its Host is the attacker's name), and slow or huge bodies (see `body.rs`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::body::{self, BodyLimits};
use super::errors::ApiError;
use super::host::{HostPolicy, HostProblem};
use crate::messages;
use crate::metrics::Metrics;

/// Which listener a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    Https,
    Http,
}

impl Port {
    fn scheme(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Http => "http",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Https => 443,
            Self::Http => 80,
        }
    }
}

/// Emulator controls any caller may read even with an admin token set: the health check
/// container runtimes call, and the CA certificate clients must trust first.
const OPEN_WITH_ADMIN_TOKEN: &[&str] = &["/_emulator/health", "/_emulator/ca.pem"];

pub struct FrontDoor {
    pub port: Port,
    pub hosts: HostPolicy,
    /// When set, every plain-HTTP route but [`OPEN_WITH_ADMIN_TOKEN`] requires it.
    pub admin_token: Option<String>,
    pub bodies: Arc<BodyLimits>,
    /// Where refusals are counted (`kvemu_front_door_refusals_total`).
    pub metrics: Arc<Metrics>,
}

/// The front-door middleware; see the module header.
pub async fn front_door(State(door): State<Arc<FrontDoor>>, req: Request, next: Next) -> Response {
    let refuse = |reason: &'static str, error: ApiError| {
        door.metrics.record_refusal(door.port.scheme(), reason);
        error.into_response()
    };
    if let Err(problem) = door.hosts.check(req.uri(), req.headers()) {
        tracing::warn!(?problem, path = req.uri().path(), "request refused for its Host");
        return refuse("host", host_error(problem));
    }
    if let Some(origin) = foreign_origin(door.port, req.uri(), req.headers()) {
        tracing::warn!(origin = %origin, path = req.uri().path(), "request refused: it comes from another web origin");
        return refuse(
            "origin",
            ApiError::Forbidden { message: messages::front_door::foreign_origin(&origin), inner: "ForeignOrigin" },
        );
    }
    let req = match (&door.admin_token, door.port) {
        (Some(token), Port::Http) => match admit(token, req) {
            Ok(req) => req,
            Err(refusal) => return refuse("admin_token", refusal),
        },
        _ => req,
    };
    let response = body::limit_body(&door.bodies, req, move |req| next.run(req)).await;
    if let Some(body::Refused(reason)) = response.extensions().get::<body::Refused>() {
        door.metrics.record_refusal(door.port.scheme(), reason);
    }
    response
}

fn host_error(problem: HostProblem) -> ApiError {
    match problem {
        HostProblem::Missing => ApiError::bad_parameter(messages::front_door::MISSING_HOST),
        HostProblem::Malformed(why) => ApiError::bad_parameter(messages::front_door::malformed_host(&why)),
        HostProblem::NotServed(host) => {
            ApiError::MisdirectedRequest { message: messages::front_door::host_not_served(&host) }
        }
    }
}

/// The request's `Origin` when a browser sent it from a page that is not this port's own
/// origin (same scheme, host and port as the request addressed). `Origin: null` (sandboxed
/// frames, local files) is foreign too.
fn foreign_origin(port: Port, uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?;
    let Ok(origin) = origin.to_str() else { return Some("(not text)".to_owned()) };
    let own = uri.authority().map(|a| a.as_str()).or_else(|| headers.get(header::HOST)?.to_str().ok());
    let same = origin
        .strip_prefix(port.scheme())
        .and_then(|rest| rest.strip_prefix("://"))
        .zip(own)
        .is_some_and(|(origin_authority, own)| same_authority(origin_authority, own, port.default_port()));
    (!same).then(|| origin.to_owned())
}

/// `host[:port]` pairs compared as origins do: host case-insensitively, the port defaulted.
fn same_authority(a: &str, b: &str, default_port: u16) -> bool {
    let normalize = |authority: &str| {
        let (host, port) = super::host::split_authority(authority);
        let port = match port {
            Some(port) => port.parse::<u16>().ok(),
            None => Some(default_port),
        };
        (host.trim_end_matches('.').to_ascii_lowercase(), port)
    };
    let (a, b) = (normalize(a), normalize(b));
    a.1.is_some() && a == b
}

/// With an admin token: the request goes on when it presents the token, as
/// `Authorization: Bearer <token>` or as the first path segment (which is removed, so
/// `http://host:8080/<token>/msi/token` is an `IDENTITY_ENDPOINT` that SDKs can use unchanged).
fn admit(token: &str, mut req: Request) -> Result<Request, ApiError> {
    let path = req.uri().path();
    let prefixed = path.strip_prefix('/').and_then(|rest| {
        let (first, rest) = rest.split_once('/').map_or((rest, ""), |(first, rest)| (first, rest));
        equal_secrets(first, token).then(|| format!("/{rest}"))
    });
    if let Some(rest) = prefixed {
        let rebuilt = match req.uri().query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest,
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *req.uri_mut() = uri;
            return Ok(req);
        }
    }
    if OPEN_WITH_ADMIN_TOKEN.contains(&path) {
        return Ok(req);
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    if bearer.is_some_and(|presented| equal_secrets(presented.trim(), token)) {
        return Ok(req);
    }
    Err(ApiError::Unauthorized {
        message: messages::front_door::ADMIN_TOKEN_REQUIRED.to_owned(),
        challenge: r#"Bearer realm="keyvault-emulator""#.to_owned(),
    })
}

/// Compares secrets in time independent of where they differ.
fn equal_secrets(presented: &str, expected: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), expected.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_the_ports_own_origin_passes() {
        let root = Uri::from_static("/");
        let own = headers(&[("host", "localhost:8080"), ("origin", "http://localhost:8080")]);
        assert_eq!(foreign_origin(Port::Http, &root, &own), None);
        let no_origin = headers(&[("host", "localhost:8080")]);
        assert_eq!(foreign_origin(Port::Http, &root, &no_origin), None);
        for origin in
            ["http://evil.example", "http://localhost:8081", "https://localhost:8080", "null", "http://localhost"]
        {
            let mut map = headers(&[("host", "localhost:8080")]);
            map.insert(header::ORIGIN, origin.parse().unwrap());
            assert_eq!(foreign_origin(Port::Http, &root, &map).as_deref(), Some(origin), "{origin}");
        }
        let default_port = headers(&[("host", "localhost"), ("origin", "https://LOCALHOST:443")]);
        assert_eq!(foreign_origin(Port::Https, &root, &default_port), None);
    }

    fn get(uri: &str, auth: Option<&str>) -> Request {
        let mut builder = axum::http::Request::builder().uri(uri);
        if let Some(auth) = auth {
            builder = builder.header(header::AUTHORIZATION, auth);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn the_admin_token_is_a_bearer_token_or_a_path_prefix() {
        let token = "s3cret-token-value";
        let admitted = admit(token, get("/s3cret-token-value/msi/token?resource=x", None)).unwrap();
        assert_eq!(admitted.uri(), "/msi/token?resource=x");
        assert!(admit(token, get("/_emulator/clock", Some("Bearer s3cret-token-value"))).is_ok());
        assert!(admit(token, get("/_emulator/health", None)).is_ok());
        assert_eq!(admit(token, get("/s3cret-token-value", None)).unwrap().uri(), "/");
        for (uri, auth) in [
            ("/_emulator/clock", None),
            ("/_emulator/clock", Some("Bearer wrong")),
            ("/s3cret-token-valu/msi/token", None),
            ("/msi/token", Some("Basic s3cret-token-value")),
        ] {
            assert_eq!(admit(token, get(uri, auth)).unwrap_err().status(), 401, "{uri}");
        }
    }
}
