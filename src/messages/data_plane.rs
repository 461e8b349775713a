//! The Key Vault data plane's texts (vaults and Managed HSMs): the error table, authorization
//! refusals, bearer-token failures (`AKV100xx`), key lifecycle and the security domain.

/// Portal/region label the real service appends to vault names in messages.
pub const REGION: &str = "local";

/// [rec] §3
pub const MISSING_TOKEN: &str = "AKV10000: Request is missing a Bearer or PoP token.";

/// [rec] §7, the current wording.
#[must_use]
pub fn key_not_found(name: &str, version: Option<&str>) -> String {
    let id = match version {
        Some(v) => format!("{name}/{v}"),
        None => name.to_owned(),
    };
    format!(
        "A key with (name/id) {id} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
    )
}

/// [rec] §5 item 8: deletedkeys paths.
#[must_use]
pub fn deleted_key_not_found(name: &str) -> String {
    format!("Deleted Key not found: {name}")
}

/// [sdk test assertions] §6; innererror ObjectIsDeletedButRecoverable.
#[must_use]
pub fn deleted_but_recoverable(name: &str) -> String {
    format!(
        "Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged."
    )
}

/// [rec] §5 item 13: restoring onto a name in use, active or soft-deleted.
#[must_use]
pub fn restore_conflict(kid: &str) -> String {
    format!(
        "There was a conflict restoring the key '{kid}'. This can happen if either: a second key with the same name was created after the first key was deleted; thus trying to restore a key whose name is already in use. To fix this, rename the second key to something else so that the restore works. The second probable cause of this exception is when multiple operations are performed in parallel against the key. To avoid this error, perform operations against a key in a sequential manner."
    )
}

/// [ext: real Terraform/CLI output] §6, with the trailing vault line.
#[must_use]
pub fn purge_protected(vault: &str) -> String {
    format!(
        "Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: {vault};location={REGION}"
    )
}

/// [unverified] the inner code of the purge-protection refusal.
pub const PURGE_PROTECTED_INNER: &str = "ForbiddenByPolicy";

/// [unverified] §7: Key Vault rejects names outside `^[0-9a-zA-Z-]{1,127}$`.
#[must_use]
pub fn invalid_name(name: &str) -> String {
    format!("The request URI contains an invalid name: {name}")
}

/// [ext] §1, matches a real message.
#[must_use]
pub fn unknown_api_version(version: &str, latest: &str) -> String {
    format!(
        "The specified version ({version}) is not recognized. Consider using the latest supported version ({latest})."
    )
}

/// [unverified] `attributes.external_key` on a vault with no external key manager connection.
pub const EXTERNAL_KEYS_UNSUPPORTED: &str = "External keys are not supported: this vault has no external key manager (EKM) connection, so 'attributes.external_key' cannot be used.";

/// [unverified] the keys API's JsonWebKey has no member for ML-DSA private material.
pub const AKP_IMPORT_UNSUPPORTED: &str = "AKP keys cannot be imported: the JSON Web Key has no member for ML-DSA private key material. Create the key in the vault with kty AKP instead.";

/// [unverified] an operation or parameter the request's api-version does not have.
#[must_use]
pub fn not_in_api_version(what: &str, version: &str, since: &str) -> String {
    format!("{what} is not supported in api-version {version}; it is available from api-version {since}.")
}

/// What `not_in_api_version` names when a whole operation is newer than the request.
pub const SECURE_WRAP_OPERATION: &str = "The securewrapkey operation";
pub const SECURE_UNWRAP_OPERATION: &str = "The secureunwrapkey operation";

/// [unverified] §1: api-version is required on every operation.
#[must_use]
pub fn missing_api_version(latest: &str) -> String {
    format!(
        "The 'api-version' query parameter is required for all requests. Consider using the latest supported version ({latest})."
    )
}

/// [rec] §4a; innererror AccessDenied.
#[must_use]
pub fn access_denied(caller: &str, permission: &str, vault: &str) -> String {
    format!(
        "The user, group or application '{caller}' does not have keys {permission} permission on key vault '{vault};location={REGION}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"
    )
}

