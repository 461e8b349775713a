//! Signing and verifying with AKP (ML-DSA) keys, api-version 2026-05-01-preview and later: the
//! message itself (ML-DSA signs messages, not digests), optionally under an application context,
//! or a caller-computed external mu. Key generation, rotation, backup and release of AKP keys
//! go the same way as every other type's; the service methods
//! (`sign_ml_dsa`, `verify_ml_dsa`) sit with the other operations in `service/operations.rs`.

use crate::crypto::mldsa::MlDsa;

use super::model::Key;
use super::{Error, Result};

/// What an ML-DSA signature is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MlDsaInput {
    /// The message, and the application context (empty: none).
    Message { message: Vec<u8>, context: Vec<u8> },
    /// The 64-byte mu the caller computed (FIPS 204 §6.2).
    ExternalMu(Vec<u8>),
}

/// The key's parameter set, once `requested` (the request's `alg`, if any) agrees with it.
pub(super) fn parameter_set(key: &Key, requested: Option<&str>) -> Result<MlDsa> {
    let Some(algorithm) = key.public.ml_dsa() else {
        return Err(Error::BadParameter(crate::messages::keys::ml_dsa_options_need_akp(key.key_type.as_str())));
    };
    match requested {
        Some(name) if name != algorithm.as_str() => {
            Err(Error::BadParameter(crate::messages::keys::ml_dsa_parameter_set_mismatch(name, algorithm.as_str())))
        }
        _ => Ok(algorithm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ec::Curve;
    use crate::keys::model::{KeyType, PublicKey, test_key};

    #[test]
    fn the_requested_alg_must_be_the_keys() {
        let key = test_key(KeyType::AkpHsm, PublicKey::Akp { algorithm: MlDsa::MlDsa65, public: vec![0; 1952] });
        assert_eq!(parameter_set(&key, None).unwrap(), MlDsa::MlDsa65);
        assert_eq!(parameter_set(&key, Some("ML-DSA-65")).unwrap(), MlDsa::MlDsa65);
        assert!(matches!(parameter_set(&key, Some("ML-DSA-44")), Err(Error::BadParameter(_))));
        let ec = test_key(KeyType::Ec, PublicKey::Ec { curve: Curve::P256, x: vec![], y: vec![] });
        assert!(matches!(parameter_set(&ec, None), Err(Error::BadParameter(_))));
    }
}
