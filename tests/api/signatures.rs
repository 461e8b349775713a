//! sign and verify over the wire: every RSA and ECDSA algorithm, raw r‖s signatures that a
//! standard library verifies, digest-length and curve checks, and `false` (not an error) for a
//! bad signature.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use keyvault_emulator::crypto::base64url;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn};

fn digest_of(len: usize, message: &[u8]) -> Vec<u8> {
    let alg = match len {
        32 => &aws_lc_rs::digest::SHA256,
        48 => &aws_lc_rs::digest::SHA384,
        _ => &aws_lc_rs::digest::SHA512,
    };
    aws_lc_rs::digest::digest(alg, message).as_ref().to_vec()
}

async fn create(vault: &TestVault, name: &str, body: Value) -> Value {
    let (status, key) = vault.call(Method::POST, &format!("/keys/{name}/create?{API}"), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    key
}

async fn sign(vault: &TestVault, name: &str, alg: &str, digest: &[u8]) -> (StatusCode, Value) {
    vault
        .call(
            Method::POST,
            &format!("/keys/{name}/sign?{API}"),
            Some(json!({"alg": alg, "value": base64url::encode(digest)})),
        )
        .await
}

async fn verify(vault: &TestVault, name: &str, alg: &str, digest: &[u8], signature: &[u8]) -> bool {
    let body = json!({"alg": alg, "digest": base64url::encode(digest), "value": base64url::encode(signature)});
    let (status, result) = vault.call(Method::POST, &format!("/keys/{name}/verify?{API}"), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    result["value"].as_bool().expect("verify answers {\"value\": bool}")
}

fn b64(value: &Value) -> Vec<u8> {
    base64url::decode(value.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn rsa_signatures_verify_locally_and_on_the_server() {
    let vault = spawn().await;
    let key = create(&vault, "rsa", json!({"kty": "RSA"})).await;
    let (n, e) = (b64(&key["key"]["n"]), b64(&key["key"]["e"]));
    let spki = {
        use aws_lc_rs::encoding::AsDer;
        aws_lc_rs::rsa::PublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.as_der().unwrap().as_ref().to_vec()
    };
    let message = b"the data key of tenant 42";
    let cases: [(&str, usize, &'static dyn VerificationAlgorithm); 6] = [
        ("RS256", 32, &signature::RSA_PKCS1_2048_8192_SHA256),
        ("RS384", 48, &signature::RSA_PKCS1_2048_8192_SHA384),
        ("RS512", 64, &signature::RSA_PKCS1_2048_8192_SHA512),
        ("PS256", 32, &signature::RSA_PSS_2048_8192_SHA256),
        ("PS384", 48, &signature::RSA_PSS_2048_8192_SHA384),
        ("PS512", 64, &signature::RSA_PSS_2048_8192_SHA512),
    ];
    for (alg, len, local) in cases {
        let digest = digest_of(len, message);
        let (status, signed) = sign(&vault, "rsa", alg, &digest).await;
        assert_eq!(status, StatusCode::OK, "{alg}: {signed}");
        assert!(signed["kid"].as_str().unwrap().starts_with(&format!("{}/keys/rsa/", vault.vault_url())));
        let mut sig = b64(&signed["value"]);
        assert!(
            UnparsedPublicKey::new(local, &spki).verify(message, &sig).is_ok(),
            "{alg}: a standard library verifies it"
        );
        assert!(verify(&vault, "rsa", alg, &digest, &sig).await, "{alg}");
        sig[0] ^= 1;
        assert!(!verify(&vault, "rsa", alg, &digest, &sig).await, "{alg}: a bad signature is false, not an error");
    }
}

#[tokio::test]
async fn ecdsa_signatures_are_raw_r_s_on_the_named_curve() {
    let vault = spawn().await;
    // (curve, algorithm, field width, digest length, verifier)
    let cases: [(&str, &str, usize, usize, &'static signature::EcdsaVerificationAlgorithm); 4] = [
        ("P-256", "ES256", 32, 32, &signature::ECDSA_P256_SHA256_FIXED),
        ("P-384", "ES384", 48, 48, &signature::ECDSA_P384_SHA384_FIXED),
        ("P-521", "ES512", 66, 64, &signature::ECDSA_P521_SHA512_FIXED),
        ("P-256K", "ES256K", 32, 32, &signature::ECDSA_P256K1_SHA256_FIXED),
    ];
    let message = b"signed by the vault";
    for (crv, alg, width, digest_len, local) in cases {
        let name = format!("ec-{}", crv.replace('-', "").to_lowercase());
        let key = create(&vault, &name, json!({"kty": "EC", "crv": crv})).await;
        let mut point = vec![4u8];
        point.extend(b64(&key["key"]["x"]));
        point.extend(b64(&key["key"]["y"]));
        let digest = digest_of(digest_len, message);
        let (status, signed) = sign(&vault, &name, alg, &digest).await;
        assert_eq!(status, StatusCode::OK, "{alg}: {signed}");
        let sig = b64(&signed["value"]);
        assert_eq!(sig.len(), 2 * width, "{alg}: raw r||s, not DER");
        assert!(UnparsedPublicKey::new(local, &point).verify(message, &sig).is_ok(), "{alg}");
        assert!(verify(&vault, &name, alg, &digest, &sig).await, "{alg}");
        assert!(!verify(&vault, &name, alg, &digest_of(digest_len, b"other"), &sig).await);
    }
}

#[tokio::test]
async fn mismatched_algorithms_digests_and_key_ops_are_refused() {
    let vault = spawn().await;
    create(&vault, "ec", json!({"kty": "EC", "crv": "P-384"})).await;
    create(&vault, "rsa", json!({"kty": "RSA", "key_ops": ["verify"]})).await;
    let cases = [
        ("ec", "ES256", 32, StatusCode::BAD_REQUEST, "BadParameter"),
        ("ec", "RS256", 32, StatusCode::BAD_REQUEST, "BadParameter"),
        ("ec", "ES384", 32, StatusCode::BAD_REQUEST, "BadParameter"),
        ("ec", "HS256", 32, StatusCode::BAD_REQUEST, "BadParameter"),
        ("rsa", "RS256", 32, StatusCode::FORBIDDEN, "Forbidden"),
    ];
    for (name, alg, len, status, code) in cases {
        let (got, body) = sign(&vault, name, alg, &vec![1; len]).await;
        assert_eq!((got, error_codes(&body).0.as_str()), (status, code), "{name} {alg}: {body}");
    }
    let body = json!({"alg": "ES384", "digest": base64url::encode(&[1; 20]), "value": "AAAA"});
    let (status, _) = vault.call(Method::POST, &format!("/keys/ec/verify?{API}"), Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a digest of the wrong length is a bad parameter");
}
