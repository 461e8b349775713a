//! `/_emulator/faults`: injected 429/500/503 answers for users' retry tests, and the official
//! SDK's retry policy passing through them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn};

async fn arm(vault: &TestVault, rule: Value) -> (u16, Value) {
    let response =
        vault.http.post(format!("{}/_emulator/faults", vault.emulator.http_url())).json(&rule).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The rules still pending.
async fn pending(vault: &TestVault) -> Value {
    let url = format!("{}/_emulator/faults", vault.emulator.http_url());
    vault.call_as(Method::GET, &url, None, None).await.1["value"].clone()
}

#[tokio::test]
async fn the_next_requests_of_an_operation_fail_as_asked_then_the_vault_answers_again() {
    let vault = spawn().await;
    vault.create_rsa("cmk").await;
    let (status, wrapped) = vault
        .call(Method::POST, &format!("/keys/cmk/wrapkey?{API}"), Some(json!({"alg": "RSA-OAEP-256", "value": "AAEC"})))
        .await;
    assert_eq!(status, 200);
    let unwrap = json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]});

    let (status, rule) =
        arm(&vault, json!({"vault": "default", "operation": "unwrapKey", "count": 2, "status": 429, "retryAfter": 7}))
            .await;
    assert_eq!(status, 201, "{rule}");
    assert_eq!(rule["operation"], "UnwrapKey");

    let token = vault.token().await;
    for _ in 0..2 {
        let response = vault
            .http
            .post(format!("{}/keys/cmk/unwrapkey?{API}", vault.vault_url()))
            .bearer_auth(&token)
            .json(&unwrap)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body).0, "Throttled");
        assert_eq!(body["error"]["message"], "Rate limit is exceeded. Try again in 7 seconds.");
        // Other operations are not affected.
        let (status, _) = vault.call(Method::GET, &format!("/keys/cmk?{API}"), None).await;
        assert_eq!(status, 200);
    }
    let (status, body) = vault.call(Method::POST, &format!("/keys/cmk/unwrapkey?{API}"), Some(unwrap)).await;
    assert_eq!(status, 200, "{body}");

    // Any operation, 500 then 503, in the order armed; listed while pending, cleared on DELETE.
    arm(&vault, json!({"vault": "default", "status": 500})).await;
    arm(&vault, json!({"vault": "default", "status": 503, "count": 5})).await;
    assert_eq!(pending(&vault).await.as_array().unwrap().len(), 2);
    let (status, body) = vault.call(Method::GET, &format!("/keys?{API}"), None).await;
    assert_eq!((status.as_u16(), error_codes(&body).0.as_str()), (500, "InternalServerError"));
    let (status, body) = vault.call(Method::GET, &format!("/keys?{API}"), None).await;
    assert_eq!((status.as_u16(), error_codes(&body).0.as_str()), (503, "ServiceUnavailable"));
    let cleared = vault.http.delete(format!("{}/_emulator/faults", vault.emulator.http_url())).send().await.unwrap();
    assert_eq!(cleared.status(), 204);
    let (status, _) = vault.call(Method::GET, &format!("/keys?{API}"), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_rules_are_400_and_unknown_vaults_404() {
    let vault = spawn().await;
    for rule in [
        json!({"vault": "default", "status": 404}),
        json!({"vault": "default", "status": 429, "count": 0}),
        json!({"vault": "default", "status": 429, "operation": "explode"}),
        json!({"vault": "default", "status": 429, "surprise": true}),
    ] {
        let (status, body) = arm(&vault, rule.clone()).await;
        assert_eq!(status, 400, "{rule}: {body}");
        assert_eq!(error_codes(&body).0, "BadParameter");
    }
    let (status, _) = arm(&vault, json!({"vault": "nowhere", "status": 429})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_official_sdk_retries_through_injected_throttling_and_outages() {
    let vault = spawn().await;
    vault.create_rsa("cmk").await;
    let client = vault.key_client();
    arm(&vault, json!({"vault": "default", "operation": "GetKey", "count": 2, "status": 429, "retryAfter": 0})).await;
    arm(&vault, json!({"vault": "default", "operation": "GetKey", "count": 1, "status": 503, "retryAfter": 0})).await;
    let key = client.get_key("cmk", None).await.expect("the SDK retries until the vault answers");
    assert!(key.into_model().unwrap().key.is_some());
    assert_eq!(pending(&vault).await, json!([]), "every injected failure was consumed by a retry");
}
