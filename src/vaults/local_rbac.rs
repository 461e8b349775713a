//! The writes of a Managed HSM's local RBAC: role assignments at `/`, `/keys` and
//! `/keys/{name}`, and custom role definitions. Each write is one transaction on the HSM
//! (`VaultRegistry::modify_hsm`), so a removed or changed assignment decides the very next
//! request. The decision itself is `auth::local_rbac::authorize`.

use uuid::Uuid;

use super::{VaultError, VaultKind, VaultRegistry};
use crate::auth::local_rbac::{self, CustomRole, built_in};
use crate::auth::rbac::{AssignmentScope, RoleAssignment};

/// Why a local-RBAC write was refused.
#[derive(Debug, thiserror::Error)]
pub enum LocalRbacError {
    #[error("{0}")]
    BadParameter(String),
    #[error("{}", crate::messages::managed_hsm::role_assignment_not_found(.0))]
    AssignmentNotFound(String),
    #[error("{}", crate::messages::managed_hsm::role_definition_not_found(.0))]
    DefinitionNotFound(String),
    /// A PUT to an assignment name that exists with other properties.
    #[error("{}", crate::messages::managed_hsm::role_assignment_exists(.0))]
    AssignmentExists(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// An assignment or definition name: the SDKs send GUIDs.
pub fn parse_name(text: &str, what: &str) -> Result<Uuid, LocalRbacError> {
    Uuid::parse_str(text)
        .map_err(|_| LocalRbacError::BadParameter(crate::messages::managed_hsm::invalid_rbac_name(what, text)))
}

/// The role definition id of a request: a GUID, or a full id ending in one.
pub fn parse_role_definition_id(text: &str) -> Result<Uuid, LocalRbacError> {
    let last = text.rsplit('/').next().unwrap_or(text);
    Uuid::parse_str(last)
        .map_err(|_| LocalRbacError::BadParameter(crate::messages::managed_hsm::invalid_role_definition_id(text)))
}

/// Creates assignment `id` in HSM `hsm`. Repeating the same PUT answers the same assignment;
/// the same name with other properties is a conflict.
pub async fn create_assignment(
    registry: &VaultRegistry,
    hsm: &str,
    assignment: RoleAssignment,
) -> Result<RoleAssignment, LocalRbacError> {
    let answer = assignment.clone();
    registry
        .modify_hsm(hsm, |store| {
            let custom = store.managed_hsm().map(|h| h.role_definitions.as_slice()).unwrap_or_default();
            if built_in(&assignment.role_definition_id.to_string()).is_none()
                && !custom.iter().any(|r| r.id == assignment.role_definition_id)
            {
                return Err(LocalRbacError::DefinitionNotFound(assignment.role_definition_id.to_string()));
            }
            match store.role_assignments.iter().find(|a| a.id == assignment.id) {
                Some(existing) if *existing == assignment => Ok(()),
                Some(_) => Err(LocalRbacError::AssignmentExists(assignment.id.to_string())),
                None => {
                    store.role_assignments.push(assignment);
                    Ok(())
                }
            }
        })
        .await?;
    Ok(answer)
}

/// Deletes assignment `id` at `scope`; answers what it deleted.
pub async fn delete_assignment(
    registry: &VaultRegistry,
    hsm: &str,
    scope: &AssignmentScope,
    id: Uuid,
) -> Result<RoleAssignment, LocalRbacError> {
    let mut removed = None;
    registry
        .modify_hsm(hsm, |store| {
            let index = store
                .role_assignments
                .iter()
                .position(|a| a.id == id && a.scope == *scope)
                .ok_or_else(|| LocalRbacError::AssignmentNotFound(id.to_string()))?;
            removed = Some(store.role_assignments.remove(index));
            Ok::<(), LocalRbacError>(())
        })
        .await?;
    removed.ok_or_else(|| LocalRbacError::AssignmentNotFound(id.to_string()))
}

/// Creates or replaces custom role `role`. Built-in ids are refused, as the service does.
pub async fn set_role_definition(
    registry: &VaultRegistry,
    hsm: &str,
    role: CustomRole,
) -> Result<CustomRole, LocalRbacError> {
    if built_in(&role.id.to_string()).is_some() {
        return Err(LocalRbacError::BadParameter(crate::messages::managed_hsm::BUILT_IN_ROLE_ID_REUSED.into()));
    }
    if role.role_name.trim().is_empty() {
        return Err(LocalRbacError::BadParameter(crate::messages::managed_hsm::ROLE_NAME_REQUIRED.into()));
    }
    for scope in &role.assignable_scopes {
        local_rbac::parse_scope(scope).map_err(LocalRbacError::BadParameter)?;
    }
    let answer = role.clone();
    registry
        .modify_hsm(hsm, |store| {
            if let VaultKind::ManagedHsm(state) = &mut store.kind {
                if state
                    .role_definitions
                    .iter()
                    .any(|r| r.id != role.id && r.role_name.eq_ignore_ascii_case(&role.role_name))
                {
                    return Err(LocalRbacError::BadParameter(crate::messages::managed_hsm::role_name_taken(
                        &role.role_name,
                    )));
                }
                state.role_definitions.retain(|r| r.id != role.id);
                state.role_definitions.push(role);
            }
            Ok(())
        })
        .await?;
    Ok(answer)
}

/// Deletes custom role `id`; a role still assigned is refused, and built-in roles cannot go.
pub async fn delete_role_definition(
    registry: &VaultRegistry,
    hsm: &str,
    id: Uuid,
) -> Result<CustomRole, LocalRbacError> {
    if built_in(&id.to_string()).is_some() {
        return Err(LocalRbacError::BadParameter(crate::messages::managed_hsm::BUILT_IN_ROLE_UNDELETABLE.into()));
    }
    let mut removed = None;
    registry
        .modify_hsm(hsm, |store| {
            if store.role_assignments.iter().any(|a| a.role_definition_id == id) {
                return Err(LocalRbacError::BadParameter(crate::messages::managed_hsm::role_definition_in_use(id)));
            }
            if let VaultKind::ManagedHsm(state) = &mut store.kind {
                let index = state
                    .role_definitions
                    .iter()
                    .position(|r| r.id == id)
                    .ok_or_else(|| LocalRbacError::DefinitionNotFound(id.to_string()))?;
                removed = Some(state.role_definitions.remove(index));
            }
            Ok(())
        })
        .await?;
    removed.ok_or_else(|| LocalRbacError::DefinitionNotFound(id.to_string()))
}
