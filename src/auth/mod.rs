//! Identities, tokens and authorization.
//!
//! - `identity`: the managed identities the token endpoints hand out.
//! - `issuer`: mints RS256 access tokens and publishes the JWKS.
//! - `validate`: checks a bearer token and yields the calling [`Principal`].
//! - `table`: every vault operation with its access-policy permission and RBAC data action.
//! - `policy`: access policies; `rbac`: built-in roles and role assignments.
//! - `local_rbac`: Managed HSM local RBAC (its built-in roles, custom roles, the decision).
//! - `decision`: the one authorization decision (policies or RBAC) and its audit record.

pub mod attestation;
pub mod decision;
pub mod identity;
pub mod issuer;
pub mod local_rbac;
#[cfg(test)]
mod local_rbac_matrix;
pub mod policy;
pub mod rbac;
pub mod table;
pub mod validate;
pub mod verified;

use uuid::Uuid;

/// The authenticated caller of a vault request, as its token describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: Uuid,
    pub object_id: Uuid,
    pub app_id: Uuid,
    pub issuer: String,
}

impl Principal {
    /// How Key Vault names a caller in 403 messages: `appid=…;oid=…;iss=…` (contract §3).
    #[must_use]
    pub fn describe(&self) -> String {
        format!("appid={};oid={};iss={}", self.app_id, self.object_id, self.issuer)
    }
}

/// The v1 issuer Entra puts in access tokens for Key Vault.
#[must_use]
pub fn v1_issuer(tenant: Uuid) -> String {
    format!("https://sts.windows.net/{tenant}/")
}
