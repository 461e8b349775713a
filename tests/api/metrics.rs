//! `GET /metrics` on the plain-HTTP port: requests by route template, crypto operations,
//! authorization denials and the key pool, in the Prometheus text format.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{API, spawn};

#[tokio::test]
async fn metrics_count_routes_operations_and_denials() {
    let vault = spawn().await;
    let key = vault.create_rsa("cmk").await;
    let kid = key["key"]["kid"].as_str().unwrap().to_owned();
    let wrap = json!({"alg": "RSA-OAEP-256", "value": "AAECAwQFBgcICQoLDA0ODw"});
    for _ in 0..2 {
        let (status, _) = vault.call(Method::POST, &format!("/keys/cmk/wrapkey?{API}"), Some(wrap.clone())).await;
        assert_eq!(status, 200);
    }
    let stranger = vault.emulator.token_for_identity("stranger", "https://vault.azure.net").await.unwrap();
    let (status, _) = vault.call_as(Method::GET, &format!("{kid}?{API}"), Some(&stranger), None).await;
    assert_eq!(status, 403);

    let response = vault.http.get(format!("{}/metrics", vault.emulator.http_url())).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    for expected in [
        "kvemu_http_requests_total{route=\"/keys/{name}/wrapkey\",method=\"POST\",status=\"200\"} 2\n",
        "kvemu_http_requests_total{route=\"/keys/{name}/create\",method=\"POST\",status=\"200\"} 1\n",
        "kvemu_crypto_operations_total{operation=\"wrapKey\",algorithm=\"RSA-OAEP-256\"} 2\n",
        "kvemu_authorization_denials_total{route=\"/keys/{name}/{version}\",code=\"AccessDenied\"} 1\n",
        "kvemu_http_request_duration_seconds_count{route=\"/keys/{name}/wrapkey\",method=\"POST\"} 2\n",
        "kvemu_rsa_key_pool_target{size=\"2048\"} 4\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // Raw paths never become labels: no key name or version appears.
    assert!(!text.contains("/keys/cmk"), "{text}");
}
