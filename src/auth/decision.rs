//! The one authorization decision for vault requests: access policies or RBAC, whichever the
//! vault uses, from the operation table, with an audit record for every outcome.

use super::Principal;
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
}

/// What the request is about, for scope checks and the audit log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Target<'a> {
    pub key: Option<&'a str>,
    pub version: Option<&'a str>,
}

/// Why a request was allowed, for the audit log and the effective-permission view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    Role(&'static str),
    Permission(&'static str),
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Role(role) => write!(f, "role '{role}'"),
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

/// The decision alone, with no audit record: what [`decide`] would answer. The dashboard's
/// effective-permission view asks this for every row of the operation table.
pub fn evaluate(
    vault: &Vault,
    principal: &Principal,
    operation: Operation,
    key: Option<&str>,
) -> Result<Grant, Denial> {
    if vault.rbac_authorization {
        rbac::authorize(&vault.role_assignments, principal, operation, key)
            .map(Grant::Role)
            .map_err(|denied| Denial::Rbac { data_action: denied.data_action })
    } else {
        policy::authorize(&vault.access_policies, principal, operation)
            .map(|()| Grant::Permission(operation.permission()))
            .map_err(|denied| Denial::AccessPolicy { permission: denied.permission })
    }
}

/// Allows or refuses `operation` on `target` for `principal`, and writes the audit record.
pub fn decide(vault: &Vault, principal: &Principal, operation: Operation, target: Target<'_>) -> Result<(), Denial> {
    let outcome = evaluate(vault, principal, operation, target.key);
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
