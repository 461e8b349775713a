//! A record in two parts, as the store keeps it: the [`RecordFacts`] that differ per request
//! (time, decision, status, request ids, client address, query, duration), stored as the row's
//! columns, and the [`SharedContext`] that many requests share (plane, resource, operation, key
//! and version, caller, rule and reason, user agent, method, host, path, clock offset), stored
//! once in `audit_context` and named by id. A row is about 110 bytes with its index entries:
//! each byte is written twice (WAL, then checkpoint) on the core that serves requests
//! (bench/RESULTS.md, "Audit log on vs off"). The writer caches context ids by
//! [`ContextSource`], which is cheap to hash, so a request whose context was seen before costs
//! no formatting at all.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::record::{
    AuditRecord, Caller, PendingAudit, RuleView, Subject, format_ms, graph_rule, management_rule, vault_in_scope,
    vault_rule,
};
use crate::auth::Principal;
use crate::auth::identity::{IdentityDirectory, IdentityKind};

/// What a record shares with others: the JSON of `audit_context.context` (migrations 0015 and
/// 0016 build it from older records in this shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedContext {
    pub plane: String,
    pub resource_id: String,
    pub operation: String,
    pub caller: Caller,
    pub rule: RuleView,
    pub reason: String,
    pub user_agent: Option<String>,
    pub method: String,
    pub host: Option<String>,
    /// The emulator clock minus the wall clock: the wall time is not stored per record.
    pub clock_offset_ms: i64,
    pub vault: Option<String>,
    pub key: Option<String>,
    pub version: Option<String>,
    /// The request path without its query (a fact).
    pub path: String,
}

/// What differs per request: the row's own columns.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordFacts {
    pub id: i64,
    /// Unix milliseconds on the emulator clock.
    pub time_ms: i64,
    /// Decided by the context's rule; a column for the usage index.
    pub allowed: bool,
    pub status: u16,
    pub request_id: String,
    pub client_request_id: Option<String>,
    pub client_address: Option<String>,
    pub query: Option<String>,
    pub duration_ms: f64,
}

/// What a [`SharedContext`] is made from. Two equal sources make equal contexts as long as the
/// identity directory is the same (the writer clears its cache when it changes): a vault is
/// compared by its `Arc`, which a change to the vault replaces.
#[derive(Debug)]
pub struct ContextSource {
    principal: Principal,
    /// With the version the service resolved when the request named none.
    subject: Subject,
    user_agent: Option<String>,
    method: String,
    host: Option<String>,
    path: String,
    clock_offset_ms: i64,
}

impl PendingAudit {
    /// The record split into its per-request facts and what its shared context is made from.
    #[must_use]
    pub fn into_parts(self, id: i64) -> (RecordFacts, ContextSource) {
        let exchange = self.exchange;
        let (subject, allowed) = match self.subject {
            Subject::Vault { vault, operation, key, version, decision } => {
                let allowed = decision.allowed();
                let version = version.or(exchange.resolved_version);
                (Subject::Vault { vault, operation, key, version, decision }, allowed)
            }
            Subject::Management { operation, scope, action, decision } => {
                let allowed = !matches!(decision, super::ManagementDecision::Denied);
                (Subject::Management { operation, scope, action, decision }, allowed)
            }
            // Every Graph request that reaches its route passed authentication and is allowed.
            subject @ Subject::Graph { .. } => (subject, true),
        };
        let facts = RecordFacts {
            id,
            time_ms: self.emulator_ms,
            allowed,
            status: exchange.status,
            request_id: exchange.request_id,
            client_request_id: exchange.client_request_id,
            client_address: exchange.client_address.map(|a| a.to_string()),
            query: exchange.query,
            duration_ms: exchange.duration_ms,
        };
        let source = ContextSource {
            principal: self.principal,
            subject,
            user_agent: exchange.user_agent,
            method: exchange.method,
            host: exchange.host,
            path: exchange.path,
            clock_offset_ms: self.emulator_ms.saturating_sub(self.wall_ms),
        };
        (facts, source)
    }
}

