//! Rotation policies and rotation, by hand or when the emulator clock reaches a policy's
//! trigger (`rotate_due`, which `crate::due_work` runs).

use std::sync::Arc;

use crate::store;
use crate::vaults::Vault;

use super::versions::NewVersion;
use super::{KeyService, not_found};
use crate::keys::model::{Key, KeyName};
use crate::keys::requests::{AttributeChanges, CreateKeyRequest};
use crate::keys::rotation::RotationPolicy;
use crate::keys::{Error, Result};

impl KeyService {
    /// The key's rotation policy, or the default one when none was set.
    pub async fn get_rotation_policy(&self, vault: &Vault, name: &KeyName) -> Result<RotationPolicy> {
        let mut conn = self.pool.acquire().await?;
        Self::stored_policy(&mut conn, vault, name).await.map(|p| p.unwrap_or_else(RotationPolicy::default_policy))
    }

    async fn stored_policy(conn: &mut store::Conn, vault: &Vault, name: &KeyName) -> Result<Option<RotationPolicy>> {
        let stored = store::rotation_policies::rotation_policy(conn, vault.name.as_str(), name.as_str())
            .await?
            .ok_or_else(|| not_found(name, None))?;
        stored
            .map(|json| {
                serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored rotation policy: {e}")))
            })
            .transpose()
    }

    /// Replaces the key's rotation policy (PUT is a full replace).
    pub async fn set_rotation_policy(
        &self,
        vault: &Vault,
        name: &KeyName,
        policy: RotationPolicy,
    ) -> Result<RotationPolicy> {
        let mut tx = store::begin_write(&self.pool).await?;
        let previous = Self::stored_policy(&mut tx, vault, name).await?;
        let policy = policy.normalized(previous.as_ref(), self.clock.now())?;
        let json = serde_json::to_string(&policy).map_err(|e| Error::Internal(format!("rotation policy: {e}")))?;
        let key = Self::find(&mut tx, vault, name, None).await?;
        store::rotation_policies::set_rotation_policy(&mut tx, vault.name.as_str(), key.name.as_str(), &json).await?;
        self.commit(tx).await?;
        Ok(policy)
    }

    /// A new version with the current one's type, size or curve, key_ops and tags; its expiry
    /// follows the policy's `expiryTime`.
    pub async fn rotate_key(&self, vault: &Vault, name: &KeyName) -> Result<Key> {
        let (current, policy) = {
            let mut conn = self.pool.acquire().await?;
            let current = Self::find(&mut conn, vault, name, None).await?;
            let policy = Self::stored_policy(&mut conn, vault, name).await?;
            (current, policy)
        };
        let request = CreateKeyRequest {
            key_type: current.key_type,
            key_size: current.public.key_size(),
            public_exponent: None,
            curve: current.public.curve(),
            ml_dsa: current.public.ml_dsa(),
            key_ops: None,
            attributes: AttributeChanges::default(),
            tags: None,
            release_policy: None,
        };
        let material = self.new_material(request).await?;
        let version = NewVersion {
            key_type: current.key_type,
            material,
            key_ops: current.key_ops,
            attributes: AttributeChanges::default(),
            tags: current.tags,
            // Relative to the new version's `created`, which add_version stamps.
            expires_after: policy.as_ref().and_then(RotationPolicy::expiry_seconds),
            release_policy: None,
        };
        self.add_version(vault, &current.name, version).await
    }

    /// Rotates every key of `vaults` whose policy's Rotate trigger the emulator clock has
    /// reached. Returns how many keys were rotated.
    pub async fn rotate_due(&self, vaults: &[Arc<Vault>]) -> Result<usize> {
        let now = self.clock.now();
        let mut rotated = 0;
        for vault in vaults {
            let candidates = {
                let mut conn = self.pool.acquire().await?;
                store::rotation_policies::keys_with_rotation_policy(&mut conn, vault.name.as_str()).await?
            };
            for (name, json) in candidates {
                let Ok(policy) = serde_json::from_str::<RotationPolicy>(&json) else { continue };
                let name = KeyName::parse(&name)?;
                let current = self.get_key(vault, &name, None).await?;
                if policy.rotation_due(&current, now) {
                    self.rotate_key(vault, &name).await?;
                    tracing::info!(vault = %vault.name, key = %name, "rotated a key by its rotation policy");
                    rotated += 1;
                }
            }
        }
        Ok(rotated)
    }
}
