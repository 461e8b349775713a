//! The texts of the input `src/crypto` refuses (`CryptoError::InvalidInput`): the data plane
//! answers them as `BadParameter`, the security domain as a bad request. The emulator's own
//! wording. `crypto` imports this module and nothing else of ours, which is why `messages`
//! imports nothing at all.

use std::fmt::Display;

// AES (GCM, CBC, key wrap).

pub const AES_GCM_PLAINTEXT_TOO_LONG: &str = "The plaintext is too long for AES-GCM.";

#[must_use]
pub fn aes_gcm_iv_length(given: usize, needed: usize) -> String {
    format!("The iv is {given} bytes long; AES-GCM needs a {needed}-byte iv.")
}

#[must_use]
pub fn aes_gcm_tag_length(given: usize, needed: usize) -> String {
    format!("The authentication tag is {given} bytes long; AES-GCM needs a {needed}-byte tag.")
}

pub const AES_GCM_DECRYPTION_FAILED: &str =
    "The ciphertext, iv, tag or additional authenticated data do not match: AES-GCM decryption failed.";

#[must_use]
pub fn aes_cbc_iv_length(given: usize, needed: usize) -> String {
    format!("The iv is {given} bytes long; AES-CBC needs a {needed}-byte iv.")
}

#[must_use]
pub fn aes_cbc_plaintext_length(given: usize, block: usize) -> String {
    format!(
        "The plaintext is {given} bytes long; unpadded AES-CBC encrypts a non-empty multiple of {block} bytes. Use a CBCPAD algorithm for other lengths."
    )
}

pub const AES_CBC_ENCRYPTION_FAILED: &str = "AES-CBC encryption failed.";

#[must_use]
pub fn aes_cbc_ciphertext_length(given: usize, block: usize) -> String {
    format!("The ciphertext is {given} bytes long; AES-CBC ciphertext is a non-empty multiple of {block} bytes.")
}

pub const AES_CBC_DECRYPTION_FAILED: &str =
    "AES-CBC decryption failed: the key, iv or padding do not match the ciphertext.";

#[must_use]
pub fn aes_key_wrap_input_length(len: usize) -> String {
    format!(
        "The key to wrap is {len} bytes long; AES key wrap (RFC 3394) wraps at least 16 bytes, in multiples of 8. Use CKM_AES_KEY_WRAP_PAD for other lengths."
    )
}

#[must_use]
pub fn aes_key_wrap_pad_input_empty(len: usize) -> String {
    format!("The key to wrap is {len} bytes long; it must not be empty.")
}

#[must_use]
pub fn wrapped_key_length(given: usize, min: usize) -> String {
    format!("The wrapped key is {given} bytes long; wrapped keys are at least {min} bytes, in multiples of 8.")
}

pub const WRAPPED_KEY_INTEGRITY: &str =
    "The wrapped key failed its integrity check: it was not wrapped with this key and algorithm.";

// RSA.

#[must_use]
pub fn rsa_generation_size(bits: impl Display) -> String {
    format!("unsupported RSA key size {bits}")
}

#[must_use]
pub fn rsa_material_inconsistent(error: impl Display) -> String {
    format!("The RSA key material is not consistent (n, e, d, p, q, dp, dq, qi): {error}.")
}

pub const RSA_NED_INCONSISTENT: &str =
    "The RSA members n, e and d do not belong to one key: no primes of n follow from them.";

#[must_use]
pub fn rsa_plaintext_too_long(given: usize, limit: usize) -> String {
    format!("The plaintext is {given} bytes long; this key and algorithm accept at most {limit} bytes.")
}

#[must_use]
pub fn rsa_ciphertext_length(given: usize, needed: usize) -> String {
    format!("The ciphertext is {given} bytes long; this key expects exactly {needed} bytes.")
}

pub const RSA_UNDECRYPTABLE: &str = "The ciphertext could not be decrypted with this key and algorithm.";

#[must_use]
pub fn rsnull_value_length(given: usize, max: usize) -> String {
    format!("The value to sign is {given} bytes long; RSNULL with this key signs 1 to {max} bytes.")
}

