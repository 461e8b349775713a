//! ML-DSA (FIPS 204) keys on aws-lc-rs: generation, the public key, and pure signing and
//! verification with the empty context. Signing with a context string and the external-mu
//! form, which aws-lc-rs does not expose, are in [`super::mldsa_variants`].
//!
//! Private material is the PKCS#8 document aws-lc-rs writes (what the store seals and a backup
//! carries); the public key is the raw FIPS 204 encoding, the JWK's `pub`.

// ML-DSA left aws-lc-rs's `unstable` module for the stable `signature` API in 1.18, so no
// crate feature is needed.
use aws_lc_rs::signature::{
    KeyPair as _, ML_DSA_44, ML_DSA_44_SIGNING, ML_DSA_65, ML_DSA_65_SIGNING, ML_DSA_87, ML_DSA_87_SIGNING,
    PqdsaKeyPair, PqdsaSigningAlgorithm, PqdsaVerificationAlgorithm, UnparsedPublicKey,
};

use super::{CryptoError, CryptoResult};

/// The three parameter sets, by their JOSE/COSE `alg` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlDsa {
    MlDsa44,
    MlDsa65,
    MlDsa87,
}

/// The most context bytes FIPS 204 allows.
pub const MAX_CONTEXT_LEN: usize = 255;
/// The length of an external mu (FIPS 204 §6.2: SHAKE256 output of 64 bytes).
pub const MU_LEN: usize = 64;

impl MlDsa {
    pub const ALL: [MlDsa; 3] = [Self::MlDsa44, Self::MlDsa65, Self::MlDsa87];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MlDsa44 => "ML-DSA-44",
            Self::MlDsa65 => "ML-DSA-65",
            Self::MlDsa87 => "ML-DSA-87",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    fn signing(self) -> &'static PqdsaSigningAlgorithm {
        match self {
            Self::MlDsa44 => &ML_DSA_44_SIGNING,
            Self::MlDsa65 => &ML_DSA_65_SIGNING,
            Self::MlDsa87 => &ML_DSA_87_SIGNING,
        }
    }

    fn verification(self) -> &'static PqdsaVerificationAlgorithm {
        match self {
            Self::MlDsa44 => &ML_DSA_44,
            Self::MlDsa65 => &ML_DSA_65,
            Self::MlDsa87 => &ML_DSA_87,
        }
    }

    /// The encoded public key's length (FIPS 204 table 2).
    #[must_use]
    pub fn public_key_len(self) -> usize {
        match self {
            Self::MlDsa44 => 1312,
            Self::MlDsa65 => 1952,
            Self::MlDsa87 => 2592,
        }
    }

    /// The AWS-LC object id of the parameter set.
    #[must_use]
    pub(super) fn nid(self) -> i32 {
        match self {
            Self::MlDsa44 => aws_lc_sys::NID_MLDSA44,
            Self::MlDsa65 => aws_lc_sys::NID_MLDSA65,
            Self::MlDsa87 => aws_lc_sys::NID_MLDSA87,
        }
    }
}

/// A new key: its PKCS#8 document and raw public key.
#[derive(Debug)]
pub struct MlDsaMaterial {
    pub pkcs8_der: Vec<u8>,
    pub public: Vec<u8>,
}

fn material_error(what: &str) -> CryptoError {
    CryptoError::Material(format!("ML-DSA {what}"))
}

pub fn generate(algorithm: MlDsa) -> CryptoResult<MlDsaMaterial> {
    let pair = PqdsaKeyPair::generate(algorithm.signing()).map_err(|_| material_error("key generation failed"))?;
    let pkcs8_der = pair.to_pkcs8v1().map_err(|_| material_error("PKCS#8 encoding failed"))?.as_ref().to_vec();
    Ok(MlDsaMaterial { pkcs8_der, public: pair.public_key().as_ref().to_vec() })
}

/// The public key of a stored private key (checks that the document is a key of `algorithm`).
pub fn public_key(algorithm: MlDsa, pkcs8_der: &[u8]) -> CryptoResult<Vec<u8>> {
    let pair = PqdsaKeyPair::from_pkcs8(algorithm.signing(), pkcs8_der)
        .map_err(|_| material_error("private key does not parse"))?;
    Ok(pair.public_key().as_ref().to_vec())
}

/// Pure ML-DSA over `message` with the empty context (ML-DSA.Sign, FIPS 204 algorithm 2).
pub fn sign(algorithm: MlDsa, pkcs8_der: &[u8], message: &[u8]) -> CryptoResult<Vec<u8>> {
    let pair = PqdsaKeyPair::from_pkcs8(algorithm.signing(), pkcs8_der)
        .map_err(|_| material_error("private key does not parse"))?;
    let mut signature = vec![0u8; algorithm.signing().signature_len()];
    let written = pair.sign(message, &mut signature).map_err(|_| material_error("signing failed"))?;
    signature.truncate(written);
    Ok(signature)
}

/// Pure ML-DSA verification with the empty context: `false` for any signature that does not
/// verify, malformed ones included.
#[must_use]
pub fn verify(algorithm: MlDsa, public: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(algorithm.verification(), public).verify(message, signature).is_ok()
}

/// Checks a public key's length against its parameter set.
pub fn check_public_key(algorithm: MlDsa, public: &[u8]) -> CryptoResult<()> {
    if public.len() == algorithm.public_key_len() {
        Ok(())
    } else {
        Err(CryptoError::InvalidInput(crate::messages::crypto::ml_dsa_public_key_length(
            algorithm.as_str(),
            algorithm.public_key_len(),
            public.len(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_set_signs_and_verifies() {
        for algorithm in MlDsa::ALL {
            let key = generate(algorithm).unwrap();
            assert_eq!(key.public.len(), algorithm.public_key_len());
            assert_eq!(public_key(algorithm, &key.pkcs8_der).unwrap(), key.public);
            let signature = sign(algorithm, &key.pkcs8_der, b"message").unwrap();
            assert!(verify(algorithm, &key.public, b"message", &signature));
            assert!(!verify(algorithm, &key.public, b"massage", &signature));
            assert!(!verify(algorithm, &key.public, b"message", &signature[1..]));
            assert_eq!(MlDsa::from_name(algorithm.as_str()), Some(algorithm));
        }
        let key = generate(MlDsa::MlDsa44).unwrap();
        assert!(public_key(MlDsa::MlDsa65, &key.pkcs8_der).is_err(), "a key of another parameter set");
    }
}
