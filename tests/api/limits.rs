//! Bad input at the transport: bodies over 1 MiB are a 413 in the Key Vault error shape,
//! oversized request heads a 431, and neither costs the emulator anything.

use futures::StreamExt;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{API, error_codes, spawn};

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413_declared_or_streamed() {
    let vault = spawn().await;
    vault.create_rsa("k").await;
    let token = vault.token().await;
    let url = format!("{}/keys/k/wrapkey?{API}", vault.vault_url());
    let big = json!({"alg": "RSA-OAEP-256", "value": "A".repeat(1024 * 1024 + 1)}).to_string();

    let declared = vault.http.post(&url).bearer_auth(&token).body(big.clone()).send().await.unwrap();
    assert_eq!(declared.status(), 413);
    let body: serde_json::Value = declared.json().await.unwrap();
    assert_eq!(error_codes(&body).0, "RequestBodyTooLarge");

    // No Content-Length: the body is cut at the limit while it is read.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.into_bytes().chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks).boxed());
    let streamed = vault.http.post(&url).bearer_auth(&token).body(stream).send().await.unwrap();
    assert_eq!(streamed.status(), 413);
    let body: serde_json::Value = streamed.json().await.unwrap();
    assert_eq!(error_codes(&body).0, "RequestBodyTooLarge");

    // Just under the limit is read and judged on its content.
    let (status, _) = vault
        .call(Method::POST, &format!("/keys/k/wrapkey?{API}"), Some(json!({"alg": "RSA-OAEP-256", "value": "AAAA"})))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn oversized_request_heads_are_431_and_the_emulator_carries_on() {
    let vault = spawn().await;
    let huge = "x".repeat(100 * 1024);
    let plain = reqwest::Client::new();
    let response = plain
        .get(format!("{}/_emulator/health", vault.emulator.http_url()))
        .header("x-big", &huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);

    let http1 = reqwest::Client::builder()
        .http1_only()
        .tls_certs_only([reqwest::Certificate::from_pem(vault.emulator.ca_pem().as_bytes()).unwrap()])
        .resolve(&vault.emulator.vault_host("default"), vault.emulator.https_addr())
        .build()
        .unwrap();
    let response = http1.get(format!("{}/keys?{API}", vault.vault_url())).header("x-big", &huge).send().await.unwrap();
    assert_eq!(response.status(), 431);

    // Over HTTP/2 the stream is refused; the connection pool recovers for the next request.
    assert!(
        vault
            .http
            .get(format!("{}/keys?{API}", vault.vault_url()))
            .header("x-big", &huge)
            .send()
            .await
            .map_or(true, |r| r.status() == 431),
    );
    let (status, _) = vault.call(Method::GET, &format!("/keys?{API}"), None).await;
    assert_eq!(status, 200);
}
