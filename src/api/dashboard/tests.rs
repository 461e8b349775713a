//! In-process (`oneshot`) tests of the dashboard's page and of the guard on browser writes,
//! through the plain-HTTP port's own stack: the front door, then the router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::api::AppState;
use crate::api::body::{BODY_READ_TIMEOUT, BodyLimits};
use crate::api::front_door::{FrontDoor, Port, front_door};
use crate::api::host::HostPolicy;
use crate::api::middleware::with_axum_body;
use crate::api::router::http_router;
use crate::config::Config;
use crate::server::RunningEmulator;

const OWN_ORIGIN: &str = "http://localhost:8080";

async fn emulator() -> RunningEmulator {
    crate::server::start(Config::in_memory()).await.unwrap()
}

/// Sends `request` through the HTTP port's stack; returns the status and the JSON (or text) body.
async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, serde_json::Value, String) {
    let door = FrontDoor {
        port: Port::Http,
        hosts: HostPolicy::new("vault.localhost", &[]),
        admin_token: None,
        bodies: Arc::new(BodyLimits::new(1 << 20, BODY_READ_TIMEOUT)),
        metrics: Arc::default(),
    };
    let mut service = ServiceBuilder::new()
        .map_request(with_axum_body)
        .layer(axum::middleware::from_fn_with_state(Arc::new(door), front_door))
        .service(http_router(state.clone()));
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text)
}

fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri).header(header::HOST, "localhost:8080")
}

