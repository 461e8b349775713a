//! One audit record as the emulator stores and serves it (`GET /_emulator/audit`, the SSE
//! stream, the dashboard): the JSON field names here are a public contract, documented in the
//! README ("See what happened"). Add fields; never rename or remove one.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Principal;
use crate::auth::decision::{Decision, Rule};
use crate::auth::identity::IdentityDirectory;
use crate::auth::rbac::{AssignmentScope, BUILT_IN_ROLES, ScopedRole};
use crate::auth::table::{GraphOperation, ManagementOperation, Operation};
use crate::vaults::Vault;

/// A request that reached authorization, as the request path leaves it: cheap to build (no
/// formatting, no lookups); the writer task turns it into an [`AuditRecord`].
#[derive(Clone, Debug)]
pub struct PendingAudit {
    /// Unix milliseconds on the emulator clock and on the wall clock, at the decision.
    pub emulator_ms: i64,
    pub wall_ms: i64,
    pub principal: Principal,
    pub subject: Subject,
    /// Filled in by the request log layer once the response exists.
    pub exchange: Exchange,
}

/// What was authorized.
#[derive(Clone, Debug)]
pub enum Subject {
    Vault {
        /// The vault as it was when the decision was made: rule indexes point into it.
        vault: Arc<Vault>,
        operation: Operation,
        key: Option<String>,
        version: Option<String>,
        decision: Decision,
    },
    Management {
        operation: ManagementOperation,
        /// The ARM scope the request names (its path).
        scope: String,
        /// `None`: allowed for every caller (the operation is open to any authenticated
        /// caller).
        action: Option<&'static str>,
        decision: ManagementDecision,
    },
    /// A Microsoft Graph request that passed authentication: every identity of the tenant may
    /// read the directory, so it is allowed by rule `anyCaller`. Its `resourceId` is the request
    /// path, which the exchange holds.
    Graph { operation: GraphOperation },
}

/// How a management request was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagementDecision {
    AnyCaller,
    /// The default admin or a config-file owner.
    Owner,
    Role(ScopedRole),
    Denied,
}

/// The HTTP exchange around the decision.
#[derive(Clone, Debug, Default)]
pub struct Exchange {
    pub request_id: String,
    pub client_request_id: Option<String>,
    pub client_address: Option<SocketAddr>,
    pub user_agent: Option<String>,
    pub method: String,
    /// The Host (authority) the client addressed.
    pub host: Option<String>,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub duration_ms: f64,
    /// The key version the service resolved (the current one, for a request naming none).
    pub resolved_version: Option<String>,
}

/// One audit record: the JSON shape of `GET /_emulator/audit` items and stream events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Increases with every record, never reused: the paging cursor and the SSE event id.
    pub id: i64,
    /// The emulator clock (RFC 3339, milliseconds), which `/_emulator/clock` moves.
    pub time: String,
    pub wall_time: String,
    /// `vault`, `managedHsm`, `management` or `graph`.
    pub plane: String,
    /// The vault or managed HSM; on the management plane, the one the path names, if any.
    pub vault: Option<String>,
    /// The Azure Resource Manager id of the vault, on the management plane the path's scope, on
    /// Graph the request path.
    pub resource_id: String,
    /// The operation's name in the authorization table, such as `UnwrapKey`, `WriteVault` or
    /// `ListServicePrincipals`.
    pub operation: String,
    pub key: Option<String>,
    /// The version the request named, or the current one the service used when it named none.
    pub version: Option<String>,
    pub caller: Caller,
    /// `allowed` or `denied`.
    pub decision: String,
    pub rule: RuleView,
    pub reason: String,
    /// The HTTP status of the response: an allowed request can still fail (404, 400, 403 for a
    /// disabled key).
    pub status: u16,
    pub request_id: String,
    pub client_request_id: Option<String>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub method: String,
    /// The Host the client addressed.
    pub host: Option<String>,
    /// The request path and query.
    pub path: String,
    pub duration_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    pub object_id: Uuid,
    pub app_id: Uuid,
    pub tenant_id: Uuid,
    /// The identity's name in the emulator's directory, if it is one of its identities.
    pub name: Option<String>,
    /// `systemAssignedManagedIdentity`, `userAssignedManagedIdentity`, `servicePrincipal`, or
    /// `unknown` (a token for an object the directory does not hold, e.g. a user).
    pub token_kind: String,
}

