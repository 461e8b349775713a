//! Role assignments at vault and key scope: the ARM rules (an id's principal and role never
//! change; one principal holds a role at a scope once), and the one transaction per write that
//! reads the vault's assignments, applies the rule and writes them.

use std::sync::Arc;

use uuid::Uuid;

use super::ManagementError;
use crate::auth::rbac::{AssignmentScope, RoleAssignment, RoleDefinition, ScopedRole};
use crate::store::role_assignments::ScopedAssignment;
use crate::vaults::{Vault, VaultRegistry};

/// What a PUT did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// The same assignment was put again.
    Unchanged,
}

/// A built-in role by id, resource id or name.
pub fn role(text: &str) -> Result<&'static RoleDefinition, ManagementError> {
    RoleDefinition::find(text).ok_or_else(|| ManagementError::RoleDefinitionNotFound(text.to_owned()))
}

/// Adds `assignment` to `assignments` under ARM's rules.
pub fn put(assignments: &mut Vec<RoleAssignment>, assignment: RoleAssignment) -> Result<PutOutcome, ManagementError> {
    if let Some(existing) = assignments.iter().find(|a| a.id == assignment.id) {
        return if existing.role_definition_id == assignment.role_definition_id
            && existing.principal_id == assignment.principal_id
            && existing.scope == assignment.scope
        {
            Ok(PutOutcome::Unchanged)
        } else {
            Err(ManagementError::RoleAssignmentUpdateNotPermitted)
        };
    }
    if assignments.iter().any(|a| {
        a.principal_id == assignment.principal_id
            && a.role_definition_id == assignment.role_definition_id
            && a.scope == assignment.scope
    }) {
        return Err(ManagementError::RoleAssignmentExists);
    }
    assignments.push(assignment);
    Ok(PutOutcome::Created)
}

/// Removes assignment `id` at `scope`; `None` when there is none.
pub fn remove(assignments: &mut Vec<RoleAssignment>, id: Uuid, scope: &AssignmentScope) -> Option<RoleAssignment> {
    let index = assignments.iter().position(|a| a.id == id && &a.scope == scope)?;
    Some(assignments.remove(index))
}

/// The active vault `name` in `group`, or `VaultNotFound`.
pub fn vault_in_group(registry: &VaultRegistry, group: &str, name: &str) -> Result<Arc<Vault>, ManagementError> {
    registry
        .get(name)
        .filter(|v| v.arm.resource_group.eq_ignore_ascii_case(group))
        .ok_or_else(|| ManagementError::VaultNotFound(name.to_owned()))
}

fn in_group(vault: &Vault, group: &str, name: &str) -> Result<(), ManagementError> {
    if vault.arm.resource_group.eq_ignore_ascii_case(group) {
        Ok(())
    } else {
        Err(ManagementError::VaultNotFound(name.to_owned()))
    }
}

/// PUT in one transaction on the vault's assignments.
pub async fn put_assignment(
    registry: &VaultRegistry,
    group: &str,
    vault: &str,
    assignment: RoleAssignment,
) -> Result<(Arc<Vault>, PutOutcome), ManagementError> {
    let mut outcome = PutOutcome::Unchanged;
    let written = registry
        .modify(vault, |stored| {
            in_group(stored, group, vault)?;
            outcome = put(&mut stored.role_assignments, assignment)?;
            Ok::<_, ManagementError>(())
        })
        .await?;
    Ok((written.after, outcome))
}

/// DELETE in one transaction; `None` when there was no such assignment.
pub async fn delete_assignment(
    registry: &VaultRegistry,
    group: &str,
    vault: &str,
    id: Uuid,
    scope: &AssignmentScope,
) -> Result<Option<RoleAssignment>, ManagementError> {
    let mut removed = None;
    registry
        .modify(vault, |stored| {
            in_group(stored, group, vault)?;
            removed = remove(&mut stored.role_assignments, id, scope);
            Ok::<_, ManagementError>(())
        })
        .await?;
    Ok(removed)
}

/// The ARM scope (resource id) of an assignment within `vault`.
#[must_use]
pub fn scope_id(vault: &Vault, scope: &AssignmentScope) -> String {
    match scope {
        AssignmentScope::Vault => vault.resource_id(),
        AssignmentScope::Key(key) => format!("{}/keys/{key}", vault.resource_id()),
        AssignmentScope::AllKeys => format!("{}/keys", vault.resource_id()),
        AssignmentScope::Inherited(scope) => scope.clone(),
    }
}

