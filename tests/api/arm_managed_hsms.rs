//! `Microsoft.KeyVault/managedHSMs` through the management API, and the security domain on the
//! HSM host: creation with ARM's validation, listings apart from vaults, the name check, an HSM
//! that refuses key operations until its security domain is downloaded, that domain restored
//! into a second HSM with a quorum of the wrapping keys (through the transfer key), soft delete,
//! purge refused under purge protection, and recovery.

use base64::Engine;
use keyvault_emulator::crypto::security_domain::{self as sd, PrivateWrappingKey, WrappingKey};
use keyvault_emulator::crypto::{base64url, rsa};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestVault, spawn};

const ARM_API: &str = "api-version=2023-07-01";
const HSM_API: &str = "api-version=7.5";
const HSMS: &str = "/resourceGroups/cmk-rg/providers/Microsoft.KeyVault/managedHSMs";

struct Officer {
    public: Value,
    private: PrivateWrappingKey,
}

fn officer() -> Officer {
    let material = rsa::generate(2048).unwrap();
    // The emulator reads the key from n and e; the certificate only names the share (its
    // SHA-256 thumbprint), so any bytes stand for it here. The SDK and az tests use real ones.
    let certificate = keyvault_emulator::crypto::random_bytes(48).unwrap();
    Officer {
        public: json!({
            "kty": "RSA", "key_ops": ["wrapKey"], "alg": "RSA-OAEP-256",
            "n": base64url::encode(&material.n), "e": base64url::encode(&material.e),
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&certificate)],
        }),
        private: PrivateWrappingKey { pkcs8_der: material.pkcs8_der, certificate_der: certificate },
    }
}

struct Hsm<'a> {
    vault: &'a TestVault,
    arm_token: String,
    data_token: String,
    arm_base: String,
}

impl<'a> Hsm<'a> {
    async fn new(vault: &'a TestVault) -> Self {
        let emulator = &vault.emulator;
        let arm_token = emulator.token_for_identity("admin", "https://management.azure.com/").await.unwrap();
        let data_token = emulator.token_for_identity("admin", "https://managedhsm.azure.net").await.unwrap();
        let subscription = keyvault_emulator::auth::identity::default_subscription(emulator.tenant_id());
        let arm_base = format!("https://localhost:{}/subscriptions/{subscription}", emulator.https_port());
        Self { vault, arm_token, data_token, arm_base }
    }

