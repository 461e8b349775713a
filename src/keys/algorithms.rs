//! The JWA algorithm names of encrypt/decrypt/wrap/unwrap and sign/verify, and which keys
//! and operations each one fits (contract §8).

use crate::crypto::Hash;
use crate::crypto::aes::{CbcPadding, WrapPadding};
use crate::crypto::ec::Curve;
use crate::crypto::rsa::{Padding, SignaturePadding};

use super::model::{Key, KeyOperation, PublicKey};
use super::{Error, Result};

/// Encryption and key-wrapping algorithms (JWA names, contract §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncryptionAlgorithm {
    Rsa1_5,
    RsaOaep,
    RsaOaep256,
    A128Gcm,
    A192Gcm,
    A256Gcm,
    A128Cbc,
    A192Cbc,
    A256Cbc,
    A128CbcPad,
    A192CbcPad,
    A256CbcPad,
    A128Kw,
    A192Kw,
    A256Kw,
    CkmAesKeyWrap,
    CkmAesKeyWrapPad,
}

/// What an encryption algorithm does, independent of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherScheme {
    Rsa(Padding),
    AesGcm,
    AesCbc(CbcPadding),
    AesKeyWrap(WrapPadding),
}

impl EncryptionAlgorithm {
    pub const ALL: [EncryptionAlgorithm; 17] = [
        Self::Rsa1_5,
        Self::RsaOaep,
        Self::RsaOaep256,
        Self::A128Gcm,
        Self::A192Gcm,
        Self::A256Gcm,
        Self::A128Cbc,
        Self::A192Cbc,
        Self::A256Cbc,
        Self::A128CbcPad,
        Self::A192CbcPad,
        Self::A256CbcPad,
        Self::A128Kw,
        Self::A192Kw,
        Self::A256Kw,
        Self::CkmAesKeyWrap,
        Self::CkmAesKeyWrapPad,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa1_5 => "RSA1_5",
            Self::RsaOaep => "RSA-OAEP",
            Self::RsaOaep256 => "RSA-OAEP-256",
            Self::A128Gcm => "A128GCM",
            Self::A192Gcm => "A192GCM",
            Self::A256Gcm => "A256GCM",
            Self::A128Cbc => "A128CBC",
            Self::A192Cbc => "A192CBC",
            Self::A256Cbc => "A256CBC",
            Self::A128CbcPad => "A128CBCPAD",
            Self::A192CbcPad => "A192CBCPAD",
            Self::A256CbcPad => "A256CBCPAD",
            Self::A128Kw => "A128KW",
            Self::A192Kw => "A192KW",
            Self::A256Kw => "A256KW",
            Self::CkmAesKeyWrap => "CKM_AES_KEY_WRAP",
            Self::CkmAesKeyWrapPad => "CKM_AES_KEY_WRAP_PAD",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
            let valid: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
            Error::BadParameter(crate::messages::keys::invalid_encryption_algorithm(text, &valid.join(", ")))
        })
    }

    #[must_use]
    pub fn scheme(self) -> CipherScheme {
        use CipherScheme::{AesCbc, AesGcm, AesKeyWrap, Rsa};
        match self {
            Self::Rsa1_5 => Rsa(Padding::Pkcs1v15),
            Self::RsaOaep => Rsa(Padding::OaepSha1),
            Self::RsaOaep256 => Rsa(Padding::OaepSha256),
            Self::A128Gcm | Self::A192Gcm | Self::A256Gcm => AesGcm,
            Self::A128Cbc | Self::A192Cbc | Self::A256Cbc => AesCbc(CbcPadding::None),
            Self::A128CbcPad | Self::A192CbcPad | Self::A256CbcPad => AesCbc(CbcPadding::Pkcs7),
            Self::A128Kw | Self::A192Kw | Self::A256Kw | Self::CkmAesKeyWrap => AesKeyWrap(WrapPadding::Rfc3394),
            Self::CkmAesKeyWrapPad => AesKeyWrap(WrapPadding::Rfc5649),
        }
    }

    /// The AES key size the algorithm's name fixes; `None` for RSA and the CKM_* wraps, which
    /// take any AES key size.
    fn aes_key_bits(self) -> Option<u32> {
        match self {
            Self::A128Gcm | Self::A128Cbc | Self::A128CbcPad | Self::A128Kw => Some(128),
            Self::A192Gcm | Self::A192Cbc | Self::A192CbcPad | Self::A192Kw => Some(192),
            Self::A256Gcm | Self::A256Cbc | Self::A256CbcPad | Self::A256Kw => Some(256),
            _ => None,
        }
    }
}

