//! Secure key release: an exportable key's private material, wrapped for an attested caller.

use crate::vaults::Vault;

use super::{KeyService, run_blocking};
use crate::keys::model::{Key, KeyName, KeyOperation};
use crate::keys::release::{ReleaseWrapping, WrappingKey, wrap_for_release, wrapping_key};
use crate::keys::{Error, Result};

/// A released key: the version, and its private material wrapped for the caller's key.
#[derive(Debug)]
pub struct ReleasedKey {
    pub key: Key,
    pub wrapped_for: WrappingKey,
    pub wrapping: ReleaseWrapping,
    pub ciphertext: Vec<u8>,
}

impl KeyService {
    /// Secure key release: checks that the key may be released to the holder of `claims` (the
    /// verified attestation token) under its release policy, then wraps the key's private
    /// material for the RSA key those claims carry. `key_ops` play no part (contract §5 item 20).
    pub async fn release_key(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        claims: &serde_json::Value,
        wrapping: ReleaseWrapping,
    ) -> Result<ReleasedKey> {
        let key = self.get_key(vault, name, version).await?;
        if !key.attributes.enabled {
            return Err(Error::KeyDisabled(KeyOperation::Export));
        }
        let policy = match (&key.release_policy, key.attributes.exportable) {
            (Some(policy), Some(true)) => policy,
            _ => {
                return Err(Error::BadParameter(crate::messages::keys::not_releasable(&key.name)));
            }
        };
        if !policy.satisfied_by(claims)? {
            return Err(Error::ReleasePolicyNotSatisfied);
        }
        let to = wrapping_key(claims)?;
        let material = self.private_material(vault, &key).await?;
        let target = to.clone();
        let ciphertext = run_blocking("key release", move || wrap_for_release(wrapping, &target, &material)).await?;
        Ok(ReleasedKey { key, wrapped_for: to, wrapping, ciphertext })
    }
}
