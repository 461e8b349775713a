//! Pure cryptographic functions over key material, per key family, on aws-lc-rs.
//!
//! Nothing here knows about vaults, HTTP or storage: functions take bytes and algorithm names
//! and return bytes or a [`CryptoError`]. The keys service decides which function to call.

pub mod aes;
pub mod base64url;
pub mod der;
pub mod ec;
pub mod mldsa;
pub mod mldsa_variants;
pub mod rsa;
pub mod rsa_unhashed;
pub mod sealing;
pub mod security_domain;
pub mod shamir;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The caller's input cannot be used with this key and algorithm (too long, wrong length,
    /// not decryptable). Reported to clients as a bad parameter.
    #[error("{0}")]
    InvalidInput(String),
    /// Key material that fails to parse or generate: a bug or corrupted store, never the caller.
    #[error("key material error: {0}")]
    Material(String),
}

pub type CryptoResult<T> = Result<T, CryptoError>;

/// The hash behind a signature algorithm. Key Vault signs digests: the caller hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    #[must_use]
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn algorithm(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha384 => &aws_lc_rs::digest::SHA384,
            Self::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// Wraps a caller-supplied digest, refusing one of the wrong length.
    fn import(self, digest: &[u8]) -> CryptoResult<aws_lc_rs::digest::Digest> {
        aws_lc_rs::digest::Digest::import_less_safe(digest, self.algorithm()).map_err(|_| {
            CryptoError::InvalidInput(crate::messages::crypto::digest_length(digest.len(), self.digest_len()))
        })
    }
}

/// Fills a fresh buffer with cryptographically secure random bytes.
pub fn random_bytes(len: usize) -> CryptoResult<Vec<u8>> {
    let mut buf = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| CryptoError::Material("random source failed".into()))?;
    Ok(buf)
}

/// Strips leading zero bytes: JWK integers are big-endian unsigned with no leading zeros.
#[must_use]
pub fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}