/// [ext] §4b; innererror ForbiddenByRbac. The real layout, `\r\n`-separated; `resource` is the
/// lower-cased scope of the request.
#[must_use]
pub fn rbac_denied(caller: &str, action: &str, resource: &str, vault: &str) -> String {
    format!(
        "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: {caller}\r\nAction: '{action}'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {vault};location={REGION}\r\n",
        resource.to_ascii_lowercase()
    )
}

/// [sdk] §6; innererror KeyOperationForbidden.
#[must_use]
pub fn operation_not_permitted(op: &str) -> String {
    format!("Operation {op} is not permitted on this key.")
}

/// [ext] §6; innererror KeyDisabled.
#[must_use]
pub fn key_disabled(op: &str) -> String {
    format!("Operation {op} is not allowed on a disabled key.")
}

/// [unverified] §5 item 20: the status (403) is recorded, the text and inner code are ours.
pub const RELEASE_POLICY_NOT_SATISFIED: &str =
    "Target environment attestation statement cannot be verified against the key release policy.";

/// [unverified] §6; innererror KeyExpired.
#[must_use]
pub fn key_expired(op: &str) -> String {
    format!("Operation {op} is not allowed on an expired key.")
}

/// [unverified] §6; innererror KeyNotYetValid.
#[must_use]
pub fn key_not_yet_valid(op: &str) -> String {
    format!("Operation {op} is not allowed on a key that is not yet valid.")
}

/// [docs/ext] §3
#[must_use]
pub fn invalid_audience(found: &str) -> String {
    format!("AKV10022: Invalid audience. Expected https://vault.azure.net, found: {found}.")
}

/// [sdk TROUBLESHOOTING] §3
#[must_use]
pub fn invalid_issuer(expected: &str, found: &str) -> String {
    format!("AKV10032: Invalid issuer. Expected one of {expected}, found {found}.")
}

/// [unverified] the remaining token failures, AKV-style.
#[must_use]
pub fn malformed_token(detail: &str) -> String {
    format!("AKV10001: The bearer token is malformed: {detail}.")
}

#[must_use]
pub fn unsupported_token_algorithm(alg: &str) -> String {
    format!("AKV10013: The token signing algorithm {alg} is not accepted; tokens must be signed with RS256.")
}

#[must_use]
pub fn unknown_signing_key(kid: &str) -> String {
    format!("AKV10014: The token was signed with an unknown key (kid '{kid}').")
}

pub const BAD_SIGNATURE: &str = "AKV10015: The token signature is invalid.";

#[must_use]
pub fn token_expired(exp: i64) -> String {
    format!("AKV10020: The token has expired (exp {exp}).")
}

#[must_use]
pub fn token_not_yet_valid(nbf: i64) -> String {
    format!("AKV10021: The token is not yet valid (nbf {nbf}).")
}

#[must_use]
pub fn wrong_tenant(expected: &str, found: &str) -> String {
    format!("AKV10046: The token was issued for tenant {found}, but this vault belongs to tenant {expected}.")
}

#[must_use]
pub fn missing_claim(claim: &str) -> String {
    format!("AKV10010: The token is missing the required claim '{claim}' or its value is invalid.")
}

/// [unverified] a host that names no vault of this emulator.
#[must_use]
pub fn vault_not_found(vault: &str) -> String {
    format!("The vault '{vault}' does not exist on this emulator. Create it first, or use the default vault.")
}

#[must_use]
pub fn route_not_found(method: &str, path: &str) -> String {
    format!("The requested resource does not exist: {method} {path}")
}

#[must_use]
pub fn method_not_allowed(method: &str, path: &str) -> String {
    format!("The HTTP method {method} is not allowed on {path}.")
}

pub const SERVICE_UNAVAILABLE: &str = "The vault is busy with another write; retry the request.";

