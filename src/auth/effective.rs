//! What one identity may do in one vault: every row of the operation table, decided by
//! [`decision::evaluate`], the function every vault request is decided by. The dashboard shows
//! this; nothing here (or in the page) restates a rule.

use serde::Serialize;

use super::Principal;
use super::decision;
use super::identity::Identity;
use super::rbac::AssignmentScope;
use super::table::{NOT_ON_VAULTS, TABLE};
use crate::vaults::Vault;

/// The decision for one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationAccess {
    /// The REST operation, as the audit log names it (`WrapKey`).
    pub operation: String,
    /// The access-policy key permission the operation needs.
    pub permission: &'static str,
    /// The RBAC data action the operation needs.
    pub data_action: &'static str,
    pub allowed: bool,
    /// Which rule allowed it, or what no rule granted (as the audit log words it).
    pub reason: String,
}

/// The decisions at one scope: the whole vault, or one key (RBAC assignments can name a key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeAccess {
    /// `""` for the vault, `/keys/{name}` for a key.
    pub scope: String,
    pub operations: Vec<OperationAccess>,
}

/// An identity's effective permissions in one vault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultAccess {
    pub vault: String,
    /// `rbac` or `accessPolicies`: which of the vault's rules decide.
    pub model: &'static str,
    pub scopes: Vec<ScopeAccess>,
}

/// The caller an identity's tokens describe.
#[must_use]
pub fn principal_of(identity: &Identity) -> Principal {
    Principal {
        tenant_id: identity.tenant_id,
        object_id: identity.object_id,
        app_id: identity.client_id,
        issuer: super::v1_issuer(identity.tenant_id),
    }
}

