//! Import (`PUT /keys/{name}`): RSA with its CRT members and EC, private parts never returned,
//! inconsistent material refused with 400, and imported keys that interoperate.

use keyvault_emulator::crypto::base64url;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, error_codes, spawn};

/// The self-consistent RSA-2048 key of the spec's ImportKey example (azure-rest-api-specs, MIT).
pub(crate) fn spec_rsa_jwk() -> Value {
    json!({
        "kty": "RSA",
        "n": "nKAwarTrOpzd1hhH4cQNdVTgRF-b0ubPD8ZNVf0UXjb62QuAk3Dn68ESThcF7SoDYRx2QVcfoMC9WCcuQUQDieJF-lvJTSer1TwH72NBovwKlHvrXqEI0a6_uVYY5n-soGt7qFZNbwQLdWWA6PrbqTLIkv6r01dcuhTiQQAn6OWEa0JbFvWfF1kILQIaSBBBaaQ4R7hZs7-VQTHGD7J1xGteof4gw2VTiwNdcE8p5UG5b6S9KQwAeET4yB4KFPwQ3TDdzxJQ89mwYVi_sgAIggN54hTq4oEKYJHBOMtFGIN0_HQ60ZSUnpOi87xNC-8VFqnv4rfTQ7nkK6XMvjMVfw",
        "e": "AQAB",
        "d": "GeT1_D5LAZa7qlC7WZ0DKJnOth8kcPrN0urTEFtWCbmHQWkAad_px_VUpGp0BWDDzENbXbQcu4QCCdf4crve5eXt8dVI86OSah-RpEdBq8OFsETIhg2Tmq8MbYTJexoynRcIC62xAaCmkFMmu931gQSvWnYWTEuOPgmD2oE_F-bP9TFlGRc69a6MSbtcSRyFTsd5KsUr40QS4zf2W4kZCOWejyLuxk88SXgUqcJx86Ulc1Ol1KkTBLadvReAZCyCMwKBlNRGw46BU_iK0vK7rTD9fmEd639Gjti6eLpnyQYpnVe8uGgwVU1fHBkAKyapWoEG6VMhMntcrvgukKLIsQ",
        "dp": "ZGnmWx-Nca71z9a9vvT4g02iv3S-3kSgmhl8JST09YQwK8tfiK7nXnNMtXJi2K4dLKKnLicGtCzB6W3mXdLcP2SUOWDOeStoBt8HEBT4MrI1psCKqnBum78WkHju90rBFj99amkP6UeQy5EASAzgmKQu2nUaUnRV0lYP8LHMCkE",
        "dq": "dtpke0foFs04hPS6XYLA5lc7-1MAHfZKN4CkMAofwDqPmRQzCxpDJUk0gMWGJEdU_Lqfbg22Py44cci0dczH36NW3UU5BL86T2_SPPDOuyX7kDscrIJCdowxQCGJHGRBEozM_uTL46wu6UnUIv7m7cuGgodJyZBcdwpo6ziFink",
        "qi": "Y9KD5GaHkAYmAqpOfAQUMr71QuAAaBb0APzMuUvoEYw39PD3_vJeh9HZ15QmJ8zCX10-nlzUB-bWwvK-rGcJXbK4pArilr5MiaYv7e8h5eW2zs2_itDJ6Oebi-wVbMhg7DvUTBbkCvPhhIedE4UlDQmMYP7RhzVVs7SfmkGs_DQ",
        "p": "v1jeCPnuJQM2PW2690Q9KJk0Ulok8VFGjkcHUHVi3orKdy7y_TCIWM6ZGvgFzI6abinzYbTEPKV4wFdMAwvOWmawXj5YrsoeB44_HXJ0ak_5_iP6XXR8MLGXbd0ZqsxvAZyzMj9vyle7EN2cBod6aenI2QZoRDucPvjPwZsZotk",
        "q": "0Yv-Dj6qnvx_LL70lUnKA6MgHE_bUC4drl5ZNDDsUdUUYfxIK4G1rGU45kHGtp-Qg-Uyf9s52ywLylhcVE3jfbjOgEozlSwKyhqfXkLpMLWHqOKj9fcfYd4PWKPOgpzWsqjA6fJbBUMYo0CU2G9cWCtVodO7sBJVSIZunWrAlBc"
    })
}

