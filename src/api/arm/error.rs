//! The management plane's one error type: each variant is a Resource Manager situation with
//! its status and ARM code, rendered as `{"error":{"code","message"}}` in one place.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::management::ManagementError;

#[derive(Debug)]
pub enum ArmError {
    /// No or an invalid bearer token; `message` says which.
    Unauthenticated {
        code: &'static str,
        message: String,
        tenant: uuid::Uuid,
    },
    /// The caller holds no role granting `action` at `scope`.
    AuthorizationFailed {
        app_id: uuid::Uuid,
        object_id: uuid::Uuid,
        action: &'static str,
        scope: String,
    },
    SubscriptionNotFound {
        given: String,
        expected: uuid::Uuid,
    },
    ResourceNotFound {
        kind: &'static str,
        name: String,
    },
    BadRequest(String),
    /// A `$filter` the listing does not understand.
    InvalidFilter(String),
    VaultNameNotValid(String),
    VaultAlreadyExists(String),
    /// A soft-deleted vault holds the name.
    VaultSoftDeleted(String),
    PurgeProtected(String),
    InvalidRoleAssignmentId,
    RoleDefinitionDoesNotExist(String),
    RoleAssignmentNotFound,
    RoleAssignmentUpdateNotPermitted,
    RoleAssignmentExists,
    /// The name belongs to another identity, or to one the emulator declares.
    IdentityConflict(String),
    /// The store stayed locked by other writers past its busy timeout.
    Busy,
    Internal,
}

pub type ArmResult<T> = Result<T, ArmError>;