/// Every role `principal` holds on the management plane, with the scope it holds it at.
#[must_use]
pub fn roles_of(registry: &VaultRegistry, principal: Uuid) -> Vec<ScopedRole> {
    all_assignments(registry)
        .into_iter()
        .filter(|(_, a)| a.principal_id == principal)
        .filter_map(|(scope, a)| {
            let role = crate::auth::rbac::BUILT_IN_ROLES.iter().find(|r| r.id == a.role_definition_id)?;
            Some(ScopedRole { scope, role })
        })
        .collect()
}

/// The ARM scope of the subscription, or of resource group `group` in it.
#[must_use]
pub fn arm_scope(subscription: Uuid, group: Option<&str>) -> String {
    match group {
        Some(group) => format!("/subscriptions/{subscription}/resourceGroups/{group}"),
        None => format!("/subscriptions/{subscription}"),
    }
}

/// PUT at subscription or resource-group scope, in one transaction over those assignments.
/// Assignment ids are unique across scopes, as in ARM.
pub async fn put_scoped(
    registry: &VaultRegistry,
    scope: &str,
    mut assignment: RoleAssignment,
) -> Result<PutOutcome, ManagementError> {
    assignment.scope = AssignmentScope::Inherited(scope.to_owned());
    if all_assignments(registry).iter().any(|(at, a)| a.id == assignment.id && !at.eq_ignore_ascii_case(scope)) {
        return Err(ManagementError::RoleAssignmentUpdateNotPermitted);
    }
    registry
        .transact_scoped(|all| {
            let mut at_scope: Vec<RoleAssignment> = all
                .iter()
                .filter(|s| s.scope.eq_ignore_ascii_case(scope))
                .map(|s| RoleAssignment { scope: AssignmentScope::Inherited(scope.to_owned()), ..s.assignment.clone() })
                .collect();
            let outcome = put(&mut at_scope, assignment.clone())?;
            if outcome == PutOutcome::Created {
                all.push(ScopedAssignment { scope: scope.to_owned(), assignment });
            }
            Ok(outcome)
        })
        .await
}

/// DELETE at subscription or resource-group scope; `None` when there was no such assignment.
pub async fn delete_scoped(
    registry: &VaultRegistry,
    scope: &str,
    id: Uuid,
) -> Result<Option<RoleAssignment>, ManagementError> {
    registry
        .transact_scoped(|all| {
            let index = all.iter().position(|s| s.assignment.id == id && s.scope.eq_ignore_ascii_case(scope));
            Ok::<_, ManagementError>(index.map(|i| all.remove(i).assignment))
        })
        .await
}

/// The assignment `id` at subscription or resource-group scope `scope`.
pub fn get_scoped(registry: &VaultRegistry, scope: &str, id: Uuid) -> Result<RoleAssignment, ManagementError> {
    registry
        .scoped_assignments()
        .into_iter()
        .find(|s| s.assignment.id == id && s.scope.eq_ignore_ascii_case(scope))
        .map(|s| s.assignment)
        .ok_or_else(|| ManagementError::RoleAssignmentNotFound(id.to_string()))
}

/// A role-assignment listing's `$filter`, in the forms ARM accepts: `atScope()`,
/// `principalId eq '{id}'`, `assignedTo('{id}')` (no groups here, so the same), and `and` of
/// `atScope()` with one of the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only assignments at the scope or above it (not those below).
    pub at_scope: bool,
    pub principal: Option<Uuid>,
}

impl ListFilter {
    pub fn parse(filter: Option<&str>) -> Result<Self, ManagementError> {
        let mut parsed = Self::default();
        let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else { return Ok(parsed) };
        let invalid =
            || ManagementError::InvalidRequest(crate::messages::management::unsupported_role_assignment_filter(filter));
        for term in filter.split(" and ").map(str::trim) {
            let lower = term.to_ascii_lowercase();
            let quoted = |prefix: &str, suffix: &str| {
                lower
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .and_then(|id| Uuid::parse_str(id.trim()).ok())
            };
            if lower.replace(' ', "") == "atscope()" {
                parsed.at_scope = true;
            } else if let Some(id) = quoted("principalid eq '", "'").or_else(|| quoted("assignedto('", "')")) {
                parsed.principal = Some(id);
            } else {
                return Err(invalid());
            }
        }
        Ok(parsed)
    }
}