/// Checks that `algorithm` fits `key` and `operation` before any crypto runs: RSA algorithms
/// for RSA keys (any of the four operations); AES-GCM and CBC for encrypt/decrypt and AES key
/// wrap for wrapKey/unwrapKey on `oct` keys of the size the name says.
pub(super) fn cipher_scheme(
    algorithm: EncryptionAlgorithm,
    operation: KeyOperation,
    key: &Key,
) -> Result<CipherScheme> {
    let scheme = algorithm.scheme();
    let wrapping = matches!(operation, KeyOperation::WrapKey | KeyOperation::UnwrapKey);
    match (scheme, &key.public) {
        (CipherScheme::Rsa(_), PublicKey::Rsa { .. }) => Ok(scheme),
        (CipherScheme::AesGcm | CipherScheme::AesCbc(_), PublicKey::Symmetric { .. }) if wrapping => {
            Err(wrong_operation(algorithm, "wrapKey and unwrapKey", "encrypt and decrypt"))
        }
        (CipherScheme::AesKeyWrap(_), PublicKey::Symmetric { .. }) if !wrapping => {
            Err(wrong_operation(algorithm, "encrypt and decrypt", "wrapKey and unwrapKey"))
        }
        (_, PublicKey::Symmetric { bits }) if !matches!(scheme, CipherScheme::Rsa(_)) => {
            match algorithm.aes_key_bits() {
                Some(needed) if needed != *bits => Err(Error::BadParameter(
                    crate::messages::keys::algorithm_key_size_mismatch(algorithm.as_str(), needed, *bits),
                )),
                _ => Ok(scheme),
            }
        }
        _ => Err(incompatible(algorithm.as_str(), key)),
    }
}

fn wrong_operation(algorithm: EncryptionAlgorithm, refused: &str, allowed: &str) -> Error {
    Error::BadParameter(crate::messages::keys::algorithm_wrong_operation(algorithm.as_str(), refused, allowed))
}

/// Signature algorithms (JWA names, contract §8). Key Vault signs digests the caller computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    RsNull,
    Es256,
    Es384,
    Es512,
    Es256K,
    Hs256,
    Hs384,
    Hs512,
}

/// What a signature algorithm needs of a key: an RSA padding and hash, raw PKCS#1 v1.5, an EC
/// curve, or an HMAC hash.
#[derive(Clone, Copy, Debug)]
pub enum SignatureScheme {
    Rsa(SignaturePadding, Hash),
    RsaUnhashed,
    Ec(Curve),
    Hmac(Hash),
}

impl SignatureAlgorithm {
    pub const ALL: [SignatureAlgorithm; 14] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::RsNull,
        Self::Es256,
        Self::Es384,
        Self::Es512,
        Self::Es256K,
        Self::Hs256,
        Self::Hs384,
        Self::Hs512,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::RsNull => "RSNULL",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::Es256K => "ES256K",
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
            let valid: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
            Error::BadParameter(crate::messages::keys::invalid_signature_algorithm(text, &valid.join(", ")))
        })
    }

    fn scheme(self) -> SignatureScheme {
        use Hash::{Sha256, Sha384, Sha512};
        use SignaturePadding::{Pkcs1, Pss};
        match self {
            Self::Rs256 => SignatureScheme::Rsa(Pkcs1, Sha256),
            Self::Rs384 => SignatureScheme::Rsa(Pkcs1, Sha384),
            Self::Rs512 => SignatureScheme::Rsa(Pkcs1, Sha512),
            Self::Ps256 => SignatureScheme::Rsa(Pss, Sha256),
            Self::Ps384 => SignatureScheme::Rsa(Pss, Sha384),
            Self::Ps512 => SignatureScheme::Rsa(Pss, Sha512),
            Self::RsNull => SignatureScheme::RsaUnhashed,
            Self::Es256 => SignatureScheme::Ec(Curve::P256),
            Self::Es384 => SignatureScheme::Ec(Curve::P384),
            Self::Es512 => SignatureScheme::Ec(Curve::P521),
            Self::Es256K => SignatureScheme::Ec(Curve::P256K),
            Self::Hs256 => SignatureScheme::Hmac(Sha256),
            Self::Hs384 => SignatureScheme::Hmac(Sha384),
            Self::Hs512 => SignatureScheme::Hmac(Sha512),
        }
    }
}

