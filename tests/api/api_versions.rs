//! api-versions over the wire: every version in the table runs the customer-managed-key flow,
//! the "not recognized" error names the table's latest stable version, `--lenient-api-version`
//! serves future dates, and what 2026-01-01-preview and later add (key_size on symmetric keys,
//! secure wrap/unwrap, external keys refused) appears only from the version that added it.

use keyvault_emulator::Config;
use keyvault_emulator::api_version::{DATA_PLANE, DataPlaneVersion};
use keyvault_emulator::crypto::base64url;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestVault, error_codes, spawn, spawn_with};

fn b64(bytes: &[u8]) -> String {
    base64url::encode(bytes)
}

fn bytes(value: &Value) -> Vec<u8> {
    base64url::decode(value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))).unwrap()
}

async fn ok(vault: &TestVault, method: Method, path: &str, version: &str, body: Option<Value>) -> Value {
    let separator = if path.contains('?') { '&' } else { '?' };
    let (status, result) = vault.call(method, &format!("{path}{separator}api-version={version}"), body).await;
    assert_eq!(status, StatusCode::OK, "{path} under {version}: {result}");
    result
}

/// Create, wrap, unwrap, rotate, delete, recover: the CMK flow, under one api-version.
async fn cmk_flow(vault: &TestVault, version: &str) {
    let name = format!("cmk-{}", version.replace('.', "-"));
    let created = ok(vault, Method::POST, &format!("/keys/{name}/create"), version, Some(json!({"kty": "RSA"}))).await;
    let kid = created["key"]["kid"].as_str().unwrap().to_owned();
    let data_key = [7u8; 32];
    let wrap = json!({"alg": "RSA-OAEP-256", "value": b64(&data_key)});
    let wrapped = ok(vault, Method::POST, &format!("/keys/{name}/wrapkey"), version, Some(wrap)).await;
    assert_eq!(wrapped["kid"], kid.as_str());
    let unwrap = json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]});
    let unwrapped = ok(vault, Method::POST, &format!("/keys/{name}/unwrapkey"), version, Some(unwrap.clone())).await;
    assert_eq!(bytes(&unwrapped["value"]), data_key);
    let rotated = ok(vault, Method::POST, &format!("/keys/{name}/rotate"), version, None).await;
    assert_ne!(rotated["key"]["kid"], kid.as_str(), "rotation makes a new version");
    let old_version = kid.rsplit('/').next().unwrap();
    let path = format!("/keys/{name}/{old_version}/unwrapkey");
    let unwrapped = ok(vault, Method::POST, &path, version, Some(unwrap)).await;
    assert_eq!(bytes(&unwrapped["value"]), data_key, "the old version still unwraps after rotation");
    let deleted = ok(vault, Method::DELETE, &format!("/keys/{name}"), version, None).await;
    assert!(deleted["recoveryId"].as_str().is_some(), "{deleted}");
    let recovered = ok(vault, Method::POST, &format!("/deletedkeys/{name}/recover"), version, None).await;
    assert_eq!(recovered["key"]["kid"], rotated["key"]["kid"]);
}

#[tokio::test]
async fn the_cmk_flow_runs_under_every_data_plane_version_in_the_table() {
    let vault = spawn().await;
    for version in DATA_PLANE {
        cmk_flow(&vault, version.name).await;
    }
    let listed = ok(&vault, Method::GET, "/keys", "2026-04-01", None).await;
    assert!(listed["value"].as_array().is_some_and(|keys| keys.len() == DATA_PLANE.len()), "{listed}");
}

#[tokio::test]
async fn an_unknown_version_names_the_latest_stable_one() {
    let vault = spawn().await;
    let latest = DataPlaneVersion::latest_stable().name;
    assert_eq!(latest, "2026-04-01");
    for unknown in ["2027-01-01", "7.7", "2026-02-01", "latest"] {
        let (status, body) = vault.call(Method::GET, &format!("/keys?api-version={unknown}"), None).await;
        assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert_eq!(
            message,
            format!(
                "The specified version ({unknown}) is not recognized. Consider using the latest supported version ({latest})."
            )
        );
    }
    let (status, body) = vault.call(Method::GET, "/keys", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains(latest), "{body}");
}