    async fn arm(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}?{ARM_API}", self.arm_base);
        self.vault.call_as(method, &url, Some(&self.arm_token), body).await
    }

    fn uri(&self, name: &str) -> String {
        format!("https://{name}.managedhsm.localhost:{}", self.vault.emulator.https_port())
    }

    async fn data(&self, method: Method, name: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}?{HSM_API}", self.uri(name));
        self.vault.call_as(method, &url, Some(&self.data_token), body).await
    }

    fn create_body(&self, protected: bool) -> Value {
        let admin = self.vault.emulator.identity("admin").unwrap().object_id.to_string();
        json!({"location": "westeurope", "sku": {"family": "B", "name": "Standard_B1"}, "properties": {
            "tenantId": self.vault.emulator.tenant_id().to_string(), "initialAdminObjectIds": [admin],
            "enablePurgeProtection": protected, "softDeleteRetentionInDays": 7}})
    }

    async fn activation(&self, name: &str) -> String {
        let (status, body) = self.arm(Method::GET, &format!("{HSMS}/{name}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["properties"]["securityDomainProperties"]["activationStatus"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn managed_hsms_are_created_listed_checked_and_validated() {
    let vault = spawn().await;
    let hsm = Hsm::new(&vault).await;
    let (status, body) = hsm.arm(Method::PUT, &format!("{HSMS}/cmkhsm"), Some(hsm.create_body(true))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "Microsoft.KeyVault/managedHSMs");
    assert_eq!(body["sku"]["name"], "Standard_B1");
    assert_eq!(body["properties"]["hsmUri"], format!("{}/", hsm.uri("cmkhsm")));
    assert_eq!(body["properties"]["enablePurgeProtection"], true);
    assert_eq!(body["properties"]["securityDomainProperties"]["activationStatus"], "NotActivated");
    assert!(body["id"].as_str().unwrap().ends_with("/providers/Microsoft.KeyVault/managedHSMs/cmkhsm"));

    let mut no_admins = hsm.create_body(false);
    no_admins["properties"]["initialAdminObjectIds"] = json!([]);
    let mut vault_sku = hsm.create_body(false);
    vault_sku["sku"]["name"] = json!("standard");
    for bad in [no_admins, vault_sku] {
        let (status, body) = hsm.arm(Method::PUT, &format!("{HSMS}/other"), Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, body) = hsm
        .arm(Method::PATCH, &format!("{HSMS}/cmkhsm"), Some(json!({"properties": {"enablePurgeProtection": false}})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "purge protection stays on: {body}");
    let (status, body) = hsm.arm(Method::PATCH, &format!("{HSMS}/cmkhsm"), Some(json!({"tags": {"env": "ci"}}))).await;
    assert_eq!((status, body["tags"]["env"].as_str()), (StatusCode::OK, Some("ci")), "{body}");

    let (_, listed) = hsm.arm(Method::GET, "/providers/Microsoft.KeyVault/managedHSMs", None).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1, "{listed}");
    let (_, listed) = hsm.arm(Method::GET, HSMS, None).await;
    assert_eq!(listed["value"][0]["name"], "cmkhsm");
    let (_, vaults) = hsm.arm(Method::GET, "/providers/Microsoft.KeyVault/vaults", None).await;
    assert!(vaults["value"].as_array().unwrap().iter().all(|v| v["name"] != "cmkhsm"), "an HSM is not a vault");

    let check = |name: &str| json!({"name": name});
    let path = "/providers/Microsoft.KeyVault/checkMhsmNameAvailability";
    let (status, taken) = hsm.arm(Method::POST, path, Some(check("cmkhsm"))).await;
    assert_eq!(
        (status, taken["nameAvailable"].as_bool(), taken["reason"].as_str()),
        (StatusCode::OK, Some(false), Some("AlreadyExists"))
    );
    let (_, free) = hsm.arm(Method::POST, path, Some(check("fresh-hsm"))).await;
    assert_eq!(free["nameAvailable"], true);
    let (_, invalid) = hsm.arm(Method::POST, path, Some(check("1-bad"))).await;
    assert_eq!(invalid["reason"], "AccountNameInvalid");
}

#[tokio::test]
async fn a_security_domain_activates_and_restores_into_a_new_hsm_with_a_quorum() {
    let vault = spawn().await;
    let hsm = Hsm::new(&vault).await;
    for name in ["first", "second"] {
        let (status, body) = hsm.arm(Method::PUT, &format!("{HSMS}/{name}"), Some(hsm.create_body(false))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) =
        hsm.data(Method::POST, "first", "/keys/cmk/create", Some(json!({"kty": "RSA-HSM", "key_size": 3072}))).await;
    assert!(status.is_client_error(), "not activated yet: {status} {body}");

    let officers: Vec<Officer> = (0..3).map(|_| officer()).collect();
    let certificates: Vec<Value> = officers.iter().map(|o| o.public.clone()).collect();
    let (status, body) = hsm
        .data(
            Method::POST,
            "first",
            "/securitydomain/download",
            Some(json!({"certificates": certificates[..2], "required": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "three certificates at least: {body}");
    let (status, body) = hsm
        .data(
            Method::POST,
            "first",
            "/securitydomain/download",
            Some(json!({"certificates": certificates, "required": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let file = body["value"].as_str().unwrap().to_owned();
    let (_, pending) = hsm.data(Method::GET, "first", "/securitydomain/download/pending", None).await;
    assert_eq!(pending["status"], "Success", "{pending}");
    assert_eq!(hsm.activation("first").await, "Active");
    let (status, body) = hsm
        .data(
            Method::POST,
            "first",
            "/securitydomain/download",
            Some(json!({"certificates": certificates, "required": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one domain per HSM: {body}");
    // As in Azure, the Administrator manages roles but uses no keys: it gives itself Crypto User.
    let admin = hsm.vault.emulator.identity("admin").unwrap().object_id.to_string();
    let crypto_user = json!({"properties": {
        "roleDefinitionId": "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/21dbd100-6940-42c2-9190-5d6cb909625b",
        "principalId": admin,
    }});
    let (status, body) = hsm
        .data(
            Method::PUT,
            "first",
            "/providers/Microsoft.Authorization/roleAssignments/0d6b1b4e-5a1c-4c55-9a0e-6c2f1d1e7a01",
            Some(crypto_user),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        hsm.data(Method::POST, "first", "/keys/cmk/create", Some(json!({"kty": "RSA-HSM", "key_size": 3072}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Restore into `second`: its transfer key, then a blob re-wrapped with two of three keys.
    let (status, body) = hsm.data(Method::POST, "second", "/securitydomain/upload", Some(json!({"value": "{}"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no transfer key yet: {body}");
    let (status, body) = hsm.data(Method::GET, "second", "/securitydomain/transferkey", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let jwk: Value = serde_json::from_str(body["transfer_key"].as_str().unwrap()).unwrap();
    let exchange = WrappingKey {
        n: base64url::decode(jwk["n"].as_str().unwrap()).unwrap(),
        e: base64url::decode(jwk["e"].as_str().unwrap()).unwrap(),
        certificate_der: base64::engine::general_purpose::STANDARD.decode(jwk["x5c"][0].as_str().unwrap()).unwrap(),
    };
    assert!(sd::recover(&file, &[officers[1].private.clone()]).is_err(), "one key of a 2-quorum is not enough");
    let data = sd::recover(&file, &[officers[2].private.clone(), officers[0].private.clone()]).unwrap();
    let forged = sd::restore_blob(&[("kvemu-domain-key".into(), vec![1; 8])], &exchange).unwrap();
    let (status, body) =
        hsm.data(Method::POST, "second", "/securitydomain/upload", Some(json!({"value": forged}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let blob = sd::restore_blob(&data, &exchange).unwrap();
    let (status, body) = hsm.data(Method::POST, "second", "/securitydomain/upload", Some(json!({"value": blob}))).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::ACCEPTED, Some("Success")), "{body}");
    let (_, pending) = hsm.data(Method::GET, "second", "/securitydomain/upload/pending", None).await;
    assert_eq!(pending["status"], "Success", "{pending}");
    assert_eq!(hsm.activation("second").await, "Active");
}

#[tokio::test]
async fn deleted_hsms_are_listed_recovered_and_purged_unless_protected() {
    let vault = spawn().await;
    let hsm = Hsm::new(&vault).await;
    for (name, protected) in [("kept", true), ("scratch", false)] {
        let (status, body) = hsm.arm(Method::PUT, &format!("{HSMS}/{name}"), Some(hsm.create_body(protected))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(hsm.arm(Method::DELETE, &format!("{HSMS}/{name}"), None).await.0, StatusCode::OK);
    }
    assert_eq!(hsm.arm(Method::GET, &format!("{HSMS}/kept"), None).await.0, StatusCode::NOT_FOUND);
    let (_, deleted) = hsm.arm(Method::GET, "/providers/Microsoft.KeyVault/deletedManagedHSMs", None).await;
    let names: Vec<&str> = deleted["value"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kept", "scratch"], "{deleted}");
    let (_, vaults) = hsm.arm(Method::GET, "/providers/Microsoft.KeyVault/deletedVaults", None).await;
    assert_eq!(vaults["value"].as_array().unwrap().len(), 0, "deleted HSMs are not deleted vaults");
    let kept = "/providers/Microsoft.KeyVault/locations/westeurope/deletedManagedHSMs/kept";
    let (status, body) = hsm.arm(Method::GET, kept, None).await;
    assert_eq!((status, body["properties"]["purgeProtectionEnabled"].as_bool()), (StatusCode::OK, Some(true)));
    let (status, body) = hsm.arm(Method::PUT, &format!("{HSMS}/kept"), Some(hsm.create_body(true))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a soft-deleted HSM holds its name: {body}");
    let (status, body) = hsm.arm(Method::POST, &format!("{kept}/purge"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "purge protection holds: {body}");

    let recover = json!({"location": "westeurope", "sku": {"family": "B", "name": "Standard_B1"},
        "properties": {"tenantId": vault.emulator.tenant_id().to_string(), "createMode": "recover"}});
    let (status, body) = hsm.arm(Method::PUT, &format!("{HSMS}/kept"), Some(recover)).await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::OK, Some("kept")), "{body}");

    let scratch = "/providers/Microsoft.KeyVault/locations/westeurope/deletedManagedHSMs/scratch";
    assert_eq!(hsm.arm(Method::POST, &format!("{scratch}/purge"), None).await.0, StatusCode::OK);
    assert_eq!(hsm.arm(Method::GET, scratch, None).await.0, StatusCode::NOT_FOUND);
    let (status, _) = hsm.arm(Method::PUT, &format!("{HSMS}/scratch"), Some(hsm.create_body(false))).await;
    assert_eq!(status, StatusCode::OK, "the name is free again");
}
