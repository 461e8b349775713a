//! Managed HSM local RBAC: the built-in Managed HSM roles with their real ids and data actions
//! (as the service lists them at `GET /providers/Microsoft.Authorization/roleDefinitions`),
//! custom roles, and the decision. Scopes are the HSM's own: `/`, `/keys` and `/keys/{name}`.
//! Access policies never apply to an HSM, and vault roles grant nothing on it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Principal;
use super::rbac::{AssignmentScope, RoleAssignment, action_matches};
use super::table::Operation;

pub const ADMINISTRATOR: Uuid = uuid::uuid!("a290e904-7015-4bba-90c8-60543313cdb4");
pub const CRYPTO_OFFICER: Uuid = uuid::uuid!("515eb02d-2335-4d2d-92f2-b1cbdf9c3778");
pub const CRYPTO_USER: Uuid = uuid::uuid!("21dbd100-6940-42c2-9190-5d6cb909625b");
pub const POLICY_ADMINISTRATOR: Uuid = uuid::uuid!("4bd23610-cdcf-4971-bdee-bdc562cc28e4");
pub const CRYPTO_AUDITOR: Uuid = uuid::uuid!("2c18b078-7c48-4d3a-af88-5a3a1b3f82b3");
pub const CRYPTO_SERVICE_ENCRYPTION_USER: Uuid = uuid::uuid!("33413926-3206-4cdd-b39a-83574fe37a17");
pub const CRYPTO_SERVICE_RELEASE_USER: Uuid = uuid::uuid!("21dbd100-6940-42c2-9190-5d6cb909625c");
pub const BACKUP_USER: Uuid = uuid::uuid!("7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8");

/// A built-in Managed HSM role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltInRole {
    pub id: Uuid,
    pub name: &'static str,
    pub data_actions: &'static [&'static str],
}

const ROLE_MANAGEMENT: [&str; 6] = [
    "Microsoft.KeyVault/managedHsm/roleAssignments/delete/action",
    "Microsoft.KeyVault/managedHsm/roleAssignments/read/action",
    "Microsoft.KeyVault/managedHsm/roleAssignments/write/action",
    "Microsoft.KeyVault/managedHsm/roleDefinitions/read/action",
    "Microsoft.KeyVault/managedHsm/roleDefinitions/write/action",
    "Microsoft.KeyVault/managedHsm/roleDefinitions/delete/action",
];