#[tokio::test]
async fn a_lenient_emulator_serves_future_dates_as_the_newest_version() {
    let mut config = Config::in_memory();
    config.lenient_api_version = true;
    let vault = spawn_with(config).await;
    cmk_flow(&vault, "2027-03-01").await;
    // Served as the newest version: its additions are there.
    let created =
        ok(&vault, Method::POST, "/keys/aes/create", "2027-03-01-preview", Some(json!({"kty": "oct-HSM"}))).await;
    assert_eq!(created["attributes"]["key_size"], 256, "{created}");
    for refused in ["2025-01-01", "7.9", "2027-13-01", "soon"] {
        let (status, body) = vault.call(Method::GET, &format!("/keys?api-version={refused}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}: {body}");
    }
}

#[tokio::test]
async fn key_size_of_symmetric_keys_appears_from_2026_01_01_preview() {
    let vault = spawn().await;
    let created =
        ok(&vault, Method::POST, "/keys/aes/create", "2026-04-01", Some(json!({"kty": "oct-HSM", "key_size": 192})))
            .await;
    assert_eq!(created["attributes"]["key_size"], 192, "{created}");
    for (version, shown) in [("2025-07-01", false), ("7.6", false), ("2026-01-01-preview", true), ("2026-04-01", true)]
    {
        let key = ok(&vault, Method::GET, "/keys/aes", version, None).await;
        assert_eq!(key["attributes"].get("key_size").is_some(), shown, "{version}: {key}");
        let listed = ok(&vault, Method::GET, "/keys", version, None).await;
        assert_eq!(listed["value"][0]["attributes"].get("key_size").is_some(), shown, "{version}: {listed}");
    }
    let rsa = ok(&vault, Method::POST, "/keys/rsa/create", "2026-04-01", Some(json!({"kty": "RSA"}))).await;
    assert!(rsa["attributes"].get("key_size").is_none(), "only symmetric keys: {rsa}");
}

#[tokio::test]
async fn external_keys_are_refused_as_by_a_vault_without_an_external_key_manager() {
    let vault = spawn().await;
    let body = json!({"kty": "RSA", "attributes": {"external_key": {"id": "ekm-key-1"}}});
    let (status, refused) =
        vault.call(Method::POST, "/keys/ext/create?api-version=2026-04-01", Some(body.clone())).await;
    assert_eq!((status, error_codes(&refused).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("external"), "{refused}");
    // Before 2026-01-01-preview the member does not exist, and is ignored like any unknown one.
    ok(&vault, Method::POST, "/keys/ext/create", "2025-07-01", Some(body)).await;
    let update = json!({"attributes": {"external_key": {"id": "ekm-key-1"}}});
    let (status, _) = vault.call(Method::PATCH, "/keys/ext?api-version=2026-04-01", Some(update)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn attestation_token(vault: &TestVault) -> String {
    let (status, minted) = vault.call(Method::GET, "/attestation/generate-test-token", None).await;
    assert_eq!(status, StatusCode::OK, "{minted}");
    minted["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn secure_wrap_makes_an_aes_key_that_only_an_attested_secure_unwrap_returns() {
    let vault = spawn().await;
    let version = "2026-04-01";
    ok(&vault, Method::POST, "/keys/kek/create", version, Some(json!({"kty": "RSA-HSM"}))).await;
    let wrapped =
        ok(&vault, Method::POST, "/keys/kek/securewrapkey", version, Some(json!({"alg": "RSA-OAEP-256"}))).await;
    assert_eq!(wrapped["alg"], "RSA-OAEP-256");
    assert_eq!(bytes(&wrapped["value"]).len(), 256, "wrapped under RSA-2048: {wrapped}");
    let target = attestation_token(&vault).await;
    let body = json!({"alg": "RSA-OAEP-256", "value": wrapped["value"], "target": target});
    let unwrapped = ok(&vault, Method::POST, "/keys/kek/secureunwrapkey", version, Some(body.clone())).await;
    let aes_key = bytes(&unwrapped["value"]);
    assert_eq!(aes_key.len(), 32, "a 256-bit AES key: {unwrapped}");
    assert_eq!(unwrapped["kid"], wrapped["kid"]);
    // The same wrapped key unwraps with the ordinary operation too: it is a plain RSA-OAEP-256 wrap.
    let plain = json!({"alg": "RSA-OAEP-256", "value": wrapped["value"]});
    let same = ok(&vault, Method::POST, "/keys/kek/unwrapkey", version, Some(plain)).await;
    assert_eq!(bytes(&same["value"]), aes_key);

    let forged = json!({"alg": "RSA-OAEP-256", "value": wrapped["value"], "target": "not-a-token"});
    let (status, refused) =
        vault.call(Method::POST, "/keys/kek/secureunwrapkey?api-version=2026-04-01", Some(forged)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, refused) = vault
        .call(Method::POST, "/keys/kek/securewrapkey?api-version=2026-04-01", Some(json!({"alg": "RSA-OAEP"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "RSA-OAEP is no secure-wrap algorithm: {refused}");
    let (status, refused) = vault
        .call(Method::POST, "/keys/kek/securewrapkey?api-version=2025-07-01", Some(json!({"alg": "RSA-OAEP-256"})))
        .await;
    assert_eq!((status, error_codes(&refused).0.as_str()), (StatusCode::BAD_REQUEST, "BadParameter"), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("2026-01-01-preview"), "{refused}");

    ok(&vault, Method::POST, "/keys/aes/create", version, Some(json!({"kty": "oct-HSM"}))).await;
    let wrapped = ok(&vault, Method::POST, "/keys/aes/securewrapkey", version, Some(json!({"alg": "A256KW"}))).await;
    assert_eq!(bytes(&wrapped["value"]).len(), 40, "RFC 3394 wrap of 32 bytes");
    let body = json!({"alg": "A256KW", "value": wrapped["value"], "target": target});
    let unwrapped = ok(&vault, Method::POST, "/keys/aes/secureunwrapkey", version, Some(body)).await;
    assert_eq!(bytes(&unwrapped["value"]).len(), 32);
}

/// When the pinned Rust SDK moves to a newer default, the table must know it first.
#[test]
fn the_pinned_rust_sdks_default_api_version_is_in_the_table() {
    let default = azure_security_keyvault_keys::KeyClientOptions::default().api_version;
    assert!(
        DataPlaneVersion::find(&default).is_some(),
        "src/api_version.rs's DATA_PLANE table lacks {default}, the default api-version of the pinned azure_security_keyvault_keys"
    );
}

#[tokio::test]
async fn the_rust_sdk_runs_under_2026_04_01() {
    use azure_core::http::ClientOptions;
    use azure_security_keyvault_keys::models::{CreateKeyParameters, KeyType};
    use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
    let vault = spawn().await;
    let options = KeyClientOptions {
        api_version: "2026-04-01".into(),
        client_options: ClientOptions { transport: Some(vault.emulator.transport()), ..Default::default() },
        ..Default::default()
    };
    let client = KeyClient::new(&vault.vault_url(), vault.emulator.credential("default"), Some(options)).unwrap();
    let parameters = CreateKeyParameters { kty: Some(KeyType::Rsa), ..Default::default() };
    let key = client.create_key("sdk-2026", parameters.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    assert!(key.key.and_then(|k| k.kid).is_some_and(|kid| kid.contains("/keys/sdk-2026/")));
}
