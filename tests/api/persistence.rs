//! State in a data directory survives a restart: keys, their material, the CA and the token
//! signing key (a token issued before the restart still works after it).

use keyvault_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{API, spawn_with};

#[tokio::test]
async fn keys_ca_and_tokens_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_with(Config::in_directory(dir.path())).await;
    let token = vault.token().await;
    let created = vault.create_rsa("durable").await;
    let (status, wrapped) = vault
        .call(
            Method::POST,
            &format!("/keys/durable/wrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP", "value": "ZGF0YQ"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let ca = vault.emulator.ca_pem().to_owned();
    vault.emulator.shutdown().await;

    let vault = spawn_with(Config::in_directory(dir.path())).await;
    assert_eq!(vault.emulator.ca_pem(), ca, "the CA is created once per data directory");
    let url = format!("{}/keys/durable?{API}", vault.vault_url());
    let (status, body) = vault.call_as(Method::GET, &url, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "a token from before the restart is still valid: {body}");
    assert_eq!(body["key"]["n"], created["key"]["n"]);
    let kid = created["key"]["kid"].as_str().unwrap();
    let version = kid.rsplit('/').next().unwrap();
    let (status, body) = vault
        .call(
            Method::POST,
            &format!("/keys/durable/{version}/unwrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP", "value": wrapped["value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "ZGF0YQ");
    vault.emulator.shutdown().await;

    let master = std::fs::read(dir.path().join("master.key")).unwrap();
    assert_eq!(master.len(), 32);
    // Private keys are sealed: no PKCS#8 RSA structure (rsaEncryption OID) appears in any
    // database file, WAL included.
    let rsa_encryption_oid = [0x06u8, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("keyvault.sqlite3") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(rsa_encryption_oid.len()).any(|w| w == rsa_encryption_oid), "{}", path.display());
        }
    }
}

#[tokio::test]
async fn a_data_directory_reopened_with_another_tenant_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_with(Config::in_directory(dir.path())).await;
    vault.create_rsa("kept").await;
    vault.emulator.shutdown().await;

    let mut config = Config::in_directory(dir.path());
    config.tenant_id = uuid::Uuid::from_u128(42);
    let vault = spawn_with(config).await;
    let (status, body) = vault.call(Method::GET, &format!("/keys/kept?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
