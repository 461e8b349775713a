//! `GET /metadata/endpoints`: the cloud description Resource Manager publishes, so that a client
//! given only the management URL (`az cloud register --endpoint-resource-manager`, Terraform's
//! metadata host) discovers every other endpoint. Every URL is the emulator's own, as the client
//! addressed it (host and port from the request): login, Resource Manager, Microsoft Graph. The
//! Key Vault DNS suffix keeps the port, since `az` appends it to a vault name to build the vault
//! URL. Unauthenticated and read-only, as on Azure. Services the emulator does not serve
//! (portal, batch, storage, SQL, Azure AD Graph, managed HSM until it exists) are left out
//! rather than pointed at the real cloud.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use super::extract::Origin;
use super::routes::Routes;

pub fn router() -> Routes {
    Routes::new().route("/metadata/endpoints", get(cloud_endpoints))
}

/// The cloud's name in the document; `az` keeps the name the user registers instead.
const CLOUD_NAME: &str = "KeyVaultEmulator";

/// The audiences of management tokens: `az` asks for the first, the management API accepts both.
const MANAGEMENT_AUDIENCES: [&str; 2] = ["https://management.core.windows.net/", "https://management.azure.com/"];

async fn cloud_endpoints(State(state): State<AppState>, Origin(origin): Origin, RawQuery(query): RawQuery) -> Response {
    let has_api_version = serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""))
        .unwrap_or_default()
        .iter()
        .any(|(name, value)| name == "api-version" && !value.is_empty());
    if !has_api_version {
        let body = json!({"error": {
            "code": "MissingApiVersionParameter",
            "message": crate::messages::management::CLOUD_METADATA_API_VERSION_REQUIRED,
        }});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    Json(cloud_document(&origin, &state.facts.domain)).into_response()
}

/// The document for a client that reached the emulator at `origin` (`https://host[:port]`).
fn cloud_document(origin: &str, vault_domain: &str) -> Value {
    let port = super::host::split_authority(origin.trim_start_matches("https://")).1;
    let with_port = |domain: &str| match port {
        Some(port) => format!("{domain}:{port}"),
        None => domain.to_owned(),
    };
    let key_vault_dns = with_port(vault_domain);
    // `az ... --hsm-name X` builds `https://X.{mhsmDns}` from this suffix.
    let managed_hsm_dns = with_port(&crate::vaults::hsm_domain(vault_domain));
    let own = format!("{origin}/");
    json!({
        "name": CLOUD_NAME,
        "resourceManager": own,
        "authentication": {
            "loginEndpoint": own,
            "audiences": MANAGEMENT_AUDIENCES,
            "tenant": "common",
            "identityProvider": "AAD",
        },
        // The Graph subset the emulator serves (api::graph): its resource id is also its URL,
        // as `az` uses one for both.
        "microsoftGraphResourceId": own,
        "suffixes": {
            "keyVaultDns": key_vault_dns,
            "mhsmDns": managed_hsm_dns,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::cloud_document;

    #[test]
    fn every_endpoint_is_the_emulators_own_and_the_vault_suffix_keeps_the_port() {
        let doc = cloud_document("https://localhost:8443", "vault.localhost");
        assert_eq!(doc["resourceManager"], "https://localhost:8443/");
        assert_eq!(doc["authentication"]["loginEndpoint"], "https://localhost:8443/");
        assert_eq!(doc["authentication"]["audiences"][0], "https://management.core.windows.net/");
        assert_eq!(doc["microsoftGraphResourceId"], "https://localhost:8443/");
        assert_eq!(doc["suffixes"]["keyVaultDns"], "vault.localhost:8443");
        assert_eq!(doc["suffixes"]["mhsmDns"], "managedhsm.localhost:8443");
        let behind_a_proxy = cloud_document("https://kv.example", "vault.example");
        assert_eq!(behind_a_proxy["suffixes"]["keyVaultDns"], "vault.example");
        assert_eq!(
            cloud_document("https://[::1]:9443", "vault.localhost")["suffixes"]["keyVaultDns"],
            "vault.localhost:9443"
        );
    }
}
