//! The one authorization decision for data-plane requests: access policies or RBAC, whichever
//! the vault uses, or local RBAC on a Managed HSM, from the operation table, with the rule that
//! decided it, for the audit log.

use super::Principal;
use super::local_rbac;
use super::policy;
use super::rbac;
use super::table::Operation;
use crate::vaults::Vault;

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// Access-policy vault: no policy of the caller holds this key permission.
    AccessPolicy { permission: &'static str },
    /// RBAC vault: no role assigned to the caller at a covering scope grants this data action.
    Rbac { data_action: &'static str },
    /// Managed HSM: no local role assigned to the caller at a covering scope grants this data
    /// action.
    LocalRbac { data_action: &'static str },
}

/// What the request is about, for scope checks and the audit log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Target<'a> {
    pub key: Option<&'a str>,
    pub version: Option<&'a str>,
}

/// The entry of the vault's authorization data that decided a request. On an allow it is the
/// entry that granted; on a refusal, the caller's own entry that lacks the permission, or
/// [`Rule::None`] when the caller has none at all. Indexes point into the [`Vault`] the decision
/// was made against (its `Arc` is kept with the audit record, so a later policy change does not
/// move them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    AccessPolicy(usize),
    RoleAssignment {
        index: usize,
        role: Option<&'static str>,
    },
    /// A Managed HSM's local role assignment (its role may be a custom one, named at runtime).
    LocalRoleAssignment {
        index: usize,
    },
    None,
}

/// An authorization decision: the outcome and the rule behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Result<(), Denial>,
    pub rule: Rule,
}

impl Decision {
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.outcome.is_ok()
    }

    /// One line for people: what granted or refused, and what the operation needs.
    #[must_use]
    pub fn reason(&self, vault: &Vault, operation: Operation) -> String {
        let needs = if vault.is_managed_hsm() {
            format!("local data action '{}'", operation.hsm_data_action())
        } else if vault.rbac_authorization {
            format!("data action '{}'", operation.data_action())
        } else {
            format!("key permission '{}'", operation.permission())
        };
        match (&self.outcome, self.rule) {
            (Ok(()), Rule::AccessPolicy(_)) => format!("an access policy of the caller grants {needs}"),
            (Ok(()), Rule::RoleAssignment { role, .. }) => {
                format!("role assignment '{}' grants {needs}", role.unwrap_or("?"))
            }
            (Err(_), Rule::AccessPolicy(_)) => format!("the caller's access policy lacks {needs}"),
            (Ok(()), Rule::LocalRoleAssignment { index }) => {
                format!("local role '{}' grants {needs}", local_role_name(vault, index))
            }
            (Err(_), Rule::RoleAssignment { .. } | Rule::LocalRoleAssignment { .. }) => {
                format!("no role assigned to the caller at a covering scope grants {needs}")
            }
            (Err(_), Rule::None) if vault.rbac_authorization || vault.is_managed_hsm() => {
                format!("the caller holds no role assignment covering this request; it needs {needs}")
            }
            (Err(_), Rule::None) => format!("the caller has no access policy on the vault; it needs {needs}"),
            (Ok(()), Rule::None) => format!("allowed without a rule ({needs})"),
        }
    }
}

/// Allows or refuses `operation` on `target` for `principal`, saying which rule decided.
#[must_use]
pub fn decide(vault: &Vault, principal: &Principal, operation: Operation, target: Target<'_>) -> Decision {
    let decision = evaluate(vault, principal, operation, target.key);
    // Never the token or key material: who, what, on which key, and why. The persisted audit
    // log (src/audit) is written from the same decision, off the request's path.
    tracing::info!(
        target: "audit",
        vault = %vault.name,
        oid = %principal.object_id,
        appid = %principal.app_id,
        operation = ?operation,
        key = target.key.unwrap_or(""),
        version = target.version.unwrap_or(""),
        decision = if decision.allowed() { "allow" } else { "deny" },
        reason = %Reason(&decision, vault, operation),
    );
    decision
}

/// The decision alone, without the log event: what [`decide`] answers for a request on `key`
/// (or on the vault as a whole). The dashboard's effective-permission view asks it for every
/// row of the operation table.
#[must_use]
pub fn evaluate(vault: &Vault, principal: &Principal, operation: Operation, key: Option<&str>) -> Decision {
    if let Some(hsm) = vault.managed_hsm() {
        // Access policies and the vault's Azure RBAC never apply to an HSM.
        let decided = local_rbac::decide(&vault.role_assignments, &hsm.role_definitions, principal, operation, key);
        match decided.outcome {
            Ok(index) => Decision { outcome: Ok(()), rule: Rule::LocalRoleAssignment { index } },
            Err(denied) => Decision {
                outcome: Err(Denial::LocalRbac { data_action: denied.data_action }),
                rule: decided.callers_assignment.map_or(Rule::None, |index| Rule::LocalRoleAssignment { index }),
            },
        }
    } else if vault.rbac_authorization {
        let decided = rbac::decide(&vault.role_assignments, principal, operation, key);
        match decided.outcome {
            Ok((index, role)) => Decision { outcome: Ok(()), rule: Rule::RoleAssignment { index, role: Some(role) } },
            Err(denied) => Decision {
                outcome: Err(Denial::Rbac { data_action: denied.data_action }),
                rule: decided.callers_assignment.map_or(Rule::None, |index| Rule::RoleAssignment { index, role: None }),
            },
        }
    } else {
        let decided = policy::decide(&vault.access_policies, principal, operation);
        match decided.outcome {
            Ok(index) => Decision { outcome: Ok(()), rule: Rule::AccessPolicy(index) },
            Err(denied) => Decision {
                outcome: Err(Denial::AccessPolicy { permission: denied.permission }),
                rule: decided.callers_policy.map_or(Rule::None, Rule::AccessPolicy),
            },
        }
    }
}

/// The name of the role of a Managed HSM's local assignment `index` (built in or custom).
#[must_use]
pub fn local_role_name(vault: &Vault, index: usize) -> String {
    let Some(assignment) = vault.role_assignments.get(index) else { return "?".to_owned() };
    let custom = vault.managed_hsm().map(|hsm| hsm.role_definitions.as_slice()).unwrap_or_default();
    local_rbac::role_name(assignment.role_definition_id, custom)
}

/// The log event's `reason`: formatted only when the event is written, since this runs on every
/// request.
struct Reason<'a>(&'a Decision, &'a Vault, Operation);

impl std::fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.reason(self.1, self.2))
    }
}
