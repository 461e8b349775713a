//! What the Azure CLI needs beside the Key Vault provider, over HTTPS: the cloud metadata
//! (`az cloud register`), the generic resource listing with its `$filter` forms, the empty
//! managed-HSM lists, and the Microsoft Graph subset with its own audience and error format.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestVault, spawn};

fn origin(vault: &TestVault) -> String {
    format!("https://localhost:{}", vault.emulator.https_port())
}

#[tokio::test]
async fn cloud_metadata_names_the_emulators_own_endpoints() {
    let vault = spawn().await;
    let url = format!("{}/metadata/endpoints?api-version=2022-09-01", origin(&vault));
    let (status, doc) = vault.call_as(Method::GET, &url, None, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let own = format!("{}/", origin(&vault));
    assert_eq!(doc["resourceManager"], own.as_str());
    assert_eq!(doc["authentication"]["loginEndpoint"], own.as_str());
    assert_eq!(doc["microsoftGraphResourceId"], own.as_str());
    assert_eq!(doc["suffixes"]["keyVaultDns"], format!("vault.localhost:{}", vault.emulator.https_port()));
    let (status, body) =
        vault.call_as(Method::GET, &format!("{}/metadata/endpoints", origin(&vault)), None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("MissingApiVersionParameter")));
}

#[tokio::test]
async fn resources_are_listed_with_the_filters_az_sends() {
    let vault = spawn().await;
    let token = vault.emulator.token_for_identity("admin", "https://management.core.windows.net/").await.unwrap();
    let subscription = keyvault_emulator::auth::identity::default_subscription(vault.emulator.tenant_id());
    let base = format!("{}/subscriptions/{subscription}", origin(&vault));
    let put = json!({"location": "westeurope", "properties": {"sku": {"family": "A", "name": "standard"}, "tenantId": vault.emulator.tenant_id()}});
    for (group, name) in [("rg-a", "cmk"), ("rg-b", "other")] {
        let url =
            format!("{base}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}?api-version=2023-07-01");
        let (status, body) = vault.call_as(Method::PUT, &url, Some(&token), Some(put.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let list = |path: &str, filter: &str| {
        let query = serde_urlencoded::to_string([("$filter", filter), ("api-version", "2015-11-01")]).unwrap();
        let url = format!("{base}{path}?{query}");
        let (vault, token) = (&vault, &token);
        async move { vault.call_as(Method::GET, &url, Some(token), None).await }
    };
    let names = |body: &Value| -> Vec<String> {
        body["value"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
    };
    let (status, body) = list("/resources", "resourceType eq 'Microsoft.KeyVault/vaults'").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        names(&body),
        ["default", "cmk", "other"],
        "in id order; the default vault is in group keyvault-emulator"
    );
    let (_, body) = list("/resources", "resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'CMK'").await;
    assert_eq!(
        body["value"][0]["id"],
        format!("/subscriptions/{subscription}/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/cmk")
    );
    assert_eq!(names(&body), ["cmk"]);
    let (_, body) = list("/resourceGroups/rg-b/resources", "resourceType eq 'Microsoft.KeyVault/vaults'").await;
    assert_eq!(names(&body), ["other"]);
    let (status, body) = list("/resources", "tagName eq 'env'").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidFilterInQueryString")));

    let first = format!("{base}/resources?$top=1&api-version=2015-11-01");
    let (_, page) = vault.call_as(Method::GET, &first, Some(&token), None).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1);
    let next = page["nextLink"].as_str().expect("a next page").to_owned();
    let (_, second) = vault.call_as(Method::GET, &next, Some(&token), None).await;
    assert_ne!(second["value"][0]["id"], page["value"][0]["id"]);

    for path in [
        "/providers/Microsoft.KeyVault/managedHSMs",
        "/resourceGroups/rg-a/providers/Microsoft.KeyVault/managedHSMs",
        "/providers/Microsoft.KeyVault/deletedManagedHSMs",
    ] {
        let (status, body) =
            vault.call_as(Method::GET, &format!("{base}{path}?api-version=2023-07-01"), Some(&token), None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"value": []})), "{path}");
    }
    let (status, body) =
        vault.call_as(Method::GET, &format!("{base}/resources?api-version=2015-11-01"), None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("AuthenticationFailed")));
}

#[tokio::test]
async fn graph_answers_for_the_emulators_identities() {
    let vault = spawn().await;
    let own = format!("{}/", origin(&vault));
    let token = vault.emulator.token_for_identity("admin", &own).await.unwrap();
    let admin = vault.emulator.identity("admin").unwrap();
    let default = vault.emulator.identity("default").unwrap();
    let graph = |path: &str| format!("{}/v1.0{path}", origin(&vault));

    let filter = format!("servicePrincipalNames/any(c:c eq '{}')", admin.client_id);
    let url =
        format!("{}?{}", graph("/servicePrincipals"), serde_urlencoded::to_string([("$filter", &filter)]).unwrap());
    let (status, body) = vault.call_as(Method::GET, &url, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["value"][0]["id"], admin.object_id.to_string());
    assert_eq!(body["value"][0]["appId"], admin.client_id.to_string());

    let (status, body) = vault
        .call_as(Method::GET, &graph(&format!("/servicePrincipals/{}", default.object_id)), Some(&token), None)
        .await;
    assert_eq!((status, body["servicePrincipalType"].as_str()), (StatusCode::OK, Some("ManagedIdentity")), "{body}");
    let (status, body) = vault
        .call_as(Method::GET, &graph(&format!("/servicePrincipals/{}", uuid::Uuid::from_u128(1))), Some(&token), None)
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("Request_ResourceNotFound")));

    let ids =
        json!({"ids": [default.object_id, uuid::Uuid::from_u128(1)], "types": ["user", "group", "servicePrincipal"]});
    let (status, body) =
        vault.call_as(Method::POST, &graph("/directoryObjects/getByIds"), Some(&token), Some(ids)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(body["value"][0]["@odata.type"], "#microsoft.graph.servicePrincipal");
    assert_eq!(body["value"][0]["servicePrincipalNames"][0], default.client_id.to_string());

    let (status, body) = vault.call_as(Method::GET, &graph("/me"), Some(&token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")), "{body}");
    assert!(body["error"]["innerError"]["request-id"].is_string());

    let (status, body) = vault.call_as(Method::GET, &graph("/servicePrincipals"), None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("InvalidAuthenticationToken"))
    );
    let vault_token = vault.emulator.token_for_identity("admin", "https://vault.azure.net").await.unwrap();
    let (status, _) = vault.call_as(Method::GET, &graph("/servicePrincipals"), Some(&vault_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a vault token is not a Graph token");
    let graph_token = vault.emulator.token_for_identity("default", "https://graph.microsoft.com").await.unwrap();
    let url = format!("{}?$filter=accountEnabled%20eq%20true", graph("/servicePrincipals"));
    let (status, body) = vault.call_as(Method::GET, &url, Some(&graph_token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")), "{body}");
}
