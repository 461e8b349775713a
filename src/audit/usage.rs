//! `GET /_emulator/keys/{vault}/{key}/usage`: per key version, the last successful use, the use
//! count by caller, and the last refused attempt. It answers the question the Cosmos DB
//! customer-managed-key guide asks before an old version is disabled: does anything still use it?

use serde::Serialize;

use super::record::{AuditRecord, Caller};

/// The summary of one key.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUsage {
    pub vault: String,
    pub key: String,
    /// Newest activity first. `version: null` gathers requests that named no version and whose
    /// version the service did not resolve (listings, refusals before a version was read).
    pub versions: Vec<VersionUsage>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionUsage {
    pub version: Option<String>,
    /// Successful (2xx) allowed requests on this version.
    pub use_count: i64,
    /// The newest of them.
    pub last_used: Option<AuditRecord>,
    /// Per caller, most recent first.
    pub callers: Vec<CallerUsage>,
    /// The newest request on this version that authorization refused.
    pub last_denied: Option<AuditRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallerUsage {
    pub caller: Caller,
    pub use_count: i64,
    /// Emulator time of the caller's newest use, and what it was.
    pub last_used: String,
    pub last_operation: String,
}

/// Builds the summary from per-(version, caller) counts with each pair's newest record, and
/// the newest refusal per version.
#[must_use]
pub fn summarise(vault: &str, key: &str, mut uses: Vec<(i64, AuditRecord)>, denials: Vec<AuditRecord>) -> KeyUsage {
    let mut versions: Vec<VersionUsage> = Vec::new();
    let entry = |versions: &mut Vec<VersionUsage>, version: &Option<String>| -> usize {
        if let Some(at) = versions.iter().position(|v| &v.version == version) {
            return at;
        }
        versions.push(VersionUsage {
            version: version.clone(),
            use_count: 0,
            last_used: None,
            callers: Vec::new(),
            last_denied: None,
        });
        versions.len() - 1
    };
    // Callers are ordered by the id of their newest use: times can tie within a millisecond.
    uses.sort_by_key(|(_, record)| std::cmp::Reverse(record.id));
    for (count, record) in uses {
        let at = entry(&mut versions, &record.version);
        let usage = &mut versions[at];
        usage.use_count += count;
        usage.callers.push(CallerUsage {
            caller: record.caller.clone(),
            use_count: count,
            last_used: record.time.clone(),
            last_operation: record.operation.clone(),
        });
        if usage.last_used.as_ref().is_none_or(|last| last.id < record.id) {
            usage.last_used = Some(record);
        }
    }
    for record in denials {
        let at = entry(&mut versions, &record.version);
        versions[at].last_denied = Some(record);
    }
    let newest =
        |v: &VersionUsage| v.last_used.as_ref().map_or(0, |r| r.id).max(v.last_denied.as_ref().map_or(0, |r| r.id));
    versions.sort_by_key(|v| std::cmp::Reverse(newest(v)));
    KeyUsage { vault: vault.to_owned(), key: key.to_owned(), versions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::RuleView;
    use uuid::Uuid;

    fn record(id: i64, version: &str, caller: u128, allowed: bool) -> AuditRecord {
        AuditRecord {
            id,
            time: format!("2026-12-07T00:00:{id:02}.000Z"),
            wall_time: String::new(),
            plane: "vault".into(),
            vault: Some("cmk".into()),
            resource_id: String::new(),
            operation: "UnwrapKey".into(),
            key: Some("cmk".into()),
            version: Some(version.into()),
            caller: Caller {
                object_id: Uuid::from_u128(caller),
                app_id: Uuid::from_u128(caller),
                tenant_id: Uuid::nil(),
                name: Some(format!("id{caller}")),
                token_kind: "userAssignedManagedIdentity".into(),
            },
            decision: if allowed { "allowed" } else { "denied" }.into(),
            rule: RuleView::default(),
            reason: String::new(),
            status: if allowed { 200 } else { 403 },
            request_id: String::new(),
            client_request_id: None,
            client_address: None,
            user_agent: None,
            method: "POST".into(),
            host: None,
            path: String::new(),
            duration_ms: 1.0,
        }
    }

    #[test]
    fn versions_gather_their_callers_and_last_denial() {
        let uses = vec![(3, record(5, "v1", 1, true)), (2, record(9, "v1", 2, true)), (7, record(8, "v2", 1, true))];
        let denials = vec![record(10, "v1", 3, false), record(11, "v3", 3, false)];
        let usage = summarise("cmk", "cmk", uses, denials);
        let versions: Vec<_> = usage.versions.iter().map(|v| v.version.clone().unwrap()).collect();
        assert_eq!(versions, ["v3", "v1", "v2"], "newest activity first");
        let v1 = &usage.versions[1];
        assert_eq!(v1.use_count, 5);
        assert_eq!(v1.last_used.as_ref().unwrap().caller.name.as_deref(), Some("id2"), "the newest use wins");
        assert_eq!(v1.callers.len(), 2);
        assert_eq!(v1.callers[0].caller.name.as_deref(), Some("id2"));
        assert_eq!(v1.last_denied.as_ref().unwrap().id, 10);
        let v3 = &usage.versions[0];
        assert_eq!((v3.use_count, v3.last_used.is_none()), (0, true), "a refused-only version has no use");
    }
}
