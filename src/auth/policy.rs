//! Access policies and the authorization decision for access-policy vaults (contract §4a).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Principal;
use super::table::{ANY_KEY_PERMISSION, Operation};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    #[serde(default)]
    pub keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicy {
    pub tenant_id: Uuid,
    pub object_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Uuid>,
    pub permissions: Permissions,
}

impl AccessPolicy {
    /// A policy granting every key permission.
    #[must_use]
    pub fn all_keys(tenant_id: Uuid, object_id: Uuid) -> Self {
        Self { tenant_id, object_id, application_id: None, permissions: Permissions { keys: vec!["all".into()] } }
    }

    fn applies_to(&self, principal: &Principal) -> bool {
        self.tenant_id == principal.tenant_id
            && self.object_id == principal.object_id
            && self.application_id.is_none_or(|app| app == principal.app_id)
    }

    fn grants(&self, permission: &str) -> bool {
        if permission == ANY_KEY_PERMISSION {
            return !self.permissions.keys.is_empty();
        }
        self.permissions.keys.iter().any(|p| p.eq_ignore_ascii_case("all") || p.eq_ignore_ascii_case(permission))
    }
}

/// Why a caller was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub permission: &'static str,
    pub data_action: &'static str,
}

/// Does any of the vault's policies grant `operation` to `principal`?
pub fn authorize(policies: &[AccessPolicy], principal: &Principal, operation: Operation) -> Result<(), Denied> {
    decide(policies, principal, operation).outcome.map(|_| ())
}

/// Which policy decided: the index of the one that granted, or, on a refusal, of the caller's
/// own policy that lacks the permission (`None`: the caller has no policy on the vault).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDecision {
    pub outcome: Result<usize, Denied>,
    pub callers_policy: Option<usize>,
}

/// [`authorize`], saying which policy decided, for the audit log.
#[must_use]
pub fn decide(policies: &[AccessPolicy], principal: &Principal, operation: Operation) -> PolicyDecision {
    let permission = operation.permission();
    match policies.iter().position(|p| p.applies_to(principal) && p.grants(permission)) {
        Some(index) => PolicyDecision { outcome: Ok(index), callers_policy: Some(index) },
        None => PolicyDecision {
            outcome: Err(Denied { permission, data_action: operation.data_action() }),
            callers_policy: policies.iter().position(|p| p.applies_to(principal)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            tenant_id: Uuid::from_u128(1),
            object_id: Uuid::from_u128(2),
            app_id: Uuid::from_u128(3),
            issuer: "iss".into(),
        }
    }

    fn policy(keys: &[&str]) -> AccessPolicy {
        AccessPolicy {
            tenant_id: Uuid::from_u128(1),
            object_id: Uuid::from_u128(2),
            application_id: None,
            permissions: Permissions { keys: keys.iter().map(|s| (*s).to_owned()).collect() },
        }
    }

    #[test]
    fn cmk_identity_gets_exactly_get_wrap_unwrap() {
        let policies = [policy(&["Get", "WrapKey", "UnwrapKey"])];
        for op in [Operation::GetKey, Operation::WrapKey, Operation::UnwrapKey] {
            assert!(authorize(&policies, &principal(), op).is_ok(), "{op:?}");
        }
        for op in [Operation::CreateKey, Operation::Decrypt, Operation::ListKeys, Operation::PurgeDeletedKey] {
            assert_eq!(authorize(&policies, &principal(), op).unwrap_err().permission, op.permission());
        }
    }

    #[test]
    fn all_grants_everything_and_other_principals_get_nothing() {
        let policies = [policy(&["all"])];
        assert!(authorize(&policies, &principal(), Operation::PurgeDeletedKey).is_ok());
        let mut stranger = principal();
        stranger.object_id = Uuid::from_u128(99);
        assert!(authorize(&policies, &stranger, Operation::GetKey).is_err());
        let mut other_tenant = principal();
        other_tenant.tenant_id = Uuid::from_u128(99);
        assert!(authorize(&policies, &other_tenant, Operation::GetKey).is_err());
    }

    #[test]
    fn compound_identity_needs_the_application_too() {
        let mut p = policy(&["get"]);
        p.application_id = Some(Uuid::from_u128(42));
        assert!(authorize(&[p.clone()], &principal(), Operation::GetKey).is_err());
        let mut caller = principal();
        caller.app_id = Uuid::from_u128(42);
        assert!(authorize(&[p], &caller, Operation::GetKey).is_ok());
    }
}