/// The built-in roles, with the data actions the service lists for them. Managed HSM Restore
/// (full-HSM restore) is left out with full backup and restore.
pub const BUILT_IN_ROLES: &[BuiltInRole] = &[
    BuiltInRole {
        id: ADMINISTRATOR,
        name: "Managed HSM Administrator",
        data_actions: &[
            ROLE_MANAGEMENT[0],
            ROLE_MANAGEMENT[1],
            ROLE_MANAGEMENT[2],
            ROLE_MANAGEMENT[3],
            ROLE_MANAGEMENT[4],
            ROLE_MANAGEMENT[5],
            "Microsoft.KeyVault/managedHsm/securitydomain/download/action",
            "Microsoft.KeyVault/managedHsm/securitydomain/download/read",
            "Microsoft.KeyVault/managedHsm/securitydomain/upload/action",
            "Microsoft.KeyVault/managedHsm/securitydomain/upload/read",
            "Microsoft.KeyVault/managedHsm/securitydomain/transferkey/read",
            "Microsoft.KeyVault/managedHsm/backup/start/action",
            "Microsoft.KeyVault/managedHsm/restore/start/action",
            "Microsoft.KeyVault/managedHsm/backup/status/action",
            "Microsoft.KeyVault/managedHsm/restore/status/action",
        ],
    },
    BuiltInRole {
        id: CRYPTO_OFFICER,
        name: "Managed HSM Crypto Officer",
        data_actions: &[
            ROLE_MANAGEMENT[0],
            ROLE_MANAGEMENT[1],
            ROLE_MANAGEMENT[2],
            ROLE_MANAGEMENT[3],
            ROLE_MANAGEMENT[4],
            ROLE_MANAGEMENT[5],
            "Microsoft.KeyVault/managedHsm/keys/deletedKeys/read/action",
            "Microsoft.KeyVault/managedHsm/keys/deletedKeys/delete",
            "Microsoft.KeyVault/managedHsm/keys/deletedKeys/recover/action",
            "Microsoft.KeyVault/managedHsm/keys/export/action",
        ],
    },
    BuiltInRole {
        id: CRYPTO_USER,
        name: "Managed HSM Crypto User",
        data_actions: &[
            "Microsoft.KeyVault/managedHsm/roleDefinitions/read/action",
            "Microsoft.KeyVault/managedHsm/roleAssignments/read/action",
            "Microsoft.KeyVault/managedHsm/keys/read/action",
            "Microsoft.KeyVault/managedHsm/keys/write/action",
            "Microsoft.KeyVault/managedHsm/keys/delete",
            "Microsoft.KeyVault/managedHsm/keys/create",
            "Microsoft.KeyVault/managedHsm/keys/import/action",
            "Microsoft.KeyVault/managedHsm/keys/release/action",
            "Microsoft.KeyVault/managedHsm/keys/backup/action",
            "Microsoft.KeyVault/managedHsm/keys/restore/action",
            "Microsoft.KeyVault/managedHsm/keys/encrypt/action",
            "Microsoft.KeyVault/managedHsm/keys/decrypt/action",
            "Microsoft.KeyVault/managedHsm/keys/wrap/action",
            "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
            "Microsoft.KeyVault/managedHsm/keys/sign/action",
            "Microsoft.KeyVault/managedHsm/keys/verify/action",
            "Microsoft.KeyVault/managedHsm/rng/action",
        ],
    },
    BuiltInRole {
        id: POLICY_ADMINISTRATOR,
        name: "Managed HSM Policy Administrator",
        data_actions: &[
            ROLE_MANAGEMENT[3],
            ROLE_MANAGEMENT[4],
            ROLE_MANAGEMENT[5],
            ROLE_MANAGEMENT[1],
            ROLE_MANAGEMENT[2],
            ROLE_MANAGEMENT[0],
        ],
    },
    BuiltInRole {
        id: CRYPTO_AUDITOR,
        name: "Managed HSM Crypto Auditor",
        data_actions: &[
            "Microsoft.KeyVault/managedHsm/roleAssignments/read/action",
            "Microsoft.KeyVault/managedHsm/roleDefinitions/read/action",
            "Microsoft.KeyVault/managedHsm/keys/read/action",
            "Microsoft.KeyVault/managedHsm/keys/deletedKeys/read/action",
        ],
    },
    BuiltInRole {
        id: CRYPTO_SERVICE_ENCRYPTION_USER,
        name: "Managed HSM Crypto Service Encryption User",
        data_actions: &[
            "Microsoft.KeyVault/managedHsm/keys/read/action",
            "Microsoft.KeyVault/managedHsm/keys/wrap/action",
            "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
        ],
    },
    BuiltInRole {
        id: CRYPTO_SERVICE_RELEASE_USER,
        name: "Managed HSM Crypto Service Release User",
        data_actions: &["Microsoft.KeyVault/managedHsm/keys/release/action"],
    },
    BuiltInRole {
        id: BACKUP_USER,
        name: "Managed HSM Backup User",
        data_actions: &[
            "Microsoft.KeyVault/managedHsm/backup/start/action",
            "Microsoft.KeyVault/managedHsm/backup/status/action",
            "Microsoft.KeyVault/managedHsm/keys/backup/action",
        ],
    },
];

/// One permission of a custom role: what it grants, less what it withholds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

/// A custom role definition of one HSM (`PUT /providers/Microsoft.Authorization/roleDefinitions/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRole {
    pub id: Uuid,
    pub role_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

impl CustomRole {
    /// A role grants an action when one of its permissions does (less that permission's
    /// `notDataActions`), as Azure RBAC reads several permission blocks.
    #[must_use]
    pub fn grants(&self, action: &str) -> bool {
        self.permissions.iter().any(|p| grants(&p.data_actions, &p.not_data_actions, action))
    }
}

