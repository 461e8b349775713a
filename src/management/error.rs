//! What a management operation can refuse, named after the situation; `api/arm` maps each
//! variant to its status and ARM code. No status codes here.

use crate::vaults::{VaultError, VaultRule};

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("no vault named '{0}' in this resource group")]
    VaultNotFound(String),
    #[error("no soft-deleted vault named '{0}'")]
    DeletedVaultNotFound(String),
    #[error("'{0}' is not a valid vault name")]
    VaultNameInvalid(String),
    /// An active vault of that name lives in another resource group (vault names are global).
    #[error("the vault name '{0}' is already in use")]
    VaultNameInUse(String),
    /// A soft-deleted vault holds the name: recover or purge it first.
    #[error("vault '{0}' is soft-deleted")]
    VaultSoftDeleted(String),
    #[error("the deleted vault '{name}' belongs to resource group '{group}'")]
    DeletedVaultInOtherGroup { name: String, group: String },
    #[error("vault '{0}' has purge protection")]
    PurgeProtected(String),
    #[error("{0}")]
    Rule(#[from] VaultRule),
    /// A request property the operation does not accept; the message says which and why.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("role definition '{0}' does not exist")]
    RoleDefinitionNotFound(String),
    #[error("role assignment '{0}' does not exist")]
    RoleAssignmentNotFound(String),
    /// PUT on an existing assignment id with another role or principal.
    #[error("a role assignment's principal, role and scope cannot be changed")]
    RoleAssignmentUpdateNotPermitted,
    /// Another assignment already gives this principal this role at this scope.
    #[error("the role assignment already exists")]
    RoleAssignmentExists,
    #[error("'{0}' is not a role assignment scope the emulator has")]
    ScopeNotFound(String),
    #[error("no user-assigned identity named '{0}' in this resource group")]
    IdentityNotFound(String),
    /// The name (in that resource group) belongs to an identity of another kind.
    #[error("the name '{0}' belongs to another identity")]
    IdentityNameTaken(String),
    /// Built-in and config-file identities are not the management API's to delete.
    #[error("identity '{0}' is declared by the emulator and cannot be deleted through the management API")]
    IdentityDeclared(String),
    /// The store is locked by other writers past its busy timeout: retry.
    #[error("the store is busy")]
    Busy,
    #[error("store: {0}")]
    Store(sqlx::Error),
}

impl From<sqlx::Error> for ManagementError {
    fn from(err: sqlx::Error) -> Self {
        if crate::store::is_busy(&err) { Self::Busy } else { Self::Store(err) }
    }
}

impl From<VaultError> for ManagementError {
    fn from(err: VaultError) -> Self {
        match err {
            VaultError::Invalid(message) => Self::InvalidRequest(message),
            VaultError::Rule(rule) => Self::Rule(rule),
            VaultError::Deleted(name) => Self::VaultSoftDeleted(name),
            VaultError::NotFound(name) => Self::VaultNotFound(name),
            VaultError::PurgeProtected(name) => Self::PurgeProtected(name),
            taken @ VaultError::NameTaken { .. } => Self::InvalidRequest(taken.to_string()),
            VaultError::Store(err) => err.into(),
        }
    }
}
