//! The JWA algorithm names of encrypt/decrypt/wrap/unwrap and sign/verify, and which keys
//! each one fits (contract §8).

use crate::crypto::ec::Curve;
use crate::crypto::rsa::Padding;

use super::model::{Key, PublicKey};
use super::{Error, Result};

/// Encryption and key-wrapping algorithms (JWA names, contract §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncryptionAlgorithm {
    Rsa1_5,
    RsaOaep,
    RsaOaep256,
}

impl EncryptionAlgorithm {
    pub const ALL: [EncryptionAlgorithm; 3] = [Self::Rsa1_5, Self::RsaOaep, Self::RsaOaep256];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa1_5 => "RSA1_5",
            Self::RsaOaep => "RSA-OAEP",
            Self::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
            Error::BadParameter(format!(
                "The algorithm '{text}' is not valid for this operation. Valid values: RSA1_5, RSA-OAEP, RSA-OAEP-256."
            ))
        })
    }

    pub(super) fn padding(self) -> Padding {
        match self {
            Self::Rsa1_5 => Padding::Pkcs1v15,
            Self::RsaOaep => Padding::OaepSha1,
            Self::RsaOaep256 => Padding::OaepSha256,
        }
    }
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
    Es256,
    Es384,
    Es512,
    Es256K,
}

impl SignatureAlgorithm {
    pub const ALL: [SignatureAlgorithm; 10] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::Es512,
        Self::Es256K,
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
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::Es256K => "ES256K",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
            Error::BadParameter(format!(
                "The signature algorithm '{text}' is not supported. Supported: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, ES256K."
            ))
        })
    }

    /// What the algorithm needs of a key: an RSA padding and hash, or an EC curve.
    fn scheme(self) -> SignatureScheme {
        use crate::crypto::Hash::{Sha256, Sha384, Sha512};
        use crate::crypto::rsa::SignaturePadding::{Pkcs1, Pss};
        match self {
            Self::Rs256 => SignatureScheme::Rsa(Pkcs1, Sha256),
            Self::Rs384 => SignatureScheme::Rsa(Pkcs1, Sha384),
            Self::Rs512 => SignatureScheme::Rsa(Pkcs1, Sha512),
            Self::Ps256 => SignatureScheme::Rsa(Pss, Sha256),
            Self::Ps384 => SignatureScheme::Rsa(Pss, Sha384),
            Self::Ps512 => SignatureScheme::Rsa(Pss, Sha512),
            Self::Es256 => SignatureScheme::Ec(Curve::P256),
            Self::Es384 => SignatureScheme::Ec(Curve::P384),
            Self::Es512 => SignatureScheme::Ec(Curve::P521),
            Self::Es256K => SignatureScheme::Ec(Curve::P256K),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum SignatureScheme {
    Rsa(crate::crypto::rsa::SignaturePadding, crate::crypto::Hash),
    Ec(Curve),
}

/// Checks that `algorithm` fits `key` (family, and for ECDSA the curve) before any crypto runs.
pub(super) fn signature_scheme(algorithm: SignatureAlgorithm, key: &Key) -> Result<SignatureScheme> {
    let scheme = algorithm.scheme();
    match (scheme, &key.public) {
        (SignatureScheme::Rsa(..), PublicKey::Rsa { .. }) => Ok(scheme),
        (SignatureScheme::Ec(curve), PublicKey::Ec { curve: key_curve, .. }) if curve == *key_curve => Ok(scheme),
        (SignatureScheme::Ec(curve), PublicKey::Ec { curve: key_curve, .. }) => Err(Error::BadParameter(format!(
            "The algorithm {} needs a key on curve {}, but this key is on {}.",
            algorithm.as_str(),
            curve.jwk_name(),
            key_curve.jwk_name()
        ))),
        _ => Err(Error::BadParameter(format!(
            "The algorithm {} cannot be used with a key of type {}.",
            algorithm.as_str(),
            key.key_type.as_str()
        ))),
    }
}

pub(super) fn incompatible(algorithm: EncryptionAlgorithm, key: &Key) -> Error {
    Error::BadParameter(format!(
        "The algorithm {} cannot be used with a key of type {}.",
        algorithm.as_str(),
        key.key_type.as_str()
    ))
}
