//! The cryptographic operations, each its own method: encrypt, decrypt, wrapKey, unwrapKey,
//! sign and verify (digests, and ML-DSA messages), and secure wrap / unwrap.

use crate::crypto::{aes, ec, mldsa, mldsa_variants, rsa, rsa_unhashed};
use crate::vaults::Vault;

use super::{KeyService, check_operation, run_private_op};
use crate::keys::algorithms::{
    CipherScheme, EncryptionAlgorithm, SignatureAlgorithm, SignatureScheme, cipher_scheme, signature_scheme,
};
use crate::keys::cipher::{CipherInput, CipherOutput, symmetric_decrypt, symmetric_encrypt};
use crate::keys::ml_dsa::{MlDsaInput, parameter_set};
use crate::keys::model::{Key, KeyName, KeyOperation, PublicKey};
use crate::keys::secure_wrap::SECURE_WRAP_KEY_BYTES;
use crate::keys::{Error, Result};

impl KeyService {
    /// Signs a caller-computed digest (for RSNULL, the raw value) with the key's private part.
    pub async fn sign(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<(Key, Vec<u8>)> {
        let (key, scheme, private) =
            self.unsealed_for(vault, name, version, KeyOperation::Sign, |key| signature_scheme(algorithm, key)).await?;
        let digest = digest.to_vec();
        let signature = run_private_op(&key, "signing", move || match scheme {
            SignatureScheme::Rsa(padding, hash) => {
                Ok(rsa::sign_digest_with(private.rsa_signing()?, padding, hash, &digest)?)
            }
            SignatureScheme::RsaUnhashed => Ok(rsa_unhashed::sign(private.material(), &digest)?),
            SignatureScheme::Ec(curve) => Ok(ec::sign_digest(curve, private.material(), &digest)?),
            SignatureScheme::Hmac(hash) => Ok(aes::hmac_sign(private.material(), hash, &digest)?),
        })
        .await?;
        Ok((key, signature))
    }

    /// Verifies a signature over a digest: `false` for a bad signature, never an error
    /// (contract §5 items 14–19). Asymmetric keys verify with the public part; HMAC needs the
    /// key itself.
    pub async fn verify(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: SignatureAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let key = self.get_key(vault, name, version).await?;
        check_operation(&key, KeyOperation::Verify, self.clock.now())?;
        let valid = match (signature_scheme(algorithm, &key)?, &key.public) {
            (SignatureScheme::Rsa(padding, hash), PublicKey::Rsa { n, e }) => {
                rsa::verify_digest(n, e, padding, hash, digest, signature)?
            }
            (SignatureScheme::RsaUnhashed, PublicKey::Rsa { n, e }) => rsa_unhashed::verify(n, e, digest, signature)?,
            (SignatureScheme::Ec(curve), PublicKey::Ec { x, y, .. }) => {
                ec::verify_digest(curve, x, y, digest, signature)?
            }
            (SignatureScheme::Hmac(hash), PublicKey::Symmetric { .. }) => {
                let secret = self.private_material(vault, &key).await?;
                aes::hmac_verify(&secret, hash, digest, signature)?
            }
            _ => return Err(Error::Internal("signature scheme does not match the key".into())),
        };
        Ok(valid)
    }

    /// encrypt: RSA with the public part, or AES with the key.
    pub async fn encrypt(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        self.public_cipher(vault, name, version, KeyOperation::Encrypt, algorithm, input).await
    }

    /// wrapKey: as encrypt, allowed by the `wrapKey` key operation and its algorithms.
    pub async fn wrap_key(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        self.public_cipher(vault, name, version, KeyOperation::WrapKey, algorithm, input).await
    }

    /// decrypt: the RSA private-key primitive, or AES with the key.
    pub async fn decrypt(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        self.private_cipher(vault, name, version, KeyOperation::Decrypt, algorithm, input).await
    }

    /// unwrapKey: as decrypt, allowed by the `unwrapKey` key operation and its algorithms.
    pub async fn unwrap_key(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        self.private_cipher(vault, name, version, KeyOperation::UnwrapKey, algorithm, input).await
    }

    /// What encrypt and wrapKey share (`operation` is the key operation the caller checks
    /// for). RSA runs the public-key primitive without touching private material; AES needs
    /// the key.
    async fn public_cipher(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        operation: KeyOperation,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        let found = self.version(vault, name, version).await?;
        let key = &found.key;
        check_operation(key, operation, self.clock.now())?;
        let scheme = cipher_scheme(algorithm, operation, key)?;
        let output = match (scheme, &key.public) {
            (CipherScheme::Rsa(padding), PublicKey::Rsa { .. }) => {
                CipherOutput::value(rsa::encrypt_with(found.rsa_public()?, padding, &input.value)?)
            }
            _ => {
                let secret = self.private_material(vault, key).await?;
                symmetric_encrypt(scheme, &secret, input)?
            }
        };
        Ok((key.clone(), output))
    }

    /// What decrypt and unwrapKey share: the private-key primitive, or AES with the key.
    async fn private_cipher(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        operation: KeyOperation,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        let fits = |key: &Key| cipher_scheme(algorithm, operation, key);
        let (key, scheme, private) = self.unsealed_for(vault, name, version, operation, fits).await?;
        let output = run_private_op(&key, "decryption", move || match scheme {
            CipherScheme::Rsa(padding) => rsa::decrypt_with(private.rsa_decrypting()?, padding, &input.value)
                .map(CipherOutput::value)
                .map_err(Error::from),
            _ => symmetric_decrypt(scheme, algorithm.as_str(), private.material(), input),
        })
        .await?;
        Ok((key, output))
    }

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
        check_operation(&key, KeyOperation::Verify, self.clock.now())?;
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
        let (key, output) = self.wrap_key(vault, name, version, algorithm, CipherInput::value(content_key)).await?;
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
        claims: &serde_json::Value,
    ) -> Result<(Key, Vec<u8>)> {
        let key = self.get_key(vault, name, version).await?;
        if let Some(policy) = &key.release_policy
            && !policy.satisfied_by(claims)?
        {
            return Err(Error::ReleasePolicyNotSatisfied);
        }
        let version = Some(key.version.as_str());
        let (key, output) = self.unwrap_key(vault, name, version, algorithm, CipherInput::value(wrapped)).await?;
        Ok((key, output.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::service::test_support::{ec_request, name, service};

    #[tokio::test]
    async fn ec_keys_refuse_rsa_encryption_and_missing_keys_are_not_found() {
        let (keys, vault) = service().await;
        let mut request = ec_request();
        request.key_ops = Some(vec![KeyOperation::Sign, KeyOperation::Verify]);
        keys.create_key(&vault, &name("ec"), request).await.unwrap();
        // Through the shared helper: the public methods already refuse an EC key's key_ops.
        let refused =
            keys.encrypt(&vault, &name("ec"), None, EncryptionAlgorithm::RsaOaep, CipherInput::value(vec![1])).await;
        assert!(matches!(refused, Err(Error::OperationNotPermitted(KeyOperation::Encrypt))));
        let wrap = keys
            .public_cipher(
                &vault,
                &name("ec"),
                None,
                KeyOperation::Sign,
                EncryptionAlgorithm::RsaOaep,
                CipherInput::value(b"x".to_vec()),
            )
            .await;
        assert!(matches!(wrap, Err(Error::BadParameter(_))));
        let missing = keys.get_key(&vault, &name("nope"), None).await;
        assert!(matches!(missing, Err(Error::KeyNotFound { .. })));
        let mut bad_ops = ec_request();
        bad_ops.key_ops = Some(vec![KeyOperation::WrapKey]);
        assert!(matches!(keys.create_key(&vault, &name("ec2"), bad_ops).await, Err(Error::BadParameter(_))));
    }
}
