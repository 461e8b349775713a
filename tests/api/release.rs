//! Secure key release end to end: an exportable key with a release policy, a target token from
//! the built-in attestation authority carrying the caller's own RSA key, and the released key
//! unwrapped by a standard library. Also the refusals, and key attestation.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::KeyPair as _;
use keyvault_emulator::crypto::base64url;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn};

fn b64(bytes: &[u8]) -> String {
    base64url::encode(bytes)
}

fn decode_json(part: &str) -> Value {
    serde_json::from_slice(&base64url::decode(part).unwrap()).unwrap()
}

/// The caller's transfer key: private half kept here, public half put in the target token.
struct Caller {
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn caller() -> Caller {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA",
        "kid": "TpmEphemeralEncryptionKey",
        "key_ops": ["encrypt"],
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    });
    Caller { pkcs8: pair.as_der().unwrap().as_ref().to_vec(), jwk }
}

async fn target(vault: &TestVault, claims: Value, keys: &[&Value]) -> String {
    let body = json!({"claims": claims, "runtimeKeys": keys});
    let (status, minted) = vault.call(Method::POST, "/attestation/generate-test-token", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    minted["token"].as_str().unwrap().to_owned()
}

fn policy(authority: &str) -> Value {
    let document = json!({"anyOf": [{"authority": authority, "allOf": [{"claim": "sdk-test", "equals": "true"}]}], "version": "1.0.0"});
    json!({"data": b64(document.to_string().as_bytes())})
}

async fn release(vault: &TestVault, path: &str, body: Value) -> (StatusCode, Value) {
    vault.call(Method::POST, &format!("{path}?{API}"), Some(body)).await
}

/// Unwraps `key_hsm` the way a TEE would: RSA-OAEP for the transfer key, then RFC 5649.
fn unwrap_key_hsm(caller: &Caller, key_hsm: &str, expect_enc: &str) -> Vec<u8> {
    let envelope = decode_json(key_hsm);
    assert_eq!(envelope["schema_version"], "1.0");
    assert_eq!(envelope["header"]["kid"], "TpmEphemeralEncryptionKey");
    assert_eq!(envelope["header"]["alg"], "dir");
    assert_eq!(envelope["header"]["enc"], expect_enc);
    let ciphertext = base64url::decode(envelope["ciphertext"].as_str().unwrap()).unwrap();
    let (rsa_part, kwp_part) = ciphertext.split_at(256);
    let oaep = if expect_enc == "CKM_RSA_AES_KEY_WRAP" { &OAEP_SHA1_MGF1SHA1 } else { &OAEP_SHA256_MGF1SHA256 };
    let private = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&caller.pkcs8).unwrap()).unwrap();
    let mut transport = [0u8; 256];
    let transport = private.decrypt(oaep, rsa_part, &mut transport, None).unwrap().to_vec();
    let mut out = vec![0u8; kwp_part.len()];
    KeyEncryptionKey::new(&AES_256, &transport).unwrap().unwrap_with_padding(kwp_part, &mut out).unwrap().to_vec()
}

