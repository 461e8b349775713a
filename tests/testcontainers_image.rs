//! The Rust Testcontainers module (feature `testcontainers`) against the image the Docker suite
//! built (`KVEMU_IMAGE`, default `keyvault-emulator:latest`): a CMK wrap/unwrap through the
//! official Rust SDK on random host ports, the key id following the mapped port. Ignored in a
//! plain `cargo test` (it needs an engine and the image); tests/docker/run.sh runs it with
//! `cargo test --test testcontainers_image -- --ignored`.

use azure_core::http::ClientOptions;
use azure_security_keyvault_keys::models::{CreateKeyParameters, EncryptionAlgorithm, KeyOperationParameters, KeyType};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions, ResourceExt};
use keyvault_emulator::testcontainers::{KeyVaultEmulatorContainer, KeyVaultEmulatorImage};

fn image() -> KeyVaultEmulatorImage {
    let reference = std::env::var("KVEMU_IMAGE").unwrap_or_else(|_| "keyvault-emulator:latest".into());
    let (name, tag) = reference.rsplit_once(':').unwrap_or((reference.as_str(), "latest"));
    KeyVaultEmulatorImage::new(name, tag)
}

#[tokio::test]
#[ignore = "needs a container engine and the image tests/docker/run.sh builds"]
async fn cmk_wrap_unwrap_through_the_sdk_on_random_ports() {
    let kv = KeyVaultEmulatorContainer::start(image()).await.expect("the container starts");
    assert_ne!(kv.https_port(), 8443, "a random host port");

    let options = KeyClientOptions {
        client_options: ClientOptions { transport: Some(kv.transport()), ..Default::default() },
        ..Default::default()
    };
    let client = KeyClient::new(&kv.vault_url("default"), kv.credential(), Some(options)).expect("key client");
    let create = CreateKeyParameters { kty: Some(KeyType::Rsa), key_size: Some(2048), ..Default::default() };
    let key = client.create_key("cmk", create.try_into().unwrap(), None).await.expect("create").into_model().unwrap();
    let kid = key.key.as_ref().and_then(|k| k.kid.clone()).expect("kid");
    assert!(kid.starts_with(&format!("https://default.vault.localhost:{}/keys/cmk/", kv.https_port())), "{kid}");
    let version = key.resource_id().unwrap().version.expect("a version");

    let data_key = vec![42u8; 32];
    let wrap = KeyOperationParameters {
        algorithm: Some(EncryptionAlgorithm::RsaOaep256),
        value: Some(data_key.clone()),
        ..Default::default()
    };
    let wrapped = client.wrap_key("cmk", wrap.try_into().unwrap(), None).await.expect("wrap").into_model().unwrap();
    let unwrap = KeyOperationParameters {
        algorithm: Some(EncryptionAlgorithm::RsaOaep256),
        value: wrapped.result,
        ..Default::default()
    };
    let unwrapped = client
        .unwrap_key("cmk", &version, unwrap.try_into().unwrap(), None)
        .await
        .expect("unwrap")
        .into_model()
        .unwrap();
    assert_eq!(unwrapped.result, Some(data_key));
}

#[tokio::test]
#[ignore = "needs a container engine and the image tests/docker/run.sh builds"]
async fn the_challenge_resource_follows_the_mapped_port() {
    let kv = KeyVaultEmulatorContainer::start(image()).await.expect("the container starts");
    let response = kv
        .http_client()
        .get(format!("{}/keys?api-version=7.6", kv.vault_url("default")))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains(&format!("resource=\"https://vault.localhost:{}\"", kv.https_port())), "{challenge}");
    assert!(kv.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(
        kv.sdk_env("default", "keyvault-emulator").iter().any(|(k, v)| *k == "SSL_CERT_FILE" && v.ends_with(".pem"))
    );
}
