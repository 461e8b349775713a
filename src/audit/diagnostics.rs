//! `--diagnostics-log FILE`: one JSON line per audit record in the shape of Azure Key Vault's
//! `AuditEvent` resource logs (learn.microsoft.com/azure/key-vault/general/logging, "Interpret
//! your Key Vault logs"), so tooling written for Azure Monitor exports can be tried locally.
//!
//! [`FIELDS`] and [`PROPERTIES`] are the documented fields this writes; [`NOT_FILLED`] the
//! documented ones it cannot fill, and why. The README lists both.
//!
//! Graph records (plane `graph`) are not written: Key Vault's `AuditEvent` log never holds
//! Microsoft Graph calls, which Entra logs in a category of its own
//! (`MicrosoftGraphActivityLogs`), so a parser of `AuditEvent` lines would meet a resource and
//! operations Azure never writes there. They stay in the audit log itself. Management records
//! are written, as Key Vault logs `VaultGet`, `VaultPut` and the like.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::record::AuditRecord;

/// Top-level fields of every line, in the documented order.
pub const FIELDS: &[&str] = &[
    "time",
    "resourceId",
    "operationName",
    "operationVersion",
    "category",
    "resultType",
    "resultSignature",
    "resultDescription",
    "durationMs",
    "callerIpAddress",
    "correlationId",
    "identity",
    "properties",
];

/// Fields of `properties` this writes. `isAccessPolicyMatch` only for access-policy vaults;
/// `isRbacAuthorized` and `appliedAssignmentId` only for RBAC vaults.
pub const PROPERTIES: &[&str] = &[
    "id",
    "clientInfo",
    "requestUri",
    "httpStatusCode",
    "isAccessPolicyMatch",
    "isRbacAuthorized",
    "appliedAssignmentId",
];

/// Documented fields left out, with the reason.
pub const NOT_FILLED: &[(&str, &str)] = &[
    ("properties.tlsVersion", "the TLS version is not carried from the handshake to the request"),
    ("identity.claim upn", "the emulator has no users: every caller is an app or a managed identity"),
    ("properties.addrAuthType", "the emulator has no network rules"),
];

/// Key Vault's `operationName` for an operation of the authorization table. Names the
/// documentation does not list (marked) follow its pattern.
#[must_use]
pub fn operation_name(operation: &str) -> &str {
    match operation {
        "CreateKey" => "KeyCreate",
        "ImportKey" => "KeyImport",
        "GetKey" => "KeyGet",
        "UpdateKey" => "KeyUpdate",
        "ListKeys" => "KeyList",
        "ListKeyVersions" => "KeyListVersions",
        "DeleteKey" => "KeyDelete",
        "GetDeletedKey" => "KeyGetDeleted",
        "ListDeletedKeys" => "KeyListDeleted",
        "RecoverDeletedKey" => "KeyRecover",
        "PurgeDeletedKey" => "KeyPurge",
        "BackupKey" => "KeyBackup",
        "RestoreKey" => "KeyRestore",
        "Encrypt" => "KeyEncrypt",
        "Decrypt" => "KeyDecrypt",
        "Sign" => "KeySign",
        "Verify" => "KeyVerify",
        "WrapKey" => "KeyWrap",
        "UnwrapKey" => "KeyUnwrap",
        "Release" => "KeyRelease",
        "RotateKey" => "KeyRotate",
        "GetRotationPolicy" => "KeyRotationPolicyGet",
        "SetRotationPolicy" => "KeyRotationPolicySet",
        // Not in the documented table.
        "GetKeyAttestation" => "KeyGetAttestation",
        "GetRandomBytes" => "GetRandomBytes",
        "ReadVault" => "VaultGet",
        "WriteVault" => "VaultPut",
        "DeleteVault" => "VaultDelete",
        "WriteAccessPolicy" => "VaultPatch",
        "ReadDeletedVault" => "VaultGetDeleted",
        "PurgeDeletedVault" => "VaultPurge",
        other => other,
    }
}

/// Whether `record` has an `AuditEvent` line: everything but Graph's (see the module comment).
#[must_use]
pub fn in_audit_event_log(record: &AuditRecord) -> bool {
    record.plane != "graph"
}

/// The HTTP reason phrase Key Vault puts in `resultSignature`.
fn result_signature(status: u16) -> String {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map_or_else(|| status.to_string(), |reason| reason.replace(' ', ""))
}

/// One `AuditEvent` line for `record`.
#[must_use]
pub fn event(record: &AuditRecord) -> Value {
    let host = record.host.as_deref().unwrap_or("localhost");
    let scheme = if record.plane == "management" || record.plane == "vault" { "https" } else { "http" };
    let request_uri = format!("{scheme}://{host}{}", record.path);
    let (path, query) = record.path.split_once('?').unwrap_or((&record.path, ""));
    let api_version = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.eq_ignore_ascii_case("api-version"))
        .map_or("", |(_, value)| value);
    let rbac = record.rule.action.is_some() && record.plane == "vault";
    let mut properties = json!({
        "id": format!("{scheme}://{host}{path}"),
        "clientInfo": record.user_agent.as_deref().unwrap_or(""),
        "requestUri": request_uri,
        "httpStatusCode": record.status,
    });
    if record.plane == "vault" {
        if rbac {
            properties["isRbacAuthorized"] = (record.decision == "allowed").into();
            properties["appliedAssignmentId"] =
                record.rule.role_assignment.as_ref().and_then(|a| a.id).map_or(Value::Null, |id| id.to_string().into());
        } else {
            properties["isAccessPolicyMatch"] = (record.decision == "allowed").into();
        }
    }
    let failed = record.status >= 400;
    json!({
        "time": record.wall_time,
        "resourceId": record.resource_id.to_ascii_uppercase(),
        "operationName": operation_name(&record.operation),
        "operationVersion": api_version,
        "category": "AuditEvent",
        "resultType": if failed { "Failure" } else { "Success" },
        "resultSignature": result_signature(record.status),
        "resultDescription": if failed { record.reason.as_str() } else { "" },
        // Key Vault writes it as a string.
        "durationMs": record.duration_ms.round().to_string(),
        "callerIpAddress": record
            .client_address
            .as_deref()
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .map_or_else(String::new, |a| a.ip().to_string()),
        "correlationId": record.client_request_id.as_deref().unwrap_or(""),
        "identity": { "claim": {
            "http://schemas.microsoft.com/identity/claims/objectidentifier": record.caller.object_id,
            "appid": record.caller.app_id,
            "http://schemas.microsoft.com/identity/claims/tenantid": record.caller.tenant_id,
        }},
        "properties": properties,
    })
}

/// The diagnostics file, appended to by the audit writer only.
#[derive(Debug)]
pub struct DiagnosticsFile {
    out: BufWriter<File>,
}

impl DiagnosticsFile {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { out: BufWriter::new(file) })
    }

    /// Appends one line per record that has one ([`in_audit_event_log`]) and flushes, so a
    /// reader sees whole batches.
    pub fn append<'a>(&mut self, records: impl Iterator<Item = &'a AuditRecord>) {
        let written = records
            .filter(|record| in_audit_event_log(record))
            .try_for_each(|record| {
                serde_json::to_writer(&mut self.out, &event(record)).map_err(std::io::Error::from)?;
                self.out.write_all(b"\n")
            })
            .and_then(|()| self.out.flush());
        if let Err(err) = written {
            tracing::warn!(error = %err, "the diagnostics log could not be written");
        }
    }
}
