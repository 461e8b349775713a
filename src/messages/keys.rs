//! The Key Vault data plane's `BadParameter` texts about keys and their parameters, which the
//! domain (`src/keys`) decides: types, operations, sizes, algorithms, import, tags, release and
//! rotation policies, backups. Texts with an `AKV.SKR` code are the real service's; the others are
//! [unverified] wording in the real service's style unless tagged.

use std::fmt::Display;

// Key types, operations and tags.

#[must_use]
pub fn invalid_key_type(text: &str, valid: &str) -> String {
    format!("The specified key type (kty) '{text}' is not valid. Valid values: {valid}.")
}

#[must_use]
pub fn invalid_key_operation(text: &str) -> String {
    format!(
        "The key operation '{text}' is not valid. Valid values: encrypt, decrypt, sign, verify, wrapKey, unwrapKey, import, export."
    )
}

#[must_use]
pub fn operation_unsupported_by_key_type(operation: &str, key_type: &str) -> String {
    format!("The key operation '{operation}' is not supported by key type {key_type}.")
}

/// A Managed HSM holds only `-HSM` key types. [unverified] the real HSM's wording.
#[must_use]
pub fn hsm_key_type_required(key_type: &str) -> String {
    format!("Invalid kty value: {key_type}")
}

#[must_use]
pub fn too_many_tags(max: usize, given: usize) -> String {
    format!("A key may have at most {max} tags; {given} were given.")
}

/// `tag` is the start of the offending tag's name.
#[must_use]
pub fn tag_too_long(max: usize, tag: &str) -> String {
    format!("Tag names and values may be at most {max} characters long; tag '{tag}' is too long.")
}

// Exportability and release policies (contract §5.2; the AKV.SKR texts are the real service's).

pub const IMMUTABLE_RELEASE_POLICY: &str = "AKV.SKR.1020: Immutable Key Release Policy cannot be modified.";
pub const EXPORTABLE_NEEDS_RELEASE_POLICY: &str = "AKV.SKR.1004: Exportable keys must have release policy.";
pub const NON_EXPORTABLE_WITH_RELEASE_POLICY: &str = "AKV.SKR.1005: Non-exportable keys must not have release policy.";
pub const EXPORTABLE_IS_FIXED: &str = "AKV.SKR.1014: Cannot modify the exportable state of a key.";
/// [unverified] quoted by third parties.
pub const RELEASE_POLICY_ON_VERSIONLESS_KEY_ONLY: &str =
    "AKV.SKR.1016: Key Release Policy can only be set on versionless key";

#[must_use]
pub fn release_policy_invalid(reason: &str) -> String {
    format!("Key Release Policy: {reason}")
}

// The reasons a release policy document is refused, after `release_policy_invalid`'s prefix.

#[must_use]
pub fn policy_group_has_both(context: &str) -> String {
    format!("{context} has both 'allOf' and 'anyOf'; use one")
}

#[must_use]
pub fn policy_group_missing(context: &str) -> String {
    format!("{context} needs an 'allOf' or 'anyOf' list of conditions")
}

#[must_use]
pub fn policy_conditions_not_a_list(context: &str) -> String {
    format!("the conditions of {context} must be a non-empty array")
}

#[must_use]
pub fn policy_condition_not_an_object(context: &str) -> String {
    format!("a condition of {context} is not an object")
}

pub const POLICY_CLAIM_MISSING: &str = "'claim' must be a non-empty string";

#[must_use]
pub fn policy_operator_unsupported(operator: impl Display) -> String {
    format!("the condition operator {operator} is not supported; use 'equals'")
}

#[must_use]
pub fn policy_equals_missing(claim: &str) -> String {
    format!("the condition on claim '{claim}' needs an 'equals' value")
}

#[must_use]
pub fn policy_value_type(claim: &str) -> String {
    format!("the value for claim '{claim}' must be a string, number or boolean")
}

#[must_use]
pub fn policy_not_json(error: &str) -> String {
    format!("not valid JSON ({error})")
}

pub const POLICY_NOT_AN_OBJECT: &str = "the policy must be a JSON object";

#[must_use]
pub fn policy_version_unsupported(found: &str, supported: &str) -> String {
    format!("unsupported 'version' {found}; use \"{supported}\"")
}

pub const POLICY_AUTHORITIES_MISSING: &str = "the policy needs a non-empty 'anyOf' list of authorities";
pub const POLICY_AUTHORITY_NOT_AN_OBJECT: &str = "an 'anyOf' entry is not an object";
pub const POLICY_AUTHORITY_MISSING: &str = "every 'anyOf' entry needs an 'authority'";

#[must_use]
pub fn not_releasable(name: impl Display) -> String {
    format!("The key '{name}' cannot be released: only exportable keys with a release policy can be.")
}

#[must_use]
pub fn invalid_export_algorithm(text: &str) -> String {
    format!(
        "The key export encryption algorithm '{text}' is not valid. Valid values: CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256, RSA_AES_KEY_WRAP_384."
    )
}

pub const ATTESTATION_HAS_NO_RUNTIME_KEYS: &str =
    "The target attestation token has no 'x-ms-runtime.keys' to wrap the key for.";
pub const ATTESTATION_HAS_NO_ENCRYPTION_KEY: &str = "The target attestation token has no RSA encryption key (kty RSA, a kid, and use 'enc' or key_ops 'encrypt') in 'x-ms-runtime.keys'.";

