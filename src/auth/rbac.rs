//! Azure RBAC for vaults with `enableRbacAuthorization`: the built-in Key Vault roles with their
//! real ids and data actions, role assignments at vault or single-key scope, and the decision
//! (contract §4b). Access policies play no part on such vaults.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Principal;
use super::table::Operation;

/// A built-in role: its id, name, and the data actions it grants and withholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleDefinition {
    pub id: Uuid,
    pub name: &'static str,
    pub data_actions: &'static [&'static str],
    pub not_data_actions: &'static [&'static str],
    /// Management-plane (Resource Manager) actions.
    pub actions: &'static [&'static str],
    pub not_actions: &'static [&'static str],
}

/// What the Key Vault reading roles may do on the management plane.
const VAULT_READER_ACTIONS: &[&str] = &[
    "Microsoft.Authorization/*/read",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
];

/// The built-in Key Vault roles (contract §4b); the last two manage vaults and grant no data
/// actions at all.
pub const BUILT_IN_ROLES: &[RoleDefinition] = &[
    RoleDefinition {
        id: uuid::uuid!("00482a5a-887f-4fb3-b363-3b7fe8e74483"),
        name: "Key Vault Administrator",
        data_actions: &["Microsoft.KeyVault/vaults/*"],
        not_data_actions: &[],
        actions: VAULT_READER_ACTIONS,
        not_actions: &[],
    },
    RoleDefinition {
        id: uuid::uuid!("14b46e9e-c2b7-41b4-b07b-48a6ebf60603"),
        name: "Key Vault Crypto Officer",
        data_actions: &["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"],
        not_data_actions: &[],
        actions: VAULT_READER_ACTIONS,
        not_actions: &[],
    },
    RoleDefinition {
        id: uuid::uuid!("12338af0-0e69-4776-bea7-57ae8d297424"),
        name: "Key Vault Crypto User",
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
            "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action",
        ],
        not_data_actions: &[],
        actions: &[],
        not_actions: &[],
    },
    RoleDefinition {
        id: uuid::uuid!("e147488a-f6f5-4113-8e2d-b22465e65bf6"),
        name: "Key Vault Crypto Service Encryption User",
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
        ],
        not_data_actions: &[],
        actions: &[],
        not_actions: &[],
    },
    RoleDefinition {
        id: uuid::uuid!("08bbd89e-9f13-488c-ac41-acfcb10c90ab"),
        name: "Key Vault Crypto Service Release User",
        data_actions: &["Microsoft.KeyVault/vaults/keys/release/action"],
        not_data_actions: &[],
        actions: &[],
        not_actions: &[],
    },
    RoleDefinition {
        id: uuid::uuid!("21090545-7ca7-4776-b22c-e363652d74d2"),
        name: "Key Vault Reader",
        data_actions: &["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
        not_data_actions: &[],
        actions: VAULT_READER_ACTIONS,
        not_actions: &[],
    },
    RoleDefinition {
        id: uuid::uuid!("f25e0fa2-a7c8-4377-a976-54943a77a395"),
        name: "Key Vault Contributor",
        data_actions: &[],
        not_data_actions: &[],
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.KeyVault/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions: &["Microsoft.KeyVault/locations/deletedVaults/purge/action", "Microsoft.KeyVault/managedHsms/*"],
    },
    RoleDefinition {
        id: uuid::uuid!("8b54135c-b56d-4d72-a534-26097cfdc8d8"),
        name: "Key Vault Data Access Administrator",
        data_actions: &[],
        not_data_actions: &[],
        actions: &[
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.KeyVault/vaults/*/read",
        ],
        not_actions: &[],
    },
];

impl RoleDefinition {
    /// A built-in role by id, by full role-definition resource id (`…/roleDefinitions/{id}`), or
    /// by name (case-insensitive).
    #[must_use]
    pub fn find(text: &str) -> Option<&'static RoleDefinition> {
        let id_text = text.rsplit('/').next().unwrap_or(text);
        let id = Uuid::parse_str(id_text).ok();
        BUILT_IN_ROLES.iter().find(|r| Some(r.id) == id || r.name.eq_ignore_ascii_case(text))
    }

    fn grants(&self, action: &str) -> bool {
        self.data_actions.iter().any(|pattern| action_matches(pattern, action))
            && !self.not_data_actions.iter().any(|pattern| action_matches(pattern, action))
    }

    /// Whether the role allows management-plane `action`.
    #[must_use]
    pub fn allows(&self, action: &str) -> bool {
        self.actions.iter().any(|pattern| action_matches(pattern, action))
            && !self.not_actions.iter().any(|pattern| action_matches(pattern, action))
    }
}

/// Data-action matching as Azure does it: case-insensitive, `*` matching any run of characters
/// (including `/`), so `vaults/*` covers everything below and `vaults/*/read` every read.
#[must_use]
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn matches(pattern: &[u8], action: &[u8]) -> bool {
        match pattern.split_first() {
            None => action.is_empty(),
            Some((b'*', rest)) => (0..=action.len()).any(|skip| matches(rest, &action[skip..])),
            Some((p, rest)) => {
                action.split_first().is_some_and(|(a, tail)| p.eq_ignore_ascii_case(a) && matches(rest, tail))
            }
        }
    }
    matches(pattern.as_bytes(), action.as_bytes())
}

/// Where an assignment applies within a vault: the whole vault, or one key. `Inherited` is an
/// assignment at a subscription or resource group (its ARM scope) that covers the vault: the
/// registry adds those to each cached vault, and they are never stored with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "key")]
pub enum AssignmentScope {
    Vault,
    /// Every key of a Managed HSM (its local scope `/keys`); vaults have no such scope.
    AllKeys,
    Key(String),
    Inherited(String),
}

impl AssignmentScope {
    /// Parses the part of a scope below the vault: empty or `/` for the vault, `/keys/{name}`.
    pub fn parse_relative(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_end_matches('/');
        if text.is_empty() {
            return Ok(Self::Vault);
        }
        match text.strip_prefix("/keys/") {
            Some(name) if !name.is_empty() && !name.contains('/') => Ok(Self::Key(name.to_owned())),
            _ => Err(format!("'{text}' is not a scope within a vault: use '' (the vault) or '/keys/{{name}}'")),
        }
    }

    fn covers(&self, key: Option<&str>) -> bool {
        match (self, key) {
            (Self::Vault | Self::Inherited(_), _) => true,
            (Self::AllKeys, _) => false,
            (Self::Key(scoped), Some(key)) => scoped.eq_ignore_ascii_case(key),
            // A key-scoped assignment never grants vault-level operations such as listing.
            (Self::Key(_), None) => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    #[serde(default = "Uuid::new_v4")]
    pub id: Uuid,
    pub principal_id: Uuid,
    pub role_definition_id: Uuid,
    pub scope: AssignmentScope,
}

/// Why RBAC refused a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RbacDenied {
    pub data_action: &'static str,
}

/// Does any assignment of the caller, at a scope covering `key` (or the vault, for operations
/// on no single key), grant the operation's data action?
pub fn authorize(
    assignments: &[RoleAssignment],
    principal: &Principal,
    operation: Operation,
    key: Option<&str>,
) -> Result<&'static str, RbacDenied> {
    let action = operation.data_action();
    assignments
        .iter()
        .filter(|a| a.principal_id == principal.object_id && a.scope.covers(key))
        .filter_map(|a| BUILT_IN_ROLES.iter().find(|r| r.id == a.role_definition_id))
        .find(|role| role.grants(action))
        .map(|role| role.name)
        .ok_or(RbacDenied { data_action: action })
}

/// A role a caller holds on the management plane, at an ARM scope (a resource id such as
/// `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.KeyVault/vaults/{v}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopedRole {
    pub scope: String,
    pub role: &'static RoleDefinition,
}

/// Whether ARM scope `outer` is `inner` or contains it (case-insensitive, on path segments).
#[must_use]
pub fn scope_covers(outer: &str, inner: &str) -> bool {
    let outer = outer.trim_end_matches('/');
    inner.len() >= outer.len()
        && inner.as_bytes()[..outer.len()].eq_ignore_ascii_case(outer.as_bytes())
        && matches!(inner.as_bytes().get(outer.len()), None | Some(b'/'))
}

/// Does any of `roles` allow management `action` on the resource at `scope`?
#[must_use]
pub fn allows_action(roles: &[ScopedRole], action: &str, scope: &str) -> bool {
    roles.iter().any(|r| scope_covers(&r.scope, scope) && r.role.allows(action))
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

    fn assign(role: &str, scope: AssignmentScope) -> RoleAssignment {
        RoleAssignment {
            id: Uuid::new_v4(),
            principal_id: Uuid::from_u128(2),
            role_definition_id: RoleDefinition::find(role).unwrap().id,
            scope,
        }
    }

    #[test]
    fn management_actions_need_a_role_at_a_covering_scope() {
        let vault = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/cmk";
        let contributor =
            ScopedRole { scope: vault.into(), role: RoleDefinition::find("Key Vault Contributor").unwrap() };
        let roles = [contributor];
        let lower = vault.to_ascii_lowercase();
        assert!(allows_action(&roles, "Microsoft.KeyVault/vaults/write", &lower));
        assert!(allows_action(
            &roles,
            "Microsoft.KeyVault/vaults/accessPolicies/write",
            &format!("{lower}/accesspolicies/add")
        ));
        assert!(!allows_action(&roles, "Microsoft.KeyVault/vaults/write", &format!("{lower}2")), "another vault");
        assert!(!allows_action(&roles, "Microsoft.KeyVault/vaults/write", "/subscriptions/s/resourcegroups/rg"));
        assert!(!allows_action(&roles, "Microsoft.KeyVault/locations/deletedVaults/purge/action", &lower));
        let user = [ScopedRole { scope: vault.into(), role: RoleDefinition::find("Key Vault Crypto User").unwrap() }];
        assert!(!allows_action(&user, "Microsoft.KeyVault/vaults/read", &lower), "a data role manages nothing");
        assert!(scope_covers("/subscriptions/s/", "/subscriptions/s/resourcegroups/x"));
    }

    #[test]
    fn wildcards_match_like_azure() {
        assert!(action_matches("Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/keys/wrap/action"));
        assert!(action_matches("microsoft.keyvault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/read"));
        assert!(action_matches(
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/keyrotationpolicies/read"
        ));
        assert!(!action_matches("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/delete"));
        assert!(!action_matches("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/readx"));
    }

    #[test]
    fn roles_are_found_by_id_resource_id_or_name() {
        let by_name = RoleDefinition::find("key vault crypto service encryption user").unwrap();
        assert_eq!(by_name.id.to_string(), "e147488a-f6f5-4113-8e2d-b22465e65bf6");
        let resource_id =
            "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6";
        assert_eq!(RoleDefinition::find(resource_id), Some(by_name));
        assert!(RoleDefinition::find("Owner").is_none());
    }

    #[test]
    fn the_cmk_role_wraps_and_unwraps_one_key_and_nothing_else() {
        let assignments = [assign("Key Vault Crypto Service Encryption User", AssignmentScope::Key("cmk".into()))];
        let me = principal();
        for op in [Operation::GetKey, Operation::WrapKey, Operation::UnwrapKey] {
            assert!(authorize(&assignments, &me, op, Some("CMK")).is_ok(), "{op:?}");
            assert!(authorize(&assignments, &me, op, Some("other")).is_err(), "{op:?} on another key");
        }
        for op in [Operation::Decrypt, Operation::Sign, Operation::DeleteKey, Operation::CreateKey] {
            assert!(authorize(&assignments, &me, op, Some("cmk")).is_err(), "{op:?}");
        }
        assert!(authorize(&assignments, &me, Operation::ListKeys, None).is_err(), "listing needs vault scope");
    }

    #[test]
    fn administrators_get_everything_readers_only_reads_and_managers_nothing() {
        let me = principal();
        let admin = [assign("Key Vault Administrator", AssignmentScope::Vault)];
        let reader = [assign("Key Vault Reader", AssignmentScope::Vault)];
        let contributor = [assign("Key Vault Contributor", AssignmentScope::Vault)];
        assert!(authorize(&admin, &me, Operation::PurgeDeletedKey, Some("k")).is_ok());
        assert!(authorize(&reader, &me, Operation::ListKeys, None).is_ok());
        assert!(authorize(&reader, &me, Operation::GetRotationPolicy, Some("k")).is_ok());
        assert!(authorize(&reader, &me, Operation::UnwrapKey, Some("k")).is_err());
        assert!(authorize(&contributor, &me, Operation::GetKey, Some("k")).is_err());
        let mut stranger = me.clone();
        stranger.object_id = Uuid::from_u128(9);
        assert!(authorize(&admin, &stranger, Operation::GetKey, Some("k")).is_err());
    }
}
