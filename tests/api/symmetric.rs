//! `oct` keys over the wire: creation and import, every AES mode and key wrap, HMAC, and
//! interoperability with a standard library holding the same key; RSNULL; `/rng`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrap, KeyWrapPadded};
use keyvault_emulator::crypto::base64url;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn};

fn b64(bytes: &[u8]) -> String {
    base64url::encode(bytes)
}

fn bytes(value: &Value) -> Vec<u8> {
    base64url::decode(value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))).unwrap()
}

async fn post(vault: &TestVault, path: &str, body: Value) -> (StatusCode, Value) {
    vault.call(Method::POST, &format!("{path}?{API}"), Some(body)).await
}

async fn ok(vault: &TestVault, path: &str, body: Value) -> Value {
    let (status, result) = post(vault, path, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {result}");
    result
}

/// A known 256-bit key, imported so that a local library can use the same key.
const K256: [u8; 32] = [
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c,
    0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
];

#[tokio::test]
async fn oct_keys_are_created_in_every_size_and_show_no_material() {
    let vault = spawn().await;
    for (kty, size) in [("oct-HSM", 128), ("oct-HSM", 192), ("oct", 256)] {
        let key = ok(&vault, &format!("/keys/aes{size}/create"), json!({"kty": kty, "key_size": size})).await;
        assert_eq!(key["key"]["kty"], kty);
        let jwk = key["key"].as_object().unwrap();
        let mut members: Vec<&str> = jwk.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(members, ["key_ops", "kid", "kty"], "an oct JWK carries no material: {key}");
    }
    let default_size = ok(&vault, "/keys/aes-default/create", json!({"kty": "oct-HSM"})).await;
    assert_eq!(default_size["key"]["kty"], "oct-HSM");
    let wrapped = ok(&vault, "/keys/aes-default/wrapkey", json!({"alg": "A256KW", "value": b64(&[1; 32])})).await;
    assert_eq!(bytes(&wrapped["value"]).len(), 40, "the default oct size is 256 bits");
    for bad in [json!({"kty": "oct-HSM", "key_size": 512}), json!({"kty": "oct", "key_size": 2048})] {
        let (status, body) = post(&vault, "/keys/bad/create", bad).await;
        assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{body}");
    }
}

#[tokio::test]
async fn every_aes_mode_round_trips_on_its_key_size() {
    let vault = spawn().await;
    for size in [128, 192, 256] {
        ok(&vault, &format!("/keys/k{size}/create"), json!({"kty": "oct-HSM", "key_size": size})).await;
        let gcm = format!("A{size}GCM");
        let sealed = ok(
            &vault,
            &format!("/keys/k{size}/encrypt"),
            json!({"alg": gcm, "value": b64(b"data key"), "aad": b64(b"context")}),
        )
        .await;
        assert_eq!(bytes(&sealed["iv"]).len(), 12, "{sealed}");
        assert_eq!(bytes(&sealed["tag"]).len(), 16, "{sealed}");
        let opened = ok(
            &vault,
            &format!("/keys/k{size}/decrypt"),
            json!({"alg": gcm, "value": sealed["value"], "iv": sealed["iv"], "tag": sealed["tag"], "aad": b64(b"context")}),
        )
        .await;
        assert_eq!(bytes(&opened["value"]), b"data key");
        let (status, body) = post(
            &vault,
            &format!("/keys/k{size}/decrypt"),
            json!({"alg": gcm, "value": sealed["value"], "iv": sealed["iv"], "tag": sealed["tag"], "aad": b64(b"other")}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "wrong aad: {body}");

        let iv = [7u8; 16];
        for (alg, plaintext) in
            [(format!("A{size}CBC"), vec![3u8; 32]), (format!("A{size}CBCPAD"), b"odd length".to_vec())]
        {
            let sealed = ok(
                &vault,
                &format!("/keys/k{size}/encrypt"),
                json!({"alg": alg, "value": b64(&plaintext), "iv": b64(&iv)}),
            )
            .await;
            assert_eq!(bytes(&sealed["iv"]), iv);
            let opened = ok(
                &vault,
                &format!("/keys/k{size}/decrypt"),
                json!({"alg": alg, "value": sealed["value"], "iv": b64(&iv)}),
            )
            .await;
            assert_eq!(bytes(&opened["value"]), plaintext, "{alg}");
        }

        for alg in [format!("A{size}KW"), "CKM_AES_KEY_WRAP".into(), "CKM_AES_KEY_WRAP_PAD".into()] {
            let wrapped =
                ok(&vault, &format!("/keys/k{size}/wrapkey"), json!({"alg": alg, "value": b64(&[9; 32])})).await;
            let unwrapped =
                ok(&vault, &format!("/keys/k{size}/unwrapkey"), json!({"alg": alg, "value": wrapped["value"]})).await;
            assert_eq!(bytes(&unwrapped["value"]), [9; 32], "{alg}");
        }
    }
}

#[tokio::test]
async fn aes_algorithms_are_checked_against_key_size_operation_and_input() {
    let vault = spawn().await;
    ok(&vault, "/keys/k128/create", json!({"kty": "oct-HSM", "key_size": 128})).await;
    ok(&vault, "/keys/rsa/create", json!({"kty": "RSA"})).await;
    let refused = [
        ("/keys/k128/encrypt", json!({"alg": "A256GCM", "value": b64(b"x")})),
        ("/keys/k128/wrapkey", json!({"alg": "A128GCM", "value": b64(&[0; 16])})),
        ("/keys/k128/encrypt", json!({"alg": "A128KW", "value": b64(&[0; 16])})),
        ("/keys/k128/encrypt", json!({"alg": "RSA-OAEP", "value": b64(b"x")})),
        ("/keys/rsa/encrypt", json!({"alg": "A128GCM", "value": b64(b"x")})),
        ("/keys/k128/encrypt", json!({"alg": "A128CBC", "value": b64(b"not a block"), "iv": b64(&[0; 16])})),
        ("/keys/k128/encrypt", json!({"alg": "A128CBC", "value": b64(&[0; 16]), "iv": b64(&[0; 8])})),
        ("/keys/k128/decrypt", json!({"alg": "A128GCM", "value": b64(&[0; 16]), "iv": b64(&[0; 12])})),
        ("/keys/k128/wrapkey", json!({"alg": "A128KW", "value": b64(&[0; 20])})),
        ("/keys/k128/unwrapkey", json!({"alg": "A128KW", "value": b64(&[0; 24])})),
        ("/keys/k128/sign", json!({"alg": "HS256", "value": b64(&[0; 20])})),
        ("/keys/k128/sign", json!({"alg": "RS256", "value": b64(&[0; 32])})),
    ];
    for (path, body) in refused {
        let (status, result) = post(&vault, path, body.clone()).await;
        assert_eq!(
            (status, error_codes(&result).0.as_str()),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{path} {body}: {result}"
        );
    }
}

#[tokio::test]
async fn imported_oct_keys_interoperate_with_a_standard_library() {
    let vault = spawn().await;
    let imported = vault
        .call(
            Method::PUT,
            &format!("/keys/shared?{API}"),
            Some(json!({"key": {"kty": "oct", "k": b64(&K256)}, "Hsm": true})),
        )
        .await;
    assert_eq!(imported.0, StatusCode::OK, "{}", imported.1);
    assert_eq!(imported.1["key"]["kty"], "oct-HSM");
    assert!(imported.1["key"].get("k").is_none(), "key material is never returned");
    let local = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &K256).unwrap());

    // Server encrypts, the library decrypts.
    let sealed =
        ok(&vault, "/keys/shared/encrypt", json!({"alg": "A256GCM", "value": b64(b"hello"), "aad": b64(b"a")})).await;
    let iv: [u8; 12] = bytes(&sealed["iv"]).try_into().unwrap();
    let mut in_out = [bytes(&sealed["value"]), bytes(&sealed["tag"])].concat();
    let plain = local.open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(b"a"), &mut in_out).unwrap();
    assert_eq!(plain, b"hello");

    // The library encrypts, the server decrypts.
    let iv = [5u8; 12];
    let mut ciphertext = b"from the client".to_vec();
    let tag =
        local.seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut ciphertext).unwrap();
    let opened = ok(
        &vault,
        "/keys/shared/decrypt",
        json!({"alg": "A256GCM", "value": b64(&ciphertext), "iv": b64(&iv), "tag": b64(tag.as_ref())}),
    )
    .await;
    assert_eq!(bytes(&opened["value"]), b"from the client");

    // Key wrap both ways, RFC 3394 and RFC 5649.
    let data_key = [0x42u8; 32];
    let mut out = [0u8; 48];
    let local_wrapped = KeyEncryptionKey::new(&AES_256, &K256).unwrap().wrap(&data_key, &mut out).unwrap().to_vec();
    let unwrapped = ok(&vault, "/keys/shared/unwrapkey", json!({"alg": "A256KW", "value": b64(&local_wrapped)})).await;
    assert_eq!(bytes(&unwrapped["value"]), data_key);
    let server_wrapped =
        ok(&vault, "/keys/shared/wrapkey", json!({"alg": "CKM_AES_KEY_WRAP_PAD", "value": b64(b"odd-sized key")}))
            .await;
    let mut out = [0u8; 48];
    let plain = KeyEncryptionKey::new(&AES_256, &K256)
        .unwrap()
        .unwrap_with_padding(&bytes(&server_wrapped["value"]), &mut out)
        .unwrap()
        .to_vec();
    assert_eq!(plain, b"odd-sized key");

    // HMAC: the server's HS256 equals the library's HMAC-SHA256 over the same digest.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"message");
    let signed = ok(&vault, "/keys/shared/sign", json!({"alg": "HS256", "value": b64(digest.as_ref())})).await;
    let expected =
        aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &K256), digest.as_ref());
    assert_eq!(bytes(&signed["value"]), expected.as_ref());
    let verify = |signature: Vec<u8>| json!({"alg": "HS256", "digest": b64(digest.as_ref()), "value": b64(&signature)});
    assert_eq!(ok(&vault, "/keys/shared/verify", verify(expected.as_ref().to_vec())).await["value"], true);
    let mut tampered = expected.as_ref().to_vec();
    tampered[0] ^= 1;
    assert_eq!(ok(&vault, "/keys/shared/verify", verify(tampered)).await["value"], false);

    for bad_k in [vec![0u8; 15], vec![0u8; 64]] {
        let (status, body) = vault
            .call(Method::PUT, &format!("/keys/bad?{API}"), Some(json!({"key": {"kty": "oct", "k": b64(&bad_k)}})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn oct_lifecycle_backup_and_rotation() {
    let vault = spawn().await;
    ok(&vault, "/keys/cmk/create", json!({"kty": "oct-HSM", "key_size": 192, "key_ops": ["wrapKey", "unwrapKey"]}))
        .await;
    let wrapped = ok(&vault, "/keys/cmk/wrapkey", json!({"alg": "A192KW", "value": b64(&[1; 24])})).await;
    let first_kid = wrapped["kid"].as_str().unwrap().to_owned();

    let (status, body) = post(&vault, "/keys/cmk/encrypt", json!({"alg": "A192GCM", "value": b64(b"x")})).await;
    assert_eq!(
        (status, error_codes(&body).1.as_deref()),
        (StatusCode::FORBIDDEN, Some("KeyOperationForbidden")),
        "{body}"
    );

    let (status, _) =
        vault.call(Method::PATCH, &format!("/keys/cmk?{API}"), Some(json!({"attributes": {"enabled": false}}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(&vault, "/keys/cmk/unwrapkey", json!({"alg": "A192KW", "value": wrapped["value"]})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    vault.call(Method::PATCH, &format!("/keys/cmk?{API}"), Some(json!({"attributes": {"enabled": true}}))).await;

    let rotated = ok(&vault, "/keys/cmk/rotate", json!({})).await;
    assert_eq!(rotated["key"]["kty"], "oct-HSM");
    let rewrapped = ok(&vault, "/keys/cmk/wrapkey", json!({"alg": "A192KW", "value": b64(&[1; 24])})).await;
    assert_ne!(rewrapped["kid"], first_kid.as_str(), "the rotated version is 192 bits too");
    let old_version = first_kid.rsplit('/').next().unwrap();
    let unwrapped =
        ok(&vault, &format!("/keys/cmk/{old_version}/unwrapkey"), json!({"alg": "A192KW", "value": wrapped["value"]}))
            .await;
    assert_eq!(bytes(&unwrapped["value"]), [1; 24]);

    let backup = ok(&vault, "/keys/cmk/backup", json!({})).await;
    vault.call(Method::DELETE, &format!("/keys/cmk?{API}"), None).await;
    vault.call(Method::DELETE, &format!("/deletedkeys/cmk?{API}"), None).await;
    ok(&vault, "/keys/restore", json!({"value": backup["value"]})).await;
    let unwrapped =
        ok(&vault, &format!("/keys/cmk/{old_version}/unwrapkey"), json!({"alg": "A192KW", "value": wrapped["value"]}))
            .await;
    assert_eq!(bytes(&unwrapped["value"]), [1; 24], "a restored oct key still unwraps");
}

#[tokio::test]
async fn rsnull_signs_raw_pkcs1_that_a_library_verifies() {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    let vault = spawn().await;
    let key = vault.create_rsa("raw").await;
    let message = b"signed elsewhere";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    // RSNULL over DigestInfo(SHA-256)‖digest is an RS256 signature over the message.
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ];
    digest_info.extend_from_slice(digest.as_ref());
    let signed = ok(&vault, "/keys/raw/sign", json!({"alg": "RSNULL", "value": b64(&digest_info)})).await;
    let signature = bytes(&signed["value"]);
    let (n, e) = (bytes(&key["key"]["n"]), bytes(&key["key"]["e"]));
    let public = {
        use aws_lc_rs::encoding::AsDer;
        aws_lc_rs::rsa::PublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.as_der().unwrap().as_ref().to_vec()
    };
    assert!(UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public).verify(message, &signature).is_ok());

    let verify =
        |value: &[u8], signature: &[u8]| json!({"alg": "RSNULL", "digest": b64(value), "value": b64(signature)});
    assert_eq!(ok(&vault, "/keys/raw/verify", verify(&digest_info, &signature)).await["value"], true);
    assert_eq!(ok(&vault, "/keys/raw/verify", verify(b"something else", &signature)).await["value"], false);
    let (status, body) = post(&vault, "/keys/raw/sign", json!({"alg": "RSNULL", "value": b64(&[1; 300])})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "longer than k - 11: {body}");
}

#[tokio::test]
async fn rng_returns_the_requested_number_of_fresh_bytes() {
    let vault = spawn().await;
    let one = ok(&vault, "/rng", json!({"count": 128})).await;
    let two = ok(&vault, "/rng", json!({"count": 128})).await;
    assert_eq!(bytes(&one["value"]).len(), 128);
    assert_ne!(one["value"], two["value"]);
    assert_eq!(bytes(&ok(&vault, "/RNG", json!({"count": 1})).await["value"]).len(), 1);
    for count in [0, 129, -1] {
        let (status, body) = post(&vault, "/rng", json!({"count": count})).await;
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (StatusCode::BAD_REQUEST, Some("GetRandomBytesRequest: count cannot be greater than 128 or less than 1")),
            "{count}"
        );
    }
}