#[must_use]
pub fn attestation_wrapping_key_unusable(error: &str) -> String {
    format!("The wrapping key in the target attestation token cannot be used: {error}")
}

// Generation and import.

#[must_use]
pub fn rsa_size_unsupported(bits: u32) -> String {
    format!("The RSA key size {bits} is not supported. Supported sizes: 2048, 3072, 4096.")
}

#[must_use]
pub fn public_exponent_unsupported(exponent: u32) -> String {
    format!("The public exponent {exponent} is not supported. Supported public exponent: 65537.")
}

#[must_use]
pub fn oct_size_unsupported(bits: u32) -> String {
    format!("The oct key size {bits} is not supported. Supported sizes: 128, 192, 256.")
}

pub const AKP_NEEDS_ALGORITHM: &str =
    "The 'alg' parameter is required for AKP keys: ML-DSA-44, ML-DSA-65 or ML-DSA-87.";

#[must_use]
pub fn rsa_import_size(bits: usize) -> String {
    format!("The RSA key is {bits} bits; Key Vault imports RSA keys of 2048, 3072 or 4096 bits.")
}

pub const PKCS8_KEY_UNSUPPORTED: &str =
    "The PKCS#8 key is neither an RSA key nor an EC key on P-256, P-384, P-521 or P-256K.";

#[must_use]
pub fn oct_import_length(bytes: usize) -> String {
    format!("The oct key to import is {bytes} bytes long; oct keys are 16, 24 or 32 bytes (128, 192 or 256 bits).")
}

// Algorithms of the cryptographic operations.

#[must_use]
pub fn invalid_encryption_algorithm(text: &str, valid: &str) -> String {
    format!("The algorithm '{text}' is not valid for this operation. Valid values: {valid}.")
}

#[must_use]
pub fn algorithm_key_size_mismatch(algorithm: &str, needed: impl Display, bits: impl Display) -> String {
    format!("The algorithm {algorithm} needs a {needed}-bit key, but this key is {bits} bits.")
}

#[must_use]
pub fn algorithm_wrong_operation(algorithm: &str, refused: &str, allowed: &str) -> String {
    format!("The algorithm {algorithm} cannot be used for {refused}; it is for {allowed}.")
}

#[must_use]
pub fn invalid_signature_algorithm(text: &str, valid: &str) -> String {
    format!("The signature algorithm '{text}' is not supported. Supported: {valid}.")
}

#[must_use]
pub fn algorithm_curve_mismatch(algorithm: &str, needed: &str, found: &str) -> String {
    format!("The algorithm {algorithm} needs a key on curve {needed}, but this key is on {found}.")
}

#[must_use]
pub fn algorithm_key_type_mismatch(algorithm: &str, key_type: &str) -> String {
    format!("The algorithm {algorithm} cannot be used with a key of type {key_type}.")
}

#[must_use]
pub fn invalid_secure_wrap_algorithm(text: &str, valid: &str) -> String {
    format!("The algorithm '{text}' is not valid for a secure wrap. Valid values: {valid}.")
}

#[must_use]
pub fn decrypt_parameter_required(member: &str, algorithm: &str) -> String {
    format!("The '{member}' parameter is required to decrypt with {algorithm}.")
}

#[must_use]
pub fn ml_dsa_options_need_akp(key_type: &str) -> String {
    format!(
        "The 'alg' parameter is required: context, external_mu and signing without 'alg' are only for AKP (ML-DSA) keys, and this key is {key_type}."
    )
}

#[must_use]
pub fn ml_dsa_parameter_set_mismatch(requested: &str, key_algorithm: &str) -> String {
    format!("The algorithm {requested} cannot be used with this key: it is an {key_algorithm} key.")
}

/// [rec MHSM] contract §5: `POST /rng` outside 1–128.
pub const RNG_COUNT_OUT_OF_RANGE: &str = "GetRandomBytesRequest: count cannot be greater than 128 or less than 1";

// Rotation policies.

#[must_use]
pub fn invalid_duration(text: &str, field: &str) -> String {
    format!("'{text}' is not a valid ISO-8601 duration for {field}.")
}

pub const TOO_MANY_LIFETIME_ACTIONS: &str =
    "A rotation policy has at most two lifetime actions: one Rotate and one Notify.";

#[must_use]
pub fn unknown_lifetime_action(kind: &str) -> String {
    format!("'{kind}' is not a lifetime action type; use Rotate or Notify.")
}

pub const NOTIFY_NEEDS_TIME_BEFORE_EXPIRY: &str = "A Notify action is triggered by timeBeforeExpiry only.";
pub const ONE_TRIGGER_PER_ACTION: &str =
    "Each lifetime action needs exactly one trigger: timeAfterCreate or timeBeforeExpiry.";

#[must_use]
pub fn duplicate_lifetime_action(kind: &str) -> String {
    format!("A rotation policy has at most one {kind} action.")
}

#[must_use]
pub fn expiry_time_too_short(expiry: &str) -> String {
    format!("expiryTime must be at least 28 days (P28D); '{expiry}' is shorter.")
}

// Backups.

pub const INVALID_BACKUP: &str =
    "The backup blob is not valid: it is corrupt, truncated, or was made by another emulator or tenant.";
