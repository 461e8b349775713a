//! What can go wrong in the keys service, in domain terms. No status codes here: `api::errors`
//! maps each variant to its Key Vault code, status and message.

use thiserror::Error;

use super::model::KeyOperation;

#[derive(Debug, Error)]
pub enum Error {
    #[error("key {name} not found")]
    KeyNotFound { name: String, version: Option<String> },
    #[error("deleted key {name} not found")]
    DeletedKeyNotFound { name: String },
    #[error("key {name} is deleted but recoverable")]
    DeletedButRecoverable { name: String },
    #[error("purge protection is on in vault {vault}")]
    PurgeProtected { vault: String },
    #[error("restoring {name}/{version} conflicts with an existing key")]
    RestoreConflict { name: String, version: String },
    #[error("invalid object name {0}")]
    InvalidName(String),
    #[error("{0}")]
    BadParameter(String),
    #[error("operation {0:?} not permitted by key_ops")]
    OperationNotPermitted(KeyOperation),
    #[error("key is disabled")]
    KeyDisabled(KeyOperation),
    #[error("key is not yet valid")]
    KeyNotYetValid(KeyOperation),
    #[error("key has expired")]
    KeyExpired(KeyOperation),
    #[error("the attestation does not satisfy the key's release policy")]
    ReleasePolicyNotSatisfied,
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::crypto::CryptoError> for Error {
    fn from(err: crate::crypto::CryptoError) -> Self {
        match err {
            crate::crypto::CryptoError::InvalidInput(message) => Self::BadParameter(message),
            crate::crypto::CryptoError::Material(message) => Self::Internal(message),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