impl ArmError {
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::AuthorizationFailed { .. } => StatusCode::FORBIDDEN,
            Self::SubscriptionNotFound { .. } | Self::ResourceNotFound { .. } | Self::RoleAssignmentNotFound => {
                StatusCode::NOT_FOUND
            }
            Self::BadRequest(_)
            | Self::InvalidFilter(_)
            | Self::VaultNameNotValid(_)
            | Self::InvalidRoleAssignmentId
            | Self::RoleDefinitionDoesNotExist(_)
            | Self::RoleAssignmentUpdateNotPermitted => StatusCode::BAD_REQUEST,
            Self::VaultAlreadyExists(_)
            | Self::VaultSoftDeleted(_)
            | Self::PurgeProtected(_)
            | Self::RoleAssignmentExists
            | Self::IdentityConflict(_) => StatusCode::CONFLICT,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated { code, .. } => code,
            Self::AuthorizationFailed { .. } => "AuthorizationFailed",
            Self::SubscriptionNotFound { .. } => "SubscriptionNotFound",
            Self::ResourceNotFound { .. } => "ResourceNotFound",
            Self::BadRequest(_) => "BadRequest",
            Self::InvalidFilter(_) => "InvalidFilterInQueryString",
            Self::VaultNameNotValid(_) => "VaultNameNotValid",
            Self::VaultAlreadyExists(_) => "VaultAlreadyExists",
            Self::VaultSoftDeleted(_) => "ConflictError",
            Self::PurgeProtected(_) | Self::IdentityConflict(_) => "Conflict",
            Self::InvalidRoleAssignmentId => "InvalidRoleAssignmentId",
            Self::RoleDefinitionDoesNotExist(_) => "RoleDefinitionDoesNotExist",
            Self::RoleAssignmentNotFound => "RoleAssignmentNotFound",
            Self::RoleAssignmentUpdateNotPermitted => "RoleAssignmentUpdateNotPermitted",
            Self::RoleAssignmentExists => "RoleAssignmentExists",
            Self::Busy => "ServiceUnavailable",
            Self::Internal => "InternalServerError",
        }
    }

    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated { message, .. }
            | Self::BadRequest(message)
            | Self::InvalidFilter(message)
            | Self::IdentityConflict(message) => message.clone(),
            Self::AuthorizationFailed { app_id, object_id, action, scope } => {
                crate::messages::management::authorization_failed(app_id, object_id, action, scope)
            }
            Self::SubscriptionNotFound { given, expected } => {
                crate::messages::management::subscription_not_found(given, expected)
            }
            Self::ResourceNotFound { kind, name } => crate::messages::management::resource_not_found(kind, name),
            Self::VaultNameNotValid(name) => crate::messages::management::vault_name_not_valid(name),
            Self::VaultAlreadyExists(name) => crate::messages::management::vault_already_exists(name),
            Self::VaultSoftDeleted(name) => crate::messages::management::vault_soft_deleted(name),
            Self::PurgeProtected(name) => crate::messages::management::purge_protected(name),
            Self::InvalidRoleAssignmentId => crate::messages::management::INVALID_ROLE_ASSIGNMENT_ID.to_owned(),
            Self::RoleDefinitionDoesNotExist(id) => crate::messages::management::role_definition_does_not_exist(id),
            Self::RoleAssignmentNotFound => crate::messages::management::ROLE_ASSIGNMENT_NOT_FOUND.to_owned(),
            Self::RoleAssignmentUpdateNotPermitted => {
                crate::messages::management::ROLE_ASSIGNMENT_UPDATE_NOT_PERMITTED.to_owned()
            }
            Self::RoleAssignmentExists => crate::messages::management::ROLE_ASSIGNMENT_EXISTS.to_owned(),
            Self::Busy => crate::messages::management::STORE_BUSY.to_owned(),
            Self::Internal => crate::messages::management::STORE_FAILED.to_owned(),
        }
    }

    pub fn vault_not_found(name: &str) -> Self {
        Self::ResourceNotFound { kind: "Microsoft.KeyVault/vaults", name: name.to_owned() }
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code(), "message": self.message()}}));
        let mut response = (self.status(), body).into_response();
        if let Self::Unauthenticated { tenant, .. } = &self {
            let challenge = crate::messages::management::challenge(tenant);
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if matches!(self, Self::Busy) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<ManagementError> for ArmError {
    fn from(err: ManagementError) -> Self {
        match err {
            ManagementError::VaultNotFound(name) => Self::vault_not_found(&name),
            ManagementError::DeletedVaultNotFound(name) => {
                Self::ResourceNotFound { kind: "Microsoft.KeyVault/deletedVaults", name }
            }
            ManagementError::VaultNameInvalid(name) => Self::VaultNameNotValid(name),
            ManagementError::VaultNameInUse(name) => Self::VaultAlreadyExists(name),
            ManagementError::VaultSoftDeleted(name) => Self::VaultSoftDeleted(name),
            ManagementError::DeletedVaultInOtherGroup { name, group } => {
                Self::BadRequest(crate::messages::management::deleted_vault_in_other_group(&name, &group))
            }
            ManagementError::PurgeProtected(name) => Self::PurgeProtected(name),
            ManagementError::Rule(rule) => Self::BadRequest(rule.to_string()),
            ManagementError::InvalidRequest(message) => Self::BadRequest(message),
            ManagementError::RoleDefinitionNotFound(id) => Self::RoleDefinitionDoesNotExist(id),
            ManagementError::RoleAssignmentNotFound(_) => Self::RoleAssignmentNotFound,
            ManagementError::RoleAssignmentUpdateNotPermitted => Self::RoleAssignmentUpdateNotPermitted,
            ManagementError::RoleAssignmentExists => Self::RoleAssignmentExists,
            ManagementError::ScopeNotFound(scope) => {
                Self::BadRequest(crate::messages::management::scope_not_found(&scope))
            }
            ManagementError::IdentityNotFound(name) => {
                Self::ResourceNotFound { kind: "Microsoft.ManagedIdentity/userAssignedIdentities", name }
            }
            ManagementError::IdentityNameTaken(name) => {
                Self::IdentityConflict(crate::messages::management::identity_name_taken(&name))
            }
            ManagementError::IdentityDeclared(name) => {
                Self::IdentityConflict(crate::messages::management::identity_declared(&name))
            }
            ManagementError::Busy => Self::Busy,
            ManagementError::Store(err) => {
                tracing::error!(error = %err, "management API store error");
                Self::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status_and_code() {
        let id = uuid::Uuid::nil();
        let table = [
            (
                ArmError::Unauthenticated { code: "AuthenticationFailed", message: String::new(), tenant: id },
                401,
                "AuthenticationFailed",
            ),
            (
                ArmError::AuthorizationFailed { app_id: id, object_id: id, action: "a", scope: "/".into() },
                403,
                "AuthorizationFailed",
            ),
            (ArmError::SubscriptionNotFound { given: "x".into(), expected: id }, 404, "SubscriptionNotFound"),
            (ArmError::vault_not_found("v"), 404, "ResourceNotFound"),
            (ArmError::BadRequest("m".into()), 400, "BadRequest"),
            (ArmError::InvalidFilter("m".into()), 400, "InvalidFilterInQueryString"),
            (ArmError::VaultNameNotValid("v".into()), 400, "VaultNameNotValid"),
            (ArmError::VaultAlreadyExists("v".into()), 409, "VaultAlreadyExists"),
            (ArmError::VaultSoftDeleted("v".into()), 409, "ConflictError"),
            (ArmError::PurgeProtected("v".into()), 409, "Conflict"),
            (ArmError::InvalidRoleAssignmentId, 400, "InvalidRoleAssignmentId"),
            (ArmError::RoleDefinitionDoesNotExist("r".into()), 400, "RoleDefinitionDoesNotExist"),
            (ArmError::RoleAssignmentNotFound, 404, "RoleAssignmentNotFound"),
            (ArmError::RoleAssignmentUpdateNotPermitted, 400, "RoleAssignmentUpdateNotPermitted"),
            (ArmError::RoleAssignmentExists, 409, "RoleAssignmentExists"),
            (ArmError::IdentityConflict("m".into()), 409, "Conflict"),
            (ArmError::Busy, 503, "ServiceUnavailable"),
            (ArmError::Internal, 500, "InternalServerError"),
        ];
        for (error, status, code) in table {
            assert_eq!((error.status().as_u16(), error.code()), (status, code), "{error:?}");
            assert!(!error.message().is_empty() || matches!(error, ArmError::Unauthenticated { .. }), "{error:?}");
        }
    }

    #[test]
    fn a_busy_store_is_a_503_with_retry_after() {
        let response = ArmError::from(ManagementError::Busy).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let busy = ManagementError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(busy, ManagementError::Busy));
    }
}
