//! The fixture: the library's in-process emulator (`Emulator` with feature `fixture`: its
//! HTTPS client, SDK transport and credentials), plus raw request helpers for exact error shapes.

use azure_core::http::ClientOptions;
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use keyvault_emulator::{Config, Emulator};
use reqwest::StatusCode;
use serde_json::Value;

pub const API: &str = "api-version=2025-07-01";

pub struct TestVault {
    pub emulator: Emulator,
    pub http: reqwest::Client,
}

pub async fn spawn() -> TestVault {
    spawn_with(Config::in_memory()).await
}

pub async fn spawn_with(config: Config) -> TestVault {
    let emulator = Emulator::start(config).await.expect("emulator starts");
    let http = emulator.http_client();
    TestVault { emulator, http }
}

impl TestVault {
    pub fn vault_url(&self) -> String {
        self.emulator.vault_url("default")
    }

    /// As [`TestVault::call`], against vault `vault`.
    pub async fn call_in(
        &self,
        vault: &str,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = self.token().await;
        self.call_as(method, &format!("{}{path_and_query}", self.emulator.vault_url(vault)), Some(&token), body).await
    }

    /// The official Rust SDK client with default settings (challenge verification on), over a
    /// transport that trusts the emulator's CA.
    pub fn key_client(&self) -> KeyClient {
        self.key_client_for("default")
    }

    /// As [`TestVault::key_client`], for vault `vault`.
    pub fn key_client_for(&self, vault: &str) -> KeyClient {
        let options = KeyClientOptions {
            client_options: ClientOptions { transport: Some(self.emulator.transport()), ..Default::default() },
            ..Default::default()
        };
        KeyClient::new(&self.emulator.vault_url(vault), self.emulator.credential("default"), Some(options))
            .expect("key client")
    }

    /// A managed-identity token for `resource`, straight from the App Service endpoint.
    pub async fn token_for(&self, resource: &str) -> String {
        let body: Value = reqwest::Client::new()
            .get(self.emulator.identity_endpoint())
            .query(&[("api-version", "2019-08-01"), ("resource", resource)])
            .header("X-IDENTITY-HEADER", "anything")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn token(&self) -> String {
        self.token_for("https://vault.azure.net").await
    }

    /// Sends `method path` to the default vault with a valid token; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = self.token().await;
        self.call_as(method, &format!("{}{path_and_query}", self.vault_url()), Some(&token), body).await
    }

    pub async fn call_as(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    pub async fn create_rsa(&self, name: &str) -> Value {
        let (status, body) = self
            .call(reqwest::Method::POST, &format!("/keys/{name}/create?{API}"), Some(serde_json::json!({"kty": "RSA"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// The error code and inner code of a Key Vault error body.
pub fn error_codes(body: &Value) -> (String, Option<String>) {
    (
        body["error"]["code"].as_str().unwrap_or_default().to_owned(),
        body["error"]["innererror"]["code"].as_str().map(str::to_owned),
    )
}
