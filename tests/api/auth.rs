//! The challenge handshake and token validation over the wire (contract §3).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{API, error_codes, spawn};

#[tokio::test]
async fn a_bodiless_unauthenticated_post_gets_the_challenge_before_body_validation() {
    let vault = spawn().await;
    let port = vault.emulator.https_port();
    let response = vault
        .http
        .post(format!("{}/keys/k1/create?{API}", vault.vault_url()))
        .header("content-type", "application/json")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer authorization="https://localhost:{port}/{}", resource="https://vault.localhost:{port}""#,
            vault.emulator.tenant_id()
        )
    );
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})
    );
}

#[tokio::test]
async fn bad_tokens_get_401_with_the_challenge_and_a_reason() {
    let vault = spawn().await;
    let url = format!("{}/keys?{API}", vault.vault_url());

    let management = vault.token_for("https://management.azure.com/").await;
    let (status, body) = vault.call_as(Method::GET, &url, Some(&management), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"]["message"],
        "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/."
    );

    let (status, body) = vault.call_as(Method::GET, &url, Some("not-a-jwt"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("AKV10001"), "{body}");

    let good = vault.token().await;
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[2] = "AAAA";
    let (status, body) = vault.call_as(Method::GET, &url, Some(&parts.join(".")), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["message"], "AKV10015: The token signature is invalid.");

    let response = vault.http.get(&url).bearer_auth("x.y.z").send().await.unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn tokens_for_the_emulator_resource_with_its_port_are_accepted() {
    let vault = spawn().await;
    let port = vault.emulator.https_port();
    for resource in [format!("https://vault.localhost:{port}"), "https://vault.azure.net/".to_owned()] {
        let token = vault.token_for(&resource).await;
        let (status, body) =
            vault.call_as(Method::GET, &format!("{}/keys?{API}", vault.vault_url()), Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{resource}: {body}");
    }
}

#[tokio::test]
async fn hosts_route_to_vaults() {
    let vault = spawn().await;
    let token = vault.token().await;
    let port = vault.emulator.https_port();
    // A vault label that names no vault.
    let (status, body) = vault
        .call_as(Method::GET, &format!("https://other.vault.localhost:{port}/keys?{API}"), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_codes(&body).0, "VaultNotFound");
    // A bare loopback host is the default vault, and ids use the origin the client used.
    vault.create_rsa("k1").await;
    let (status, body) =
        vault.call_as(Method::GET, &format!("https://localhost:{port}/keys/k1?{API}"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["key"]["kid"].as_str().unwrap().starts_with(&format!("https://localhost:{port}/keys/k1/")));
}

#[tokio::test]
async fn every_response_carries_the_key_vault_headers() {
    let vault = spawn().await;
    let response = vault
        .http
        .get(format!("{}/keys?{API}", vault.vault_url()))
        .bearer_auth(vault.token().await)
        .header("x-ms-client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-ms-client-request-id"], "abc-123");
    assert_eq!(headers["x-ms-request-id"].len(), 36);
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
}

/// The routing table, as garage tests it: each (method, path) needs exactly the permission the
/// contract's §5 table names, and authorization comes before any body is read.
#[tokio::test]
async fn every_route_requires_its_permission() {
    let vault = spawn().await;
    let version = vault.create_rsa("k1").await["key"]["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let nobody = vault.emulator.token_for_identity("nobody", "https://vault.azure.net").await.unwrap();
    let v = version.as_str();
    let cases: Vec<(Method, String, &str)> = vec![
        (Method::GET, "/keys".into(), "list"),
        (Method::GET, "/keys/k1".into(), "get"),
        (Method::GET, "/keys/k1/".into(), "get"),
        (Method::GET, format!("/keys/k1/{v}"), "get"),
        (Method::PATCH, "/keys/k1".into(), "update"),
        (Method::PATCH, "/keys/k1/".into(), "update"),
        (Method::PATCH, format!("/keys/k1/{v}"), "update"),
        (Method::POST, "/keys/k1/create".into(), "create"),
        (Method::GET, "/keys/k1/versions".into(), "list"),
        (Method::POST, "/keys/k1/encrypt".into(), "encrypt"),
        (Method::POST, "/keys/k1/decrypt".into(), "decrypt"),
        (Method::POST, "/keys/k1/wrapkey".into(), "wrapKey"),
        (Method::POST, "/keys/k1/unwrapkey".into(), "unwrapKey"),
        (Method::POST, "/keys/k1//unwrapkey".into(), "unwrapKey"),
        (Method::POST, format!("/keys/k1/{v}/encrypt"), "encrypt"),
        (Method::POST, format!("/keys/k1/{v}/decrypt"), "decrypt"),
        (Method::POST, format!("/keys/k1/{v}/wrapkey"), "wrapKey"),
        (Method::POST, format!("/keys/k1/{v}/unwrapkey"), "unwrapKey"),
        (Method::POST, "/keys/k1/sign".into(), "sign"),
        (Method::POST, "/keys/k1/verify".into(), "verify"),
        (Method::POST, format!("/keys/k1/{v}/sign"), "sign"),
        (Method::POST, format!("/keys/k1/{v}/verify"), "verify"),
        (Method::DELETE, "/keys/k1".into(), "delete"),
        (Method::PUT, "/keys/k1".into(), "import"),
        (Method::POST, "/keys/k1/backup".into(), "backup"),
        (Method::POST, "/keys/restore".into(), "restore"),
        (Method::POST, "/keys/k1/rotate".into(), "rotate"),
        (Method::GET, "/keys/k1/rotationpolicy".into(), "getrotationpolicy"),
        (Method::PUT, "/keys/k1/rotationpolicy".into(), "setrotationpolicy"),
        (Method::GET, "/deletedkeys".into(), "list"),
        (Method::GET, "/deletedkeys/k1".into(), "get"),
        (Method::DELETE, "/deletedkeys/k1".into(), "purge"),
        (Method::POST, "/deletedkeys/k1/recover".into(), "recover"),
        (Method::POST, "/keys/k1/release".into(), "release"),
        (Method::POST, "/keys/k1//release".into(), "release"),
        (Method::POST, format!("/keys/k1/{v}/release"), "release"),
        (Method::GET, "/keys/k1/attestation".into(), "get"),
        (Method::GET, format!("/keys/k1/{v}/attestation"), "get"),
        (Method::POST, "/rng".into(), "any"),
    ];
    for (method, path, permission) in cases {
        let url = format!("{}{path}?{API}", vault.vault_url());
        let (status, body) = vault.call_as(method.clone(), &url, Some(&nobody), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(error_codes(&body), ("Forbidden".into(), Some("AccessDenied".into())), "{method} {path}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("does not have keys {permission} permission on key vault 'default;")),
            "{method} {path}: {message}"
        );
        assert!(message.contains("appid=") && message.contains(";oid="), "{message}");
    }
}
