//! openapi/openapi.yaml describes exactly what the emulator serves: every (path, method) the
//! router answers is documented, and every documented one is answered. The router's path
//! templates come from the router itself; which methods each serves is found by asking it.

use std::collections::BTreeSet;

use keyvault_emulator::{Config, Emulator};
use reqwest::Method;
use yaml_rust2::{Yaml, YamlLoader};

const PROBED_METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// A path template compared across the two: literal segments lower-cased (Resource Manager
/// paths match case-insensitively and the router folds them), parameter names dropped.
fn normalize(template: &str) -> String {
    template
        .split('/')
        .map(|segment| if segment.starts_with('{') { "{}".to_owned() } else { segment.to_ascii_lowercase() })
        .collect::<Vec<_>>()
        .join("/")
}

/// The documented operations: (path template, method), HEAD included.
fn documented() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml")).unwrap();
    let doc = YamlLoader::load_from_str(&text).expect("openapi.yaml is YAML").remove(0);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "an OpenAPI 3.1 document");
    let paths = doc["paths"].as_hash().expect("a paths object");
    let mut operations = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("a path");
        for (method, _) in item.as_hash().unwrap_or_else(|| panic!("{path}: an object")) {
            let Yaml::String(method) = method else { continue };
            if PROBED_METHODS.contains(&method.as_str()) || method == "head" {
                operations.push((path.to_owned(), method.clone()));
            }
        }
    }
    operations
}

/// A concrete path for a template: every parameter gets a plausible value.
fn concrete(template: &str, emulator: &Emulator) -> String {
    let subscription = keyvault_emulator::auth::identity::default_subscription(emulator.tenant_id()).to_string();
    template
        .split('/')
        .map(|segment| match segment {
            "{tenant}" => emulator.tenant_id().to_string(),
            "{subscription}" => subscription.clone(),
            "{version}" => "0123456789abcdef0123456789abcdef".to_owned(),
            s if s.starts_with('{') => "probe".to_owned(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router has a handler for `method` on `path`: anything but its own 405 and its
/// own route-not-found 404 (a handler's 404, such as KeyNotFound, counts as served).
async fn serves(client: &reqwest::Client, url: &str, method: &str, token: &str) -> bool {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let response = client.request(method, url).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let fallback_404 = status == 404
        && body["error"]["message"].as_str().is_some_and(|m| m.starts_with("The requested resource does not exist"));
    !(status == 405 || fallback_404)
}

#[tokio::test]
async fn the_openapi_document_and_the_router_agree() {
    let emulator = Emulator::start(Config::in_memory()).await.unwrap();
    let client = emulator.http_client();
    let vault_token = emulator.token_for_identity("admin", "https://vault.azure.net").await.unwrap();
    let arm_token = emulator.token_for_identity("admin", "https://management.azure.com").await.unwrap();
    let (https, http) = emulator.route_templates();
    assert!(https.len() > 40 && http.len() > 5, "the router reports its templates");

    let base_for = |template: &str| {
        if http.iter().any(|t| t == template) { emulator.http_url() } else { emulator.vault_url("default") }
    };
    let token_for = |template: &str| if template.starts_with("/subscriptions") { &arm_token } else { &vault_token };
    let url_for =
        |base: &str, template: &str| format!("{base}{}?api-version=2025-07-01", concrete(template, &emulator));

    // Router → document: every method a router template answers is documented.
    let documented = documented();
    let documented_set: BTreeSet<_> =
        documented.iter().map(|(path, method)| (normalize(path), method.clone())).collect();
    let mut undocumented = Vec::new();
    for template in https.iter().chain(&http) {
        for method in PROBED_METHODS {
            let url = url_for(&base_for(template), template);
            if serves(&client, &url, method, token_for(template)).await
                && !documented_set.contains(&(normalize(template), method.to_owned()))
            {
                undocumented.push(format!("{} {template}", method.to_ascii_uppercase()));
            }
        }
    }
    assert!(undocumented.is_empty(), "served but not in openapi/openapi.yaml: {undocumented:#?}");

    // Document → router: every documented operation is answered, on the listener that serves it.
    let templates: BTreeSet<_> = https.iter().chain(&http).map(|t| normalize(t)).collect();
    let mut unserved = Vec::new();
    for (path, method) in &documented {
        let served_template = https.iter().chain(&http).find(|t| normalize(t) == normalize(path));
        // A literal path such as /keys/restore is served by a template (/keys/{name}).
        let template = served_template.map_or(path.as_str(), String::as_str);
        let url = url_for(&base_for(template), path);
        if !serves(&client, &url, method, token_for(path)).await {
            unserved.push(format!("{} {path}", method.to_ascii_uppercase()));
        }
    }
    assert!(unserved.is_empty(), "in openapi/openapi.yaml but not served: {unserved:#?}");
    assert!(templates.len() > 50);
}

/// The document's api-version enum (what schemathesis draws from) is the version table, in order.
#[test]
fn the_documented_api_versions_are_the_version_table() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml")).unwrap();
    let doc = YamlLoader::load_from_str(&text).expect("openapi.yaml is YAML").remove(0);
    let documented: Vec<&str> = doc["components"]["parameters"]["ApiVersion"]["schema"]["enum"]
        .as_vec()
        .expect("an api-version enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let table: Vec<&str> = keyvault_emulator::api_version::DATA_PLANE.iter().map(|v| v.name).collect();
    assert_eq!(documented, table, "openapi.yaml's ApiVersion enum must list src/api_version.rs's DATA_PLANE");
}