/// Checks that `algorithm` fits `key` (family, and for ECDSA the curve) before any crypto runs.
pub(super) fn signature_scheme(algorithm: SignatureAlgorithm, key: &Key) -> Result<SignatureScheme> {
    let scheme = algorithm.scheme();
    match (scheme, &key.public) {
        (SignatureScheme::Rsa(..) | SignatureScheme::RsaUnhashed, PublicKey::Rsa { .. })
        | (SignatureScheme::Hmac(_), PublicKey::Symmetric { .. }) => Ok(scheme),
        (SignatureScheme::Ec(curve), PublicKey::Ec { curve: key_curve, .. }) if curve == *key_curve => Ok(scheme),
        (SignatureScheme::Ec(curve), PublicKey::Ec { curve: key_curve, .. }) => Err(Error::BadParameter(
            crate::messages::keys::algorithm_curve_mismatch(algorithm.as_str(), curve.jwk_name(), key_curve.jwk_name()),
        )),
        _ => Err(incompatible(algorithm.as_str(), key)),
    }
}

fn incompatible(algorithm: &str, key: &Key) -> Error {
    Error::BadParameter(crate::messages::keys::algorithm_key_type_mismatch(algorithm, key.key_type.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::model::{KeyType, test_key};

    fn oct(bits: u32) -> Key {
        test_key(KeyType::OctHsm, PublicKey::Symmetric { bits })
    }

    #[test]
    fn names_round_trip() {
        for a in EncryptionAlgorithm::ALL {
            assert_eq!(EncryptionAlgorithm::parse(a.as_str()).unwrap(), a);
        }
        for a in SignatureAlgorithm::ALL {
            assert_eq!(SignatureAlgorithm::parse(a.as_str()).unwrap(), a);
        }
        assert!(EncryptionAlgorithm::parse("a256gcm").is_err());
    }

    #[test]
    fn aes_algorithms_need_the_named_key_size_and_their_operation() {
        use EncryptionAlgorithm as A;
        use KeyOperation::{Decrypt, Encrypt, UnwrapKey, WrapKey};
        assert!(cipher_scheme(A::A256Gcm, Encrypt, &oct(256)).is_ok());
        assert!(cipher_scheme(A::A128Gcm, Encrypt, &oct(256)).is_err());
        assert!(cipher_scheme(A::A192CbcPad, Decrypt, &oct(192)).is_ok());
        assert!(cipher_scheme(A::A256Kw, WrapKey, &oct(256)).is_ok());
        assert!(cipher_scheme(A::A256Kw, Encrypt, &oct(256)).is_err());
        assert!(cipher_scheme(A::A256Gcm, WrapKey, &oct(256)).is_err());
        assert!(cipher_scheme(A::CkmAesKeyWrapPad, UnwrapKey, &oct(128)).is_ok());
        assert!(cipher_scheme(A::RsaOaep, WrapKey, &oct(256)).is_err());
        assert!(signature_scheme(SignatureAlgorithm::Hs512, &oct(128)).is_ok());
        assert!(signature_scheme(SignatureAlgorithm::Rs256, &oct(128)).is_err());
    }
}
