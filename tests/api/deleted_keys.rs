//! Soft-delete, recovery, purge and purge protection on the movable clock (contract §6).

use keyvault_emulator::Config;
use keyvault_emulator::vaults::VaultSettings;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn, spawn_with};

const DAY: i64 = 86_400;

fn with_protected_vault(mut config: Config) -> Config {
    config.vaults.push(VaultSettings::parse("protected:retention-days=7:purge-protection").unwrap());
    config
}

async fn wrap(vault: &TestVault, name: &str, data: &str) -> Value {
    let (status, body) = vault
        .call(Method::POST, &format!("/keys/{name}/wrapkey?{API}"), Some(json!({"alg": "RSA-OAEP-256", "value": data})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn unwrap_with(vault: &TestVault, wrapped: &Value) -> (StatusCode, Value) {
    let kid = wrapped["kid"].as_str().unwrap();
    let path = &kid[kid.find("/keys/").unwrap()..];
    vault
        .call(
            Method::POST,
            &format!("{path}/unwrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]})),
        )
        .await
}

#[tokio::test]
async fn delete_hides_every_version_and_recover_brings_them_back() {
    let vault = spawn().await;
    vault.create_rsa("k1").await;
    let wrapped = wrap(&vault, "k1", "ZGF0YS1rZXk").await;
    vault.create_rsa("k1").await;

    let (status, deleted) = vault.call(Method::DELETE, &format!("/keys/k1?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["recoveryId"], format!("{}/deletedkeys/k1", vault.vault_url()));
    let deleted_date = deleted["deletedDate"].as_i64().unwrap();
    assert_eq!(deleted["scheduledPurgeDate"].as_i64().unwrap(), deleted_date + 90 * DAY);
    assert_eq!(deleted["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert!(deleted["key"]["n"].is_string());

    // Invisible to every other operation, explicit versions included.
    let (status, _) = vault.call(Method::GET, &format!("/keys/k1?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = unwrap_with(&vault, &wrapped).await;
    assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::NOT_FOUND, "KeyNotFound"));
    let (_, list) = vault.call(Method::GET, &format!("/keys?{API}"), None).await;
    assert_eq!(list["value"], json!([]));
    let (status, _) = vault.call(Method::DELETE, &format!("/keys/k1?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleting twice");

    // The name cannot be reused while the key is recoverable.
    let (status, body) = vault.call(Method::POST, &format!("/keys/k1/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"error": {"code": "Conflict", "message": "Key k1 is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.", "innererror": {"code": "ObjectIsDeletedButRecoverable"}}})
    );

    let (status, got) = vault.call(Method::GET, &format!("/deletedkeys/k1?{API}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, deleted);
    let (status, listed) = vault.call(Method::GET, &format!("/deletedkeys?{API}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["nextLink"], Value::Null);
    let item = &listed["value"][0];
    assert_eq!(item["kid"], format!("{}/keys/k1", vault.vault_url()));
    assert_eq!(item["recoveryId"], deleted["recoveryId"]);
    assert_eq!(item["scheduledPurgeDate"], deleted["scheduledPurgeDate"]);

    let (status, recovered) = vault.call(Method::POST, &format!("/deletedkeys/k1/recover?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{recovered}");
    assert_eq!(recovered["key"]["kid"], deleted["key"]["kid"]);
    assert!(recovered.get("recoveryId").is_none());
    let (status, body) = unwrap_with(&vault, &wrapped).await;
    assert_eq!(status, StatusCode::OK, "a data key wrapped before the delete unwraps after recovery: {body}");
    assert_eq!(body["value"], "ZGF0YS1rZXk");
    let (_, versions) = vault.call(Method::GET, &format!("/keys/k1/versions?{API}"), None).await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 2);

    // Recover or purge of a key that is not deleted: 404 with the deleted-key message.
    for method in [Method::DELETE, Method::GET] {
        let (status, body) = vault.call(method, &format!("/deletedkeys/k1?{API}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"error": {"code": "KeyNotFound", "message": "Deleted Key not found: k1"}}));
    }
    let (status, _) = vault.call(Method::POST, &format!("/deletedkeys/k1/recover?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn purge_answers_204_and_frees_the_name() {
    let vault = spawn().await;
    vault.create_rsa("gone").await;
    vault.call(Method::DELETE, &format!("/keys/gone?{API}"), None).await;
    let response = vault
        .http
        .delete(format!("{}/deletedkeys/gone?{API}", vault.vault_url()))
        .bearer_auth(vault.token().await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().get("content-type").is_none());
    assert!(response.bytes().await.unwrap().is_empty());
    let (status, _) = vault.call(Method::GET, &format!("/deletedkeys/gone?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    vault.create_rsa("gone").await;
}

#[tokio::test]
async fn purge_protection_refuses_purge_until_the_clock_passes_the_date() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_with(with_protected_vault(Config::in_directory(dir.path()))).await;
    let (status, created) =
        vault.call_in("protected", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["attributes"]["recoveryLevel"], "CustomizedRecoverable");
    assert_eq!(created["attributes"]["recoverableDays"], 7);

    let (_, deleted) = vault.call_in("protected", Method::DELETE, &format!("/keys/cmk?{API}"), None).await;
    let deleted_date = deleted["deletedDate"].as_i64().unwrap();
    assert_eq!(deleted["scheduledPurgeDate"].as_i64().unwrap(), deleted_date + 7 * DAY);

    let (status, body) = vault.call_in("protected", Method::DELETE, &format!("/deletedkeys/cmk?{API}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_codes(&body).0, "Forbidden");
    assert_eq!(
        body["error"]["message"],
        "Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: protected;location=local"
    );

    // Short of the date: still there. Past it: purged by the emulator itself.
    assert_eq!(vault.emulator.advance_clock(7 * DAY - 60).await.unwrap().purged, 0);
    let (status, _) = vault.call_in("protected", Method::GET, &format!("/deletedkeys/cmk?{API}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(vault.emulator.advance_clock(60).await.unwrap().purged, 1);
    let (status, _) = vault.call_in("protected", Method::GET, &format!("/deletedkeys/cmk?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        vault.call_in("protected", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    assert_eq!(status, StatusCode::OK, "the name is free again");
    vault.emulator.shutdown().await;

    // Gone from the store itself: no version rows remain but the new key's one.
    let rows = count_versions(dir.path(), "protected", "cmk").await;
    assert_eq!(rows, 1);
}

async fn count_versions(dir: &std::path::Path, vault: &str, name: &str) -> i64 {
    use sqlx::ConnectOptions;
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join("keyvault.sqlite3")).connect().await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM key_versions WHERE vault = ? AND name = ?")
        .bind(vault)
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn deleted_state_survives_a_restart_and_overdue_keys_are_purged_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_with(Config::in_directory(dir.path())).await;
    vault.create_rsa("kept").await;
    vault.create_rsa("overdue").await;
    let (_, kept) = vault.call(Method::DELETE, &format!("/keys/kept?{API}"), None).await;
    // Deleted 91 days "ago": its purge date is already in the wall clock's past.
    vault.emulator.clock().set_offset(-91 * DAY);
    vault.call(Method::DELETE, &format!("/keys/overdue?{API}"), None).await;
    vault.emulator.shutdown().await;
    assert_eq!(count_versions(dir.path(), "default", "overdue").await, 1, "not purged before the restart");

    let vault = spawn_with(Config::in_directory(dir.path())).await;
    let (status, again) = vault.call(Method::GET, &format!("/deletedkeys/kept?{API}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["scheduledPurgeDate"], kept["scheduledPurgeDate"]);
    let (status, _) = vault.call(Method::GET, &format!("/deletedkeys/overdue?{API}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    vault.emulator.shutdown().await;
    assert_eq!(count_versions(dir.path(), "default", "overdue").await, 0);
}

#[tokio::test]
async fn the_clock_endpoint_moves_time_and_purges_what_became_due_but_tokens_stay_valid() {
    let vault = spawn().await;
    let token = vault.token().await;
    vault.create_rsa("k").await;
    vault.call(Method::DELETE, &format!("/keys/k?{API}"), None).await;
    let clock = format!("{}/_emulator/clock", vault.emulator.http_url());
    let http = reqwest::Client::new();

    let before: Value = http.get(&clock).send().await.unwrap().json().await.unwrap();
    assert_eq!(before["offsetSeconds"], 0);
    let moved: Value = http.post(&clock).json(&json!({"advance": "P90D"})).send().await.unwrap().json().await.unwrap();
    assert_eq!(moved["offsetSeconds"], 90 * DAY);
    assert_eq!(moved["purged"], 1);
    assert!(moved["now"].as_i64().unwrap() >= before["now"].as_i64().unwrap() + 90 * DAY);

    // A token cached by a client before the move still works: tokens live on the wall clock.
    let (status, _) =
        vault.call_as(Method::GET, &format!("{}/deletedkeys/k?{API}", vault.vault_url()), Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for bad in [json!({}), json!({"advance": "90 days"}), json!({"advance": "P1D", "reset": true}), json!({"speed": 2})]
    {
        let response = http.post(&clock).json(&bad).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body).0, "BadParameter");
    }
    let reset: Value = http.post(&clock).json(&json!({"reset": true})).send().await.unwrap().json().await.unwrap();
    assert_eq!(reset["offsetSeconds"], 0);
}