/// An HSM scope as written in requests and answers: `/`, `/keys` or `/keys/{name}`.
pub fn parse_scope(text: &str) -> Result<AssignmentScope, String> {
    let trimmed = text.trim().trim_matches('/');
    match trimmed.split('/').collect::<Vec<_>>().as_slice() {
        [""] => Ok(AssignmentScope::Vault),
        [keys] if keys.eq_ignore_ascii_case("keys") => Ok(AssignmentScope::AllKeys),
        [keys, name] if keys.eq_ignore_ascii_case("keys") && !name.is_empty() => {
            Ok(AssignmentScope::Key((*name).to_owned()))
        }
        _ => Err(crate::messages::managed_hsm::invalid_scope(text)),
    }
}

/// The scope as requests and answers write it.
#[must_use]
pub fn scope_text(scope: &AssignmentScope) -> String {
    match scope {
        AssignmentScope::Vault | AssignmentScope::Inherited(_) => "/".to_owned(),
        AssignmentScope::AllKeys => "/keys".to_owned(),
        AssignmentScope::Key(name) => format!("/keys/{name}"),
    }
}

/// Whether an assignment at `outer` applies at `inner` (`/` covers all, `/keys` every key).
#[must_use]
pub fn scope_covers(outer: &AssignmentScope, inner: &AssignmentScope) -> bool {
    match (outer, inner) {
        (AssignmentScope::Vault, _) => true,
        (AssignmentScope::AllKeys, AssignmentScope::AllKeys | AssignmentScope::Key(_)) => true,
        (AssignmentScope::Key(a), AssignmentScope::Key(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// A built-in role by id, full role-definition id (`…/roleDefinitions/{id}`) or name.
#[must_use]
pub fn built_in(text: &str) -> Option<&'static BuiltInRole> {
    let id = Uuid::parse_str(text.rsplit('/').next().unwrap_or(text)).ok();
    BUILT_IN_ROLES.iter().find(|r| Some(r.id) == id || r.name.eq_ignore_ascii_case(text))
}

fn grants(data_actions: &[impl AsRef<str>], not_data_actions: &[impl AsRef<str>], action: &str) -> bool {
    data_actions.iter().any(|p| action_matches(p.as_ref(), action))
        && !not_data_actions.iter().any(|p| action_matches(p.as_ref(), action))
}

/// Whether an assignment at `scope` applies to `operation` on `key`: `/` covers everything,
/// `/keys` every key operation, `/keys/{name}` the operations on that key.
fn covers(scope: &AssignmentScope, operation: Operation, key: Option<&str>) -> bool {
    match scope {
        AssignmentScope::Vault => true,
        AssignmentScope::AllKeys => operation.is_key_operation(),
        AssignmentScope::Key(scoped) => key.is_some_and(|key| scoped.eq_ignore_ascii_case(key)),
        // Subscription and resource-group assignments are Azure RBAC: they never reach an HSM's
        // data plane.
        AssignmentScope::Inherited(_) => false,
    }
}

/// Why local RBAC refused a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalRbacDenied {
    pub data_action: &'static str,
}

/// What local RBAC decided, with the assignment behind it: on an allow the granting one; on a
/// refusal the caller's first covering assignment (whose role lacks the action), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalDecision {
    pub outcome: Result<usize, LocalRbacDenied>,
    pub callers_assignment: Option<usize>,
}

/// Does any assignment of the caller, at a scope covering the operation, grant its Managed HSM
/// data action? Answers the index of the granting assignment.
#[must_use]
pub fn decide(
    assignments: &[RoleAssignment],
    custom_roles: &[CustomRole],
    principal: &Principal,
    operation: Operation,
    key: Option<&str>,
) -> LocalDecision {
    let action = operation.hsm_data_action();
    let mut callers_assignment = None;
    for (index, assignment) in assignments.iter().enumerate() {
        if assignment.principal_id != principal.object_id || !covers(&assignment.scope, operation, key) {
            continue;
        }
        callers_assignment.get_or_insert(index);
        let granted = if let Some(role) = BUILT_IN_ROLES.iter().find(|r| r.id == assignment.role_definition_id) {
            grants(role.data_actions, &[] as &[&str], action)
        } else {
            custom_roles.iter().find(|r| r.id == assignment.role_definition_id).is_some_and(|r| r.grants(action))
        };
        if granted {
            return LocalDecision { outcome: Ok(index), callers_assignment: Some(index) };
        }
    }
    LocalDecision { outcome: Err(LocalRbacDenied { data_action: action }), callers_assignment }
}

/// Does any assignment of the caller, at a scope covering the operation, grant its Managed HSM
/// data action? Answers the granting role's name.
pub fn authorize(
    assignments: &[RoleAssignment],
    custom_roles: &[CustomRole],
    principal: &Principal,
    operation: Operation,
    key: Option<&str>,
) -> Result<String, LocalRbacDenied> {
    let index = decide(assignments, custom_roles, principal, operation, key).outcome?;
    Ok(role_name(assignments[index].role_definition_id, custom_roles))
}

/// A local role's name: a built-in role's, else a custom role's, else its id.
#[must_use]
pub fn role_name(role_definition_id: Uuid, custom_roles: &[CustomRole]) -> String {
    BUILT_IN_ROLES
        .iter()
        .find(|r| r.id == role_definition_id)
        .map(|r| r.name.to_owned())
        .or_else(|| custom_roles.iter().find(|r| r.id == role_definition_id).map(|r| r.role_name.clone()))
        .unwrap_or_else(|| role_definition_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_roles_have_unique_ids_and_names_and_are_found_by_either() {
        for role in BUILT_IN_ROLES {
            assert_eq!(BUILT_IN_ROLES.iter().filter(|r| r.id == role.id || r.name == role.name).count(), 1);
            assert_eq!(built_in(&role.id.to_string()), Some(role));
            assert_eq!(built_in(&role.name.to_ascii_uppercase()), Some(role));
        }
        assert_eq!(BUILT_IN_ROLES.len(), 8);
        assert!(built_in("Key Vault Administrator").is_none(), "vault roles are not HSM roles");
    }

    #[test]
    fn scopes_parse_and_print_back() {
        for text in ["/", "/keys", "/keys/cmk"] {
            assert_eq!(scope_text(&parse_scope(text).unwrap()), text);
        }
        assert_eq!(parse_scope("").unwrap(), AssignmentScope::Vault);
        assert_eq!(parse_scope("/keys/").unwrap(), AssignmentScope::AllKeys);
        for bad in ["/secrets", "/keys/a/b", "/subscriptions/x"] {
            assert!(parse_scope(bad).is_err(), "{bad}");
        }
        assert!(scope_covers(&AssignmentScope::AllKeys, &AssignmentScope::Key("k".into())));
        assert!(!scope_covers(&AssignmentScope::Key("k".into()), &AssignmentScope::AllKeys));
    }

    #[test]
    fn custom_roles_subtract_their_not_data_actions() {
        let role = CustomRole {
            id: Uuid::from_u128(7),
            role_name: "wrap only".into(),
            description: String::new(),
            assignable_scopes: vec!["/".into()],
            permissions: vec![Permission {
                data_actions: vec!["Microsoft.KeyVault/managedHsm/keys/*".into()],
                not_data_actions: vec!["Microsoft.KeyVault/managedHsm/keys/unwrap/action".into()],
            }],
        };
        let me = Principal {
            tenant_id: Uuid::nil(),
            object_id: Uuid::from_u128(2),
            app_id: Uuid::nil(),
            issuer: String::new(),
        };
        let assignment = RoleAssignment {
            id: Uuid::new_v4(),
            principal_id: me.object_id,
            role_definition_id: role.id,
            scope: AssignmentScope::AllKeys,
        };
        let roles = [role];
        assert!(authorize(std::slice::from_ref(&assignment), &roles, &me, Operation::WrapKey, Some("k")).is_ok());
        assert!(authorize(std::slice::from_ref(&assignment), &roles, &me, Operation::UnwrapKey, Some("k")).is_err());
        assert!(
            authorize(&[assignment], &roles, &me, Operation::ReadRoleAssignment, None).is_err(),
            "/keys does not cover role management"
        );
    }
}
