//! In-process (`oneshot`) tests of the Microsoft Graph subset's audit records: every request
//! that passed authentication is one record of plane `graph` (rule `anyCaller`, with the
//! status it got), a request refused at authentication is none, and with the audit log off
//! no record is even built.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::test_app::{self, STRANGER};
use crate::audit::{AuditSettings, PendingAudit};

/// A Graph token for identity `name` (an identity with no access to any vault will do: every
/// identity of the tenant may read the directory).
fn graph_token(state: &AppState, name: &str) -> String {
    let identity = state.identities.by_name(name).unwrap();
    state.issuer.issue_for_identity(&identity, "https://graph.microsoft.com").unwrap().access_token
}

fn graph_request(method: &str, path_and_query: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path_and_query).header("host", "localhost:8443");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

/// Sends `request`; returns its status and `x-ms-request-id`.
async fn call(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = test_app::send(router, request).await;
    let request_id = response.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
    (response.status(), request_id)
}

/// The audit log through `GET /_emulator/audit` on the plain-HTTP router, newest first.
async fn audit_records(state: &AppState, query: &str) -> Vec<Value> {
    let router = super::router::http_router(state.clone());
    let query = if query.is_empty() { "maxResults=1000".to_owned() } else { format!("maxResults=1000&{query}") };
    let request =
        Request::get(format!("/_emulator/audit?{query}")).header("host", "localhost:8080").body(Body::empty()).unwrap();
    let (status, body) = test_app::json_of(test_app::send(&router, request).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_authenticated_graph_request_is_one_audit_record_of_plane_graph() {
    let state = test_app::state().await;
    let router = super::router::https_router(state.clone());
    let token = graph_token(&state, STRANGER);
    let stranger = state.identities.by_name(STRANGER).unwrap();
    let default = state.identities.by_name(crate::auth::identity::DEFAULT_IDENTITY).unwrap();
    let unknown = Uuid::from_u128(1);
    let requests = [
        ("GET", "/v1.0/me".to_owned(), None, StatusCode::BAD_REQUEST, "GetSignedInUser"),
        ("GET", "/v1.0/servicePrincipals?$top=5".to_owned(), None, StatusCode::OK, "ListServicePrincipals"),
        ("GET", format!("/v1.0/servicePrincipals/{}", default.object_id), None, StatusCode::OK, "GetServicePrincipal"),
        ("GET", format!("/v1.0/servicePrincipals/{unknown}"), None, StatusCode::NOT_FOUND, "GetServicePrincipal"),
        (
            "POST",
            "/v1.0/directoryObjects/getByIds".to_owned(),
            Some(json!({"ids": [default.object_id]})),
            StatusCode::OK,
            "GetDirectoryObjectsByIds",
        ),
    ];
    let mut sent = Vec::new();
    for (method, uri, body, expected, operation) in requests {
        let (status, request_id) = call(&router, graph_request(method, &uri, Some(&token), body)).await;
        assert_eq!(status, expected, "{method} {uri}");
        sent.push((method, uri, status, operation, request_id));
    }

    let records = audit_records(&state, "").await;
    assert_eq!(records.len(), sent.len(), "one record per request: {records:#?}");
    for (method, uri, status, operation, request_id) in &sent {
        let matching: Vec<&Value> = records.iter().filter(|r| r["requestId"] == request_id.as_str()).collect();
        assert_eq!(matching.len(), 1, "{method} {uri}: {records:#?}");
        let record = matching[0];
        let path = uri.split('?').next().unwrap();
        assert_eq!(record["plane"], "graph", "{record}");
        assert_eq!(record["operation"], *operation, "{record}");
        assert_eq!(record["status"], status.as_u16(), "{record}");
        assert_eq!(record["decision"], "allowed", "{record}");
        assert_eq!(record["rule"]["kind"], "anyCaller", "{record}");
        assert_eq!(record["reason"], crate::messages::graph::AUDIT_ANY_TENANT_IDENTITY, "{record}");
        assert_eq!(record["caller"]["objectId"], stranger.object_id.to_string(), "{record}");
        assert_eq!(record["caller"]["name"], STRANGER, "{record}");
        assert_eq!(record["caller"]["tokenKind"], "userAssignedManagedIdentity", "{record}");
        assert!(record["vault"].is_null() && record["key"].is_null(), "{record}");
        assert_eq!(record["resourceId"], path, "{record}");
        assert_eq!(record["path"], uri.as_str(), "{record}");
        assert_eq!(record["method"], *method, "{record}");
    }

    // The list filters by Graph operation names as by any other.
    let listed = audit_records(&state, "operation=getserviceprincipal").await;
    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert!(listed.iter().all(|r| r["operation"] == "GetServicePrincipal"));
    assert_eq!(audit_records(&state, &format!("caller={STRANGER}&decision=allowed")).await.len(), sent.len());
}

#[tokio::test]
async fn graph_requests_refused_at_authentication_leave_no_audit_record() {
    let state = test_app::state().await;
    let router = super::router::https_router(state.clone());
    let vault_token = test_app::token_for(&state, STRANGER);
    for token in [None, Some("not.a.jwt"), Some(vault_token.as_str())] {
        for (method, uri, body) in [
            ("GET", "/v1.0/me", None),
            ("GET", "/v1.0/servicePrincipals", None),
            ("POST", "/v1.0/directoryObjects/getByIds", Some(json!({"ids": []}))),
        ] {
            let (status, _) = call(&router, graph_request(method, uri, token, body)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} with {token:?}");
        }
    }
    assert_eq!(audit_records(&state, "").await, Vec::<Value>::new());

    // The log itself works: the same request with a Graph token is recorded.
    let token = graph_token(&state, STRANGER);
    let (status, _) = call(&router, graph_request("GET", "/v1.0/servicePrincipals", Some(&token), None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit_records(&state, "").await.len(), 1);
}

/// The Graph routes alone, without `observe`, which takes the record off the response: here it
/// stays on it, so a test sees whether one was built.
async fn records_built(state: &AppState) -> Vec<Option<PendingAudit>> {
    let token = graph_token(state, STRANGER);
    let router = super::graph::router(state.clone()).into_router().with_state(state.clone());
    let mut built = Vec::new();
    for uri in ["/v1.0/servicePrincipals", "/v1.0/me"] {
        let response = test_app::send(&router, graph_request("GET", uri, Some(&token), None)).await;
        assert!([StatusCode::OK, StatusCode::BAD_REQUEST].contains(&response.status()), "{uri}");
        built.push(response.extensions().get::<PendingAudit>().cloned());
    }
    built
}

#[tokio::test]
async fn with_the_audit_log_off_graph_requests_build_no_audit_record() {
    let on = test_app::state().await;
    assert!(records_built(&on).await.iter().all(Option::is_some), "with the log on, each request has its record");

    let state = test_app::state_with_audit(AuditSettings { enabled: false, ..AuditSettings::default() }).await;
    assert!(records_built(&state).await.iter().all(Option::is_none), "a record was built with the log off");
    let token = graph_token(&state, STRANGER);
    let full = super::router::https_router(state.clone());
    let (status, _) = call(&full, graph_request("GET", "/v1.0/servicePrincipals", Some(&token), None)).await;
    assert_eq!(status, StatusCode::OK);
    state.audit.flush().await;
    assert_eq!((state.audit.enabled(), state.audit.written(), state.audit.dropped()), (false, 0, 0));
}
