//! `PUT .../vaults/{v}/accessPolicies/{add|replace|remove}`: the merge rules, and the one
//! transaction that reads the vault's policies, merges and writes them.

use super::ManagementError;
use crate::auth::policy::AccessPolicy;
use crate::vaults::VaultRegistry;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyChange {
    /// Merge permissions into the entry of the same tenant, object and application.
    Add,
    /// Replace that entry.
    Replace,
    /// Take the named permissions away; an entry left empty (or named with none) goes.
    Remove,
}

impl PolicyChange {
    pub fn parse(kind: &str) -> Result<Self, ManagementError> {
        match kind.to_ascii_lowercase().as_str() {
            "add" => Ok(Self::Add),
            "replace" => Ok(Self::Replace),
            "remove" => Ok(Self::Remove),
            other => Err(ManagementError::InvalidRequest(crate::messages::management::invalid_policy_operation(other))),
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

fn same_entry(a: &AccessPolicy, b: &AccessPolicy) -> bool {
    a.tenant_id == b.tenant_id && a.object_id == b.object_id && a.application_id == b.application_id
}

/// `policies` after applying `kind` with each of `changes` in order.
pub fn merge(policies: &mut Vec<AccessPolicy>, kind: PolicyChange, changes: Vec<AccessPolicy>) {
    for change in changes {
        let existing = policies.iter().position(|p| same_entry(p, &change));
        match (kind, existing) {
            (PolicyChange::Add, Some(i)) => {
                for permission in change.permissions.keys {
                    if !policies[i].permissions.keys.iter().any(|p| p.eq_ignore_ascii_case(&permission)) {
                        policies[i].permissions.keys.push(permission);
                    }
                }
            }
            (PolicyChange::Replace, Some(i)) => policies[i] = change,
            (PolicyChange::Add | PolicyChange::Replace, None) => policies.push(change),
            (PolicyChange::Remove, Some(i)) => {
                let removed = &change.permissions.keys;
                policies[i].permissions.keys.retain(|p| !removed.iter().any(|r| r.eq_ignore_ascii_case(p)));
                if removed.is_empty() || policies[i].permissions.keys.is_empty() {
                    policies.remove(i);
                }
            }
            (PolicyChange::Remove, None) => {}
        }
    }
}

/// Applies `changes` to the policies of the active vault `name` in `group`, reading and writing
/// them in one transaction; returns the vault's policies after it.
pub async fn update(
    registry: &VaultRegistry,
    group: &str,
    name: &str,
    kind: PolicyChange,
    changes: Vec<AccessPolicy>,
) -> Result<(String, Vec<AccessPolicy>), ManagementError> {
    let written = registry
        .modify(name, |vault| {
            if !vault.arm.resource_group.eq_ignore_ascii_case(group) {
                return Err(ManagementError::VaultNotFound(name.to_owned()));
            }
            merge(&mut vault.access_policies, kind, changes);
            Ok(())
        })
        .await?;
    Ok((written.after.resource_id(), written.after.access_policies.clone()))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::auth::policy::Permissions;

    fn policy(object: u128, keys: &[&str]) -> AccessPolicy {
        AccessPolicy {
            tenant_id: Uuid::from_u128(1),
            object_id: Uuid::from_u128(object),
            application_id: None,
            permissions: Permissions { keys: keys.iter().map(|k| (*k).to_owned()).collect() },
        }
    }

    #[test]
    fn add_merges_replace_replaces_remove_takes_away() {
        let mut policies = vec![policy(1, &["get"])];
        merge(&mut policies, PolicyChange::Add, vec![policy(1, &["Get", "wrapKey"]), policy(2, &["list"])]);
        assert_eq!(policies, [policy(1, &["get", "wrapKey"]), policy(2, &["list"])]);
        merge(&mut policies, PolicyChange::Replace, vec![policy(2, &["sign"])]);
        assert_eq!(policies[1], policy(2, &["sign"]));
        merge(
            &mut policies,
            PolicyChange::Remove,
            vec![policy(1, &["WRAPKEY"]), policy(2, &["sign"]), policy(3, &["get"])],
        );
        assert_eq!(policies, [policy(1, &["get"])], "an entry left empty goes; an unknown one is ignored");
        merge(&mut policies, PolicyChange::Remove, vec![policy(1, &[])]);
        assert!(policies.is_empty(), "naming no permission removes the entry");
    }

    #[test]
    fn the_application_makes_a_separate_entry() {
        let mut compound = policy(1, &["get"]);
        compound.application_id = Some(Uuid::from_u128(9));
        let mut policies = vec![policy(1, &["list"])];
        merge(&mut policies, PolicyChange::Add, vec![compound]);
        assert_eq!(policies.len(), 2);
    }

    #[test]
    fn kinds_parse_case_insensitively() {
        assert_eq!(PolicyChange::parse("Add").unwrap(), PolicyChange::Add);
        assert!(matches!(PolicyChange::parse("merge"), Err(ManagementError::InvalidRequest(_))));
    }
}
