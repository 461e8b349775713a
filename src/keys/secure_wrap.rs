//! Secure wrap and secure unwrap (api-version 2026-01-01-preview and later): the service makes a
//! fresh 256-bit AES key inside its trusted environment and returns it only wrapped under the
//! key encryption key; unwrapping it again needs an attestation of the environment that asks.
//!
//! The emulator's "trusted environment" is the emulator itself: the new AES key comes from the
//! same secure random source as every key, and the attestation is a token of the built-in
//! attestation authority (`auth::attestation`), checked by the caller before it reaches here. The service methods
//! (`secure_wrap_key`, `secure_unwrap_key`) sit with the other operations in `service/operations.rs`.

use super::algorithms::EncryptionAlgorithm;
use super::{Error, Result};

/// The size of the key a secure wrap creates.
pub const SECURE_WRAP_KEY_BYTES: usize = 32;

/// `JsonWebKeyWrapAlgorithm`: the algorithms a secure wrap may use, a subset of wrapKey's.
pub fn parse_wrap_algorithm(text: &str) -> Result<EncryptionAlgorithm> {
    use EncryptionAlgorithm as A;
    const ALLOWED: [EncryptionAlgorithm; 6] =
        [A::RsaOaep256, A::A128Kw, A::A192Kw, A::A256Kw, A::CkmAesKeyWrap, A::CkmAesKeyWrapPad];
    ALLOWED.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
        let valid: Vec<&str> = ALLOWED.iter().map(|a| a.as_str()).collect();
        Error::BadParameter(crate::messages::keys::invalid_secure_wrap_algorithm(text, &valid.join(", ")))
    })
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