/// Every operation of the table for `principal` in `vault`: at vault scope, and on an RBAC
/// vault also at each key the principal holds a key-scoped assignment on.
#[must_use]
pub fn vault_access(vault: &Vault, principal: &Principal) -> VaultAccess {
    let mut scopes = vec![scope_access(vault, principal, None)];
    if vault.rbac_authorization || vault.is_managed_hsm() {
        let mut keys: Vec<&str> = vault
            .role_assignments
            .iter()
            .filter(|a| a.principal_id == principal.object_id)
            .filter_map(|a| match &a.scope {
                AssignmentScope::Key(key) => Some(key.as_str()),
                AssignmentScope::Vault | AssignmentScope::AllKeys | AssignmentScope::Inherited(_) => None,
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        scopes.extend(keys.into_iter().map(|key| scope_access(vault, principal, Some(key))));
    }
    VaultAccess {
        vault: vault.name.to_string(),
        model: if vault.is_managed_hsm() {
            "localRbac"
        } else if vault.rbac_authorization {
            "rbac"
        } else {
            "accessPolicies"
        },
        scopes,
    }
}

fn scope_access(vault: &Vault, principal: &Principal, key: Option<&str>) -> ScopeAccess {
    let operations = TABLE
        .iter()
        .filter(|(operation, ..)| key.is_none() || operation.names_a_key())
        // Local RBAC and the security domain exist only on a Managed HSM.
        .filter(|(operation, ..)| vault.is_managed_hsm() || operation.permission() != NOT_ON_VAULTS)
        .map(|&(operation, permission, vault_data_action, hsm_data_action)| {
            let data_action = if vault.is_managed_hsm() { hsm_data_action } else { vault_data_action };
            let decided = decision::evaluate(vault, principal, operation, key);
            OperationAccess {
                operation: format!("{operation:?}"),
                permission,
                data_action,
                allowed: decided.allowed(),
                // The audit log's wording for the same decision.
                reason: decided.reason(vault, operation),
            }
        })
        .collect();
    ScopeAccess { scope: key.map(|k| format!("/keys/{k}")).unwrap_or_default(), operations }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::auth::policy::{AccessPolicy, Permissions};
    use crate::auth::rbac::{RoleAssignment, RoleDefinition};
    use crate::auth::table::Operation;
    use crate::vaults::{VaultName, VaultSettings};

    fn principal() -> Principal {
        Principal {
            tenant_id: Uuid::from_u128(1),
            object_id: Uuid::from_u128(2),
            app_id: Uuid::from_u128(3),
            issuer: "iss".into(),
        }
    }

    fn vault() -> Vault {
        Vault::new(&VaultSettings::new(VaultName::parse("cmk").unwrap()), Uuid::from_u128(1))
    }

    fn allowed(scope: &ScopeAccess) -> Vec<&str> {
        scope.operations.iter().filter(|o| o.allowed).map(|o| o.operation.as_str()).collect()
    }

    #[test]
    fn an_access_policy_vault_answers_every_row_of_the_table() {
        let mut vault = vault();
        vault.access_policies.push(AccessPolicy {
            tenant_id: Uuid::from_u128(1),
            object_id: Uuid::from_u128(2),
            application_id: None,
            permissions: Permissions { keys: vec!["get".into(), "wrapKey".into(), "unwrapKey".into()] },
        });
        let access = vault_access(&vault, &principal());
        assert_eq!(access.model, "accessPolicies");
        assert_eq!(access.scopes.len(), 1);
        // Every row but the Managed HSM's own (local RBAC, security domain).
        let vault_rows = TABLE.iter().filter(|(_, permission, ..)| *permission != NOT_ON_VAULTS).count();
        assert_eq!(access.scopes[0].operations.len(), vault_rows);
        assert_eq!(
            allowed(&access.scopes[0]),
            ["GetKey", "GetDeletedKey", "WrapKey", "UnwrapKey", "GetKeyAttestation", "GetRandomBytes"]
        );
        let unwrap = access.scopes[0].operations.iter().find(|o| o.operation == "UnwrapKey").unwrap();
        assert_eq!(unwrap.reason, "an access policy of the caller grants key permission 'unwrapKey'");
        let purge = access.scopes[0].operations.iter().find(|o| o.operation == "PurgeDeletedKey").unwrap();
        assert_eq!(purge.reason, "the caller's access policy lacks key permission 'purge'");
    }

    #[test]
    fn an_rbac_vault_shows_the_vault_scope_and_each_assigned_key() {
        let mut vault = vault();
        vault.rbac_authorization = true;
        vault.role_assignments.push(RoleAssignment {
            id: Uuid::new_v4(),
            principal_id: Uuid::from_u128(2),
            role_definition_id: RoleDefinition::find("Key Vault Crypto Service Encryption User").unwrap().id,
            scope: AssignmentScope::Key("storage-cmk".into()),
        });
        let access = vault_access(&vault, &principal());
        assert_eq!(access.model, "rbac");
        assert!(allowed(&access.scopes[0]).is_empty(), "nothing at vault scope");
        assert_eq!(access.scopes[1].scope, "/keys/storage-cmk");
        assert_eq!(
            allowed(&access.scopes[1]),
            ["GetKey", "ListKeyVersions", "GetDeletedKey", "WrapKey", "UnwrapKey", "GetKeyAttestation"]
        );
        assert!(!access.scopes[1].operations.iter().any(|o| o.operation == "ListKeys"), "listing names no key");
        let wrap = access.scopes[1].operations.iter().find(|o| o.operation == "WrapKey").unwrap();
        assert_eq!(
            wrap.reason,
            "role assignment 'Key Vault Crypto Service Encryption User' grants data action 'Microsoft.KeyVault/vaults/keys/wrap/action'"
        );
        // The view and the request path agree, row by row.
        for row in &access.scopes[1].operations {
            let operation = TABLE.iter().find(|(op, ..)| format!("{op:?}") == row.operation).unwrap().0;
            let decided = decision::evaluate(&vault, &principal(), operation, Some("storage-cmk")).allowed();
            assert_eq!(row.allowed, decided, "{operation:?}");
        }
        let list = format!("{:?}", Operation::ListKeys);
        assert!(access.scopes[0].operations.iter().any(|o| o.operation == list && !o.allowed));
    }
}
