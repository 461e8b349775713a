//! Who may use the management API besides the owners, and role assignments above the vault:
//! `GET /subscriptions` answers everyone (listing only what the caller has a role in), other
//! calls need a role whose actions allow them at a covering scope, and assignments at
//! subscription or resource-group scope are listed with the filters `az` sends and reach the
//! data plane of every vault below them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, spawn};

const ARM_API: &str = "api-version=2022-04-01";
const CONTRIBUTOR: &str = "f25e0fa2-a7c8-4377-a976-54943a77a395";
const ENCRYPTION_USER: &str = "e147488a-f6f5-4113-8e2d-b22465e65bf6";

struct Caller<'a> {
    vault: &'a TestVault,
    token: String,
    root: String,
    subscription: String,
}

impl<'a> Caller<'a> {
    async fn new(vault: &'a TestVault, identity: &str) -> Self {
        let token = vault.emulator.token_for_identity(identity, "https://management.azure.com/").await.unwrap();
        let subscription =
            keyvault_emulator::auth::identity::default_subscription(vault.emulator.tenant_id()).to_string();
        let root = format!("https://localhost:{}", vault.emulator.https_port());
        Self { vault, token, root, subscription }
    }

    /// `path` below `/subscriptions/{s}` (or the root, when it starts with `//`).
    async fn call(&self, method: Method, path: &str, query: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = match path.strip_prefix("//") {
            Some(rooted) => format!("{}/{rooted}?{ARM_API}{query}", self.root),
            None => format!("{}/subscriptions/{}{path}?{ARM_API}{query}", self.root, self.subscription),
        };
        self.vault.call_as(method, &url, Some(&self.token), body).await
    }
}

fn object_id(vault: &TestVault, identity: &str) -> String {
    vault.emulator.identity(identity).unwrap().object_id.to_string()
}

