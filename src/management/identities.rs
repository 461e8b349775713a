//! `Microsoft.ManagedIdentity/userAssignedIdentities`: create or update, read, list and delete
//! the identities the management API makes. Built-in and config-file identities show up here
//! too, but are not the management API's to delete.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::ManagementError;
use crate::auth::identity::{Identities, Identity, IdentityKind, IdentityWriteError};
use crate::store::identities::StoredIdentity;

impl From<IdentityWriteError> for ManagementError {
    fn from(err: IdentityWriteError) -> Self {
        match err {
            IdentityWriteError::NameTaken(name) => Self::IdentityNameTaken(name),
            IdentityWriteError::Declared(name) => Self::IdentityDeclared(name),
            IdentityWriteError::Store(err) => err.into(),
        }
    }
}

/// A user-assigned identity with the location and tags ARM shows for it.
#[derive(Clone, Debug)]
pub struct ArmIdentity {
    pub identity: Identity,
    pub location: String,
    pub tags: BTreeMap<String, String>,
}

fn with_metadata(identities: &Identities, identity: Identity) -> ArmIdentity {
    match identities.arm_metadata(&identity) {
        Some(stored) => ArmIdentity { identity, location: stored.location, tags: stored.tags },
        None => ArmIdentity { identity, location: crate::vaults::DEFAULT_LOCATION.to_owned(), tags: BTreeMap::new() },
    }
}

pub fn get(identities: &Identities, group: &str, name: &str) -> Result<ArmIdentity, ManagementError> {
    identities
        .user_assigned(group, name)
        .map(|i| with_metadata(identities, i))
        .ok_or_else(|| ManagementError::IdentityNotFound(name.to_owned()))
}

/// Every user-assigned identity, or those in `group`.
#[must_use]
pub fn list(identities: &Identities, group: Option<&str>) -> Vec<ArmIdentity> {
    identities
        .all()
        .into_iter()
        .filter(|i| i.kind == IdentityKind::UserAssigned)
        .filter(|i| group.is_none_or(|g| i.is_user_assigned(g, &i.name)))
        .map(|i| with_metadata(identities, i))
        .collect()
}

/// PUT: creates (`true`) or updates the identity `name` in `group`.
pub async fn put(
    identities: &Identities,
    tenant_id: Uuid,
    group: &str,
    name: &str,
    location: Option<String>,
    tags: Option<BTreeMap<String, String>>,
) -> Result<(ArmIdentity, bool), ManagementError> {
    let stored = StoredIdentity {
        name: name.to_owned(),
        tenant_id,
        resource_group: group.to_owned(),
        location: location.unwrap_or_else(|| crate::vaults::DEFAULT_LOCATION.to_owned()),
        tags: tags.unwrap_or_default(),
        ids: None,
    };
    let (location, tags) = (stored.location.clone(), stored.tags.clone());
    let (identity, created) = identities.put_user_assigned(stored).await?;
    Ok((ArmIdentity { identity, location, tags }, created))
}

/// DELETE: `true` when an identity was deleted, `false` when there was none in `group`.
pub async fn delete(identities: &Identities, group: &str, name: &str) -> Result<bool, ManagementError> {
    Ok(identities.delete_user_assigned(group, name).await?)
}
