//! The keys API over the wire: shapes, paging, lifecycle refusals, and bad input, which must
//! always get a Key Vault error body, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, error_codes, spawn};

#[tokio::test]
async fn bad_input_gets_key_vault_errors() {
    let vault = spawn().await;
    vault.create_rsa("k1").await;
    let token = vault.token().await;
    let base = vault.vault_url();
    let raw = |body: &'static str, path: String| {
        let http = vault.http.clone();
        let token = token.clone();
        async move {
            let response = http
                .post(path)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed JSON", format!("{base}/keys/k2/create?{API}"), "{\"kty\": "),
        ("unknown kty", format!("{base}/keys/k2/create?{API}"), r#"{"kty":"DSA"}"#),
        ("key_size 1000", format!("{base}/keys/k2/create?{API}"), r#"{"kty":"RSA","key_size":1000}"#),
        ("negative key_size", format!("{base}/keys/k2/create?{API}"), r#"{"kty":"RSA","key_size":-1}"#),
        ("unknown curve", format!("{base}/keys/k2/create?{API}"), r#"{"kty":"EC","crv":"P-1"}"#),
        ("invalid name", format!("{base}/keys/bad_name/create?{API}"), r#"{"kty":"RSA"}"#),
        ("missing api-version", format!("{base}/keys/k2/create"), r#"{"kty":"RSA"}"#),
        ("unknown api-version", format!("{base}/keys/k2/create?api-version=1.0"), r#"{"kty":"RSA"}"#),
        ("unknown alg", format!("{base}/keys/k1//wrapkey?{API}"), r#"{"alg":"ROT13","value":"AQID"}"#),
        ("bad base64url", format!("{base}/keys/k1//wrapkey?{API}"), r#"{"alg":"RSA-OAEP","value":"***"}"#),
        ("missing value", format!("{base}/keys/k1//wrapkey?{API}"), r#"{"alg":"RSA-OAEP"}"#),
        (
            "ciphertext of the wrong size",
            format!("{base}/keys/k1//unwrapkey?{API}"),
            r#"{"alg":"RSA-OAEP","value":"AQID"}"#,
        ),
        ("empty body", format!("{base}/keys/k2/create?{API}"), ""),
        (
            "too many tags",
            format!("{base}/keys/k2/create?{API}"),
            r#"{"kty":"RSA","tags":{"1":"","2":"","3":"","4":"","5":"","6":"","7":"","8":"","9":"","10":"","11":"","12":"","13":"","14":"","15":"","16":""}}"#,
        ),
    ];
    for (what, url, body) in cases {
        let (status, json) = raw(body, url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {json}");
        assert_eq!(error_codes(&json).0, "BadParameter", "{what}: {json}");
        assert!(!json["error"]["message"].as_str().unwrap().is_empty(), "{what}");
    }
    let (_, json) = raw(r#"{"kty":"RSA"}"#, format!("{base}/keys/k2/create?api-version=1.0")).await;
    assert_eq!(
        json["error"]["message"],
        "The specified version (1.0) is not recognized. Consider using the latest supported version (2026-04-01)."
    );
}

#[tokio::test]
async fn missing_keys_and_versions_are_404_key_not_found() {
    let vault = spawn().await;
    let (status, body) = vault.call(Method::GET, &format!("/keys/nope?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["error"]["message"],
        "A key with (name/id) nope was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
    );
    vault.create_rsa("k1").await;
    for path in ["/keys/k1/00000000000000000000000000000000", "/keys/k1/not-a-version", "/keys/nope/versions"] {
        let (status, body) = vault.call(Method::GET, &format!("{path}?{API}"), None).await;
        assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::NOT_FOUND, "KeyNotFound"), "{path}");
    }
    let (status, body) = vault.call(Method::GET, &format!("/secrets/s1?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = vault.call(Method::DELETE, &format!("/keys?{API}"), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test]
async fn created_keys_have_the_contract_shape() {
    let vault = spawn().await;
    let body = vault.create_rsa("Shape-Key").await;
    let kid = body["key"]["kid"].as_str().unwrap();
    let version = kid.rsplit('/').next().unwrap();
    assert_eq!(version.len(), 32);
    assert!(version.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(body["key"]["e"], "AQAB");
    assert_eq!(body["key"]["n"].as_str().unwrap().len(), 342);
    assert!(body["key"].get("d").is_none());
    let attributes = &body["attributes"];
    assert_eq!(attributes["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(attributes["recoverableDays"], 90);
    assert_eq!(attributes["created"], attributes["updated"]);
    assert!(attributes.get("nbf").is_none() && attributes.get("exp").is_none());
    assert!(body.get("tags").is_none());

    // Names are case-insensitive; the first spelling is kept.
    let (status, body) = vault.call(Method::GET, &format!("/keys/shape-key/?{API}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["key"]["kid"].as_str().unwrap().contains("/keys/Shape-Key/"));

    let (status, ec) = vault
        .call(
            Method::POST,
            &format!("/keys/ec1/create?{API}"),
            Some(json!({"kty": "EC-HSM", "crv": "P-384", "tags": {"team": "a"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ec}");
    assert_eq!(ec["key"]["kty"], "EC-HSM");
    assert_eq!(ec["key"]["crv"], "P-384");
    assert_eq!(ec["key"]["x"].as_str().unwrap().len(), 64);
    assert_eq!(ec["key"]["key_ops"], json!(["sign", "verify"]));
    assert_eq!(ec["tags"], json!({"team": "a"}));
}

#[tokio::test]
async fn paging_follows_absolute_next_links_to_a_null_end() {
    let vault = spawn().await;
    for name in ["k1", "k2", "k3"] {
        vault.create_rsa(name).await;
    }
    let token = vault.token().await;
    let mut url = format!("{}/keys?{API}&maxresults=2", vault.vault_url());
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = vault.call_as(Method::GET, &url, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        for item in body["value"].as_array().unwrap() {
            seen.push(item["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_owned());
        }
        match &body["nextLink"] {
            Value::Null => break,
            Value::String(next) => {
                assert!(next.starts_with(&vault.vault_url()), "{next}");
                assert!(next.contains("maxresults=2") && next.contains("api-version=2025-07-01"));
                url = next.clone();
            }
            other => panic!("nextLink must be a string or null, got {other}"),
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, ["k1", "k2", "k3"]);
    let (status, _) = vault.call(Method::GET, &format!("/keys?{API}&maxresults=26"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = vault.call(Method::GET, &format!("/keys?{API}&$skiptoken=garbage"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn update_patches_and_lifecycle_refusals_follow_the_contract() {
    let vault = spawn().await;
    vault.create_rsa("k1").await;
    let wrap = |alg: &str| json!({"alg": alg, "value": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"});

    let (status, wrapped) =
        vault.call(Method::POST, &format!("/keys/k1/wrapkey?{API}"), Some(wrap("RSA-OAEP-256"))).await;
    assert_eq!(status, StatusCode::OK, "{wrapped}");

    // Disable: crypto refused with KeyDisabled, get still works.
    let (status, body) = vault
        .call(
            Method::PATCH,
            &format!("/keys/k1/?{API}"),
            Some(json!({"attributes": {"enabled": false}, "tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["attributes"]["enabled"], false);
    assert_eq!(body["tags"], json!({"a": "b"}));
    let (status, body) = vault
        .call(
            Method::POST,
            &format!("/keys/k1/unwrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"error": {"code": "Forbidden", "message": "Operation unwrapKey is not allowed on a disabled key.", "innererror": {"code": "KeyDisabled"}}})
    );
    let (status, body) = vault.call(Method::GET, &format!("/keys/k1?{API}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["tags"], json!({"a": "b"}), "an update without tags keeps them");

    // Re-enable with key_ops lacking unwrapKey.
    let (status, _) = vault
        .call(
            Method::PATCH,
            &format!("/keys/k1?{API}"),
            Some(json!({"attributes": {"enabled": true}, "key_ops": ["wrapKey"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = vault
        .call(
            Method::POST,
            &format!("/keys/k1/unwrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_codes(&body), ("Forbidden".into(), Some("KeyOperationForbidden".into())));

    // Expired: wrap refused, unwrap allowed again once permitted.
    let (status, _) = vault
        .call(
            Method::PATCH,
            &format!("/keys/k1?{API}"),
            Some(json!({"attributes": {"exp": 1_000_000}, "key_ops": ["wrapKey", "unwrapKey"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = vault.call(Method::POST, &format!("/keys/k1/wrapkey?{API}"), Some(wrap("RSA-OAEP-256"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_codes(&body).1.as_deref(), Some("KeyExpired"));
    let (status, body) = vault
        .call(
            Method::POST,
            &format!("/keys/k1/unwrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
}

#[tokio::test]
async fn every_algorithm_round_trips_and_ec_keys_refuse_rsa_algorithms() {
    let vault = spawn().await;
    vault.create_rsa("k1").await;
    for alg in ["RSA1_5", "RSA-OAEP", "RSA-OAEP-256"] {
        for (forward, back) in [("encrypt", "decrypt"), ("wrapkey", "unwrapkey")] {
            let (status, out) = vault
                .call(
                    Method::POST,
                    &format!("/keys/k1/{forward}?{API}"),
                    Some(json!({"alg": alg, "value": "c2VjcmV0"})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{alg} {forward}: {out}");
            let (status, plain) = vault
                .call(Method::POST, &format!("/keys/k1/{back}?{API}"), Some(json!({"alg": alg, "value": out["value"]})))
                .await;
            assert_eq!(status, StatusCode::OK, "{alg} {back}: {plain}");
            assert_eq!(plain["value"], "c2VjcmV0");
        }
    }
    let (status, _) = vault.call(Method::POST, &format!("/keys/ec/create?{API}"), Some(json!({"kty": "EC"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = vault
        .call(Method::POST, &format!("/keys/ec/wrapkey?{API}"), Some(json!({"alg": "RSA-OAEP", "value": "c2VjcmV0"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "EC keys lack wrapKey in key_ops: {body}");
}

/// Regression (schemathesis): moving the clock near `i64::MAX` made every later request that
/// read the clock panic, and the background sweep with them.
#[tokio::test]
async fn the_clock_refuses_absurd_moves_and_lifecycle_dates_never_overflow() {
    let vault = spawn().await;
    vault.create_rsa("k").await;
    let clock = format!("{}/_emulator/clock", vault.emulator.http_url());
    for change in [
        json!({"offsetSeconds": i64::MAX}),
        json!({"advanceSeconds": i64::MAX}),
        json!({"advance": "P106751991167300D"}),
        json!({"offsetSeconds": i64::MIN}),
    ] {
        let response = vault.http.post(&clock).json(&change).send().await.unwrap();
        assert_eq!(response.status(), 400, "{change}");
    }
    // The furthest allowed move, then a delete that schedules a purge beyond it.
    let max = keyvault_emulator::clock::MAX_OFFSET_SECONDS;
    let response = vault.http.post(&clock).json(&json!({"offsetSeconds": max})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = vault.call(reqwest::Method::DELETE, &format!("/keys/k?{API}"), None).await;
    assert_eq!(status, 200, "{body}");
    let response = vault.http.get(&clock).send().await.unwrap();
    assert_eq!(response.status(), 200);
}