#[tokio::test]
async fn subscriptions_answer_everyone_and_roles_open_the_rest() {
    let vault = spawn().await;
    let admin = Caller::new(&vault, "admin").await;
    let stranger = Caller::new(&vault, "default").await;
    let (status, listed) = stranger.call(Method::GET, "//subscriptions", "", None).await;
    assert_eq!((status, listed["value"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{listed}");
    let (status, body) =
        stranger.call(Method::GET, "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults", "", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("AuthorizationFailed")));
    assert!(body["error"]["message"].as_str().unwrap().contains("Microsoft.KeyVault/vaults/read"), "{body}");

    // Key Vault Contributor on one resource group: the stranger now sees the subscription and
    // manages vaults in that group, and nowhere else.
    let grant = json!({"properties": {"roleDefinitionId": CONTRIBUTOR, "principalId": object_id(&vault, "default")}});
    let assignment =
        format!("/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4());
    let (status, body) = admin.call(Method::PUT, &assignment, "", Some(grant)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["properties"]["scope"], format!("/subscriptions/{}/resourceGroups/rg", admin.subscription));
    let (_, listed) = stranger.call(Method::GET, "//subscriptions", "", None).await;
    assert_eq!(listed["value"][0]["subscriptionId"], admin.subscription.as_str());
    let tenant = vault.emulator.tenant_id().to_string();
    let create = json!({"location": "westeurope", "properties": {"tenantId": tenant, "sku": {"family": "A", "name": "standard"}, "accessPolicies": []}});
    let (status, body) = stranger
        .call(Method::PUT, "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/ingroup", "", Some(create.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = stranger
        .call(Method::PUT, "/resourceGroups/other/providers/Microsoft.KeyVault/vaults/outside", "", Some(create))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = stranger.call(Method::PUT, &assignment.replace("rg/", "other/"), "", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a contributor cannot hand out roles");
    assert_eq!(admin.call(Method::DELETE, &assignment, "", None).await.0, StatusCode::OK);
    let (_, listed) = stranger.call(Method::GET, "//subscriptions", "", None).await;
    assert_eq!(listed["value"].as_array().map(Vec::len), Some(0), "revoked on the next request");
}

#[tokio::test]
async fn subscription_scope_assignments_are_listed_as_az_asks_and_reach_the_data_plane() {
    let vault = spawn().await;
    let admin = Caller::new(&vault, "admin").await;
    let tenant = vault.emulator.tenant_id().to_string();
    let app = object_id(&vault, "default");
    let create = json!({"location": "westeurope", "properties": {"tenantId": tenant, "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}});
    let vaults = "/resourceGroups/cmk-rg/providers/Microsoft.KeyVault/vaults";
    assert_eq!(admin.call(Method::PUT, &format!("{vaults}/rbac"), "", Some(create)).await.0, StatusCode::CREATED);
    let vault_grant =
        format!("{vaults}/rbac/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4());
    let role = |role: &str| json!({"properties": {"roleDefinitionId": role, "principalId": app}});
    assert_eq!(admin.call(Method::PUT, &vault_grant, "", Some(role(CONTRIBUTOR))).await.0, StatusCode::CREATED);

    let url = |path: &str| format!("{}{path}?{API}", vault.emulator.vault_url("rbac"));
    let app_token = vault.emulator.token_for_identity("default", "https://vault.azure.net").await.unwrap();
    let (status, _) = vault.call_as(Method::GET, &url("/keys"), Some(&app_token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a contributor gets no data actions");

    let subscription_grant = format!("/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4());
    let (status, body) = admin.call(Method::PUT, &subscription_grant, "", Some(role(ENCRYPTION_USER))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = admin.call(Method::PUT, &subscription_grant, "", Some(role(ENCRYPTION_USER))).await;
    assert_eq!(status, StatusCode::OK, "the same assignment again");
    let twin = format!("/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4());
    let (status, body) = admin.call(Method::PUT, &twin, "", Some(role(ENCRYPTION_USER))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("RoleAssignmentExists")));
    let admin_token = vault.emulator.token_for_identity("admin", "https://vault.azure.net").await.unwrap();
    let admin_role = json!({"properties": {"roleDefinitionId": "Key Vault Administrator", "principalId": object_id(&vault, "admin")}});
    let admin_grant =
        format!("{vaults}/rbac/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4());
    assert_eq!(admin.call(Method::PUT, &admin_grant, "", Some(admin_role)).await.0, StatusCode::CREATED);
    let (status, _) =
        vault.call_as(Method::POST, &url("/keys/cmk/create"), Some(&admin_token), Some(json!({"kty": "RSA"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = vault.call_as(Method::GET, &url("/keys/cmk"), Some(&app_token), None).await;
    assert_eq!(status, StatusCode::OK, "the subscription-scope role covers the vault: {body}");

    // What `az role assignment list` sends: atScope() at the subscription (no --all), and
    // principalId eq (with --all --assignee) or assignedTo (--include-groups).
    let list = "/providers/Microsoft.Authorization/roleAssignments";
    let names = |body: &Value| -> Vec<String> {
        let mut scopes: Vec<String> = body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["properties"]["scope"].as_str().unwrap().to_owned())
            .collect();
        scopes.sort();
        scopes
    };
    let sub_scope = format!("/subscriptions/{}", admin.subscription);
    let vault_scope = format!("{sub_scope}{vaults}/rbac");
    let (_, at_scope) = admin.call(Method::GET, list, "&$filter=atScope()", None).await;
    assert_eq!(names(&at_scope), [sub_scope.as_str()]);
    let (_, mine) = admin.call(Method::GET, list, &format!("&$filter=principalId%20eq%20'{app}'"), None).await;
    assert_eq!(names(&mine), [sub_scope.as_str(), vault_scope.as_str()]);
    let (_, assigned) = admin.call(Method::GET, list, &format!("&$filter=assignedTo('{app}')"), None).await;
    assert_eq!(names(&assigned), names(&mine));
    let (_, in_group) = admin.call(Method::GET, &format!("/resourceGroups/cmk-rg{list}"), "", None).await;
    assert_eq!(names(&in_group).len(), 3, "above and below the group: {in_group}");
    let (status, body) = admin.call(Method::GET, list, "&$filter=roleName%20eq%20'x'", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")));

    assert_eq!(admin.call(Method::DELETE, &subscription_grant, "", None).await.0, StatusCode::OK);
    assert_eq!(admin.call(Method::DELETE, &subscription_grant, "", None).await.0, StatusCode::NO_CONTENT);
    let (status, _) = vault.call_as(Method::GET, &url("/keys/cmk"), Some(&app_token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "revoked on the next request");
}