#[must_use]
pub fn digest_length(given: usize, needed: usize) -> String {
    format!("The digest is {given} bytes long; this algorithm signs {needed}-byte digests.")
}

// EC.

#[must_use]
pub fn ec_member_too_long(member: &str, given: usize, curve: &str, width: usize) -> String {
    format!("The EC member '{member}' is {given} bytes long; curve {curve} takes at most {width}.")
}

#[must_use]
pub fn ec_material_inconsistent(curve: &str, error: impl Display) -> String {
    format!(
        "The EC key material is not consistent: the point (x, y) must be on curve {curve} and belong to d ({error})."
    )
}

// ML-DSA.

#[must_use]
pub fn ml_dsa_public_key_length(algorithm: &str, needed: usize, given: usize) -> String {
    format!("An {algorithm} public key is {needed} bytes; this one is {given}.")
}

#[must_use]
pub fn ml_dsa_context_too_long(given: usize, max: usize) -> String {
    format!("The ML-DSA context is {given} bytes long; it may be at most {max}.")
}

#[must_use]
pub fn external_mu_length(given: usize, needed: usize) -> String {
    format!("The external_mu value is {given} bytes long; it must be exactly {needed}.")
}

// Shamir sharing and the security-domain file.

#[must_use]
pub fn shamir_parameters(max: impl Display, shares: impl Display, required: impl Display) -> String {
    format!(
        "A secret is split into at most {max} shares with a quorum of at least 2 and at most the share count (got {shares} shares, quorum {required})."
    )
}

pub const NO_SHARES: &str = "No shares were given.";
pub const SHARE_LENGTHS_DIFFER: &str = "The shares are of different lengths.";
pub const SHARE_NUMBERS_REPEAT: &str = "The shares do not have distinct share numbers.";
pub const SHARE_MIXES_NUMBERS: &str = "A share mixes share numbers.";
pub const SHARES_OF_DIFFERENT_SECRETS: &str = "The shares do not belong to one secret.";

#[must_use]
pub fn kdf_length(bits: u32) -> String {
    format!("The KDF cannot produce {bits} bits.")
}

pub const JWE_NOT_COMPACT: &str = "A JWE in the security domain is not in compact form (five parts).";
pub const JWE_PART_NOT_BASE64URL: &str = "A JWE part is not base64url.";
pub const JWE_HEADER_NOT_JSON: &str = "A JWE header is not JSON.";

#[must_use]
pub fn jwe_encryption(enc: &str) -> String {
    format!("A JWE in the security domain is not {enc}.")
}

pub const JWE_CONTENT_KEY_LENGTH: &str = "An A256CBC-HS512 content key is 64 bytes.";
pub const JWE_NOT_AUTHENTIC: &str = "A JWE in the security domain does not authenticate under this key.";
pub const WRAPPED_KEY_ALGORITHM: &str = "A wrapped key in the security domain uses an unsupported algorithm.";
pub const WRAPPED_KEY_UNDECRYPTABLE: &str = "A wrapped key in the security domain cannot be decrypted with this key.";
pub const NO_ENC_DATA: &str = "The security domain has no EncData.data.";
pub const ENC_DATA_ENTRY: &str = "An EncData entry needs 'tag' and 'compact_jwe'.";
pub const TOO_MANY_WRAPPING_KEYS: &str = "Too many wrapping keys.";
pub const SECURITY_DOMAIN_NOT_JSON: &str = "The security domain is not JSON.";
pub const NO_QUORUM: &str = "The security domain has no quorum.";
pub const NO_SHARES_IN_FILE: &str = "The security domain has no shares.";

#[must_use]
pub fn insufficient_shares(given: usize, required: impl Display) -> String {
    format!("Insufficient shares: {given} of the {required} needed.")
}

pub const RESTORE_BLOB_NOT_JSON: &str = "The restore blob is not JSON.";
pub const RESTORE_BLOB_WRONG_KEY: &str = "The restore blob is not wrapped to this HSM's transfer key.";
pub const RESTORE_BLOB_NO_KEY: &str = "The restore blob has no WrappedKey.enc_key.";
