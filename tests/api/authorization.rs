//! The authorization matrix: every vault operation × {no grant, exactly its grant, everything}
//! on an access-policy vault, and × every built-in role on an RBAC vault, with the exact 403
//! bodies; key-scoped role assignments; and revocation taking effect on the next request.

use keyvault_emulator::api::data_plane::route_table::ROUTE_CASES;
use keyvault_emulator::auth::table::ANY_KEY_PERMISSION;
use keyvault_emulator::{Config, Emulator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn_with};

const CONFIG: &str = r#"
[[identity]]
name = "subject"
type = "user-assigned"

[[vault]]
name = "policies"
[[vault.key]]
name = "k1"
kty = "RSA"

[[vault]]
name = "rbac"
rbac = true
[[vault.key]]
name = "k1"
kty = "RSA"
"#;

/// (method, path, access-policy permission, RBAC data action below Microsoft.KeyVault/vaults/),
/// from the one routing table the in-process routing test checks against the router.
fn routes(version: &str) -> Vec<(Method, String, &'static str, &'static str)> {
    ROUTE_CASES
        .iter()
        .map(|case| {
            (
                Method::from_bytes(case.method.as_bytes()).unwrap(),
                case.path_with(version),
                case.permission,
                case.data_action,
            )
        })
        .collect()
}

/// The built-in roles and, independently of the emulator's tables, what each one allows
/// (contract §4b), as the data actions above.
const ROLES: &[(&str, &[&str])] = &[
    ("00482a5a-887f-4fb3-b363-3b7fe8e74483", &["*"]),
    ("14b46e9e-c2b7-41b4-b07b-48a6ebf60603", &["*"]),
    (
        "12338af0-0e69-4776-bea7-57ae8d297424",
        &[
            "keys/read",
            "keys/update/action",
            "keys/backup/action",
            "keys/encrypt/action",
            "keys/decrypt/action",
            "keys/wrap/action",
            "keys/unwrap/action",
            "keys/sign/action",
            "keys/verify/action",
        ],
    ),
    ("e147488a-f6f5-4113-8e2d-b22465e65bf6", &["keys/read", "keys/wrap/action", "keys/unwrap/action"]),
    ("08bbd89e-9f13-488c-ac41-acfcb10c90ab", &["keys/release/action"]),
    ("21090545-7ca7-4776-b22c-e363652d74d2", &["keys/read", "keyrotationpolicies/read"]),
    ("f25e0fa2-a7c8-4377-a976-54943a77a395", &[]),
    ("8b54135c-b56d-4d72-a534-26097cfdc8d8", &[]),
];

fn body_for(path: &str) -> Option<Value> {
    let body = if path.ends_with("/create") {
        json!({"kty": "EC"})
    } else if path.ends_with("/k2") {
        json!({"key": {"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAA"}})
    } else if ["/encrypt", "/wrapkey", "/decrypt", "/unwrapkey"].iter().any(|op| path.ends_with(op)) {
        json!({"alg": "RSA-OAEP", "value": "AAAA"})
    } else if path.ends_with("/securewrapkey") {
        json!({"alg": "RSA-OAEP-256"})
    } else if path.ends_with("/secureunwrapkey") {
        json!({"alg": "RSA-OAEP-256", "value": "AAAA", "target": "x"})
    } else if path.ends_with("/sign") {
        json!({"alg": "RS256", "value": "AAAA"})
    } else if path.ends_with("/verify") {
        json!({"alg": "RS256", "digest": "AAAA", "value": "AAAA"})
    } else if path.ends_with("/restore") {
        json!({"value": "AAAA"})
    } else if path.ends_with("/release") {
        json!({"target": "x"})
    } else if path.ends_with("/rotationpolicy") {
        json!({"lifetimeActions": []})
    } else if path == "/rng" {
        json!({"count": 8})
    } else {
        return None;
    };
    Some(body)
}

