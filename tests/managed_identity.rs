//! The official Rust `ManagedIdentityCredential` (App Service variables) against the emulator:
//! a system-assigned identity, selected by its identity header, that may get, wrap and unwrap
//! one vault's keys and nothing else, and loses that the moment its policy goes.
//!
//! Its own test binary: the credential reads `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` from the
//! process environment, which must not change under other tests.
#![allow(unsafe_code)]

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::sync::Arc;

use azure_core::http::{ClientOptions, RequestContent, Transport};
use azure_identity::ManagedIdentityCredential;
use azure_security_keyvault_keys::models::{
    CreateKeyParameters, EncryptionAlgorithm, KeyOperationParameters, KeyType, SignParameters, SignatureAlgorithm,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions, ResourceExt};
use keyvault_emulator::Config;

const CONFIG: &str = r#"
[[identity]]
name = "storage"
type = "system-assigned"
resource = "Microsoft.Storage/storageAccounts/cmkstore"
identity_header = "storage-secret"

[[vault]]
name = "other"
[[vault.access_policy]]
identity = "storage"
keys = ["get", "wrapKey", "unwrapKey"]
[[vault.key]]
name = "storage-cmk"
kty = "RSA"
size = 3072
"#;

fn wrap_params(value: Vec<u8>) -> RequestContent<KeyOperationParameters> {
    KeyOperationParameters {
        algorithm: Some(EncryptionAlgorithm::RsaOaep256),
        value: Some(value),
        ..Default::default()
    }
    .try_into()
    .unwrap()
}

#[tokio::test]
async fn a_storage_account_identity_wraps_and_unwraps_until_its_access_is_removed() {
    let config = Config::in_memory().with_config_text(CONFIG).unwrap();
    let vault = helpers::spawn_with(config).await;
    // SAFETY: this binary's only test sets the variables before anything reads them.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", vault.emulator.identity_endpoint());
        std::env::set_var("IDENTITY_HEADER", "storage-secret");
    }
    let credential = ManagedIdentityCredential::new(None).unwrap();
    let options = KeyClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(vault.http.clone()))),
            ..Default::default()
        },
        ..Default::default()
    };
    let client = KeyClient::new(&vault.emulator.vault_url("other"), credential, Some(options)).unwrap();

    let key = client.get_key("storage-cmk", None).await.unwrap().into_model().unwrap();
    let version = key.resource_id().unwrap().version.unwrap();
    let data_key = vec![0x42; 32];
    let wrapped =
        client.wrap_key("storage-cmk", wrap_params(data_key.clone()), None).await.unwrap().into_model().unwrap();
    let wrapped = wrapped.result.unwrap();
    let unwrapped = client
        .unwrap_key("storage-cmk", &version, wrap_params(wrapped.clone()), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(unwrapped.result.unwrap(), data_key);

    let forbidden = |err: azure_core::Error| err.http_status() == Some(azure_core::http::StatusCode::Forbidden);
    let create = CreateKeyParameters { kty: Some(KeyType::Rsa), ..Default::default() };
    assert!(forbidden(client.create_key("new", create.try_into().unwrap(), None).await.unwrap_err()));
    let sign = SignParameters { algorithm: Some(SignatureAlgorithm::Rs256), value: Some(vec![0; 32]) };
    assert!(forbidden(client.sign("storage-cmk", sign.try_into().unwrap(), None).await.unwrap_err()));
    assert!(forbidden(client.delete_key("storage-cmk", None).await.unwrap_err()));

    // Revoke: only the default principals keep their access; the next unwrap is refused.
    let url = format!("{}/_emulator/vaults/other/authorization", vault.emulator.http_url());
    let current: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let storage = vault.emulator.identity("storage").unwrap().object_id.to_string();
    let mut revoked = current.clone();
    revoked["accessPolicies"].as_array_mut().unwrap().retain(|p| p["objectId"].as_str() != Some(storage.as_str()));
    let response = reqwest::Client::new().put(&url).json(&revoked).send().await.unwrap();
    assert!(response.status().is_success());
    let err = client.unwrap_key("storage-cmk", &version, wrap_params(wrapped), None).await.unwrap_err();
    assert!(forbidden(err));
}
