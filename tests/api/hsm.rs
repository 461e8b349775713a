//! Managed HSM data plane over HTTPS: host resolution, the challenge and the token audience,
//! the HSM key-type rules, activation, and local RBAC decided at once.

use keyvault_emulator::Config;
use keyvault_emulator::auth::identity::Identity;
use keyvault_emulator::vaults::VaultSettings;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn_with};

const HSM_RESOURCE: &str = "https://managedhsm.azure.net";

async fn spawn_hsm() -> TestVault {
    let mut config = Config::in_memory();
    config.hsms.push(VaultSettings::parse("hsm1").unwrap());
    spawn_with(config).await
}

impl TestVault {
    async fn hsm_token_for(&self, identity: &str) -> String {
        self.emulator.token_for_identity(identity, HSM_RESOURCE).await.unwrap()
    }

    /// `method path` on HSM `hsm` as `identity`.
    async fn hsm_call(
        &self,
        hsm: &str,
        identity: &str,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = self.hsm_token_for(identity).await;
        self.call_as(method, &format!("{}{path_and_query}", self.emulator.hsm_url(hsm)), Some(&token), body).await
    }
}

fn object_id(vault: &TestVault, identity: &str) -> String {
    Identity::user_assigned_in(vault.emulator.tenant_id(), identity, "keyvault-emulator").object_id.to_string()
}

