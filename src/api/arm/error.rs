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
            Self::AuthorizationFailed { app_id, object_id, action, scope } => format!(
                "The client '{app_id}' with object id '{object_id}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
            Self::SubscriptionNotFound { given, expected } => {
                format!("The subscription '{given}' could not be found. The emulator's subscription is '{expected}'.")
            }
            Self::ResourceNotFound { kind, name } => format!(
                "The Resource '{kind}/{name}' under resource group was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
            Self::VaultNameNotValid(name) => format!(
                "The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742"
            ),
            Self::VaultAlreadyExists(name) => format!(
                "The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information on soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740."
            ),
            Self::VaultSoftDeleted(name) => format!(
                "Exist soft deleted vault with the same name '{name}'. Recover it with createMode 'recover', or purge it first."
            ),
            Self::PurgeProtected(name) => format!(
                "The vault '{name}' has purge protection enabled: it cannot be purged before its scheduled purge date."
            ),
            Self::InvalidRoleAssignmentId => {
                "The role assignment ID is not valid. The role assignment ID must be a GUID.".to_owned()
            }
            Self::RoleDefinitionDoesNotExist(id) => {
                format!("The specified role definition with ID '{id}' does not exist.")
            }
            Self::RoleAssignmentNotFound => "The role assignment does not exist.".to_owned(),
            Self::RoleAssignmentUpdateNotPermitted => {
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.".to_owned()
            }
            Self::RoleAssignmentExists => "The role assignment already exists.".to_owned(),
            Self::Busy => "The emulator's store is busy with other writes; retry the request.".to_owned(),
            Self::Internal => "The emulator's store failed.".to_owned(),
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
            let challenge = format!(
                r#"Bearer authorization_uri="https://login.windows.net/{tenant}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header.""#
            );
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
                Self::BadRequest(format!("The deleted vault '{name}' belongs to resource group '{group}'."))
            }
            ManagementError::PurgeProtected(name) => Self::PurgeProtected(name),
            ManagementError::Rule(rule) => Self::BadRequest(rule.to_string()),
            ManagementError::InvalidRequest(message) => Self::BadRequest(message),
            ManagementError::RoleDefinitionNotFound(id) => Self::RoleDefinitionDoesNotExist(id),
            ManagementError::RoleAssignmentNotFound(_) => Self::RoleAssignmentNotFound,
            ManagementError::RoleAssignmentUpdateNotPermitted => Self::RoleAssignmentUpdateNotPermitted,
            ManagementError::RoleAssignmentExists => Self::RoleAssignmentExists,
            ManagementError::ScopeNotFound(scope) => Self::BadRequest(format!(
                "The scope '{scope}' is not a subscription, resource group, vault or key the emulator has."
            )),
            ManagementError::IdentityNotFound(name) => {
                Self::ResourceNotFound { kind: "Microsoft.ManagedIdentity/userAssignedIdentities", name }
            }
            ManagementError::IdentityNameTaken(name) => {
                Self::IdentityConflict(format!("The name '{name}' belongs to another identity."))
            }
            ManagementError::IdentityDeclared(name) => Self::IdentityConflict(format!(
                "The identity '{name}' is declared by the emulator (built in, or in its config file) and cannot be deleted through the management API."
            )),
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
