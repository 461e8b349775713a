//! The one authorization decision for vault requests: access policies or RBAC, whichever the
//! vault uses, from the operation table, with an audit record for every outcome.

use super::Principal;
use super::policy;
use super::rbac;
use super::table::Operation;
use crate::vault::Vault;

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

/// Allows or refuses `operation` on `target` for `principal`, and writes the audit record.
pub fn decide(vault: &Vault, principal: &Principal, operation: Operation, target: Target<'_>) -> Result<(), Denial> {
    let outcome = if vault.rbac_authorization {
        rbac::authorize(&vault.role_assignments, principal, operation, target.key)
            .map(|role| format!("role '{role}'"))
            .map_err(|denied| Denial::Rbac { data_action: denied.data_action })
    } else {
        policy::authorize(&vault.access_policies, principal, operation)
            .map(|()| format!("access policy grants '{}'", operation.permission()))
            .map_err(|denied| Denial::AccessPolicy { permission: denied.permission })
    };
    // Never the token or key material: who, what, on which key, and why.
    let (decision, reason) = match &outcome {
        Ok(reason) => ("allow", reason.clone()),
        Err(denial) => ("deny", format!("{denial:?}")),
    };
    tracing::info!(
        target: "audit",
        vault = %vault.name,
        oid = %principal.object_id,
        appid = %principal.app_id,
        operation = ?operation,
        key = target.key.unwrap_or(""),
        version = target.version.unwrap_or(""),
        decision,
        reason = %reason,
    );
    outcome.map(|_| ())
}