fn clock_move(origin: Option<&str>, token: Option<&str>) -> Request<Body> {
    let mut builder = request("POST", "/_emulator/clock").header(header::CONTENT_TYPE, "application/json");
    if let Some(origin) = origin {
        builder = builder.header(header::ORIGIN, origin);
    }
    if let Some(token) = token {
        builder = builder.header(super::TOKEN_HEADER, token);
    }
    builder.body(Body::from(r#"{"advanceSeconds":3600}"#)).unwrap()
}

#[tokio::test]
async fn the_page_carries_the_per_start_token_and_cannot_be_framed() {
    let emulator = emulator().await;
    let state = emulator.state();
    let (status, _, html) = send(state, request("GET", "/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let token = &state.facts.dashboard_token;
    assert_eq!(token.len(), 64);
    assert!(html.contains(&format!(r#"<meta name="kvemu-dashboard-token" content="{token}">"#)));
    assert!(!html.contains("{{"), "every placeholder is filled");
    let other = crate::server::start(Config::in_memory()).await.unwrap();
    assert_ne!(&other.state().facts.dashboard_token, token, "a new token at every start");

    let door = FrontDoor {
        port: Port::Http,
        hosts: HostPolicy::new("vault.localhost", &[]),
        admin_token: None,
        bodies: Arc::new(BodyLimits::new(1 << 20, BODY_READ_TIMEOUT)),
        metrics: Arc::default(),
    };
    let response = ServiceBuilder::new()
        .map_request(with_axum_body)
        .layer(axum::middleware::from_fn_with_state(Arc::new(door), front_door))
        .service(http_router(state.clone()))
        .oneshot(request("GET", "/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "no CORS grant for the token");

    for asset in ["/_emulator/dashboard/app.js", "/_emulator/dashboard/app.css"] {
        let (status, _, body) = send(state, request("GET", asset).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(!body.contains(token.as_str()), "the token is only in the page");
    }
}

#[tokio::test]
async fn a_browser_write_needs_the_token_and_the_own_origin() {
    let emulator = emulator().await;
    let state = emulator.state();
    let token = state.facts.dashboard_token.clone();

    let (status, body, _) = send(state, clock_move(Some(OWN_ORIGIN), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "Forbidden");
    assert_eq!(body["error"]["innererror"]["code"], "DashboardTokenMissing");

    let (status, body, _) = send(state, clock_move(Some(OWN_ORIGIN), Some("0".repeat(64).as_str()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["innererror"]["code"], "DashboardTokenInvalid");

    let mut fetch_metadata_only = clock_move(None, None);
    fetch_metadata_only.headers_mut().insert("sec-fetch-site", "same-origin".parse().unwrap());
    let (status, body, _) = send(state, fetch_metadata_only).await;
    assert_eq!(
        (status, body["error"]["innererror"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("DashboardTokenMissing"))
    );

    // The right token from a foreign page is still refused, at the front door.
    let (status, body, _) = send(state, clock_move(Some("http://evil.example"), Some(&token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["innererror"]["code"], "ForeignOrigin");
    assert_eq!(state.clock.offset(), 0, "no refused request moved the clock");

    let (status, body, _) = send(state, clock_move(Some(OWN_ORIGIN), Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(state.clock.offset(), 3600);

    // Scripts and fixtures (no Origin, no fetch metadata) use the controls as before.
    let (status, _, _) = send(state, clock_move(None, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.clock.offset(), 7200);

    // Reads need no token, from the page or anywhere else.
    let read = request("GET", "/_emulator/vaults").header(header::ORIGIN, OWN_ORIGIN).body(Body::empty()).unwrap();
    let (status, body, _) = send(state, read).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"][0]["name"], "default");
}

#[tokio::test]
async fn the_dashboards_key_writes_are_guarded_and_go_through_the_keys_service() {
    let emulator = emulator().await;
    let state = emulator.state();
    let vault = state.vaults.get("default").unwrap();
    let name = crate::keys::model::KeyName::parse("cmk").unwrap();
    let request_ec = crate::keys::service::test_support::ec_request();
    let first = state.keys.create_key(&vault, &name, request_ec.clone()).await.unwrap();
    state.keys.create_key(&vault, &name, request_ec).await.unwrap();
    let token = state.facts.dashboard_token.clone();
    let uri = format!("/_emulator/vaults/default/keys/cmk/versions/{}", first.version.as_str());
    let patch = |token: Option<&str>| {
        let mut builder =
            request("PATCH", &uri).header(header::CONTENT_TYPE, "application/json").header(header::ORIGIN, OWN_ORIGIN);
        if let Some(token) = token {
            builder = builder.header(super::TOKEN_HEADER, token);
        }
        builder.body(Body::from(r#"{"enabled":false}"#)).unwrap()
    };
    let (status, _, _) = send(state, patch(None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(state.keys.get_key(&vault, &name, Some(first.version.as_str())).await.unwrap().attributes.enabled);

    let (status, body, _) = send(state, patch(Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], false);
    assert!(!state.keys.get_key(&vault, &name, Some(first.version.as_str())).await.unwrap().attributes.enabled);

    let (status, body, _) =
        send(state, request("GET", "/_emulator/vaults/default/keys/cmk").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["versions"].as_array().unwrap().len(), 2);
    assert_eq!(body["versions"][0]["enabled"], false);
    assert_eq!(body["versions"][1]["enabled"], true);

    let (status, body, _) =
        send(state, request("GET", "/_emulator/vaults/nosuch/keys").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("VaultNotFound")));
    let (status, body, _) =
        send(state, request("GET", "/_emulator/vaults/default/keys?top=0").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("BadParameter")));

    state.keys.delete_key(&vault, &name).await.unwrap();
    let purge = |token: Option<&str>| {
        let mut builder =
            request("DELETE", "/_emulator/vaults/default/deletedkeys/cmk").header(header::ORIGIN, OWN_ORIGIN);
        if let Some(token) = token {
            builder = builder.header(super::TOKEN_HEADER, token);
        }
        builder.body(Body::empty()).unwrap()
    };
    let (status, _, _) = send(state, purge(Some("wrong"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(state.keys.get_deleted_key(&vault, &name).await.is_ok(), "a refused purge purges nothing");
    let (status, _, _) = send(state, purge(Some(&token))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(state.keys.get_deleted_key(&vault, &name).await.is_err());
}

#[tokio::test]
async fn the_permission_view_is_the_authorization_tables_answer() {
    let emulator = emulator().await;
    let state = emulator.state();
    let uri = format!("/_emulator/identities/{}/permissions", crate::auth::identity::DEFAULT_ADMIN);
    let (status, body, _) = send(state, request("GET", &uri).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let default = body["vaults"].as_array().unwrap().iter().find(|v| v["vault"] == "default").unwrap();
    assert_eq!(default["model"], "accessPolicies");
    let operations = default["scopes"][0]["operations"].as_array().unwrap();
    let vault_rows = crate::auth::table::TABLE
        .iter()
        .filter(|(_, permission, ..)| *permission != crate::auth::table::NOT_ON_VAULTS)
        .count();
    assert_eq!(operations.len(), vault_rows);
    assert!(operations.iter().all(|o| o["allowed"] == true), "the default admin holds every key permission");

    // Take the admin's policy away: the view follows at once, with the rule's reason.
    let vault = state.vaults.get("default").unwrap();
    let mut authorization = crate::vaults::Authorization::of(&vault);
    let admin = state.identities.by_name(crate::auth::identity::DEFAULT_ADMIN).unwrap();
    authorization.access_policies.retain(|p| p.object_id != admin.object_id);
    state.vaults.set_authorization("default", authorization).await.unwrap();
    let (_, body, _) = send(state, request("GET", &uri).body(Body::empty()).unwrap()).await;
    let default = body["vaults"].as_array().unwrap().iter().find(|v| v["vault"] == "default").unwrap();
    let unwrap =
        default["scopes"][0]["operations"].as_array().unwrap().iter().find(|o| o["operation"] == "UnwrapKey").unwrap();
    assert_eq!(unwrap["allowed"], false);
    assert_eq!(unwrap["permission"], "unwrapKey");
    assert_eq!(unwrap["reason"], "the caller has no access policy on the vault; it needs key permission 'unwrapKey'");

    let (status, body, _) =
        send(state, request("GET", "/_emulator/identities/nobody/permissions").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("BadParameter")));
}

#[tokio::test]
async fn managed_hsms_are_listed_with_their_activation_and_local_rbac() {
    let mut config = Config::in_memory();
    config.hsms.push(crate::vaults::VaultSettings::parse("hsm1").unwrap());
    let emulator = crate::server::start(config).await.unwrap();
    let state = emulator.state();
    let get = |uri: &str| request("GET", uri).body(Body::empty()).unwrap();

    let (status, body, _) = send(state, get("/_emulator/vaults")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kinds: Vec<(&str, &str)> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("default", "vault"), ("hsm1", "managedHsm")]);
    let hsm = &body["value"][1];
    assert_eq!(hsm["managedHsm"]["activated"], true, "a declared HSM is active");
    assert!(hsm["managedHsm"].get("domainKey").is_none() && !hsm.to_string().contains("pkcs8"));
    assert!(body["value"][0]["managedHsm"].is_null());

    // The key views take the HSM's name like a vault's.
    let (status, body, _) = send(state, get("/_emulator/vaults/hsm1/keys")).await;
    assert_eq!((status, body["value"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{body}");

    // The permission view has a column for the HSM, decided by its local RBAC, with the
    // operations only an HSM has.
    let uri = format!("/_emulator/identities/{}/permissions", crate::auth::identity::DEFAULT_ADMIN);
    let (_, body, _) = send(state, get(&uri)).await;
    let hsm = body["vaults"].as_array().unwrap().iter().find(|v| v["vault"] == "hsm1").unwrap();
    assert_eq!(hsm["model"], "localRbac");
    let operations = hsm["scopes"][0]["operations"].as_array().unwrap();
    assert_eq!(operations.len(), crate::auth::table::TABLE.len());
}
