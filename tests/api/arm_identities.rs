//! User-assigned identity names are scoped to their resource group, as in Azure: the same name
//! in two groups is two identities with their own ids, each deleted on its own, and both survive
//! a restart.

use keyvault_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestVault, spawn_with};

async fn call(vault: &TestVault, method: Method, group: &str, name: &str, body: Option<Value>) -> (StatusCode, Value) {
    let token = vault.emulator.token_for_identity("admin", "https://management.azure.com/").await.unwrap();
    let subscription = keyvault_emulator::auth::identity::default_subscription(vault.emulator.tenant_id());
    let url = format!(
        "https://localhost:{}/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}?api-version=2023-01-31",
        vault.emulator.https_port()
    );
    vault.call_as(method, &url, Some(&token), body).await
}

#[tokio::test]
async fn one_name_in_two_groups_is_two_identities() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_with(Config::in_directory(dir.path())).await;
    let (status, first) = call(&vault, Method::PUT, "rg-a", "svc", Some(json!({"location": "westeurope"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, twin) = call(&vault, Method::PUT, "rg-b", "svc", Some(json!({"location": "northeurope"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{twin}");
    assert_ne!(first["id"], twin["id"]);
    assert_ne!(first["properties"]["principalId"], twin["properties"]["principalId"]);
    assert_ne!(first["properties"]["clientId"], twin["properties"]["clientId"]);
    // A service principal's name (`admin`) is no user-assigned identity's.
    let (status, body) = call(&vault, Method::PUT, "rg-a", "admin", Some(json!({"location": "westeurope"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    vault.emulator.shutdown().await;
    let vault = spawn_with(Config::in_directory(dir.path())).await;
    let (status, read) = call(&vault, Method::GET, "rg-a", "svc", None).await;
    assert_eq!((status, &read["properties"]["principalId"]), (StatusCode::OK, &first["properties"]["principalId"]));
    assert_eq!(read["location"], "westeurope");
    assert_eq!(call(&vault, Method::DELETE, "rg-b", "svc", None).await.0, StatusCode::OK);
    let (status, read) = call(&vault, Method::GET, "rg-a", "svc", None).await;
    assert_eq!((status, &read["properties"]["principalId"]), (StatusCode::OK, &first["properties"]["principalId"]));
    assert_eq!(call(&vault, Method::GET, "rg-b", "svc", None).await.0, StatusCode::NOT_FOUND);
}
