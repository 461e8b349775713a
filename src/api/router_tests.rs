//! In-process tests of the HTTPS router (`oneshot`, no socket): the Key Vault error table as a
//! client receives it, and the 401 challenge, decided before any byte of the body is read.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;

use super::errors::ApiError;
use super::test_app::{self, API, STRANGER};
use crate::auth::identity::DEFAULT_IDENTITY;
use crate::faults::FaultResponse;

/// Every variant, each rendered through a router: status, code, inner code and headers.
#[tokio::test]
async fn every_error_variant_renders_its_status_code_and_body() {
    type Case = (fn() -> ApiError, u16, &'static str, Option<&'static str>);
    let cases: [Case; 16] = [
        (|| ApiError::Unauthorized { message: "m".into(), challenge: "Bearer x".into() }, 401, "Unauthorized", None),
        (|| ApiError::Forbidden { message: "m".into(), inner: "AccessDenied" }, 403, "Forbidden", Some("AccessDenied")),
        (|| ApiError::KeyNotFound { message: "m".into() }, 404, "KeyNotFound", None),
        (|| ApiError::VaultNotFound { message: "m".into() }, 404, "VaultNotFound", None),
        (|| ApiError::RouteNotFound { message: "m".into() }, 404, "NotFound", None),
        (|| ApiError::MethodNotAllowed { message: "m".into() }, 405, "MethodNotAllowed", None),
        (|| ApiError::BadParameter { message: "m".into() }, 400, "BadParameter", None),
        (|| ApiError::Conflict { message: "m".into(), inner: Some("Inner") }, 409, "Conflict", Some("Inner")),
        (|| ApiError::PayloadTooLarge { message: "m".into() }, 413, "RequestBodyTooLarge", None),
        (|| ApiError::RequestTimeout { message: "m".into() }, 408, "RequestTimeout", None),
        (|| ApiError::UnsupportedMediaType { message: "m".into() }, 415, "UnsupportedMediaType", None),
        (|| ApiError::MisdirectedRequest { message: "m".into() }, 421, "MisdirectedRequest", None),
        (|| ApiError::Overloaded { message: "m".into() }, 503, "ServiceUnavailable", None),
        (
            || ApiError::Injected {
                response: FaultResponse { status: 429, retry_after: Some(7) },
                message: "m".into(),
            },
            429,
            "Throttled",
            None,
        ),
        (|| ApiError::ServiceUnavailable, 503, "ServiceUnavailable", None),
        (|| ApiError::Internal { detail: "secret detail".into() }, 500, "InternalServerError", None),
    ];
    for (make, status, code, inner) in cases {
        let router = Router::new().route("/", get(move || async move { make() }));
        let request = axum::http::Request::get("/").body(Body::empty()).unwrap();
        let response = test_app::send(&router, request).await;
        let headers = response.headers().clone();
        let (got, body) = test_app::json_of(response).await;
        assert_eq!(got.as_u16(), status, "{code}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert!(!body.to_string().contains("secret detail"), "an internal detail never reaches the client");
        assert_eq!(body["error"]["innererror"]["code"].as_str(), inner, "{body}");
        assert_eq!(headers.contains_key(header::WWW_AUTHENTICATE), status == 401, "{code}");
        let retry_after = headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        let expected = match code {
            "Throttled" => Some("7".to_owned()),
            "ServiceUnavailable" => Some("1".to_owned()),
            _ => None,
        };
        assert_eq!(retry_after, expected, "{code}");
    }
}

/// A body that fails the test if anything polls it.
struct UntouchableBody;

impl http_body::Body for UntouchableBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        panic!("the body was read before the 401");
    }
}

fn challenge_of(headers: &HeaderMap) -> &str {
    headers.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn no_token_is_a_401_with_the_challenge_before_the_body_is_read() {
    let state = test_app::state().await;
    let router = super::router::https_router(state);
    let uri = format!("/keys/k1/wrapkey?{API}");
    let request = test_app::vault_request("POST", &uri, None, Body::new(UntouchableBody));
    let response = test_app::send(&router, request).await;
    let challenge = challenge_of(response.headers()).to_owned();
    let (status, body) = test_app::json_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "Unauthorized");
    let tenant = test_app::tenant();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer authorization="https://localhost:8443/{tenant}", resource="https://{}:8443""#,
            test_app::DOMAIN
        )
    );
}

#[tokio::test]
async fn a_named_vaults_challenge_names_the_domain_with_the_clients_port() {
    let state = test_app::state().await;
    let router = super::router::https_router(state);
    let request = axum::http::Request::get(format!("/keys?{API}"))
        .header("host", format!("default.{}:9443", test_app::DOMAIN))
        .header("authorization", "Bearer not.a.jwt")
        .body(Body::empty())
        .unwrap();
    let response = test_app::send(&router, request).await;
    let challenge = challenge_of(response.headers()).to_owned();
    let (status, body) = test_app::json_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(challenge.ends_with(&format!(r#"resource="https://{}:9443""#, test_app::DOMAIN)), "{challenge}");
    assert!(challenge.starts_with(r#"Bearer authorization="https://localhost:9443/"#), "{challenge}");
}

/// The errors a client meets on real routes, each in the Key Vault shape.
#[tokio::test]
async fn real_routes_answer_in_the_key_vault_error_shape() {
    let state = test_app::state().await;
    let router = super::router::https_router(state.clone());
    let token = test_app::token_for(&state, DEFAULT_IDENTITY);
    let stranger = test_app::token_for(&state, STRANGER);
    let call = |method: &'static str, uri: String, token: Option<String>, body: &'static str| {
        let router = router.clone();
        async move {
            let request = test_app::vault_request(method, &uri, token.as_deref(), Body::from(body));
            let (status, body) = test_app::json_of(test_app::send(&router, request).await).await;
            (status.as_u16(), body["error"]["code"].as_str().unwrap_or_default().to_owned(), body)
        }
    };
    let cases = [
        (call("GET", format!("/keys/missing?{API}"), Some(token.clone()), "").await, 404, "KeyNotFound"),
        (call("GET", format!("/keys?{API}"), Some(stranger.clone()), "").await, 403, "Forbidden"),
        (call("GET", "/keys?api-version=1.0".into(), Some(token.clone()), "").await, 400, "BadParameter"),
        (call("POST", format!("/keys/k1/create?{API}"), Some(token.clone()), "[]").await, 400, "BadParameter"),
        (call("GET", format!("/nothing?{API}"), Some(token.clone()), "").await, 404, "NotFound"),
        (call("POST", format!("/keys/k1?{API}"), Some(token.clone()), "{}").await, 405, "MethodNotAllowed"),
    ];
    for ((status, code, body), expected_status, expected_code) in cases {
        assert_eq!((status, code.as_str()), (expected_status, expected_code), "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let (_, _, forbidden) = call("GET", format!("/keys?{API}"), Some(stranger), "").await;
    assert_eq!(forbidden["error"]["innererror"]["code"], "AccessDenied", "{forbidden}");
}

#[tokio::test]
async fn a_vault_the_host_names_must_exist() {
    let state = test_app::state().await;
    let router = super::router::https_router(state);
    let request = axum::http::Request::get(format!("/keys?{API}"))
        .header("host", format!("nowhere.{}:8443", test_app::DOMAIN))
        .body(Body::empty())
        .unwrap();
    let (status, body) = test_app::json_of(test_app::send(&router, request).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("VaultNotFound")), "{body}");
}
