//! Secure wrap and secure unwrap (api-version 2026-01-01-preview and later): the service makes a
//! fresh 256-bit AES key inside its trusted environment and returns it only wrapped under the
//! key encryption key; unwrapping it again needs an attestation of the environment that asks.
//!
//! The emulator's "trusted environment" is the emulator itself: the new AES key comes from the
//! same secure random source as every key, and the attestation is a token of the built-in
//! attestation authority (`auth::attestation`), checked by the caller before it reaches here.

use serde_json::Value;

use super::algorithms::EncryptionAlgorithm;
use super::cipher::CipherInput;
use super::model::{Key, KeyName, KeyOperation};
use super::service::KeyService;
use super::{Error, Result};
use crate::vaults::Vault;

/// The size of the key a secure wrap creates.
pub const SECURE_WRAP_KEY_BYTES: usize = 32;

/// `JsonWebKeyWrapAlgorithm`: the algorithms a secure wrap may use, a subset of wrapKey's.
pub fn parse_wrap_algorithm(text: &str) -> Result<EncryptionAlgorithm> {
    use EncryptionAlgorithm as A;
    const ALLOWED: [EncryptionAlgorithm; 6] =
        [A::RsaOaep256, A::A128Kw, A::A192Kw, A::A256Kw, A::CkmAesKeyWrap, A::CkmAesKeyWrapPad];
    ALLOWED.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
        let valid: Vec<&str> = ALLOWED.iter().map(|a| a.as_str()).collect();
        Error::BadParameter(format!(
            "The algorithm '{text}' is not valid for a secure wrap. Valid values: {}.",
            valid.join(", ")
        ))
    })
}

impl KeyService {
    /// Creates a 256-bit AES key and returns it wrapped under `name` (which needs `wrapKey` in
    /// its key_ops and must be usable now, as for wrapKey).
    pub async fn secure_wrap_key(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: EncryptionAlgorithm,
    ) -> Result<(Key, Vec<u8>)> {
        let content_key = crate::crypto::random_bytes(SECURE_WRAP_KEY_BYTES)?;
        let (key, output) = self
            .encrypt(vault, name, version, KeyOperation::WrapKey, algorithm, CipherInput::value(content_key))
            .await?;
        Ok((key, output.value))
    }

    /// Unwraps what a secure wrap returned, for the environment `claims` (a verified attestation
    /// token) describes. A key with a release policy unwraps only for claims that satisfy it.
    pub async fn secure_unwrap_key(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: EncryptionAlgorithm,
        wrapped: Vec<u8>,
        claims: &Value,
    ) -> Result<(Key, Vec<u8>)> {
        let key = self.get_key(vault, name, version).await?;
        if let Some(policy) = &key.release_policy
            && !policy.satisfied_by(claims)?
        {
            return Err(Error::ReleasePolicyNotSatisfied);
        }
        let version = Some(key.version.as_str());
        let (key, output) =
            self.decrypt(vault, name, version, KeyOperation::UnwrapKey, algorithm, CipherInput::value(wrapped)).await?;
        Ok((key, output.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_key_wrapping_algorithms() {
        assert_eq!(parse_wrap_algorithm("RSA-OAEP-256").unwrap(), EncryptionAlgorithm::RsaOaep256);
        assert_eq!(parse_wrap_algorithm("A256KW").unwrap(), EncryptionAlgorithm::A256Kw);
        for refused in ["RSA-OAEP", "RSA1_5", "A256GCM", "A256CBCPAD", "rsa-oaep-256", ""] {
            assert!(matches!(parse_wrap_algorithm(refused), Err(Error::BadParameter(_))), "{refused}");
        }
    }
}
