//! Backup and restore: every version with the same ids, into any vault of the same emulator
//! and tenant; conflicts are 409 and broken or foreign blobs 400.

use keyvault_emulator::Config;
use keyvault_emulator::crypto::base64url;
use keyvault_emulator::vaults::VaultSettings;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, error_codes, spawn, spawn_with};

fn versions(list: &Value) -> Vec<String> {
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn backup_restores_every_version_with_the_same_ids() {
    let mut config = Config::in_memory();
    config.vaults.push(VaultSettings::parse("other").unwrap());
    let vault = spawn_with(config).await;
    let first = vault.create_rsa("cmk").await;
    let (status, wrapped) = vault
        .call(Method::POST, &format!("/keys/cmk/wrapkey?{API}"), Some(json!({"alg": "RSA-OAEP", "value": "c2VjcmV0"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    vault.call(Method::PATCH, &format!("/keys/cmk?{API}"), Some(json!({"tags": {"team": "payments"}}))).await;
    let second = vault.create_rsa("cmk").await;
    let (_, before) = vault.call(Method::GET, &format!("/keys/cmk/versions?{API}"), None).await;

    let (status, backup) = vault.call(Method::POST, &format!("/keys/cmk/backup?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{backup}");
    let blob = backup["value"].as_str().unwrap().to_owned();
    assert!(base64url::decode(&blob).is_ok());

    // Into another vault of the same emulator while the original still exists.
    let (status, restored) =
        vault.call_in("other", Method::POST, &format!("/keys/restore?{API}"), Some(json!({"value": blob}))).await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    let second_version = second["key"]["kid"].as_str().unwrap().rsplit('/').next().unwrap();
    assert_eq!(restored["key"]["kid"], format!("{}/keys/cmk/{second_version}", vault.emulator.vault_url("other")));

    // Back into the original vault after delete and purge.
    vault.call(Method::DELETE, &format!("/keys/cmk?{API}"), None).await;
    let (status, _) = vault.call(Method::POST, &format!("/keys/restore?{API}"), Some(json!({"value": blob}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a soft-deleted name is in use");
    vault.call(Method::DELETE, &format!("/deletedkeys/cmk?{API}"), None).await;
    let (status, restored) =
        vault.call(Method::POST, &format!("/keys/restore?{API}"), Some(json!({"value": blob}))).await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["key"]["kid"], second["key"]["kid"]);
    let (_, after) = vault.call(Method::GET, &format!("/keys/cmk/versions?{API}"), None).await;
    assert_eq!(versions(&after), versions(&before));
    let first_kid = first["key"]["kid"].as_str().unwrap();
    let (_, first_again) =
        vault.call(Method::GET, &format!("{}?{API}", &first_kid[first_kid.find("/keys/").unwrap()..]), None).await;
    assert_eq!(first_again["tags"], json!({"team": "payments"}));
    assert_eq!(first_again["attributes"]["created"], first["attributes"]["created"]);

    let version = first_kid.rsplit('/').next().unwrap();
    let (status, plain) = vault
        .call(
            Method::POST,
            &format!("/keys/cmk/{version}/unwrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP", "value": wrapped["value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert_eq!(plain["value"], "c2VjcmV0");

    // The name is taken now.
    let (status, body) = vault.call(Method::POST, &format!("/keys/restore?{API}"), Some(json!({"value": blob}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"]["message"].as_str().unwrap().starts_with(&format!(
        "There was a conflict restoring the key '{}/keys/cmk/{second_version}'.",
        vault.vault_url()
    )));
}

#[tokio::test]
async fn broken_or_foreign_blobs_are_bad_parameters() {
    let vault = spawn().await;
    let stranger = spawn().await;
    vault.create_rsa("k").await;
    stranger.create_rsa("k").await;
    let (_, backup) = vault.call(Method::POST, &format!("/keys/k/backup?{API}"), None).await;
    let (_, foreign) = stranger.call(Method::POST, &format!("/keys/k/backup?{API}"), None).await;
    vault.call(Method::DELETE, &format!("/keys/k?{API}"), None).await;
    vault.call(Method::DELETE, &format!("/deletedkeys/k?{API}"), None).await;

    let bytes = base64url::decode(backup["value"].as_str().unwrap()).unwrap();
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    let cases = [
        ("a flipped byte", json!({"value": base64url::encode(&flipped)})),
        ("truncated", json!({"value": base64url::encode(&bytes[..bytes.len() - 5])})),
        ("garbage", json!({"value": "AAAA"})),
        ("empty", json!({"value": ""})),
        ("another emulator's blob", json!({"value": foreign["value"]})),
        ("not base64url", json!({"value": "***"})),
        ("no value", json!({})),
    ];
    for (what, body) in cases {
        let (status, answer) = vault.call(Method::POST, &format!("/keys/restore?{API}"), Some(body)).await;
        assert_eq!(
            (status, error_codes(&answer).0.as_str()),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{what}: {answer}"
        );
    }
    let (status, _) =
        vault.call(Method::POST, &format!("/keys/restore?{API}"), Some(json!({"value": backup["value"]}))).await;
    assert_eq!(status, StatusCode::OK, "the intact blob still restores");
    let (status, _) =
        vault.call(Method::POST, &format!("/keys/k?{API}"), Some(json!({"value": backup["value"]}))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
