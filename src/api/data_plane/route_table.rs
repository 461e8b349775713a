//! The data plane's routing table as data, in the spirit of garage's router `test_cases!`: each
//! (method, example URL) with the operation the router must pick and the access-policy
//! permission and RBAC data action that operation needs. It is the one written source of truth:
//! the in-process test below checks the router and `auth::table` against it, and the HTTPS
//! authorization matrix (`tests/api/authorization.rs`) is generated from it.
//!
//! Example paths name key `k1` (which the matrix seeds), `k2` (created or imported), `gone`
//! (deleted) and `{version}` (the current version of `k1`, filled in by the caller).

use crate::auth::table::Operation;

/// One row: a request and what it must need.
#[derive(Clone, Copy, Debug)]
pub struct RouteCase {
    pub method: &'static str,
    /// Path and no query; `{version}` stands for a version of `k1`.
    pub path: &'static str,
    pub operation: Operation,
    /// The access-policy key permission, as ARM spells it (`any`: any key permission).
    pub permission: &'static str,
    /// The RBAC data action below `Microsoft.KeyVault/vaults/`.
    pub data_action: &'static str,
}

const fn case(
    method: &'static str,
    path: &'static str,
    operation: Operation,
    permission: &'static str,
    data_action: &'static str,
) -> RouteCase {
    RouteCase { method, path, operation, permission, data_action }
}

use Operation as Op;

pub const ROUTE_CASES: &[RouteCase] = &[
    case("GET", "/keys", Op::ListKeys, "list", "keys/read"),
    case("GET", "/keys/k1", Op::GetKey, "get", "keys/read"),
    case("GET", "/keys/k1/", Op::GetKey, "get", "keys/read"),
    case("GET", "/keys/k1/{version}", Op::GetKey, "get", "keys/read"),
    case("PATCH", "/keys/k1", Op::UpdateKey, "update", "keys/update/action"),
    case("PATCH", "/keys/k1/{version}", Op::UpdateKey, "update", "keys/update/action"),
    case("POST", "/keys/k2/create", Op::CreateKey, "create", "keys/create/action"),
    case("PUT", "/keys/k2", Op::ImportKey, "import", "keys/import/action"),
    case("GET", "/keys/k1/versions", Op::ListKeyVersions, "list", "keys/read"),
    case("DELETE", "/keys/gone", Op::DeleteKey, "delete", "keys/delete"),
    case("GET", "/deletedkeys", Op::ListDeletedKeys, "list", "keys/read"),
    case("GET", "/deletedkeys/gone", Op::GetDeletedKey, "get", "keys/read"),
    case("POST", "/deletedkeys/gone/recover", Op::RecoverDeletedKey, "recover", "keys/recover/action"),
    case("DELETE", "/deletedkeys/gone", Op::PurgeDeletedKey, "purge", "keys/purge/action"),
    case("POST", "/keys/k1/backup", Op::BackupKey, "backup", "keys/backup/action"),
    case("POST", "/keys/restore", Op::RestoreKey, "restore", "keys/restore/action"),
    case("POST", "/keys/k1/encrypt", Op::Encrypt, "encrypt", "keys/encrypt/action"),
    case("POST", "/keys/k1/{version}/encrypt", Op::Encrypt, "encrypt", "keys/encrypt/action"),
    case("POST", "/keys/k1/decrypt", Op::Decrypt, "decrypt", "keys/decrypt/action"),
    case("POST", "/keys/k1/{version}/decrypt", Op::Decrypt, "decrypt", "keys/decrypt/action"),
    case("POST", "/keys/k1/sign", Op::Sign, "sign", "keys/sign/action"),
    case("POST", "/keys/k1/{version}/sign", Op::Sign, "sign", "keys/sign/action"),
    case("POST", "/keys/k1//verify", Op::Verify, "verify", "keys/verify/action"),
    case("POST", "/keys/k1/{version}/verify", Op::Verify, "verify", "keys/verify/action"),
    case("POST", "/keys/k1/wrapkey", Op::WrapKey, "wrapKey", "keys/wrap/action"),
    case("POST", "/keys/k1/{version}/wrapkey", Op::WrapKey, "wrapKey", "keys/wrap/action"),
    case("POST", "/keys/k1/unwrapkey", Op::UnwrapKey, "unwrapKey", "keys/unwrap/action"),
    case("POST", "/keys/k1/{version}/unwrapkey", Op::UnwrapKey, "unwrapKey", "keys/unwrap/action"),
    case("POST", "/keys/k1/securewrapkey", Op::WrapKey, "wrapKey", "keys/wrap/action"),
    case("POST", "/keys/k1/{version}/secureunwrapkey", Op::UnwrapKey, "unwrapKey", "keys/unwrap/action"),
    case("POST", "/keys/k1/release", Op::Release, "release", "keys/release/action"),
    case("POST", "/keys/k1/{version}/release", Op::Release, "release", "keys/release/action"),
    case("POST", "/keys/k1/rotate", Op::RotateKey, "rotate", "keys/rotate/action"),
    case("GET", "/keys/k1/rotationpolicy", Op::GetRotationPolicy, "getrotationpolicy", "keyrotationpolicies/read"),
    case("PUT", "/keys/k1/rotationpolicy", Op::SetRotationPolicy, "setrotationpolicy", "keyrotationpolicies/write"),
    case("GET", "/keys/k1/attestation", Op::GetKeyAttestation, "get", "keys/read"),
    case("GET", "/keys/k1/{version}/attestation", Op::GetKeyAttestation, "get", "keys/read"),
    case("POST", "/rng", Op::GetRandomBytes, "any", "keys/read"),
];

