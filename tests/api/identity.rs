//! Managed-identity endpoints, JWKS, and the emulator controls on the plain-HTTP port.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn;

async fn get(url: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn app_service_protocol_returns_string_fields_for_the_default_identity() {
    let vault = spawn().await;
    let endpoint = vault.emulator.identity_endpoint();
    let (status, body) = get(
        &format!("{endpoint}?api-version=2019-08-01&resource=https://vault.azure.net"),
        &[("X-IDENTITY-HEADER", "h")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for field in [
        "access_token",
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "not_before",
        "resource",
        "token_type",
        "client_id",
    ] {
        assert!(body[field].is_string(), "{field} must be a string: {body}");
    }
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://vault.azure.net");
    let client_id = vault.emulator.default_identity_client_id().to_string();
    assert_eq!(body["client_id"], client_id.as_str());

    // Selecting the default identity explicitly works; an unknown one never gets a token.
    let (status, _) = get(
        &format!("{endpoint}?api-version=2019-08-01&resource=https://vault.azure.net&client_id={client_id}"),
        &[("X-IDENTITY-HEADER", "h")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(
        &format!("{endpoint}?api-version=2019-08-01&resource=https://vault.azure.net&client_id=00000000-0000-0000-0000-000000000001"),
        &[("X-IDENTITY-HEADER", "h")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["statusCode"], 400, "App Service's own error shape: {body}");
    assert_eq!(body["message"], "Unable to load the proper Managed Identity.");
    assert!(body.get("access_token").is_none());

    let (status, _) = get(&format!("{endpoint}?api-version=2019-08-01&resource=https://vault.azure.net"), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the identity header is required");
    let (status, _) = get(&format!("{endpoint}?api-version=2019-08-01"), &[("X-IDENTITY-HEADER", "h")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "resource is required");
}

#[tokio::test]
async fn imds_protocol_needs_the_metadata_header_and_accepts_a_trailing_slash() {
    let vault = spawn().await;
    let base = vault.emulator.http_url();
    for path in ["/metadata/identity/oauth2/token", "/metadata/identity/oauth2/token/"] {
        let url = format!("{base}{path}?api-version=2018-02-01&resource=https://vault.azure.net");
        let (status, body) = get(&url, &[("Metadata", "true")]).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body["expires_in"].is_string());
        let (status, body) = get(&url, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error_description"], "Required metadata header not specified");
    }
}

/// What MSAL .NET sends when it looks for a managed identity with no App Service variables set
/// (`ImdsV2ManagedIdentitySource.GetCsrMetadataAsync` in probe mode, then the classic source):
/// the IMDSv2 probe must fail at once with a status its retry policy does not retry (it retries
/// 408, 410, 429 and 5xx), without a `Server: IMDS...` header, and the classic request must work.
#[tokio::test]
async fn msals_imds_v2_probe_gets_a_404_and_the_classic_imds_flow_follows() {
    let vault = spawn().await;
    let base = vault.emulator.http_url();
    let correlation = "5f4d6c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f";
    for query in ["cred-api-version=2.0", "cred-api-version=2.0&client_id=00000000-0000-0000-0000-000000000001"] {
        for path in ["/metadata/identity/getplatformmetadata", "/metadata/identity/getPlatformMetadata"] {
            let response = reqwest::Client::new()
                .get(format!("{base}{path}?{query}"))
                .header("Metadata", "true")
                .header("x-ms-client-request-id", correlation)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}?{query}");
            let server = response.headers().get("server").and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert!(!server.to_ascii_uppercase().contains("IMDS"), "no IMDSv2 server header: {server}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "not_found", "{body}");
        }
    }
    let url = format!("{base}/metadata/identity/oauth2/token?api-version=2019-08-01&resource=https://vault.azure.net");
    let (status, body) = get(&url, &[("Metadata", "true"), ("x-ms-client-request-id", correlation)]).await;
    assert_eq!(status, StatusCode::OK, "the classic IMDS flow MSAL falls back to: {body}");
    assert!(body["access_token"].as_str().is_some_and(|t| t.split('.').count() == 3));
}

#[tokio::test]
async fn jwks_health_and_ca_are_served() {
    let vault = spawn().await;
    let tenant = vault.emulator.tenant_id();
    let response = vault.http.get(format!("{}/{tenant}/discovery/v2.0/keys", vault.vault_url())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["e"].as_str()),
        (Some("RSA"), Some("RS256"), Some("AQAB"))
    );

    // The token's kid is the published key.
    let token = vault.token().await;
    let header: Value = serde_json::from_slice(
        &keyvault_emulator::crypto::base64url::decode(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "RS256");

    let (status, body) = get(&format!("{}/_emulator/health", vault.emulator.http_url()), &[]).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ready")));
    let pem =
        reqwest::get(format!("{}/_emulator/ca.pem", vault.emulator.http_url())).await.unwrap().text().await.unwrap();
    assert_eq!(pem, vault.emulator.ca_pem());
    assert_eq!(std::fs::read_to_string(vault.emulator.ca_path()).unwrap(), pem);
}