async fn emulator() -> (TestVault, String) {
    let config = Config::in_memory().with_config_text(CONFIG).unwrap();
    let vault = spawn_with(config).await;
    let token = vault.emulator.token_for_identity("subject", "https://vault.azure.net").await.unwrap();
    (vault, token)
}

async fn set_authorization(vault: &TestVault, name: &str, authorization: Value) {
    let url = format!("{}/_emulator/vaults/{name}/authorization", vault.emulator.http_url());
    let response = reqwest::Client::new().put(url).json(&authorization).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

async fn object_id(emulator: &Emulator, name: &str) -> String {
    let list: Value =
        reqwest::get(format!("{}/_emulator/identities", emulator.http_url())).await.unwrap().json().await.unwrap();
    list["value"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap()["objectId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn version_of(vault: &TestVault, name: &str) -> String {
    let (_, key) = vault.call_in(name, Method::GET, &format!("/keys/k1?{API}"), None).await;
    key["key"]["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

async fn call(vault: &TestVault, vault_name: &str, token: &str, method: &Method, path: &str) -> (StatusCode, Value) {
    let separator = if path.contains('?') { '&' } else { '?' };
    let url = format!("{}{path}{separator}{API}", vault.emulator.vault_url(vault_name));
    vault.call_as(method.clone(), &url, Some(token), body_for(path)).await
}

#[tokio::test]
async fn access_policy_matrix() {
    let (vault, token) = emulator().await;
    let me = object_id(&vault.emulator, "subject").await;
    let tenant = vault.emulator.tenant_id().to_string();
    let version = version_of(&vault, "policies").await;
    let admin_policies = |extra: Option<Value>| {
        let mut policies = vec![];
        if let Some(extra) = extra {
            policies.push(extra);
        }
        json!({"accessPolicies": policies})
    };
    // Random bytes need any key permission rather than one of their own (auth::table).
    for (method, path, permission, _) in routes(&version).into_iter().filter(|r| r.2 != ANY_KEY_PERMISSION) {
        set_authorization(&vault, "policies", admin_policies(None)).await;
        let (status, body) = call(&vault, "policies", &token, &method, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no policy: {method} {path}: {body}");
        assert_eq!(error_codes(&body), ("Forbidden".into(), Some("AccessDenied".into())));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("The user, group or application 'appid=")
                && message.contains(&format!(";oid={me};iss=https://sts.windows.net/{tenant}/'"))
                && message
                    .contains(&format!("does not have keys {permission} permission on key vault 'policies;location=")),
            "{message}"
        );

        let exactly = json!({"tenantId": tenant, "objectId": me, "permissions": {"keys": [permission.to_uppercase()]}});
        set_authorization(&vault, "policies", admin_policies(Some(exactly))).await;
        let (status, body) = call(&vault, "policies", &token, &method, &path).await;
        assert!(
            status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
            "exactly {permission}: {method} {path}: {status} {body}"
        );

        let all = json!({"tenantId": tenant, "objectId": me, "permissions": {"keys": ["all"]}});
        set_authorization(&vault, "policies", admin_policies(Some(all))).await;
        let (status, body) = call(&vault, "policies", &token, &method, &path).await;
        assert!(status != StatusCode::FORBIDDEN, "all: {method} {path}: {status} {body}");
    }
    // Exactly one permission allows nothing else.
    let only_get = json!({"tenantId": tenant, "objectId": me, "permissions": {"keys": ["get"]}});
    set_authorization(&vault, "policies", admin_policies(Some(only_get))).await;
    for (method, path, permission, _) in
        routes(&version).into_iter().filter(|r| !["get", ANY_KEY_PERMISSION].contains(&r.2))
    {
        let (status, _) = call(&vault, "policies", &token, &method, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "get alone must not allow {permission}: {method} {path}");
    }
}

#[tokio::test]
async fn rbac_matrix_with_every_built_in_role() {
    let (vault, token) = emulator().await;
    let me = object_id(&vault.emulator, "subject").await;
    let version = version_of(&vault, "rbac").await;
    let admin = object_id(&vault.emulator, "admin").await;
    let admin_assignment = json!({"principalId": admin, "roleDefinitionId": "00482a5a-887f-4fb3-b363-3b7fe8e74483", "scope": {"kind": "vault"}});

    set_authorization(&vault, "rbac", json!({"enableRbacAuthorization": true, "roleAssignments": [admin_assignment]}))
        .await;
    for (method, path, _, action) in routes(&version) {
        let (status, body) = call(&vault, "rbac", &token, &method, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no role: {method} {path}: {body}");
        assert_eq!(error_codes(&body), ("Forbidden".into(), Some("ForbiddenByRbac".into())));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Caller is not authorized to perform action on resource.\r\n"), "{message}");
        assert!(message.contains(&format!("\r\nAction: 'Microsoft.KeyVault/vaults/{action}'\r\n")), "{message}");
        assert!(message.contains("/providers/microsoft.keyvault/vaults/rbac"), "{message}");
        assert!(message.contains("\r\nVault: rbac;location="), "{message}");
    }

    for (role, allowed) in ROLES {
        let mine = json!({"principalId": me, "roleDefinitionId": role, "scope": {"kind": "vault"}});
        set_authorization(
            &vault,
            "rbac",
            json!({"enableRbacAuthorization": true, "roleAssignments": [admin_assignment, mine]}),
        )
        .await;
        for (method, path, _, action) in routes(&version) {
            let expected_allowed = allowed.iter().any(|a| *a == "*" || *a == action);
            let (status, body) = call(&vault, "rbac", &token, &method, &path).await;
            if expected_allowed {
                assert!(status != StatusCode::FORBIDDEN, "role {role} should allow {action}: {method} {path}: {body}");
            } else {
                assert_eq!(
                    (status, error_codes(&body).1),
                    (StatusCode::FORBIDDEN, Some("ForbiddenByRbac".into())),
                    "role {role} must refuse {action}: {method} {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn key_scoped_roles_and_revocation_on_the_next_request() {
    let (vault, token) = emulator().await;
    let me = object_id(&vault.emulator, "subject").await;
    let encryption_user = "e147488a-f6f5-4113-8e2d-b22465e65bf6";
    let scoped = json!({"principalId": me, "roleDefinitionId": encryption_user, "scope": {"kind": "key", "key": "k1"}});
    set_authorization(&vault, "rbac", json!({"enableRbacAuthorization": true, "roleAssignments": [scoped]})).await;

    let (vault, token) = (&vault, token.as_str());
    let wrap = |name: &'static str| async move {
        call(vault, "rbac", token, &Method::POST, &format!("/keys/{name}/wrapkey")).await.0
    };
    assert_ne!(wrap("k1").await, StatusCode::FORBIDDEN);
    assert_eq!(wrap("k2").await, StatusCode::FORBIDDEN, "another key is out of scope");
    let (status, _) = call(vault, "rbac", token, &Method::GET, "/keys").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "listing needs vault scope");

    // Revoking: the very next request is refused.
    set_authorization(vault, "rbac", json!({"enableRbacAuthorization": true, "roleAssignments": []})).await;
    assert_eq!(wrap("k1").await, StatusCode::FORBIDDEN);

    // Switching the vault to access policies ignores role assignments, and the other way round.
    let tenant = vault.emulator.tenant_id().to_string();
    let policy = json!({"tenantId": tenant, "objectId": me, "permissions": {"keys": ["wrapKey"]}});
    set_authorization(vault, "rbac", json!({"accessPolicies": [policy], "roleAssignments": [scoped]})).await;
    assert_ne!(wrap("k2").await, StatusCode::FORBIDDEN, "the policy, not the key-scoped role, decides");
    set_authorization(vault, "rbac", json!({"enableRbacAuthorization": true, "accessPolicies": [policy]})).await;
    assert_eq!(wrap("k1").await, StatusCode::FORBIDDEN, "RBAC vaults ignore access policies");
}