/// Every role assignment in the emulator with the ARM scope it is at.
#[must_use]
pub fn all_assignments(registry: &VaultRegistry) -> Vec<(String, RoleAssignment)> {
    let scoped = registry.scoped_assignments().into_iter().map(|s| (s.scope, s.assignment));
    let in_vaults = registry.all().into_iter().flat_map(|vault| {
        vault.own_role_assignments().map(|a| (scope_id(&vault, &a.scope), a.clone())).collect::<Vec<_>>()
    });
    scoped.chain(in_vaults).collect()
}

/// The assignments a listing at ARM scope `scope` shows: those at it, above it and (unless
/// `atScope()`) below it, of the filtered principal.
#[must_use]
pub fn list(all: Vec<(String, RoleAssignment)>, scope: &str, filter: &ListFilter) -> Vec<(String, RoleAssignment)> {
    use crate::auth::rbac::scope_covers;
    all.into_iter()
        .filter(|(at, _)| scope_covers(at, scope) || (!filter.at_scope && scope_covers(scope, at)))
        .filter(|(_, a)| filter.principal.is_none_or(|p| a.principal_id == p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(id: u128, principal: u128, role_name: &str) -> RoleAssignment {
        RoleAssignment {
            id: Uuid::from_u128(id),
            principal_id: Uuid::from_u128(principal),
            role_definition_id: role(role_name).unwrap().id,
            scope: AssignmentScope::Vault,
        }
    }

    #[test]
    fn an_assignment_is_put_once_and_never_changed() {
        let mut all = vec![];
        assert_eq!(put(&mut all, assignment(1, 10, "Key Vault Reader")).unwrap(), PutOutcome::Created);
        assert_eq!(put(&mut all, assignment(1, 10, "Key Vault Reader")).unwrap(), PutOutcome::Unchanged);
        assert!(matches!(
            put(&mut all, assignment(1, 10, "Key Vault Administrator")),
            Err(ManagementError::RoleAssignmentUpdateNotPermitted)
        ));
        assert!(matches!(
            put(&mut all, assignment(2, 10, "Key Vault Reader")),
            Err(ManagementError::RoleAssignmentExists)
        ));
        assert_eq!(put(&mut all, assignment(3, 11, "Key Vault Reader")).unwrap(), PutOutcome::Created);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn listings_filter_by_scope_and_principal() {
        let vault = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v".to_owned();
        let key = format!("{vault}/keys/k");
        let all = vec![
            (vault.clone(), assignment(1, 10, "Key Vault Reader")),
            (key.clone(), assignment(2, 11, "Key Vault Reader")),
        ];
        let ids =
            |listed: Vec<(String, RoleAssignment)>| listed.iter().map(|(_, a)| a.id.as_u128()).collect::<Vec<_>>();
        let everything = ListFilter::default();
        assert_eq!(ids(list(all.clone(), "/subscriptions/s", &everything)), [1, 2]);
        assert_eq!(ids(list(all.clone(), "/subscriptions/S/resourcegroups/RG", &everything)), [1, 2]);
        assert_eq!(ids(list(all.clone(), "/subscriptions/s/resourceGroups/other", &everything)), Vec::<u128>::new());
        let at_scope = ListFilter::parse(Some("atScope()")).unwrap();
        assert_eq!(ids(list(all.clone(), "/subscriptions/s", &at_scope)), Vec::<u128>::new());
        assert_eq!(ids(list(all.clone(), &vault, &at_scope)), [1]);
        assert_eq!(ids(list(all.clone(), &key, &at_scope)), [1, 2]);
        let mine = ListFilter::parse(Some(&format!("principalId eq '{}'", Uuid::from_u128(11)))).unwrap();
        assert_eq!(ids(list(all.clone(), "/subscriptions/s", &mine)), [2]);
        let assigned =
            ListFilter::parse(Some(&format!("atScope() and assignedTo('{}')", Uuid::from_u128(10)))).unwrap();
        assert_eq!(assigned, ListFilter { at_scope: true, principal: Some(Uuid::from_u128(10)) });
        assert!(ListFilter::parse(Some("roleName eq 'x'")).is_err());
        assert_eq!(ListFilter::parse(None).unwrap(), everything);
    }

    #[test]
    fn removal_needs_the_id_at_its_scope() {
        let mut all = vec![assignment(1, 10, "Key Vault Reader")];
        assert!(remove(&mut all, Uuid::from_u128(1), &AssignmentScope::Key("k".into())).is_none());
        assert!(remove(&mut all, Uuid::from_u128(1), &AssignmentScope::Vault).is_some());
        assert!(all.is_empty());
        assert!(matches!(role("Owner of everything"), Err(ManagementError::RoleDefinitionNotFound(_))));
    }
}