impl ContextSource {
    /// The context, with the caller looked up in `directory`.
    #[must_use]
    pub fn shared(&self, directory: &IdentityDirectory) -> SharedContext {
        let identity = directory.all().iter().find(|i| i.object_id == self.principal.object_id);
        let caller = Caller {
            object_id: self.principal.object_id,
            app_id: self.principal.app_id,
            tenant_id: self.principal.tenant_id,
            name: identity.map(|i| i.name.clone()),
            token_kind: match identity.map(|i| &i.kind) {
                Some(IdentityKind::SystemAssigned { .. }) => "systemAssignedManagedIdentity",
                Some(IdentityKind::UserAssigned) => "userAssignedManagedIdentity",
                Some(IdentityKind::ServicePrincipal { .. }) => "servicePrincipal",
                None => "unknown",
            }
            .to_owned(),
        };
        let (plane, resource_id, operation, rule, reason, (vault, key, version)) = match &self.subject {
            Subject::Vault { vault, operation, key, version, decision } => (
                if vault.is_managed_hsm() { "managedHsm" } else { "vault" },
                vault.resource_id(),
                format!("{operation:?}"),
                vault_rule(vault, *operation, decision),
                decision.reason(vault, *operation),
                (Some(vault.name.to_string()), key.clone(), version.clone()),
            ),
            Subject::Management { operation, scope, action, decision } => {
                let (rule, reason) = management_rule(*action, decision);
                (
                    "management",
                    scope.clone(),
                    format!("{operation:?}"),
                    rule,
                    reason,
                    (vault_in_scope(scope), None, None),
                )
            }
            Subject::Graph { operation } => {
                let (rule, reason) = graph_rule();
                ("graph", self.path.clone(), format!("{operation:?}"), rule, reason, (None, None, None))
            }
        };
        SharedContext {
            plane: plane.to_owned(),
            resource_id,
            operation,
            caller,
            rule,
            reason,
            user_agent: self.user_agent.clone(),
            method: self.method.clone(),
            host: self.host.clone(),
            clock_offset_ms: self.clock_offset_ms,
            vault,
            key,
            version,
            path: self.path.clone(),
        }
    }
}

impl Hash for ContextSource {
    // Hashes a part of what `eq` compares, which is enough to spread the entries.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.principal.object_id.hash(state);
        self.user_agent.hash(state);
        self.clock_offset_ms.hash(state);
        self.path.hash(state);
        match &self.subject {
            Subject::Vault { vault, operation, version, .. } => {
                Arc::as_ptr(vault).hash(state);
                operation.hash(state);
                version.hash(state);
            }
            Subject::Management { operation, scope, .. } => {
                operation.hash(state);
                scope.hash(state);
            }
            Subject::Graph { operation } => operation.hash(state),
        }
    }
}

impl PartialEq for ContextSource {
    fn eq(&self, other: &Self) -> bool {
        let same_subject = match (&self.subject, &other.subject) {
            (
                Subject::Vault { vault, operation, key, version, decision },
                Subject::Vault {
                    vault: other_vault,
                    operation: other_operation,
                    key: other_key,
                    version: other_version,
                    decision: other_decision,
                },
            ) => {
                Arc::ptr_eq(vault, other_vault)
                    && operation == other_operation
                    && key == other_key
                    && version == other_version
                    && decision == other_decision
            }
            (
                Subject::Management { operation, scope, action, decision },
                Subject::Management {
                    operation: other_operation,
                    scope: other_scope,
                    action: other_action,
                    decision: other_decision,
                },
            ) => {
                operation == other_operation
                    && scope == other_scope
                    && action == other_action
                    && decision == other_decision
            }
            (Subject::Graph { operation }, Subject::Graph { operation: other_operation }) => {
                operation == other_operation
            }
            _ => false,
        };
        same_subject
            && self.principal == other.principal
            && self.user_agent == other.user_agent
            && self.method == other.method
            && self.host == other.host
            && self.path == other.path
            && self.clock_offset_ms == other.clock_offset_ms
    }
}

impl Eq for ContextSource {}

