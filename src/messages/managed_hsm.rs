//! The Managed HSM data plane's own texts: activation, the security domain (`src/security_domain.rs`,
//! `api/data_plane/security_domain.rs`) and local RBAC (`src/vaults/local_rbac.rs`,
//! `api/data_plane/local_rbac.rs`). The key operations share the vault texts in `data_plane.rs`.
//! Unless tagged otherwise, the emulator's own wording ([unverified] against a real HSM).

use std::fmt::Display;

/// A key or role operation on a Managed HSM whose security domain was never downloaded.
/// [unverified]: the real service's text for this state is not documented.
#[must_use]
pub fn hsm_not_activated(hsm: &str) -> String {
    format!(
        "Managed HSM '{hsm}' is not activated. Download its security domain (POST /securitydomain/download) or upload one to activate it."
    )
}

/// A Managed HSM's local RBAC refused: the vault text with the HSM-local resource (`/`,
/// `/keys/{name}`). [unverified] against a real HSM's wording.
#[must_use]
pub fn local_rbac_denied(caller: &str, action: &str, resource: &str, hsm: &str) -> String {
    format!(
        "Caller is not authorized to perform action on resource.\r\nIf role assignments were changed recently, please observe propagation time.\r\nCaller: {caller}\r\nAction: '{action}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nManaged HSM: {hsm}\r\n",
        resource.to_ascii_lowercase()
    )
}

/// A security-domain download or upload, or a transfer key, on an HSM that already has its
/// security domain (issue 19; the emulator's wording).
pub const HSM_ALREADY_ACTIVATED: &str = "This managed HSM is already activated: its security domain was downloaded or uploaded. A security domain is restored into a new, not yet activated HSM.";

/// An upload before the transfer key was fetched.
pub const HSM_NO_TRANSFER_KEY: &str = "This managed HSM has no transfer key yet: get it first (GET /securitydomain/upload or /securitydomain/transferkey; az keyvault security-domain init-recovery) and wrap the restore blob to it.";

/// A download request's certificate without `n`, `e` or `x5c`.
pub const SECURITY_DOMAIN_CERTIFICATE: &str =
    "Each certificate of a security-domain download is an RSA JSON Web Key with 'n', 'e' and its certificate in 'x5c'.";

#[must_use]
pub fn invalid_principal_id(text: &str) -> String {
    format!("The principalId '{text}' is not a valid GUID.")
}

#[must_use]
pub fn unsupported_assignment_filter(filter: &str) -> String {
    format!("The $filter '{filter}' is not supported: use atScope() or principalId eq '{{id}}'.")
}

#[must_use]
pub fn hsm_gone(hsm: &str) -> String {
    format!("The managed HSM '{hsm}' no longer exists.")
}

pub const NOT_A_MANAGED_HSM: &str = "Not a managed HSM.";

/// The status of a security-domain download or upload that never happened.
pub const NO_SECURITY_DOMAIN_DOWNLOADED: &str = "No security domain has been downloaded from this HSM.";

pub const NO_SECURITY_DOMAIN_UPLOADED: &str = "No security domain has been uploaded to this HSM.";

// Security domain download and upload.

#[must_use]
pub fn certificate_count(min: impl Display, max: impl Display, given: usize) -> String {
    format!("A security domain is wrapped to {min} to {max} certificates; the request has {given}.")
}

#[must_use]
pub fn quorum_out_of_range(certificates: usize) -> String {
    format!("The quorum ('required') is 2 to the number of certificates ({certificates}).")
}

pub const CERTIFICATE_TOO_WEAK: &str =
    "Each certificate is an RSA key of at least 2048 bits with its certificate in 'x5c'.";
pub const DOWNLOADED_AND_ACTIVATED: &str = "The security domain was downloaded and the HSM activated.";
pub const FOREIGN_RESTORE_BLOB: &str = "The restore blob holds no security domain of this emulator.";
pub const RESTORED_AND_ACTIVATED: &str = "The security domain was restored and the HSM activated.";

// Local RBAC writes.

#[must_use]
pub fn invalid_rbac_name(what: &str, text: &str) -> String {
    format!("The {what} name '{text}' is not valid: it must be a GUID.")
}

#[must_use]
pub fn invalid_role_definition_id(text: &str) -> String {
    format!("The role definition id '{text}' is not valid.")
}

pub const BUILT_IN_ROLE_ID_REUSED: &str =
    "Cannot re-use the name/GUID matching that of a built-in role. Please use a unique role ID.";
pub const ROLE_NAME_REQUIRED: &str = "The role definition needs a roleName.";

#[must_use]
pub fn role_name_taken(name: &str) -> String {
    format!("A role definition named '{name}' already exists.")
}

pub const BUILT_IN_ROLE_UNDELETABLE: &str = "A built-in role definition cannot be deleted.";

#[must_use]
pub fn role_definition_in_use(id: impl Display) -> String {
    format!("Role definition '{id}' is assigned; delete its role assignments first.")
}

#[must_use]
pub fn role_assignment_not_found(name: &str) -> String {
    format!("Role assignment '{name}' was not found.")
}

#[must_use]
pub fn role_definition_not_found(name: &str) -> String {
    format!("Role definition '{name}' was not found.")
}

#[must_use]
pub fn role_assignment_exists(name: &str) -> String {
    format!("The role assignment '{name}' already exists with other properties.")
}

#[must_use]
pub fn invalid_scope(text: &str) -> String {
    format!("The scope '{text}' is not valid for a Managed HSM: use '/', '/keys' or '/keys/{{key name}}'.")
}