impl RouteCase {
    /// The path with `{version}` replaced by `version`.
    #[must_use]
    pub fn path_with(&self, version: &str) -> String {
        self.path.replace("{version}", version)
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;

    use super::*;
    use crate::api::test_app::{self, API};
    use crate::auth::table::{ANY_KEY_PERMISSION, NOT_ON_VAULTS, TABLE};

    #[test]
    fn every_case_needs_what_the_authorization_table_says() {
        for case in ROUTE_CASES {
            assert_eq!(case.operation.permission(), case.permission, "{} {}", case.method, case.path);
            let action = format!("Microsoft.KeyVault/vaults/{}", case.data_action);
            assert_eq!(case.operation.data_action(), action, "{} {}", case.method, case.path);
        }
        // Local RBAC and the security domain are Managed HSM routes (auth::local_rbac_matrix).
        for (operation, permission, ..) in TABLE.iter().filter(|(_, permission, ..)| *permission != NOT_ON_VAULTS) {
            assert!(ROUTE_CASES.iter().any(|c| c.operation == *operation), "no route case for {operation:?}");
            assert!(*permission != ANY_KEY_PERMISSION || *operation == Operation::GetRandomBytes);
        }
    }

    /// Each (method, URL) reaches the operation the table names: a fault injected for exactly
    /// that operation answers it, and no other operation's would.
    #[tokio::test]
    async fn the_router_picks_each_cases_operation() {
        let state = test_app::state().await;
        let router = crate::api::router::https_router(state.clone());
        let token = test_app::token_for(&state, crate::auth::identity::DEFAULT_IDENTITY);
        let version = "0123456789abcdef0123456789abcdef";
        for case in ROUTE_CASES {
            let name = format!("{:?}", case.operation);
            state.faults.add(crate::vaults::DEFAULT_VAULT, Some(&name), 1, 503, None).unwrap();
            let uri = format!("{}?{API}", case.path_with(version));
            let request = test_app::vault_request(case.method, &uri, Some(&token), Body::from("{}"));
            let (status, body) = test_app::json_of(test_app::send(&router, request).await).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{} {} is not {name}: {body}", case.method, case.path);
            assert!(!state.faults.any(), "{} {}: the {name} fault was not the one taken", case.method, case.path);
        }
    }
}
