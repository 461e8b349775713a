//! The Resource Manager plane's texts (`/subscriptions/...`, `ArmError`): authentication and
//! authorization refusals, not-found and conflict answers, and the vault, managed HSM, access
//! policy and role assignment rules the management domain (`src/management`, `src/vaults`)
//! decides. None has a recorded source in the contract: all are [unverified], in ARM's style.

use std::fmt::Display;

// Authentication and authorization.

pub const AUTHORIZATION_HEADER_MISSING: &str = "Authentication failed. The 'Authorization' header is missing.";

#[must_use]
pub fn invalid_access_token(error: impl Display) -> String {
    format!("The access token is invalid: {error}.")
}

/// The `WWW-Authenticate` challenge of a 401.
#[must_use]
pub fn challenge(tenant: impl Display) -> String {
    format!(
        r#"Bearer authorization_uri="https://login.windows.net/{tenant}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header.""#
    )
}

#[must_use]
pub fn authorization_failed(app_id: impl Display, object_id: impl Display, action: &str, scope: &str) -> String {
    format!(
        "The client '{app_id}' with object id '{object_id}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
    )
}

#[must_use]
pub fn subscription_not_found(given: &str, expected: impl Display) -> String {
    format!("The subscription '{given}' could not be found. The emulator's subscription is '{expected}'.")
}