#[tokio::test]
async fn the_hsm_host_answers_with_the_managed_hsm_challenge_and_names_only_hsms() {
    let vault = spawn_hsm().await;
    let port = vault.emulator.https_port();
    let response = vault.http.get(format!("{}/keys?{API}", vault.emulator.hsm_url("hsm1"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.ends_with(&format!(r#"resource="https://managedhsm.localhost:{port}""#)), "{challenge}");

    // The vault host never reaches an HSM, nor the HSM host a vault.
    let token = vault.token().await;
    let (status, body) = vault
        .call_as(Method::GET, &format!("{}/keys?{API}", vault.emulator.vault_url("hsm1")), Some(&token), None)
        .await;
    assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::NOT_FOUND, "VaultNotFound"), "{body}");
    let (status, body) = vault.hsm_call("default", "default", Method::GET, &format!("/keys?{API}"), None).await;
    assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::NOT_FOUND, "VaultNotFound"), "{body}");
}

#[tokio::test]
async fn an_hsm_takes_only_managed_hsm_tokens() {
    let vault = spawn_hsm().await;
    let hsm_keys = format!("{}/keys?{API}", vault.emulator.hsm_url("hsm1"));
    let vault_token = vault.token().await;
    let (status, _) = vault.call_as(Method::GET, &hsm_keys, Some(&vault_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a vault token on an HSM");
    let hsm_token = vault.token_for(HSM_RESOURCE).await;
    let (status, body) = vault.call_as(Method::GET, &hsm_keys, Some(&hsm_token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) =
        vault.call_as(Method::GET, &format!("{}/keys?{API}", vault.vault_url()), Some(&hsm_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an HSM token on a vault");
}

#[tokio::test]
async fn an_hsm_holds_only_hsm_key_types_and_ids_name_its_host() {
    let vault = spawn_hsm().await;
    for kty in ["RSA", "EC", "oct"] {
        let (status, body) = vault
            .hsm_call("hsm1", "default", Method::POST, &format!("/keys/k/create?{API}"), Some(json!({"kty": kty})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kty}: {body}");
        assert_eq!(body["error"]["message"], format!("Invalid kty value: {kty}"));
    }
    for (name, kty) in [("rsa", "RSA-HSM"), ("ec", "EC-HSM"), ("aes", "oct-HSM")] {
        let (status, body) = vault
            .hsm_call("hsm1", "default", Method::POST, &format!("/keys/{name}/create?{API}"), Some(json!({"kty": kty})))
            .await;
        assert_eq!(status, StatusCode::OK, "{kty}: {body}");
        assert_eq!(body["key"]["kty"], kty);
        let kid = body["key"]["kid"].as_str().unwrap();
        assert!(kid.starts_with(&format!("{}/keys/{name}/", vault.emulator.hsm_url("hsm1"))), "{kid}");
    }
    // The HSM's AES key wraps with AES key wrap and round-trips AES-GCM.
    let (status, wrapped) = vault
        .hsm_call(
            "hsm1",
            "default",
            Method::POST,
            &format!("/keys/aes/wrapkey?{API}"),
            Some(json!({"alg": "A256KW", "value": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{wrapped}");
    let (status, unwrapped) = vault
        .hsm_call(
            "hsm1",
            "default",
            Method::POST,
            &format!("/keys/aes/unwrapkey?{API}"),
            Some(json!({"alg": "A256KW", "value": wrapped["value"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{unwrapped}");
    assert_eq!(unwrapped["value"], "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    let (status, sealed) = vault
        .hsm_call(
            "hsm1",
            "default",
            Method::POST,
            &format!("/keys/aes/encrypt?{API}"),
            Some(json!({"alg": "A256GCM", "value": "aGVsbG8"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sealed}");
    let opened = json!({"alg": "A256GCM", "value": sealed["value"], "iv": sealed["iv"], "tag": sealed["tag"]});
    let (status, opened) =
        vault.hsm_call("hsm1", "default", Method::POST, &format!("/keys/aes/decrypt?{API}"), Some(opened)).await;
    assert_eq!((status, opened["value"].as_str()), (StatusCode::OK, Some("aGVsbG8")), "{opened}");
    let (status, attestation) =
        vault.hsm_call("hsm1", "default", Method::GET, &format!("/keys/rsa/attestation?{API}"), None).await;
    assert_eq!(status, StatusCode::OK, "{attestation}");
}

#[tokio::test]
async fn an_hsm_that_is_not_activated_refuses_key_operations() {
    let vault = spawn_hsm().await;
    let admin = vault.emulator.identity("default").unwrap().object_id;
    vault.emulator.create_managed_hsm("fresh", &[admin], false).await.unwrap();
    let (status, body) = vault
        .hsm_call("fresh", "default", Method::POST, &format!("/keys/k/create?{API}"), Some(json!({"kty": "RSA-HSM"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_codes(&body), ("Forbidden".to_owned(), Some("HsmNotActivated".to_owned())));
    let (status, _) = vault.hsm_call("fresh", "default", Method::GET, &format!("/keys?{API}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Activated, its initial administrator manages roles but holds no key role.
    vault.emulator.create_managed_hsm("fresh", &[], true).await.unwrap();
    let (status, body) = vault
        .hsm_call(
            "fresh",
            "default",
            Method::GET,
            &format!("/providers/Microsoft.Authorization/roleAssignments?{API}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    let (status, body) = vault
        .hsm_call("fresh", "default", Method::POST, &format!("/keys/k/create?{API}"), Some(json!({"kty": "RSA-HSM"})))
        .await;
    assert_eq!((status, error_codes(&body).1.as_deref()), (StatusCode::FORBIDDEN, Some("ForbiddenByRbac")), "{body}");
}

#[tokio::test]
async fn a_key_scoped_assignment_grants_at_once_and_its_removal_refuses_at_once() {
    let vault = spawn_hsm().await;
    let app = object_id(&vault, "storage");
    for name in ["cmk", "other"] {
        let (status, body) = vault
            .hsm_call(
                "hsm1",
                "default",
                Method::POST,
                &format!("/keys/{name}/create?{API}"),
                Some(json!({"kty": "RSA-HSM"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let wrap = |key: &str| {
        (format!("/keys/{key}/wrapkey?{API}"), json!({"alg": "RSA-OAEP-256", "value": "AAECAwQFBgcICQoLDA0ODw"}))
    };

    let (path, wrap_body) = wrap("cmk");
    let (status, _) = vault.hsm_call("hsm1", "storage", Method::POST, &path, Some(wrap_body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no role yet");

    let assignment = "5b0f6a4e-3c1a-4d2b-9f00-0123456789ab";
    let assignment_path = format!("/keys/cmk/providers/Microsoft.Authorization/roleAssignments/{assignment}?{API}");
    let create = json!({"properties": {
        "roleDefinitionId": "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/33413926-3206-4cdd-b39a-83574fe37a17",
        "principalId": app,
    }});
    let (status, created) =
        vault.hsm_call("hsm1", "default", Method::PUT, &assignment_path, Some(create.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["properties"]["scope"], "/keys/cmk");
    assert_eq!(created["name"], assignment);
    let (status, again) = vault.hsm_call("hsm1", "default", Method::PUT, &assignment_path, Some(create)).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &created), "the same PUT again");

    let (status, body) = vault.hsm_call("hsm1", "storage", Method::POST, &path, Some(wrap_body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (other_path, other_body) = wrap("other");
    let (status, _) = vault.hsm_call("hsm1", "storage", Method::POST, &other_path, Some(other_body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another key");
    let (status, _) = vault
        .hsm_call(
            "hsm1",
            "storage",
            Method::POST,
            &format!("/keys/cmk/decrypt?{API}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": "AA"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a data action the role does not hold");

    // The audit log names the plane and the local role that granted the wrap.
    let audit: Value = vault
        .http
        .get(format!("{}/_emulator/audit?vault=hsm1&operation=WrapKey&decision=allowed", vault.emulator.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let record = &audit["value"][0];
    assert_eq!(record["plane"], "managedHsm", "{audit}");
    assert_eq!(record["rule"]["kind"], "localRoleAssignment", "{audit}");
    assert_eq!(record["rule"]["roleAssignment"]["scope"], "/keys/cmk", "{audit}");

    // The listing at the key's scope shows it; the caller without role management may not list.
    let (status, list) = vault
        .hsm_call(
            "hsm1",
            "default",
            Method::GET,
            &format!("/keys/cmk/providers/Microsoft.Authorization/roleAssignments?{API}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list["value"].as_array().unwrap().iter().any(|a| a["name"] == assignment), "{list}");
    let (status, _) = vault
        .hsm_call(
            "hsm1",
            "storage",
            Method::GET,
            &format!("/providers/Microsoft.Authorization/roleAssignments?{API}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, deleted) = vault.hsm_call("hsm1", "default", Method::DELETE, &assignment_path, None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    let (status, _) = vault.hsm_call("hsm1", "storage", Method::POST, &path, Some(wrap_body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "removal takes effect on the next request");
    let (status, body) = vault.hsm_call("hsm1", "default", Method::GET, &assignment_path, None).await;
    assert_eq!((status, error_codes(&body).0.as_str()), (StatusCode::NOT_FOUND, "RoleAssignmentNotFound"));
}

#[tokio::test]
async fn role_definitions_list_the_built_in_roles_and_custom_ones() {
    let vault = spawn_hsm().await;
    let defs = format!("/providers/Microsoft.Authorization/roleDefinitions?{API}");
    let (status, list) = vault.hsm_call("hsm1", "default", Method::GET, &defs, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> =
        list["value"].as_array().unwrap().iter().map(|d| d["properties"]["roleName"].as_str().unwrap()).collect();
    assert!(names.contains(&"Managed HSM Crypto Service Encryption User"), "{names:?}");
    assert_eq!(names.len(), 8);

    let custom_id = "0d1c3b6e-7a41-4b6c-9b4e-5e2f6d7c8a90";
    let custom = format!("/providers/Microsoft.Authorization/roleDefinitions/{custom_id}?{API}");
    let role = json!({"properties": {"roleName": "wrap only", "type": "CustomRole", "assignableScopes": ["/"],
        "permissions": [{"actions": [], "notActions": [], "dataActions": ["Microsoft.KeyVault/managedHsm/keys/wrap/action"], "notDataActions": []}]}});
    let (status, body) = vault.hsm_call("hsm1", "default", Method::PUT, &custom, Some(role.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["properties"]["type"], "CustomRole");
    let built_in =
        format!("/providers/Microsoft.Authorization/roleDefinitions/a290e904-7015-4bba-90c8-60543313cdb4?{API}");
    let (status, body) = vault.hsm_call("hsm1", "default", Method::PUT, &built_in, Some(role)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = vault.hsm_call("hsm1", "default", Method::GET, &custom, None).await;
    assert_eq!((status, body["properties"]["roleName"].as_str()), (StatusCode::OK, Some("wrap only")));
    let (status, _) = vault.hsm_call("hsm1", "default", Method::DELETE, &custom, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = vault.hsm_call("hsm1", "default", Method::GET, &custom, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Vault hosts have no local RBAC.
    let (status, _) = vault.call(Method::GET, &defs, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_rust_sdk_creates_wraps_and_unwraps_on_the_hsm_url() {
    use azure_core::http::ClientOptions;
    use azure_security_keyvault_keys::models::{
        CreateKeyParameters, EncryptionAlgorithm, KeyOperationParameters, KeyType,
    };
    use azure_security_keyvault_keys::{KeyClient, KeyClientOptions, ResourceExt};

    let vault = spawn_hsm().await;
    let options = KeyClientOptions {
        client_options: ClientOptions { transport: Some(vault.emulator.transport()), ..Default::default() },
        ..Default::default()
    };
    let hsm_url = vault.emulator.hsm_url("hsm1");
    let client = KeyClient::new(&hsm_url, vault.emulator.credential("default"), Some(options)).unwrap();
    let create = |kty| CreateKeyParameters { kty: Some(kty), key_size: Some(3072), ..Default::default() };
    let key = client.create_key("cmk", create(KeyType::RsaHsm).try_into().unwrap(), None).await.unwrap();
    let key = key.into_model().unwrap();
    assert_eq!(key.key.as_ref().unwrap().kty, Some(KeyType::RsaHsm));
    let id = key.resource_id().unwrap();
    assert!(id.source_id.starts_with(&format!("{hsm_url}/keys/cmk/")), "{}", id.source_id);
    let version = id.version.unwrap();

    let params = |value: Vec<u8>| -> azure_core::http::RequestContent<KeyOperationParameters> {
        KeyOperationParameters {
            algorithm: Some(EncryptionAlgorithm::RsaOaep256),
            value: Some(value),
            ..Default::default()
        }
        .try_into()
        .unwrap()
    };
    let wrapped = client.wrap_key("cmk", params(vec![7; 32]), None).await.unwrap().into_model().unwrap();
    let unwrapped =
        client.unwrap_key("cmk", &version, params(wrapped.result.unwrap()), None).await.unwrap().into_model().unwrap();
    assert_eq!(unwrapped.result.unwrap(), vec![7; 32]);

    let refused = client.create_key("soft", create(KeyType::Rsa).try_into().unwrap(), None).await;
    assert!(refused.is_err(), "a software key type on an HSM");
}
