//! The Entra-like endpoints: OpenID metadata, client credentials with a secret and with a
//! federated assertion (workload identity), Entra's error bodies; and managed-identity selection
//! by identity header.

use keyvault_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{API, TestVault, spawn_with};

const CONFIG: &str = r#"
[[identity]]
name = "ci"
type = "service-principal"
secrets = ["ci-secret"]
[[identity.federated_credential]]
issuer = "https://ci.example"
subject = "repo:org/app:ref:refs/heads/main"

[[identity]]
name = "storage"
type = "system-assigned"
resource = "Microsoft.Storage/storageAccounts/cmkstore"
identity_header = "storage-secret"

[[vault]]
name = "policies"
default_access = false
[[vault.access_policy]]
identity = "ci"
keys = ["list"]
[[vault.access_policy]]
identity = "storage"
keys = ["get", "wrapKey", "unwrapKey"]
"#;

async fn emulator() -> TestVault {
    let config = Config::in_memory().with_config_text(CONFIG).unwrap();
    spawn_with(config).await
}

fn login_url(vault: &TestVault, tenant: &str, path: &str) -> String {
    format!("https://localhost:{}/{tenant}{path}", vault.emulator.https_port())
}

async fn token_request(vault: &TestVault, tenant: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = vault
        .http
        .post(login_url(vault, tenant, "/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded;charset=utf-8")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn secret_form<'a>(client_id: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", "https://vault.azure.net/.default"),
    ]
}

#[tokio::test]
async fn openid_metadata_names_this_authority() {
    let vault = emulator().await;
    let tenant = vault.emulator.tenant_id().to_string();
    let url = login_url(&vault, &tenant, "/v2.0/.well-known/openid-configuration");
    let metadata: Value = vault.http.get(&url).send().await.unwrap().json().await.unwrap();
    let base = format!("https://localhost:{}/{tenant}", vault.emulator.https_port());
    assert_eq!(metadata["issuer"], format!("{base}/v2.0"));
    assert_eq!(metadata["token_endpoint"], format!("{base}/oauth2/v2.0/token"));
    assert_eq!(metadata["jwks_uri"], format!("{base}/discovery/v2.0/keys"));
    let unknown = login_url(&vault, "00000000-0000-0000-0000-000000000001", "/v2.0/.well-known/openid-configuration");
    let response = vault.http.get(unknown).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!((body["error"].as_str(), body["error_codes"][0].as_u64()), (Some("invalid_tenant"), Some(90002)));
}

