//! Management writes under concurrency, as parallel provisioning (Terraform, a test suite's
//! set-up) sends them: every grant that was acknowledged is there at once and after a restart
//! on the same data directory. Each request comes from its own client, as separate processes do.
//!
//! Before the management writes were transactions (a read of the cached vault, a write of the
//! whole list), every one of these requests answered 2xx and 47-48 of the 50 policies and 47-48
//! of the 50 assignments were lost (three runs); after, none.

use std::collections::BTreeSet;

use futures::future::join_all;
use keyvault_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestVault, spawn_with};

const WRITERS: u128 = 50;
const ARM_API: &str = "api-version=2023-07-01";
const VAULTS: &str = "/resourceGroups/race-rg/providers/Microsoft.KeyVault/vaults";
const ENCRYPTION_USER: &str = "e147488a-f6f5-4113-8e2d-b22465e65bf6";

struct Management {
    token: String,
    base: String,
}

impl Management {
    async fn new(vault: &TestVault) -> Self {
        let token = vault.emulator.token_for_identity("admin", "https://management.azure.com/").await.unwrap();
        let subscription = keyvault_emulator::auth::identity::default_subscription(vault.emulator.tenant_id());
        let base = format!("https://localhost:{}/subscriptions/{subscription}", vault.emulator.https_port());
        Self { token, base }
    }

    /// One request from a fresh client (its own connection pool).
    async fn send(&self, vault: &TestVault, method: Method, path: String, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = vault.emulator.http_client().request(method, format!("{}{path}?{ARM_API}", self.base));
        request = request.bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("sent");
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }
}

fn principal(n: u128) -> String {
    Uuid::from_u128(0x5eed_0000 + n).to_string()
}

fn assignment_id(n: u128) -> String {
    Uuid::from_u128(0xa551_0000 + n).to_string()
}

async fn create_vault(arm: &Management, vault: &TestVault, name: &str, rbac: bool) {
    let tenant = vault.emulator.tenant_id().to_string();
    let body = json!({
        "location": "westeurope",
        "properties": {"tenantId": tenant, "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": rbac, "accessPolicies": []},
    });
    let (status, body) = arm.send(vault, Method::PUT, format!("{VAULTS}/{name}"), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The object ids holding an access policy on vault `access`, and the ids of the role
/// assignments on vault `rbac`.
async fn grants(arm: &Management, vault: &TestVault) -> (BTreeSet<String>, BTreeSet<String>) {
    let (status, read) = arm.send(vault, Method::GET, format!("{VAULTS}/access"), None).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let policies = read["properties"]["accessPolicies"].as_array().unwrap();
    let holders = policies.iter().map(|p| p["objectId"].as_str().unwrap().to_owned()).collect();
    let path = format!("{VAULTS}/rbac/providers/Microsoft.Authorization/roleAssignments");
    let (status, listed) = arm.send(vault, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let assignments =
        listed["value"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect();
    (holders, assignments)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_policy_adds_and_role_assignments_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_with(Config::in_directory(dir.path())).await;
    let arm = Management::new(&vault).await;
    let tenant = vault.emulator.tenant_id().to_string();
    create_vault(&arm, &vault, "access", false).await;
    create_vault(&arm, &vault, "rbac", true).await;

    let adds = (0..WRITERS).map(|n| {
        let grant = json!({"properties": {"accessPolicies": [
            {"tenantId": tenant, "objectId": principal(n), "permissions": {"keys": ["get", "wrapKey", "unwrapKey"]}}
        ]}});
        arm.send(&vault, Method::PUT, format!("{VAULTS}/access/accessPolicies/add"), Some(grant))
    });
    let assignments = (0..WRITERS).map(|n| {
        let path = format!("{VAULTS}/rbac/providers/Microsoft.Authorization/roleAssignments/{}", assignment_id(n));
        let body = json!({"properties": {"roleDefinitionId": ENCRYPTION_USER, "principalId": principal(n)}});
        arm.send(&vault, Method::PUT, path, Some(body))
    });
    let (added, assigned) = tokio::join!(join_all(adds), join_all(assignments));
    let refused: Vec<_> = added.iter().filter(|(status, _)| *status != StatusCode::OK).collect();
    assert!(refused.is_empty(), "{} adds refused, e.g. {:?}", refused.len(), refused.first());
    let refused: Vec<_> = assigned.iter().filter(|(status, _)| *status != StatusCode::CREATED).collect();
    assert!(refused.is_empty(), "{} assignments refused, e.g. {:?}", refused.len(), refused.first());

    let expected_holders: BTreeSet<String> = (0..WRITERS).map(principal).collect();
    let expected_assignments: BTreeSet<String> = (0..WRITERS).map(assignment_id).collect();
    let (holders, assignments) = grants(&arm, &vault).await;
    let lost_policies = expected_holders.difference(&holders).count();
    let lost_assignments = expected_assignments.difference(&assignments).count();
    assert_eq!((lost_policies, lost_assignments), (0, 0), "acknowledged grants lost (policies, assignments)");

    vault.emulator.shutdown().await;
    let vault = spawn_with(Config::in_directory(dir.path())).await;
    let arm = Management::new(&vault).await;
    let (holders, assignments) = grants(&arm, &vault).await;
    assert_eq!(holders, expected_holders, "access policies after a restart");
    assert_eq!(assignments, expected_assignments, "role assignments after a restart");
}