#[must_use]
pub fn resource_not_found(kind: &str, name: &str) -> String {
    format!(
        "The Resource '{kind}/{name}' under resource group was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    )
}

// Vaults.

#[must_use]
pub fn vault_name_not_valid(name: &str) -> String {
    format!(
        "The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742"
    )
}

#[must_use]
pub fn vault_already_exists(name: &str) -> String {
    format!(
        "The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information on soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740."
    )
}

#[must_use]
pub fn vault_soft_deleted(name: &str) -> String {
    format!(
        "Exist soft deleted vault with the same name '{name}'. Recover it with createMode 'recover', or purge it first."
    )
}

#[must_use]
pub fn purge_protected(name: &str) -> String {
    format!("The vault '{name}' has purge protection enabled: it cannot be purged before its scheduled purge date.")
}

#[must_use]
pub fn deleted_vault_in_other_group(name: &str, group: &str) -> String {
    format!("The deleted vault '{name}' belongs to resource group '{group}'.")
}

#[must_use]
pub fn invalid_create_mode(mode: &str) -> String {
    format!("createMode '{mode}' is not valid: use 'default' or 'recover'.")
}

pub const VAULT_SKU_REQUIRED: &str = "The parameter 'properties.sku' is required to create a vault.";
pub const VAULT_SOFT_DELETE_ALWAYS_ON: &str =
    "The property \"enableSoftDelete\" cannot be set to false. Soft delete is always on for new vaults.";
pub const DEFAULT_VAULT_UNDELETABLE: &str = "The emulator's default vault always exists and cannot be deleted.";
pub const PROPERTIES_REQUIRED: &str = "The request body needs 'properties'.";

#[must_use]
pub fn retention_out_of_range(days: u32) -> String {
    format!("The property \"softDeleteRetentionInDays\" has an invalid value {days}. It must be between 7 and 90.")
}

#[must_use]
pub fn retention_fixed(vault: &str, current: u32, requested: u32) -> String {
    format!(
        "vault '{vault}' keeps deleted keys for {current} days; softDeleteRetentionInDays is set when a vault is created and cannot be changed to {requested}"
    )
}

pub const PURGE_PROTECTION_IRREVERSIBLE: &str = "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.";

#[must_use]
pub fn invalid_policy_operation(operation: &str) -> String {
    format!("'{operation}' is not an access policy operation: use add, replace or remove.")
}

// Managed HSMs.

pub const HSM_SOFT_DELETE_ALWAYS_ON: &str =
    "Soft delete is always on for a managed HSM: 'enableSoftDelete' cannot be false.";

#[must_use]
pub fn invalid_hsm_sku(sku: &str, skus: &str) -> String {
    format!("The SKU '{sku}' is not a managed HSM SKU: use one of {skus}.")
}

pub const HSM_ADMINS_FIXED: &str = "'initialAdminObjectIds' are set when the managed HSM is created and cannot be changed: use its local RBAC (role assignments) instead.";
pub const HSM_TENANT_FIXED: &str = "The 'tenantId' of a managed HSM cannot be changed.";
pub const HSM_TENANT_REQUIRED: &str = "The property 'properties.tenantId' is required to create a managed HSM.";
pub const HSM_ADMINS_REQUIRED: &str =
    "The property 'properties.initialAdminObjectIds' needs at least one object id to create a managed HSM.";
pub const HSM_SKU_REQUIRED: &str = "The property 'sku' is required to create a managed HSM.";

/// The ARM `activationStatusMessage` of an HSM, activated or not, and its `statusMessage`.
pub const HSM_ACTIVE: &str = "The Managed HSM is activated and ready to use.";
pub const HSM_NOT_ACTIVATED: &str = "Your HSM has been provisioned, but cannot be used for cryptographic operations until it is activated. To activate the HSM, download the security domain.";
pub const HSM_PROVISIONED: &str = "The Managed HSM is provisioned and ready to use.";

#[must_use]
pub fn hsm_name_invalid(name: &str) -> String {
    format!(
        "'{name}' is not a valid managed HSM name: 3-24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no consecutive hyphens."
    )
}

#[must_use]
pub fn name_in_use(name: &str) -> String {
    format!("The name '{name}' is already in use.")
}

// Role assignments and identities.

pub const INVALID_ROLE_ASSIGNMENT_ID: &str =
    "The role assignment ID is not valid. The role assignment ID must be a GUID.";

#[must_use]
pub fn role_definition_does_not_exist(id: &str) -> String {
    format!("The specified role definition with ID '{id}' does not exist.")
}

pub const ROLE_ASSIGNMENT_NOT_FOUND: &str = "The role assignment does not exist.";
pub const ROLE_ASSIGNMENT_UPDATE_NOT_PERMITTED: &str =
    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.";
pub const ROLE_ASSIGNMENT_EXISTS: &str = "The role assignment already exists.";

#[must_use]
pub fn unsupported_role_assignment_filter(filter: &str) -> String {
    format!("The filter '{filter}' is not supported: use atScope(), principalId eq '{{id}}' or assignedTo('{{id}}').")
}

#[must_use]
pub fn scope_not_found(scope: &str) -> String {
    format!("The scope '{scope}' is not a subscription, resource group, vault or key the emulator has.")
}

#[must_use]
pub fn identity_name_taken(name: &str) -> String {
    format!("The name '{name}' belongs to another identity.")
}

#[must_use]
pub fn identity_declared(name: &str) -> String {
    format!(
        "The identity '{name}' is declared by the emulator (built in, or in its config file) and cannot be deleted through the management API."
    )
}

// Listings (`$filter`, `$top`, `$skiptoken`).

#[must_use]
pub fn invalid_filter(filter: &str, reason: &str) -> String {
    format!("Invalid $filter '{filter}' specified in the query string: {reason}.")
}

#[must_use]
pub fn filter_clause_unsupported(clause: &str) -> String {
    format!("only resourceType eq '...' and name eq '...' (joined by 'and') are supported, not {clause}")
}

pub const PROPERTY_COMPARED_TWICE: &str = "a property is compared twice";

#[must_use]
pub fn invalid_top(top: &str) -> String {
    format!("Invalid $top '{top}' specified in the query string: it must be an integer from 1 to 1000.")
}

#[must_use]
pub fn invalid_skip_token(token: &str) -> String {
    format!("Invalid $skiptoken '{token}' specified in the query string.")
}

// The store.

pub const STORE_BUSY: &str = "The emulator's store is busy with other writes; retry the request.";
pub const STORE_FAILED: &str = "The emulator's store failed.";

// `/metadata/endpoints` (the cloud's endpoints document `az cloud register` reads).

pub const CLOUD_METADATA_API_VERSION_REQUIRED: &str =
    "The api-version query parameter (?api-version=) is required for all requests.";

// OData `$filter` syntax (ARM listings and Graph queries), after `invalid_filter`'s prefix.

#[must_use]
pub fn filter_expected_and(rest: &str) -> String {
    format!("expected 'and' before '{rest}'")
}

#[must_use]
pub fn filter_expected_symbol(symbol: impl Display, rest: &str) -> String {
    format!("expected '{symbol}' at '{rest}'")
}

#[must_use]
pub fn filter_expected_property(rest: &str) -> String {
    format!("expected a property name at '{rest}'")
}

pub const FILTER_UNCLOSED_STRING: &str = "a string literal is not closed";

#[must_use]
pub fn filter_wrong_lambda_variable(used: &str, variable: impl Display) -> String {
    format!("'{used}' is not the lambda variable '{variable}'")
}

#[must_use]
pub fn filter_expected_eq_at(rest: &str) -> String {
    format!("expected 'eq' at '{rest}'")
}

#[must_use]
pub fn filter_expected_eq_after(name: impl Display) -> String {
    format!("expected 'eq' after '{name}'")
}

// The vault registry's refusals (`vaults::VaultError`) that reach a client.

#[must_use]
pub fn invalid_vault_settings(detail: &str) -> String {
    format!("invalid vault settings: {detail}")
}

#[must_use]
pub fn registry_vault_deleted(name: &str) -> String {
    format!("vault '{name}' is soft-deleted; recover it or purge it first")
}

#[must_use]
pub fn registry_vault_not_found(name: &str) -> String {
    format!("no vault named '{name}'")
}

#[must_use]
pub fn registry_purge_protected(name: &str) -> String {
    format!("vault '{name}' has purge protection: it is purged at its scheduled purge date, not before")
}

#[must_use]
pub fn name_taken(name: &str, holder: &str) -> String {
    format!("the name '{name}' is already used by a {holder}")
}