pub const INTERNAL: &str = "The emulator hit an internal error; the detail is in its log.";

// Requests the HTTP layer refuses before the domain sees them.

#[must_use]
pub fn invalid_query(error: &str) -> String {
    format!("The query string is not valid for this request: {error}.")
}

#[must_use]
pub fn invalid_max_results(text: &str, max: u32) -> String {
    format!("The value of maxresults ({text}) is invalid: it must be an integer between 1 and {max}.")
}

pub const INVALID_SKIP_TOKEN: &str = "The $skiptoken value is not valid.";

#[must_use]
pub fn unreadable_body(error: &str) -> String {
    format!("The request body could not be read: {error}")
}

/// The body stream broke before its end (a client reset, not a limit).
pub const BROKEN_BODY: &str = "The request body could not be read.";
pub const EMPTY_BODY: &str = "The request body is empty; a JSON object is required.";
pub const BODY_NOT_AN_OBJECT: &str = "The request body must be a JSON object.";

#[must_use]
pub fn invalid_body(error: &str) -> String {
    format!("The request body is not valid: {error}")
}

#[must_use]
pub fn invalid_uri(error: &str) -> String {
    format!("The request URI is not valid: {error}")
}

pub const EMPTY_HOST: &str = "The request has an empty Host header.";

// Key parameters the wire types check while translating a request.

#[must_use]
pub fn parameter_required(name: &str) -> String {
    format!("The '{name}' parameter is required.")
}

pub const ALG_REQUIRED: &str = "The 'alg' parameter is required.";

#[must_use]
pub fn external_mu_excludes(message_name: &str) -> String {
    format!("When 'external_mu' is given, '{message_name}' and 'context' must not be.")
}

#[must_use]
pub fn invalid_ml_dsa_algorithm(alg: &str) -> String {
    format!("The algorithm '{alg}' is not valid for an AKP key. Valid values: ML-DSA-44, ML-DSA-65, ML-DSA-87.")
}

#[must_use]
pub fn invalid_curve(crv: &str) -> String {
    format!("The curve '{crv}' is not valid. Valid values: P-256, P-384, P-521, P-256K.")
}

pub const RELEASE_POLICY_DATA_REQUIRED: &str = "Key Release Policy: the 'data' member is required.";

#[must_use]
pub fn import_member_missing(kty: &str, name: &str) -> String {
    format!("The {kty} key to import has no '{name}' member.")
}

pub const KEY_HSM_IMPORT_UNSUPPORTED: &str =
    "Importing an HSM-protected key blob (key_hsm, BYOK) is not supported by this emulator.";
pub const RSA_IMPORT_PARTIAL_CRT: &str =
    "The RSA key to import has some but not all CRT members: send all of p, q, dp, dq and qi, or none of them.";
pub const EC_IMPORT_WITHOUT_CURVE: &str = "The EC key to import has no 'crv' member.";

// Release and secure unwrap: the attestation of the target environment.

pub const TARGET_ATTESTATION_REQUIRED: &str = "The 'target' attestation token is required.";

#[must_use]
pub fn target_attestation_invalid(reason: &str) -> String {
    format!("The target attestation token is not valid: {reason}.")
}

// Why a target attestation token is not valid, after `target_attestation_invalid`'s prefix.

#[must_use]
pub fn attestation_not_a_jwt(error: impl std::fmt::Display) -> String {
    format!("it is not a JWT ({error})")
}

pub const ATTESTATION_NO_KID: &str = "its header has no 'kid'";

#[must_use]
pub fn attestation_unknown_kid(kid: &str, authority_path: &str) -> String {
    format!(
        "it was not signed by the emulator's attestation authority (unknown kid '{kid}'); mint targets at {authority_path}/generate-test-token"
    )
}

#[must_use]
pub fn attestation_does_not_verify(error: impl std::fmt::Display) -> String {
    format!("it does not verify ({error})")
}

pub const ATTESTATION_FOREIGN_ISSUER: &str = "it was not issued by the emulator's attestation authority";