#[tokio::test]
async fn an_exportable_key_is_released_to_an_attested_caller_who_can_unwrap_it() {
    let vault = spawn().await;
    let authority = format!("{}/attestation", vault.vault_url());
    let (status, created) = vault
        .call(
            Method::POST,
            &format!("/keys/skr/create?{API}"),
            Some(json!({"kty": "RSA-HSM", "attributes": {"exportable": true}, "release_policy": policy(&format!("{authority}/"))})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let stored = &created["release_policy"];
    assert_eq!(stored["contentType"], "application/json; charset=utf-8");
    assert_eq!(stored["immutable"], false);
    let canonical = String::from_utf8(base64url::decode(stored["data"].as_str().unwrap()).unwrap()).unwrap();
    assert!(canonical.starts_with(r#"{"version":"1.0.0","anyOf":[{"authority":"#), "{canonical}");

    let me = caller();
    let token = target(&vault, json!({"sdk-test": true}), &[&me.jwk]).await;
    let (status, released) =
        release(&vault, "/keys/skr/release", json!({"target": token, "nonce": "n-123", "enc": "RSA_AES_KEY_WRAP_256"}))
            .await;
    assert_eq!(status, StatusCode::OK, "{released}");

    // The JWS verifies against the keys the emulator publishes.
    let jws = released["value"].as_str().unwrap();
    let (status, jwks) = vault.call(Method::GET, "/attestation/certs", None).await;
    assert_eq!(status, StatusCode::OK);
    let signing = &jwks["keys"][0];
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_components(signing["n"].as_str().unwrap(), signing["e"].as_str().unwrap())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let payload = jsonwebtoken::decode::<Value>(jws, &decoding, &validation).unwrap().claims;
    assert_eq!(payload["request"]["enc"], "RSA_AES_KEY_WRAP_256");
    assert_eq!(payload["request"]["nonce"], "n-123");
    assert_eq!(payload["request"]["kid"], format!("{}/keys/skr", vault.vault_url()));
    let key = &payload["response"]["key"]["key"];
    assert_eq!(key["kid"], created["key"]["kid"]);
    assert_eq!(payload["response"]["key"]["attributes"]["exportable"], true);

    let pkcs8 = unwrap_key_hsm(&me, key["key_hsm"].as_str().unwrap(), "RSA_AES_KEY_WRAP_256");
    let released_pair = KeyPair::from_pkcs8(&pkcs8).unwrap();
    assert_eq!(
        b64(released_pair.public_key().modulus().big_endian_without_leading_zero()),
        created["key"]["n"].as_str().unwrap(),
        "the caller holds the vault key's private half"
    );

    // The default wrapping is CKM_RSA_AES_KEY_WRAP (OAEP with SHA-1); the version may be named.
    let version = created["key"]["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (status, again) = release(&vault, &format!("/keys/skr/{version}/release"), json!({"target": token})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let payload = decode_json(again["value"].as_str().unwrap().split('.').nth(1).unwrap());
    assert_eq!(payload["request"]["enc"], "CKM_RSA_AES_KEY_WRAP");
    assert_eq!(
        unwrap_key_hsm(&me, payload["response"]["key"]["key"]["key_hsm"].as_str().unwrap(), "CKM_RSA_AES_KEY_WRAP"),
        pkcs8
    );
}

#[tokio::test]
async fn releases_are_refused_unless_key_policy_and_token_all_agree() {
    let vault = spawn().await;
    let authority = format!("{}/attestation", vault.vault_url());
    let me = caller();
    let create = |name: &str, body: Value| {
        let path = format!("/keys/{name}/create?{API}");
        let vault = &vault;
        async move {
            let (status, created) = vault.call(Method::POST, &path, Some(body)).await;
            assert_eq!(status, StatusCode::OK, "{created}");
        }
    };
    create("oct", json!({"kty": "oct-HSM", "attributes": {"exportable": true}, "release_policy": policy(&authority)}))
        .await;
    create("plain", json!({"kty": "RSA"})).await;

    let good = target(&vault, json!({"sdk-test": true}), &[&me.jwk]).await;
    let (status, released) = release(&vault, "/keys/oct/release", json!({"target": good})).await;
    assert_eq!(status, StatusCode::OK, "{released}");
    let payload = decode_json(released["value"].as_str().unwrap().split('.').nth(1).unwrap());
    let raw =
        unwrap_key_hsm(&me, payload["response"]["key"]["key"]["key_hsm"].as_str().unwrap(), "CKM_RSA_AES_KEY_WRAP");
    assert_eq!(raw.len(), 32, "an oct key is released as its raw bytes");

    let wrong_claim = target(&vault, json!({"sdk-test": false}), &[&me.jwk]).await;
    let (status, body) = release(&vault, "/keys/oct/release", json!({"target": wrong_claim})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, body) = release(&vault, "/keys/plain/release", json!({"target": good})).await;
    assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{body}");

    let no_key = target(&vault, json!({"sdk-test": true}), &[]).await;
    let (status, body) = release(&vault, "/keys/oct/release", json!({"target": no_key})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no wrapping key: {body}");

    for bad in [json!({"target": "not.a.jwt"}), json!({"target": ""}), json!({"target": good, "enc": "A256KW"})] {
        let (status, body) = release(&vault, "/keys/oct/release", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // The SDKs' test-authority flow: GET a token with sdk-test=true and a key only the
    // emulator holds; the release succeeds.
    let (status, minted) = vault.call(Method::GET, "/attestation/generate-test-token", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = release(&vault, "/keys/oct/release", json!({"target": minted["token"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, metadata) = vault.call(Method::GET, "/attestation/.well-known/openid-configuration", None).await;
    assert_eq!((status, metadata["issuer"].as_str()), (StatusCode::OK, Some(authority.as_str())));
}

#[tokio::test]
async fn immutable_policies_cannot_change_and_attestation_returns_the_bundle() {
    let vault = spawn().await;
    let authority = format!("{}/attestation", vault.vault_url());
    let mut immutable = policy(&authority);
    immutable["immutable"] = json!(true);
    let (status, created) = vault
        .call(
            Method::POST,
            &format!("/keys/locked/create?{API}"),
            Some(json!({"kty": "EC-HSM", "attributes": {"exportable": true}, "release_policy": immutable})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, body) = vault
        .call(Method::PATCH, &format!("/keys/locked/?{API}"), Some(json!({"release_policy": policy(&authority)})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "AKV.SKR.1020: Immutable Key Release Policy cannot be modified.");

    let (status, attested) = vault.call(Method::GET, &format!("/keys/locked//attestation?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{attested}");
    assert_eq!(attested["key"]["kid"], created["key"]["kid"]);
    assert!(attested["attributes"].get("attestation").is_none(), "a software vault attests nothing");
    let (status, _) = vault.call(Method::GET, &format!("/keys/missing/attestation?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn attestation_tokens_can_never_serve_as_access_tokens() {
    let vault = spawn().await;
    let real = vault.token().await;
    let mut claims = decode_json(real.split('.').nth(1).unwrap());
    claims.as_object_mut().unwrap().remove("iss");
    let (status, minted) =
        vault.call(Method::POST, "/attestation/generate-test-token", Some(json!({"claims": claims}))).await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    let forged = minted["token"].as_str().unwrap();
    let url = format!("{}/keys?{API}", vault.vault_url());
    let (status, body) = vault.call_as(Method::GET, &url, Some(forged), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an attestation token opened the vault: {body}");

    // Nor can a minted token claim the access-token issuer.
    claims["iss"] = decode_json(real.split('.').nth(1).unwrap())["iss"].clone();
    let (_, minted) =
        vault.call(Method::POST, "/attestation/generate-test-token", Some(json!({"claims": claims}))).await;
    let payload = decode_json(minted["token"].as_str().unwrap().split('.').nth(1).unwrap());
    assert_eq!(payload["iss"], format!("{}/attestation", vault.vault_url()));
    let (status, _) = vault.call_as(Method::GET, &url, minted["token"].as_str(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