/// The P-256 key of RFC 7515 appendix A.3.
fn rfc7515_ec_jwk() -> Value {
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
    })
}

#[tokio::test]
async fn the_spec_rsa_key_imports_and_decrypts_what_its_public_key_encrypted() {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey, PublicKeyComponents};

    let vault = spawn().await;
    let jwk = spec_rsa_jwk();
    let (status, body) = vault
        .call(
            Method::PUT,
            &format!("/keys/imported?{API}"),
            Some(json!({"key": jwk, "tags": {"purpose": "unit test"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"]["kty"], "RSA");
    assert_eq!(body["key"]["n"], jwk["n"]);
    assert_eq!(body["key"]["key_ops"], json!(["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]));
    assert_eq!(body["tags"], json!({"purpose": "unit test"}));
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(body["key"].get(private).is_none(), "{private} must never be returned");
    }

    let n = base64url::decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = base64url::decode(jwk["e"].as_str().unwrap()).unwrap();
    let public: PublicEncryptingKey = PublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.try_into().unwrap();
    let public = OaepPublicEncryptingKey::new(public).unwrap();
    let mut ciphertext = vec![0u8; public.ciphertext_size()];
    let ciphertext =
        public.encrypt(&OAEP_SHA256_MGF1SHA256, b"bring your own key", &mut ciphertext, None).unwrap().to_vec();
    let (status, plain) = vault
        .call(
            Method::POST,
            &format!("/keys/imported/unwrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": base64url::encode(&ciphertext)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert_eq!(base64url::decode(plain["value"].as_str().unwrap()).unwrap(), b"bring your own key");

    // Hsm: true makes it RSA-HSM; a second import is a new version.
    let (status, body) = vault
        .call(Method::PUT, &format!("/keys/imported?{API}"), Some(json!({"key": spec_rsa_jwk(), "Hsm": true})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"]["kty"], "RSA-HSM");
    let (_, versions) = vault.call(Method::GET, &format!("/keys/imported/versions?{API}"), None).await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_rsa_key_imported_with_only_d_gets_its_crt_members_derived() {
    let vault = spawn().await;
    let mut jwk = spec_rsa_jwk();
    for member in ["p", "q", "dp", "dq", "qi"] {
        jwk.as_object_mut().unwrap().remove(member);
    }
    let (status, body) = vault.call(Method::PUT, &format!("/keys/d-only?{API}"), Some(json!({"key": jwk}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"]["n"], jwk["n"]);
    // The derived key signs what the full spec key's public part verifies.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"derived");
    let (status, signed) = vault
        .call(
            Method::POST,
            &format!("/keys/d-only/sign?{API}"),
            Some(json!({"alg": "RS256", "value": base64url::encode(digest.as_ref())})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let n = base64url::decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = base64url::decode(jwk["e"].as_str().unwrap()).unwrap();
    let spki = {
        use aws_lc_rs::encoding::AsDer;
        aws_lc_rs::rsa::PublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.as_der().unwrap().as_ref().to_vec()
    };
    let signature = base64url::decode(signed["value"].as_str().unwrap()).unwrap();
    let verifier =
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, &spki);
    assert!(verifier.verify(b"derived", &signature).is_ok());
}

#[tokio::test]
async fn an_imported_ec_key_signs_what_the_standard_library_verifies() {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    let vault = spawn().await;
    let jwk = rfc7515_ec_jwk();
    let (status, body) = vault.call(Method::PUT, &format!("/keys/ec?{API}"), Some(json!({"key": jwk}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["key"]["kty"].as_str(), body["key"]["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert_eq!(body["key"]["x"], jwk["x"]);
    assert!(body["key"].get("d").is_none());

    let message = b"RFC 7515 A.3";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    let (status, signed) = vault
        .call(
            Method::POST,
            &format!("/keys/ec/sign?{API}"),
            Some(json!({"alg": "ES256", "value": base64url::encode(digest.as_ref())})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let mut point = vec![4u8];
    point.extend(base64url::decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(base64url::decode(jwk["y"].as_str().unwrap()).unwrap());
    let signature = base64url::decode(signed["value"].as_str().unwrap()).unwrap();
    assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point).verify(message, &signature).is_ok());
}

#[tokio::test]
async fn inconsistent_or_incomplete_material_is_a_bad_parameter() {
    let vault = spawn().await;
    let with = |mut jwk: Value, member: &str, value: Value| {
        jwk[member] = value;
        jwk
    };
    let strip = |mut jwk: Value, member: &str| {
        jwk.as_object_mut().unwrap().remove(member);
        jwk
    };
    let flip_last = |jwk: &Value, member: &str| {
        let mut bytes = base64url::decode(jwk[member].as_str().unwrap()).unwrap();
        *bytes.last_mut().unwrap() ^= 0x02;
        json!(base64url::encode(&bytes))
    };
    let rsa = spec_rsa_jwk();
    let ec = rfc7515_ec_jwk();
    let cases = [
        ("q changed (n != p*q)", with(rsa.clone(), "q", flip_last(&rsa, "q"))),
        ("d changed", with(rsa.clone(), "d", flip_last(&rsa, "d"))),
        ("no CRT members", strip(strip(rsa.clone(), "p"), "q")),
        ("no d", strip(rsa.clone(), "d")),
        ("1024-bit modulus", with(rsa.clone(), "n", json!(base64url::encode(&[0xc5; 128])))),
        ("EC point off the curve", with(ec.clone(), "x", flip_last(&ec, "x"))),
        ("EC point of another d", with(ec.clone(), "d", flip_last(&ec, "d"))),
        ("EC without crv", strip(ec.clone(), "crv")),
        ("EC x too long", with(ec.clone(), "x", json!(base64url::encode(&[7; 40])))),
        ("oct key of 15 bytes", json!({"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAA"})),
        ("oct without k", json!({"kty": "oct-HSM"})),
        ("unknown kty", json!({"kty": "DSA"})),
        ("BYOK blob", json!({"kty": "RSA-HSM", "key_hsm": "AAAA"})),
    ];
    for (what, jwk) in cases {
        let (status, body) = vault.call(Method::PUT, &format!("/keys/bad?{API}"), Some(json!({"key": jwk}))).await;
        assert_eq!(
            (status, error_codes(&body).0.as_str()),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{what}: {body}"
        );
    }
    let (status, _) = vault.call(Method::GET, &format!("/keys/bad?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");

    // Importing over a soft-deleted name is the same conflict as creating.
    vault.create_rsa("deleted").await;
    vault.call(Method::DELETE, &format!("/keys/deleted?{API}"), None).await;
    let (status, body) =
        vault.call(Method::PUT, &format!("/keys/deleted?{API}"), Some(json!({"key": spec_rsa_jwk()}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_codes(&body).1.as_deref(), Some("ObjectIsDeletedButRecoverable"));
}

#[tokio::test]
async fn seed_keys_import_from_pem_and_jwk_files() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;

    let dir = tempfile::tempdir().unwrap();
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = pair.as_der().unwrap();
    let body = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    std::fs::write(dir.path().join("rsa.pem"), pem).unwrap();
    std::fs::write(dir.path().join("ec.json"), rfc7515_ec_jwk().to_string()).unwrap();
    let config = format!(
        r#"
[[vault]]
name = "other"
[[vault.key]]
name = "from-pem"
file = "{}"
[[vault.key]]
name = "from-jwk"
file = "{}"
"#,
        dir.path().join("rsa.pem").display(),
        dir.path().join("ec.json").display()
    );
    let vault =
        crate::helpers::spawn_with(keyvault_emulator::Config::in_memory().with_config_text(&config).unwrap()).await;
    let (status, key) = vault.call_in("other", Method::GET, &format!("/keys/from-pem?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let n = base64url::encode(pair.public_key().modulus().big_endian_without_leading_zero());
    assert_eq!(key["key"]["n"], n);
    let (status, key) = vault.call_in("other", Method::GET, &format!("/keys/from-jwk?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["key"]["x"], rfc7515_ec_jwk()["x"]);
}
