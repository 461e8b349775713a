//! The one authorization decision for data-plane requests: access policies or RBAC, whichever
//! the vault uses, or local RBAC on a Managed HSM, from the operation table, with an audit
//! record for every outcome.

use super::Principal;
use super::local_rbac;
use super::policy;
use super::rbac;
use super::table::Operation;
use crate::vaults::Vault;

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// Access-policy vault: no policy of the caller holds this key permission.
    AccessPolicy { permission: &'static str },
    /// RBAC vault: no role assigned to the caller at a covering scope grants this data action.
    Rbac { data_action: &'static str },
    /// Managed HSM: no local role assigned to the caller at a covering scope grants this data
    /// action.
    LocalRbac { data_action: &'static str },
}

/// What the request is about, for scope checks and the audit log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Target<'a> {
    pub key: Option<&'a str>,
    pub version: Option<&'a str>,
}

/// Why a request was allowed, for the audit log.
#[derive(Clone, Debug)]
enum Grant {
    Role(&'static str),
    LocalRole(String),
    Permission(&'static str),
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Role(role) => write!(f, "role '{role}'"),
            Self::LocalRole(role) => write!(f, "local role '{role}'"),
            Self::Permission(permission) => write!(f, "access policy grants '{permission}'"),
        }
    }
}

/// The audit log's `reason`: written only when the event is, since this runs on every request.
struct Reason<'a>(&'a Result<Grant, Denial>);

impl std::fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok(grant) => grant.fmt(f),
            Err(denial) => write!(f, "{denial:?}"),
        }
    }
}

/// Allows or refuses `operation` on `target` for `principal`, and writes the audit record.
pub fn decide(vault: &Vault, principal: &Principal, operation: Operation, target: Target<'_>) -> Result<(), Denial> {
    let outcome = if let Some(hsm) = vault.managed_hsm() {
        // Access policies and the vault's Azure RBAC never apply to an HSM.
        local_rbac::authorize(&vault.role_assignments, &hsm.role_definitions, principal, operation, target.key)
            .map(Grant::LocalRole)
            .map_err(|denied| Denial::LocalRbac { data_action: denied.data_action })
    } else if vault.rbac_authorization {
        rbac::authorize(&vault.role_assignments, principal, operation, target.key)
            .map(Grant::Role)
            .map_err(|denied| Denial::Rbac { data_action: denied.data_action })
    } else {
        policy::authorize(&vault.access_policies, principal, operation)
            .map(|()| Grant::Permission(operation.permission()))
            .map_err(|denied| Denial::AccessPolicy { permission: denied.permission })
    };
    // Never the token or key material: who, what, on which key, and why.
    tracing::info!(
        target: "audit",
        vault = %vault.name,
        oid = %principal.object_id,
        appid = %principal.app_id,
        operation = ?operation,
        key = target.key.unwrap_or(""),
        version = target.version.unwrap_or(""),
        decision = if outcome.is_ok() { "allow" } else { "deny" },
        reason = %Reason(&outcome),
    );
    outcome.map(|_| ())
}
