//! Signing and verifying with AKP (ML-DSA) keys, api-version 2026-05-01-preview and later: the
//! message itself (ML-DSA signs messages, not digests), optionally under an application context,
//! or a caller-computed external mu. Key generation, rotation, backup and release of AKP keys
//! go the same way as every other type's (see `service`).

use crate::crypto::mldsa::{self, MlDsa};
use crate::crypto::mldsa_variants;
use crate::vaults::Vault;

use super::lifecycle::check_operation;
use super::model::{Key, KeyName, KeyOperation, PublicKey};
use super::service::KeyService;
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
fn parameter_set(key: &Key, requested: Option<&str>) -> Result<MlDsa> {
    let Some(algorithm) = key.public.ml_dsa() else {
        return Err(Error::BadParameter(format!(
            "The 'alg' parameter is required: context, external_mu and signing without 'alg' are only for AKP (ML-DSA) keys, and this key is {}.",
            key.key_type.as_str()
        )));
    };
    match requested {
        Some(name) if name != algorithm.as_str() => Err(Error::BadParameter(format!(
            "The algorithm {name} cannot be used with this key: it is an {} key.",
            algorithm.as_str()
        ))),
        _ => Ok(algorithm),
    }
}

impl KeyService {
    /// Signs with an AKP key's private part.
    pub async fn sign_ml_dsa(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        requested: Option<&str>,
        input: MlDsaInput,
    ) -> Result<(Key, Vec<u8>)> {
        let fits = |key: &Key| parameter_set(key, requested);
        let (key, algorithm, private) = self.unsealed_for(vault, name, version, KeyOperation::Sign, fits).await?;
        let material = private.material();
        let signature = match &input {
            MlDsaInput::Message { message, context } if context.is_empty() => {
                mldsa::sign(algorithm, material, message)?
            }
            MlDsaInput::Message { message, context } => {
                mldsa_variants::sign_with_context(algorithm, material, context, message)?
            }
            MlDsaInput::ExternalMu(mu) => mldsa_variants::sign_external_mu(algorithm, material, mu)?,
        };
        Ok((key, signature))
    }

    /// Verifies with an AKP key's public part: `false` for a signature that does not verify.
    pub async fn verify_ml_dsa(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        requested: Option<&str>,
        input: MlDsaInput,
        signature: &[u8],
    ) -> Result<bool> {
        let key = self.get_key(vault, name, version).await?;
        check_operation(&key, KeyOperation::Verify, self.clock_now())?;
        let algorithm = parameter_set(&key, requested)?;
        let PublicKey::Akp { public, .. } = &key.public else {
            return Err(Error::Internal("an ML-DSA parameter set without an AKP public key".into()));
        };
        let valid = match &input {
            MlDsaInput::Message { message, context } if context.is_empty() => {
                mldsa::verify(algorithm, public, message, signature)
            }
            MlDsaInput::Message { message, context } => {
                mldsa_variants::verify_with_context(algorithm, public, context, message, signature)?
            }
            MlDsaInput::ExternalMu(mu) => mldsa_variants::verify_external_mu(algorithm, public, mu, signature)?,
        };
        Ok(valid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ec::Curve;
    use crate::keys::model::{KeyType, test_key};

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