/// The rule that decided. `kind`: `accessPolicy`, `roleAssignment`, `owner`, `anyCaller` or
/// `none`. On a refusal, `accessPolicy` / `roleAssignment` name the caller's own entry that lacks
/// the permission, and `none` means the caller has no entry at all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    pub kind: String,
    /// What the operation needs: an access-policy key permission...
    pub permission: Option<String>,
    /// ...or an RBAC data action (or a management action).
    pub action: Option<String>,
    pub access_policy: Option<AccessPolicyView>,
    pub role_assignment: Option<RoleAssignmentView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicyView {
    pub object_id: Uuid,
    pub application_id: Option<Uuid>,
    pub permissions: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentView {
    /// `None` for management-plane roles, which are held at a scope rather than by an id here.
    pub id: Option<Uuid>,
    pub role: String,
    pub role_definition_id: Uuid,
    pub scope: String,
}

/// RFC 3339 with milliseconds, in UTC.
#[must_use]
pub fn format_ms(unix_ms: i64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

impl PendingAudit {
    /// The record, with the caller looked up in `directory`.
    #[must_use]
    pub fn into_record(self, id: i64, directory: &IdentityDirectory) -> AuditRecord {
        let (facts, source) = self.into_parts(id);
        AuditRecord::assemble(facts, &source.shared(directory))
    }
}

pub(super) fn vault_rule(vault: &Vault, operation: Operation, decision: &Decision) -> RuleView {
    let mut view = RuleView::default();
    if vault.is_managed_hsm() {
        view.action = Some(operation.hsm_data_action().to_owned());
    } else if vault.rbac_authorization {
        view.action = Some(operation.data_action().to_owned());
    } else {
        view.permission = Some(operation.permission().to_owned());
    }
    match decision.rule {
        Rule::AccessPolicy(index) => {
            view.kind = "accessPolicy".into();
            view.access_policy = vault.access_policies.get(index).map(|p| AccessPolicyView {
                object_id: p.object_id,
                application_id: p.application_id,
                permissions: p.permissions.keys.clone(),
            });
        }
        Rule::RoleAssignment { index, .. } => {
            view.kind = "roleAssignment".into();
            view.role_assignment = vault.role_assignments.get(index).map(|a| RoleAssignmentView {
                id: Some(a.id),
                role: BUILT_IN_ROLES
                    .iter()
                    .find(|r| r.id == a.role_definition_id)
                    .map_or_else(|| a.role_definition_id.to_string(), |r| r.name.to_owned()),
                role_definition_id: a.role_definition_id,
                scope: match &a.scope {
                    AssignmentScope::Vault => vault.resource_id(),
                    AssignmentScope::Key(key) => format!("{}/keys/{key}", vault.resource_id()),
                    AssignmentScope::AllKeys => format!("{}/keys", vault.resource_id()),
                    AssignmentScope::Inherited(scope) => scope.clone(),
                },
            });
        }
        Rule::LocalRoleAssignment { index } => {
            view.kind = "localRoleAssignment".into();
            view.role_assignment = vault.role_assignments.get(index).map(|a| RoleAssignmentView {
                id: Some(a.id),
                role: crate::auth::decision::local_role_name(vault, index),
                role_definition_id: a.role_definition_id,
                // A Managed HSM's local scopes are `/`, `/keys` and `/keys/{name}`.
                scope: crate::auth::local_rbac::scope_text(&a.scope),
            });
        }
        Rule::None => view.kind = "none".into(),
    }
    view
}

pub(super) fn management_rule(action: Option<&'static str>, decision: &ManagementDecision) -> (RuleView, String) {
    let mut view = RuleView { action: action.map(str::to_owned), ..RuleView::default() };
    let needs = action.map_or_else(|| "nothing".to_owned(), |a| format!("action '{a}'"));
    let reason = match decision {
        ManagementDecision::AnyCaller => {
            view.kind = "anyCaller".into();
            "open to every authenticated caller".to_owned()
        }
        ManagementDecision::Owner => {
            view.kind = "owner".into();
            format!("the caller owns the emulator's subscription, which grants {needs}")
        }
        ManagementDecision::Role(role) => {
            view.kind = "roleAssignment".into();
            view.role_assignment = Some(RoleAssignmentView {
                id: None,
                role: role.role.name.to_owned(),
                role_definition_id: role.role.id,
                scope: role.scope.clone(),
            });
            format!("role '{}' at '{}' grants {needs}", role.role.name, role.scope)
        }
        ManagementDecision::Denied => {
            view.kind = "none".into();
            format!("no role of the caller at a covering scope grants {needs}")
        }
    };
    (view, reason)
}

/// The rule and reason of every Graph request that passed authentication: any identity of the
/// tenant may read the directory.
pub(super) fn graph_rule() -> (RuleView, String) {
    let rule = RuleView { kind: "anyCaller".into(), ..RuleView::default() };
    (rule, crate::messages::graph::AUDIT_ANY_TENANT_IDENTITY.to_owned())
}

/// The vault an ARM path names (`.../providers/Microsoft.KeyVault/vaults/{name}/...`).
pub(super) fn vault_in_scope(scope: &str) -> Option<String> {
    let mut segments = scope.split('/');
    while let Some(segment) = segments.next() {
        if segment.eq_ignore_ascii_case("vaults") || segment.eq_ignore_ascii_case("managedHSMs") {
            return segments.next().filter(|name| !name.is_empty()).map(str::to_owned);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_milliseconds_in_utc() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn management_paths_name_their_vault() {
        let path = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/cmk/accessPolicies/add";
        assert_eq!(vault_in_scope(path).as_deref(), Some("cmk"));
        assert_eq!(vault_in_scope("/subscriptions/s/resourceGroups/g"), None);
    }
}
