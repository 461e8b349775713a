//! The management API: authentication (ARM's 401 and 403 bodies), subscription and resource
//! group preflight, vault create/read/update/list with ARM's validation errors, and access
//! policies that the data plane enforces on the next request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, spawn};

const ARM_API: &str = "api-version=2023-07-01";

struct Arm<'a> {
    vault: &'a TestVault,
    token: String,
    base: String,
}

impl<'a> Arm<'a> {
    async fn new(vault: &'a TestVault, identity: &str) -> Self {
        let token = vault.emulator.token_for_identity(identity, "https://management.azure.com/").await.unwrap();
        let tenant = vault.emulator.tenant_id();
        let subscription = keyvault_emulator::auth::identity::default_subscription(tenant);
        let base = format!("https://localhost:{}/subscriptions/{subscription}", vault.emulator.https_port());
        Self { vault, token, base }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}?{ARM_API}", self.base);
        self.vault.call_as(method, &url, Some(&self.token), body).await
    }
}

#[tokio::test]
async fn only_owners_with_management_tokens_get_in() {
    let vault = spawn().await;
    let admin = Arm::new(&vault, "admin").await;
    let response = vault.http.get(format!("{}?{ARM_API}", admin.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer authorization_uri="));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");

    let stranger = Arm::new(&vault, "default").await;
    let (status, body) = stranger.call(Method::GET, "", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("AuthorizationFailed")),
        "{body}"
    );

    let vault_token = vault.emulator.token_for_identity("admin", "https://vault.azure.net").await.unwrap();
    let (status, _) = vault.call_as(Method::GET, &format!("{}?{ARM_API}", admin.base), Some(&vault_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a vault token is not a management token");

    let (status, body) = admin.call(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenantId"], vault.emulator.tenant_id().to_string());
    let all = format!("https://localhost:{}/subscriptions?{ARM_API}", vault.emulator.https_port());
    let (status, listed) = vault.call_as(Method::GET, &all, Some(&admin.token), None).await;
    assert_eq!(
        (status, listed["value"][0]["subscriptionId"].clone()),
        (StatusCode::OK, body["subscriptionId"].clone())
    );
    let (status, body) =
        admin.call(Method::PUT, "/resourcegroups/cmk-rg", Some(json!({"location": "westeurope"}))).await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::OK, Some("cmk-rg")));
}

#[tokio::test]
async fn vaults_created_through_arm_are_enforced_by_the_data_plane() {
    let vault = spawn().await;
    let admin = Arm::new(&vault, "admin").await;
    let tenant = vault.emulator.tenant_id().to_string();
    let admin_oid = vault.emulator.identity("admin").unwrap().object_id.to_string();
    let app_oid =
        keyvault_emulator::auth::identity::derived_id(vault.emulator.tenant_id(), "app", "object").to_string();
    let vaults = "/resourceGroups/cmk-rg/providers/Microsoft.KeyVault/vaults";
    let create = json!({
        "location": "westeurope",
        "tags": {"env": "test"},
        "properties": {
            "tenantId": tenant,
            "sku": {"family": "A", "name": "standard"},
            "softDeleteRetentionInDays": 7,
            "enablePurgeProtection": true,
            "accessPolicies": [{"tenantId": tenant, "objectId": admin_oid, "permissions": {"keys": ["all"]}}],
        },
    });
    let (status, body) = admin.call(Method::PUT, &format!("{vaults}/other"), Some(create.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["type"], "Microsoft.KeyVault/vaults");
    assert_eq!(body["properties"]["vaultUri"], format!("{}/", vault.emulator.vault_url("other")));
    assert_eq!(body["properties"]["softDeleteRetentionInDays"], 7);
    assert_eq!(body["properties"]["enablePurgeProtection"], true);
    assert!(body["id"].as_str().unwrap().ends_with("/resourceGroups/cmk-rg/providers/Microsoft.KeyVault/vaults/other"));
    let (status, _) = admin.call(Method::PUT, &format!("{vaults}/other"), Some(create.clone())).await;
    assert_eq!(status, StatusCode::OK, "an update answers 200");

    // The data plane: the admin creates a key, the app gets access through accessPolicies/add.
    let url = |path: &str| format!("{}{path}?{API}", vault.emulator.vault_url("other"));
    let admin_token = vault.emulator.token_for_identity("admin", "https://vault.azure.net").await.unwrap();
    let (status, _) =
        vault.call_as(Method::POST, &url("/keys/cmk/create"), Some(&admin_token), Some(json!({"kty": "RSA"}))).await;
    assert_eq!(status, StatusCode::OK);
    let app_token = vault.emulator.token_for_identity("app", "https://vault.azure.net").await.unwrap();
    let wrap = json!({"alg": "RSA-OAEP-256", "value": "AAAAAAAAAAAAAAAAAAAAAA"});
    let (status, _) =
        vault.call_as(Method::POST, &url("/keys/cmk/wrapkey"), Some(&app_token), Some(wrap.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let grant = json!({"properties": {"accessPolicies": [{"tenantId": tenant, "objectId": app_oid, "permissions": {"keys": ["get", "wrapKey"]}}]}});
    let (status, body) = admin.call(Method::PUT, &format!("{vaults}/other/accessPolicies/add"), Some(grant)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) =
        vault.call_as(Method::POST, &url("/keys/cmk/wrapkey"), Some(&app_token), Some(wrap.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let revoke = json!({"properties": {"accessPolicies": [{"tenantId": tenant, "objectId": app_oid, "permissions": {"keys": ["wrapKey"]}}]}});
    admin.call(Method::PUT, &format!("{vaults}/other/accessPolicies/remove"), Some(revoke)).await;
    let (status, _) = vault.call_as(Method::POST, &url("/keys/cmk/wrapkey"), Some(&app_token), Some(wrap)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "removed on the next request");
    let (_, read) = admin.call(Method::GET, &format!("{vaults}/other"), None).await;
    let policies = read["properties"]["accessPolicies"].as_array().unwrap();
    let app_policy = policies.iter().find(|p| p["objectId"] == app_oid.as_str()).unwrap();
    assert_eq!(app_policy["permissions"]["keys"], json!(["get"]));

    // Listings, by group and by subscription.
    let (_, listed) = admin.call(Method::GET, vaults, None).await;
    let names: Vec<&str> = listed["value"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["other"]);
    let (_, all) = admin.call(Method::GET, "/providers/Microsoft.KeyVault/vaults", None).await;
    assert!(all["value"].as_array().unwrap().len() >= 2, "the default vault too");

    // ARM's validation errors.
    let patch = |properties: Value| json!({"properties": properties});
    let (status, body) = admin
        .call(Method::PATCH, &format!("{vaults}/other"), Some(patch(json!({"enablePurgeProtection": false}))))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")), "{body}");
    let (status, _) = admin
        .call(Method::PATCH, &format!("{vaults}/other"), Some(patch(json!({"softDeleteRetentionInDays": 30}))))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "retention is fixed at creation");
    let (status, body) = admin.call(Method::PUT, &format!("{vaults}/no_such--name"), Some(create.clone())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("VaultNameNotValid")));
    let elsewhere = "/resourceGroups/other-rg/providers/Microsoft.KeyVault/vaults/other";
    let (status, body) = admin.call(Method::PUT, elsewhere, Some(create)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("VaultAlreadyExists")));
    let (status, body) =
        admin.call(Method::GET, "/resourceGroups/cmk-rg/providers/Microsoft.KeyVault/vaults/missing", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("ResourceNotFound")));
}

#[tokio::test]
async fn user_assigned_identities_and_role_assignments() {
    let vault = spawn().await;
    let admin = Arm::new(&vault, "admin").await;
    let identities = "/resourceGroups/cmk-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities";
    let (status, body) =
        admin.call(Method::PUT, &format!("{identities}/cmk-identity"), Some(json!({"location": "westeurope"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client_id = body["properties"]["clientId"].as_str().unwrap().to_owned();
    let principal_id = body["properties"]["principalId"].as_str().unwrap().to_owned();
    assert_eq!(body["properties"]["tenantId"], vault.emulator.tenant_id().to_string());
    let (_, listed) = admin.call(Method::GET, identities, None).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);

    // The App Service endpoint hands the new identity out by client id.
    let token: Value = reqwest::Client::new()
        .get(vault.emulator.identity_endpoint())
        .query(&[
            ("api-version", "2019-08-01"),
            ("resource", "https://vault.azure.net"),
            ("client_id", client_id.as_str()),
        ])
        .header("X-IDENTITY-HEADER", "x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();

    // An RBAC vault, a key, and a key-scoped role for the identity.
    let tenant = vault.emulator.tenant_id().to_string();
    let vaults = "/resourceGroups/cmk-rg/providers/Microsoft.KeyVault/vaults";
    let create = json!({"location": "westeurope", "properties": {"tenantId": tenant, "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}});
    assert_eq!(admin.call(Method::PUT, &format!("{vaults}/other"), Some(create)).await.0, StatusCode::CREATED);
    let admin_oid = vault.emulator.identity("admin").unwrap().object_id.to_string();
    let admin_role =
        json!({"properties": {"roleDefinitionId": "00482a5a-887f-4fb3-b363-3b7fe8e74483", "principalId": admin_oid}});
    let (status, body) = admin
        .call(
            Method::PUT,
            &format!("{vaults}/other/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4()),
            Some(admin_role),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = |path: &str| format!("{}{path}?{API}", vault.emulator.vault_url("other"));
    let admin_token = vault.emulator.token_for_identity("admin", "https://vault.azure.net").await.unwrap();
    for name in ["cmk", "other-key"] {
        let (status, _) = vault
            .call_as(
                Method::POST,
                &url(&format!("/keys/{name}/create")),
                Some(&admin_token),
                Some(json!({"kty": "RSA"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let wrap = json!({"alg": "RSA-OAEP-256", "value": "AAAAAAAAAAAAAAAAAAAAAA"});
    assert_eq!(
        vault.call_as(Method::POST, &url("/keys/cmk/wrapkey"), Some(&token), Some(wrap.clone())).await.0,
        StatusCode::FORBIDDEN
    );

    let definitions: Value =
        admin.call(Method::GET, "/providers/Microsoft.Authorization/roleDefinitions", None).await.1;
    let encryption_user = definitions["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["properties"]["roleName"] == "Key Vault Crypto Service Encryption User")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(encryption_user.ends_with("/e147488a-f6f5-4113-8e2d-b22465e65bf6"));
    let assignment_id = uuid::Uuid::new_v4();
    let assignment =
        format!("{vaults}/other/keys/cmk/providers/Microsoft.Authorization/roleAssignments/{assignment_id}");
    let body = json!({"properties": {"roleDefinitionId": encryption_user, "principalId": principal_id, "principalType": "ServicePrincipal"}});
    let (status, created) = admin.call(Method::PUT, &assignment, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["properties"]["scope"].as_str().unwrap().ends_with("/vaults/other/keys/cmk"));
    assert_eq!(
        vault.call_as(Method::POST, &url("/keys/cmk/wrapkey"), Some(&token), Some(wrap.clone())).await.0,
        StatusCode::OK
    );
    assert_eq!(
        vault.call_as(Method::POST, &url("/keys/other-key/wrapkey"), Some(&token), Some(wrap.clone())).await.0,
        StatusCode::FORBIDDEN
    );

    let filter = format!("{vaults}/other/keys/cmk/providers/Microsoft.Authorization/roleAssignments");
    let url_filtered = format!("{}{filter}?{ARM_API}&$filter=principalId%20eq%20'{principal_id}'", admin.base);
    let (_, listed) = vault.call_as(Method::GET, &url_filtered, Some(&admin.token), None).await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1, "{listed}");

    assert_eq!(admin.call(Method::DELETE, &assignment, None).await.0, StatusCode::OK);
    assert_eq!(
        vault.call_as(Method::POST, &url("/keys/cmk/wrapkey"), Some(&token), Some(wrap)).await.0,
        StatusCode::FORBIDDEN
    );

    assert_eq!(admin.call(Method::DELETE, &format!("{identities}/cmk-identity"), None).await.0, StatusCode::OK);
    let (status, _) = admin.call(Method::GET, &format!("{identities}/cmk-identity"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        admin.call(Method::DELETE, &format!("{identities}/cmk-identity"), None).await.0,
        StatusCode::NO_CONTENT,
        "deleting what is not there"
    );
    // The built-in identity stays, and the answer says so rather than 204.
    let built_in =
        "/resourceGroups/keyvault-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/default";
    let (status, body) = admin.call(Method::DELETE, built_in, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("Conflict")), "{body}");
    assert_eq!(admin.call(Method::GET, built_in, None).await.0, StatusCode::OK);
    // Also after a PUT stored its location and tags (schemathesis found a 200 then).
    let (status, body) = admin.call(Method::PUT, built_in, Some(json!({"location": "westeurope"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin.call(Method::DELETE, built_in, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("Conflict")), "{body}");
    assert_eq!(admin.call(Method::GET, built_in, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn deleted_vaults_keep_their_keys_until_recovered_or_purged() {
    let vault = spawn().await;
    let admin = Arm::new(&vault, "admin").await;
    let tenant = vault.emulator.tenant_id().to_string();
    let admin_oid = vault.emulator.identity("admin").unwrap().object_id.to_string();
    let vaults = "/resourceGroups/cmk-rg/providers/Microsoft.KeyVault/vaults";
    let create = |protected: bool| {
        json!({"location": "westeurope", "properties": {
            "tenantId": tenant, "sku": {"family": "A", "name": "standard"}, "softDeleteRetentionInDays": 7,
            "enablePurgeProtection": protected,
            "accessPolicies": [{"tenantId": tenant, "objectId": admin_oid, "permissions": {"keys": ["all"]}}]}})
    };
    assert_eq!(
        admin.call(Method::PUT, &format!("{vaults}/protected"), Some(create(true))).await.0,
        StatusCode::CREATED
    );
    assert_eq!(admin.call(Method::PUT, &format!("{vaults}/other"), Some(create(false))).await.0, StatusCode::CREATED);
    let token = vault.emulator.token_for_identity("admin", "https://vault.azure.net").await.unwrap();
    let key_url = |name: &str| format!("{}/keys/cmk?{API}", vault.emulator.vault_url(name));
    let create_url = format!("{}/keys/cmk/create?{API}", vault.emulator.vault_url("protected"));
    assert_eq!(
        vault.call_as(Method::POST, &create_url, Some(&token), Some(json!({"kty": "EC"}))).await.0,
        StatusCode::OK
    );

    assert_eq!(admin.call(Method::DELETE, &format!("{vaults}/protected"), None).await.0, StatusCode::OK);
    let (status, body) = vault.call_as(Method::GET, &key_url("protected"), Some(&token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("VaultNotFound")));
    let (status, deleted) = admin.call(Method::GET, "/providers/Microsoft.KeyVault/deletedVaults", None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    let entry = &deleted["value"][0];
    assert_eq!(entry["name"], "protected");
    assert_eq!(entry["properties"]["purgeProtectionEnabled"], true);
    let deleted_path = "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/protected";
    assert_eq!(admin.call(Method::GET, deleted_path, None).await.0, StatusCode::OK);
    let (status, body) = admin.call(Method::PUT, &format!("{vaults}/protected"), Some(create(true))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("ConflictError")), "{body}");
    let (status, _) = admin.call(Method::POST, &format!("{deleted_path}/purge"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "purge protection holds");

    let mut recover = create(true);
    recover["properties"]["createMode"] = json!("recover");
    assert_eq!(admin.call(Method::PUT, &format!("{vaults}/protected"), Some(recover)).await.0, StatusCode::OK);
    assert_eq!(
        vault.call_as(Method::GET, &key_url("protected"), Some(&token), None).await.0,
        StatusCode::OK,
        "its keys are back"
    );

    // Without purge protection: purge now, or the clock purges it at its date. Its key was read
    // (so the key lookup cache holds it) before the vault went.
    let other_create = format!("{}/keys/cmk/create?{API}", vault.emulator.vault_url("other"));
    let created = vault.call_as(Method::POST, &other_create, Some(&token), Some(json!({"kty": "EC"}))).await;
    assert_eq!(created.0, StatusCode::OK);
    assert_eq!(vault.call_as(Method::GET, &key_url("other"), Some(&token), None).await.0, StatusCode::OK);
    assert_eq!(admin.call(Method::DELETE, &format!("{vaults}/other"), None).await.0, StatusCode::OK);
    let done = vault.emulator.advance_clock(8 * 86_400).await.unwrap();
    assert_eq!(done.purged_vaults, 1);
    let (_, deleted) = admin.call(Method::GET, "/providers/Microsoft.KeyVault/deletedVaults", None).await;
    assert_eq!(deleted["value"].as_array().unwrap().len(), 0);
    assert_eq!(
        admin.call(Method::PUT, &format!("{vaults}/other"), Some(create(false))).await.0,
        StatusCode::CREATED,
        "the name is free again"
    );
    let (status, body) = vault.call_as(Method::GET, &key_url("other"), Some(&token), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("KeyNotFound")),
        "a vault made under a purged vault's name has none of its keys: {body}"
    );
}