#[tokio::test]
async fn client_secrets_get_tokens_that_the_vaults_accept_as_the_principal() {
    let vault = emulator().await;
    let tenant = vault.emulator.tenant_id().to_string();
    let ci = vault.emulator.identity("ci").unwrap();
    let ci_id = ci.client_id.to_string();

    let (status, body) = token_request(&vault, &tenant, &secret_form(&ci_id, "ci-secret")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].is_number(), "expires_in is a number: {body}");
    let token = body["access_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &keyvault_emulator::crypto::base64url::decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["appid"], ci_id);
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["oid"], ci.object_id.to_string());
    assert!(claims.get("xms_mirid").is_none());

    // The vault sees the service principal: it may list and nothing else.
    let list = format!("{}/keys?{API}", vault.emulator.vault_url("policies"));
    assert_eq!(vault.call_as(Method::GET, &list, Some(token), None).await.0, StatusCode::OK);
    let create = format!("{}/keys/x/create?{API}", vault.emulator.vault_url("policies"));
    let (status, body) =
        vault.call_as(Method::POST, &create, Some(token), Some(serde_json::json!({"kty": "EC"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The default admin signs in with its documented secret and holds every permission.
    let admin = vault.emulator.identity("admin").unwrap().client_id.to_string();
    let (status, body) = token_request(&vault, &tenant, &secret_form(&admin, "keyvault-emulator-admin-secret")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = format!("{}/keys/x/create?{API}", vault.emulator.vault_url("default"));
    let (status, _) =
        vault.call_as(Method::POST, &url, body["access_token"].as_str(), Some(serde_json::json!({"kty": "EC"}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn token_errors_are_entra_bodies() {
    let vault = emulator().await;
    let tenant = vault.emulator.tenant_id().to_string();
    let ci = vault.emulator.identity("ci").unwrap().client_id.to_string();
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Form, StatusCode, &str, u64)> = vec![
        (secret_form(&ci, "wrong"), StatusCode::UNAUTHORIZED, "invalid_client", 7000215),
        (
            secret_form("00000000-0000-0000-0000-00000000000a", "x"),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
        ),
        (
            vec![("grant_type", "password"), ("client_id", &ci), ("scope", "https://vault.azure.net/.default")],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &ci),
                ("client_secret", "ci-secret"),
                ("scope", "https://vault.azure.net/keys"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &ci),
                ("scope", "https://vault.azure.net/.default"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
        ),
    ];
    for (form, status, error, code) in cases {
        let (got, body) = token_request(&vault, &tenant, &form).await;
        assert_eq!(
            (got, body["error"].as_str(), body["error_codes"][0].as_u64()),
            (status, Some(error), Some(code)),
            "{body}"
        );
        assert!(body["error_description"].as_str().unwrap().starts_with(&format!("AADSTS{code}: ")));
    }
    let (status, body) =
        token_request(&vault, "00000000-0000-0000-0000-000000000001", &secret_form(&ci, "ci-secret")).await;
    assert_eq!((status, body["error_codes"][0].as_u64()), (StatusCode::BAD_REQUEST, Some(90002)));
}

async fn federated(vault: &TestVault, issuer: &str, subject: &str) -> String {
    let url = format!("{}/_emulator/federated-token", vault.emulator.http_url());
    let body: Value = reqwest::Client::new()
        .get(url)
        .query(&[("issuer", issuer), ("subject", subject)])
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn federated_assertions_must_match_a_credential_and_come_from_the_emulators_issuer() {
    let vault = emulator().await;
    let tenant = vault.emulator.tenant_id().to_string();
    let ci = vault.emulator.identity("ci").unwrap().client_id.to_string();
    let exchange = |assertion: String| {
        let (vault, tenant, ci) = (&vault, tenant.clone(), ci.clone());
        async move {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", ci.as_str()),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &format!("{assertion}\n")),
                ("scope", "https://vault.azure.net/.default"),
            ];
            token_request(vault, &tenant, &form).await
        }
    };
    let good = federated(&vault, "https://ci.example", "repo:org/app:ref:refs/heads/main").await;
    let (status, body) = exchange(good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims: Value = serde_json::from_slice(
        &keyvault_emulator::crypto::base64url::decode(
            body["access_token"].as_str().unwrap().split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["appidacr"], "2");

    let wrong_subject = federated(&vault, "https://ci.example", "repo:org/app:pull_request").await;
    assert_eq!(exchange(wrong_subject).await.1["error_codes"][0], 700213);
    let wrong_issuer = federated(&vault, "https://other.example", "repo:org/app:ref:refs/heads/main").await;
    assert_eq!(exchange(wrong_issuer).await.1["error_codes"][0], 700211);
    // Right claims, wrong key: an access token of the emulator dressed as an assertion.
    let forged = {
        let url = format!("{}/attestation/generate-test-token", vault.emulator.vault_url("default"));
        let claims = serde_json::json!({"claims": {"sub": "repo:org/app:ref:refs/heads/main", "aud": "api://AzureADTokenExchange"}});
        let minted: Value = vault.http.post(url).json(&claims).send().await.unwrap().json().await.unwrap();
        minted["token"].as_str().unwrap().to_owned()
    };
    let (status, body) = exchange(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn the_identity_header_selects_the_system_assigned_identity() {
    let vault = emulator().await;
    let storage = vault.emulator.identity("storage").unwrap();
    let body: Value = reqwest::Client::new()
        .get(vault.emulator.identity_endpoint())
        .query(&[("api-version", "2019-08-01"), ("resource", "https://vault.azure.net")])
        .header("X-IDENTITY-HEADER", "storage-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["client_id"], storage.client_id.to_string());
    let token = body["access_token"].as_str().unwrap();
    let url = format!("{}/keys/none?{API}", vault.emulator.vault_url("policies"));
    let (status, _) = vault.call_as(Method::GET, &url, Some(token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "get is allowed; the key just does not exist");
    let list = format!("{}/keys?{API}", vault.emulator.vault_url("policies"));
    assert_eq!(vault.call_as(Method::GET, &list, Some(token), None).await.0, StatusCode::FORBIDDEN);
}

const TENANTS: &str = r#"
[[tenant]]
name = "contoso"
[[tenant]]
name = "fabrikam"

[[identity]]
name = "fabrikam-app"
type = "user-assigned"
tenant = "fabrikam"

[[vault]]
name = "rbac"
tenant = "fabrikam"
default_access = false
[[vault.access_policy]]
identity = "fabrikam-app"
keys = ["list"]
"#;

#[tokio::test]
async fn a_vault_accepts_only_tokens_of_its_own_tenant() {
    let config = Config::in_memory().with_config_text(TENANTS).unwrap();
    let vault = spawn_with(config).await;
    let fabrikam = vault.emulator.identity("fabrikam-app").unwrap();
    let url = format!("{}/keys?{API}", vault.emulator.vault_url("rbac"));

    // The challenge names the vault's tenant, so SDKs ask for a token there.
    let response = vault.http.get(&url).send().await.unwrap();
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains(&format!("/{}\"", fabrikam.tenant_id)), "{challenge}");

    let own = vault.emulator.token_for_identity("fabrikam-app", "https://vault.azure.net").await.unwrap();
    assert_eq!(vault.call_as(Method::GET, &url, Some(&own), None).await.0, StatusCode::OK);
    let foreign = vault.emulator.token_for_identity("default", "https://vault.azure.net").await.unwrap();
    let (status, body) = vault.call_as(Method::GET, &url, Some(&foreign), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("AKV10032: Invalid issuer."), "{body}");
}
