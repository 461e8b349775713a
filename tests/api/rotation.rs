//! Rotation: rotate now, rotation policies, and automatic rotation on the moved clock.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, error_codes, spawn};

const DAY: i64 = 86_400;

async fn version_count(vault: &crate::helpers::TestVault, name: &str) -> usize {
    let (_, list) = vault.call(Method::GET, &format!("/keys/{name}/versions?{API}"), None).await;
    list["value"].as_array().unwrap().len()
}

#[tokio::test]
async fn policies_validate_normalise_and_default() {
    let vault = spawn().await;
    vault.create_rsa("k").await;
    let (status, policy) = vault.call(Method::GET, &format!("/keys/k/rotationpolicy?{API}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["id"], format!("{}/keys/k/rotationpolicy", vault.vault_url()));
    assert_eq!(
        policy["lifetimeActions"],
        json!([{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}])
    );

    let body = json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P2M"}, "action": {"type": "rotate"}}], "attributes": {"expiryTime": "P1Y"}});
    let (status, policy) = vault.call(Method::PUT, &format!("/keys/k/rotationpolicy?{API}"), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(
        policy["lifetimeActions"],
        json!([
            {"trigger": {"timeAfterCreate": "P2M"}, "action": {"type": "Rotate"}},
            {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}
        ])
    );
    assert_eq!(policy["attributes"]["expiryTime"], "P1Y");
    assert!(policy["attributes"]["created"].is_i64() && policy["attributes"]["updated"].is_i64());
    let (_, stored) = vault.call(Method::GET, &format!("/keys/k/rotationpolicy?{API}"), None).await;
    assert_eq!(stored, policy);

    for bad in [
        json!({"lifetimeActions": [], "attributes": {"expiryTime": "P27D"}}),
        json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "soon"}, "action": {"type": "Rotate"}}]}),
        json!({"lifetimeActions": [{"trigger": {}, "action": {"type": "Rotate"}}]}),
        json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P1D"}, "action": {"type": "Explode"}}]}),
    ] {
        let (status, body) = vault.call(Method::PUT, &format!("/keys/k/rotationpolicy?{API}"), Some(bad.clone())).await;
        assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{bad}");
    }
    let (status, _) = vault.call(Method::GET, &format!("/keys/missing/rotationpolicy?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rotate_makes_a_like_version_whose_expiry_follows_the_policy() {
    let vault = spawn().await;
    let (_, created) = vault
        .call(
            Method::POST,
            &format!("/keys/k/create?{API}"),
            Some(json!({"kty": "RSA", "key_size": 3072, "key_ops": ["wrapKey", "unwrapKey"], "tags": {"t": "1"}})),
        )
        .await;
    let body = json!({"lifetimeActions": [], "attributes": {"expiryTime": "P90D"}});
    vault.call(Method::PUT, &format!("/keys/k/rotationpolicy?{API}"), Some(body)).await;
    let (status, rotated) = vault.call(Method::POST, &format!("/keys/k/rotate?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["key"]["kid"], created["key"]["kid"]);
    assert_eq!(rotated["key"]["n"].as_str().unwrap().len(), created["key"]["n"].as_str().unwrap().len());
    assert_eq!(rotated["key"]["key_ops"], json!(["wrapKey", "unwrapKey"]));
    assert_eq!(rotated["tags"], json!({"t": "1"}));
    let attrs = &rotated["attributes"];
    assert_eq!(attrs["exp"].as_i64().unwrap() - attrs["created"].as_i64().unwrap(), 90 * DAY);
    let (status, _) = vault.call(Method::POST, &format!("/keys/missing/rotate?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_moved_clock_rotates_by_policy_and_old_versions_keep_unwrapping() {
    let vault = spawn().await;
    vault.create_rsa("cmk").await;
    let (_, wrapped) = vault
        .call(Method::POST, &format!("/keys/cmk/wrapkey?{API}"), Some(json!({"alg": "RSA-OAEP-256", "value": "ZGVr"})))
        .await;
    let body = json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P30D"}, "action": {"type": "Rotate"}}]});
    let (status, _) = vault.call(Method::PUT, &format!("/keys/cmk/rotationpolicy?{API}"), Some(body)).await;
    assert_eq!(status, StatusCode::OK);

    let clock = format!("{}/_emulator/clock", vault.emulator.http_url());
    let http = reqwest::Client::new();
    let advance = |duration: &'static str| {
        let http = http.clone();
        let clock = clock.clone();
        async move {
            http.post(&clock).json(&json!({"advance": duration})).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    assert_eq!(advance("P29D").await["rotated"], 0);
    assert_eq!(version_count(&vault, "cmk").await, 1);
    assert_eq!(advance("P2D").await["rotated"], 1);
    assert_eq!(version_count(&vault, "cmk").await, 2);
    assert_eq!(advance("P31D").await["rotated"], 1);
    assert_eq!(version_count(&vault, "cmk").await, 3);

    let kid = wrapped["kid"].as_str().unwrap();
    let (status, plain) = vault
        .call(
            Method::POST,
            &format!("{}/unwrapkey?{API}", &kid[kid.find("/keys/").unwrap()..]),
            Some(json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a data key wrapped under version 1 unwraps after two rotations: {plain}");
    assert_eq!(plain["value"], "ZGVr");
}
