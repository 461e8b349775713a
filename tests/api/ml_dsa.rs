//! AKP (ML-DSA) keys over the wire, api-version 2026-05-01-preview and later: creation, pure,
//! context and external-mu signatures checked by aws-lc-rs on the client side, rotation,
//! backup/restore, and the refusals of older versions. The check against an independent
//! implementation is tests/sdk/python/test_ml_dsa.py (dilithium-py).

use aws_lc_rs::signature::{ML_DSA_65, UnparsedPublicKey};
use keyvault_emulator::crypto::base64url;
use keyvault_emulator::crypto::mldsa_variants::external_mu;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestVault, error_codes, spawn};

const PREVIEW: &str = "api-version=2026-07-01-preview";

fn b64(bytes: &[u8]) -> String {
    base64url::encode(bytes)
}

fn bytes(value: &Value) -> Vec<u8> {
    base64url::decode(value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))).unwrap()
}

async fn post(vault: &TestVault, path: &str, query: &str, body: Value) -> (StatusCode, Value) {
    vault.call(Method::POST, &format!("{path}?{query}"), Some(body)).await
}

async fn ok(vault: &TestVault, path: &str, body: Value) -> Value {
    let (status, result) = post(vault, path, PREVIEW, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {result}");
    result
}

async fn create_ml_dsa_65(vault: &TestVault, name: &str) -> Value {
    let body = json!({"kty": "AKP", "alg": "ML-DSA-65", "key_ops": ["sign", "verify"], "tags": {"purpose": "pq"}});
    ok(vault, &format!("/keys/{name}/create"), body).await
}

#[tokio::test]
async fn an_ml_dsa_65_key_signs_and_a_client_verifies_every_form() {
    let vault = spawn().await;
    let created = create_ml_dsa_65(&vault, "pq").await;
    let jwk = &created["key"];
    assert_eq!(jwk["kty"], "AKP-HSM", "AKP keys are HSM keys: {created}");
    assert_eq!(jwk["alg"], "ML-DSA-65");
    assert_eq!(jwk["key_ops"], json!(["sign", "verify"]));
    let public = bytes(&jwk["pub"]);
    assert_eq!(public.len(), 1952);
    let client_key = UnparsedPublicKey::new(&ML_DSA_65, &public);
    let message = b"a message, not a digest".to_vec();

    let signed = ok(&vault, "/keys/pq/sign", json!({"value": b64(&message)})).await;
    assert_eq!(signed["kid"], jwk["kid"]);
    let signature = bytes(&signed["value"]);
    assert_eq!(signature.len(), 3309);
    client_key.verify(&message, &signature).expect("a pure ML-DSA-65 signature the client verifies");
    let verified = ok(&vault, "/keys/pq/verify", json!({"digest": b64(&message), "value": b64(&signature)})).await;
    assert_eq!(verified["value"], true);
    let named = ok(&vault, "/keys/pq/sign", json!({"alg": "ML-DSA-65", "value": b64(&message)})).await;
    client_key.verify(&message, &bytes(&named["value"])).unwrap();

    let context = b"application-context-v1";
    let body = json!({"value": b64(&message), "context": b64(context)});
    let with_context = bytes(&ok(&vault, "/keys/pq/sign", body).await["value"]);
    assert!(client_key.verify(&message, &with_context).is_err(), "a context changes the signature");
    let body = json!({"digest": b64(&message), "value": b64(&with_context), "context": b64(context)});
    assert_eq!(ok(&vault, "/keys/pq/verify", body).await["value"], true);
    let body = json!({"digest": b64(&message), "value": b64(&with_context), "context": b64(b"other")});
    assert_eq!(ok(&vault, "/keys/pq/verify", body).await["value"], false);

    let mu = external_mu(&public, b"", &message).unwrap();
    let over_mu = bytes(&ok(&vault, "/keys/pq/sign", json!({"external_mu": b64(&mu)})).await["value"]);
    client_key.verify(&message, &over_mu).expect("an external-mu signature is a signature of the message");
    let body = json!({"external_mu": b64(&mu), "value": b64(&over_mu)});
    assert_eq!(ok(&vault, "/keys/pq/verify", body).await["value"], true);

    for bad in [
        json!({"external_mu": b64(&[0; 32])}),
        json!({"external_mu": b64(&mu), "value": b64(&message)}),
        json!({"value": b64(&message), "context": b64(&[0; 256])}),
        json!({"alg": "ML-DSA-44", "value": b64(&message)}),
        json!({"alg": "ES256", "value": b64(&[0; 32])}),
        json!({}),
    ] {
        let (status, body) = post(&vault, "/keys/pq/sign", PREVIEW, bad.clone()).await;
        assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn ml_dsa_keys_rotate_back_up_and_restore_like_any_key() {
    let vault = spawn().await;
    let created = create_ml_dsa_65(&vault, "pq").await;
    let rotated = ok(&vault, "/keys/pq/rotate", json!({})).await;
    assert_eq!(rotated["key"]["alg"], "ML-DSA-65");
    assert_ne!(rotated["key"]["pub"], created["key"]["pub"], "a new key pair");
    let backup = ok(&vault, "/keys/pq/backup", json!({})).await;
    let (status, _) = vault.call(Method::DELETE, &format!("/keys/pq?{PREVIEW}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = vault.call(Method::DELETE, &format!("/deletedkeys/pq?{PREVIEW}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let restored = ok(&vault, "/keys/restore", json!({"value": backup["value"]})).await;
    assert_eq!(restored["key"]["pub"], rotated["key"]["pub"]);
    let old_version = created["key"]["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let signed = ok(&vault, &format!("/keys/pq/{old_version}/sign"), json!({"value": b64(b"m")})).await;
    let old_public = bytes(&created["key"]["pub"]);
    UnparsedPublicKey::new(&ML_DSA_65, &old_public).verify(b"m", &bytes(&signed["value"])).unwrap();
}

#[tokio::test]
async fn older_api_versions_know_no_akp_keys() {
    let vault = spawn().await;
    for query in ["api-version=2026-04-01", "api-version=2025-07-01", "api-version=7.4"] {
        let (status, body) = post(&vault, "/keys/pq/create", query, json!({"kty": "AKP", "alg": "ML-DSA-65"})).await;
        assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("'AKP' is not valid") && !message.contains("AKP-HSM"), "{message}");
    }
    create_ml_dsa_65(&vault, "pq").await;
    let (status, key) = vault.call(Method::GET, "/keys/pq?api-version=2026-04-01", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(key["key"].get("pub").is_none() && key["key"].get("alg").is_none(), "no AKP members before 2026-05: {key}");
    let (status, body) =
        post(&vault, "/keys/pq/sign", "api-version=2026-04-01", json!({"value": b64(b"message")})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "alg is required before 2026-05-01-preview: {body}");
    for bad_create in [json!({"kty": "AKP"}), json!({"kty": "AKP", "alg": "ML-DSA-99"})] {
        let (status, body) = post(&vault, "/keys/bad/create", PREVIEW, bad_create).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let import = json!({"key": {"kty": "AKP", "alg": "ML-DSA-65", "pub": b64(&[0; 1952])}});
    let (status, body) = vault.call(Method::PUT, &format!("/keys/imported?{PREVIEW}"), Some(import)).await;
    assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{body}");
}

#[tokio::test]
async fn an_exportable_ml_dsa_key_is_released_under_its_policy() {
    let vault = spawn().await;
    let authority = format!("{}/attestation", vault.vault_url());
    let document = json!({"anyOf": [{"authority": authority, "allOf": [{"claim": "sdk-test", "equals": "true"}]}], "version": "1.0.0"});
    let policy = json!({"data": b64(document.to_string().as_bytes())});
    let (status, body) = post(
        &vault,
        "/keys/pq/create",
        PREVIEW,
        json!({"kty": "AKP", "alg": "ML-DSA-65", "attributes": {"exportable": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an exportable key needs a release policy, as any key: {body}");
    let body = json!({"kty": "AKP", "alg": "ML-DSA-44", "attributes": {"exportable": true}, "release_policy": policy});
    let created = ok(&vault, "/keys/pq/create", body).await;
    let (status, minted) = vault.call(Method::GET, "/attestation/generate-test-token", None).await;
    assert_eq!(status, StatusCode::OK);
    let released = ok(&vault, "/keys/pq/release", json!({"target": minted["token"]})).await;
    let payload: Value = serde_json::from_slice(
        &base64url::decode(released["value"].as_str().unwrap().split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    let key = &payload["response"]["key"]["key"];
    assert_eq!(
        (&key["kid"], &key["alg"], &key["pub"]),
        (&created["key"]["kid"], &created["key"]["alg"], &created["key"]["pub"])
    );
    assert!(key["key_hsm"].as_str().is_some_and(|k| !k.is_empty()), "{payload}");
    let (status, _) = post(&vault, "/keys/pq/release", PREVIEW, json!({"target": "not.a.token"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