impl AuditRecord {
    /// The record as served, from its two stored parts.
    #[must_use]
    pub fn assemble(facts: RecordFacts, context: &SharedContext) -> Self {
        Self {
            id: facts.id,
            time: format_ms(facts.time_ms),
            wall_time: format_ms(facts.time_ms.saturating_sub(context.clock_offset_ms)),
            plane: context.plane.clone(),
            vault: context.vault.clone(),
            resource_id: context.resource_id.clone(),
            operation: context.operation.clone(),
            key: context.key.clone(),
            version: context.version.clone(),
            caller: context.caller.clone(),
            decision: if facts.allowed { "allowed" } else { "denied" }.to_owned(),
            rule: context.rule.clone(),
            reason: context.reason.clone(),
            status: facts.status,
            request_id: facts.request_id,
            client_request_id: facts.client_request_id,
            client_address: facts.client_address,
            user_agent: context.user_agent.clone(),
            method: context.method.clone(),
            host: context.host.clone(),
            path: match facts.query {
                Some(query) => format!("{}?{query}", context.path),
                None => context.path.clone(),
            },
            duration_ms: facts.duration_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::decision::{Target, decide};
    use crate::auth::policy::{AccessPolicy, Permissions};
    use crate::auth::table::Operation;
    use crate::vaults::{Vault, VaultName, VaultSettings};
    use std::hash::BuildHasher;
    use uuid::Uuid;

    fn principal(object_id: u128) -> Principal {
        Principal {
            tenant_id: Uuid::from_u128(1),
            object_id: Uuid::from_u128(object_id),
            app_id: Uuid::from_u128(object_id + 100),
            issuer: "iss".into(),
        }
    }

    fn vault() -> Arc<Vault> {
        let mut vault = Vault::new(&VaultSettings::new(VaultName::parse("cmk").unwrap()), Uuid::from_u128(1));
        vault.access_policies.push(AccessPolicy {
            tenant_id: Uuid::from_u128(1),
            object_id: Uuid::from_u128(2),
            application_id: None,
            permissions: Permissions { keys: vec!["get".into(), "unwrapKey".into()] },
        });
        Arc::new(vault)
    }

    fn pending(vault: &Arc<Vault>, caller: u128, version: &str, status: u16) -> PendingAudit {
        let principal = principal(caller);
        let target = Target { key: Some("k"), version: Some(version) };
        PendingAudit {
            emulator_ms: 1_700_000_060_000,
            wall_ms: 1_700_000_000_000,
            subject: Subject::Vault {
                vault: vault.clone(),
                operation: Operation::UnwrapKey,
                key: Some("k".into()),
                version: Some(version.into()),
                decision: decide(vault, &principal, Operation::UnwrapKey, target),
            },
            principal,
            exchange: super::super::Exchange {
                request_id: format!("r-{caller}-{version}"),
                user_agent: Some("azsdk-python-keyvault-keys/4.10.0".into()),
                method: "POST".into(),
                host: Some("cmk.vault.localhost:8443".into()),
                path: format!("/keys/k/{version}/unwrapkey"),
                query: Some("api-version=7.6".into()),
                status,
                ..super::super::Exchange::default()
            },
        }
    }

    #[test]
    fn requests_differing_only_in_their_facts_share_a_context() {
        let vault = vault();
        let directory = IdentityDirectory::with_defaults(Uuid::from_u128(1));
        let (first_facts, first) = pending(&vault, 2, "v1", 200).into_parts(1);
        let (second_facts, second) = pending(&vault, 2, "v1", 404).into_parts(2);
        assert!(first == second);
        let state = std::collections::hash_map::RandomState::new();
        assert_eq!(state.hash_one(&first), state.hash_one(&second));
        let shared = first.shared(&directory);
        assert_eq!(shared, second.shared(&directory));
        assert_eq!((shared.version.as_deref(), shared.path.as_str()), (Some("v1"), "/keys/k/v1/unwrapkey"));
        assert_eq!((first_facts.query.as_deref(), second_facts.status), (Some("api-version=7.6"), 404));

        // Another version, a refused caller, another vault state (same content, new Arc), another
        // clock offset.
        assert!(first != pending(&vault, 2, "v2", 200).into_parts(6).1);
        let (_, refused) = pending(&vault, 3, "v1", 403).into_parts(3);
        assert!(first != refused);
        let (_, other_vault) = pending(&Arc::new((*vault).clone()), 2, "v1", 200).into_parts(4);
        assert!(first != other_vault);
        let mut later = pending(&vault, 2, "v1", 200);
        later.emulator_ms += 1000;
        assert!(first != later.into_parts(5).1);
    }

    #[test]
    fn a_record_assembled_from_its_parts_has_every_field() {
        let vault = vault();
        let directory = IdentityDirectory::with_defaults(Uuid::from_u128(1));
        let record = pending(&vault, 2, "v1", 200).into_record(9, &directory);
        assert_eq!((record.id, record.plane.as_str(), record.vault.as_deref()), (9, "vault", Some("cmk")));
        assert_eq!(
            (record.time.as_str(), record.wall_time.as_str()),
            ("2023-11-14T22:14:20.000Z", "2023-11-14T22:13:20.000Z")
        );
        assert_eq!((record.decision.as_str(), record.rule.kind.as_str()), ("allowed", "accessPolicy"));
        assert_eq!(record.rule.access_policy.as_ref().unwrap().permissions, ["get", "unwrapKey"]);
        assert_eq!(record.caller.app_id, Uuid::from_u128(102));
        assert_eq!(record.user_agent.as_deref(), Some("azsdk-python-keyvault-keys/4.10.0"));
        assert_eq!(record.resource_id, vault.resource_id());
        let refused = pending(&vault, 3, "v1", 403).into_record(10, &directory);
        assert_eq!((refused.decision.as_str(), refused.rule.kind.as_str(), refused.status), ("denied", "none", 403));
    }
}
