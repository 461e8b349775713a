//! Backup of every version of a key into a sealed blob, and restore into a free name.

use crate::store;
use crate::vaults::Vault;

use super::{KeyService, owner};
use crate::keys::backup::KeyBackup;
use crate::keys::model::{Key, KeyName};
use crate::keys::{Error, Result};

impl KeyService {
    /// Every version of a key, private material included, sealed into an opaque blob.
    pub async fn backup_key(&self, vault: &Vault, name: &KeyName) -> Result<Vec<u8>> {
        let mut conn = self.pool.acquire().await?;
        let current = Self::find(&mut conn, vault, name, None).await?;
        let sealed_versions =
            store::key_versions::versions_with_material(&mut conn, vault.name.as_str(), current.name.as_str()).await?;
        drop(conn);
        let mut versions = Vec::with_capacity(sealed_versions.len());
        for (key, sealed) in sealed_versions {
            let pkcs8 = self.master.open(&owner(vault, &key), &sealed)?;
            versions.push((key, pkcs8));
        }
        KeyBackup {
            release_policy: current.release_policy,
            name: current.name,
            current_version: current.version,
            versions,
        }
        .seal(&self.master, vault.tenant_id)
    }

    /// Restores a backup with the same version ids into `vault`; the name must be free, neither
    /// in use nor soft-deleted (contract §5.2 item 13).
    pub async fn restore_key(&self, vault: &Vault, blob: &[u8]) -> Result<Key> {
        let backup = KeyBackup::open(blob, &self.master, vault.tenant_id)?;
        let mut tx = store::begin_write(&self.pool).await?;
        if store::keys::find_header(&mut tx, vault.name.as_str(), backup.name.as_str()).await?.is_some() {
            return Err(Error::RestoreConflict {
                name: backup.name.to_string(),
                version: backup.current_version.to_string(),
            });
        }
        let mut current = None;
        for (key, pkcs8) in &backup.versions {
            let sealed = self.master.seal(&owner(vault, key), pkcs8)?;
            store::key_versions::insert_version(&mut tx, vault.name.as_str(), key, &sealed).await?;
            if key.version == backup.current_version {
                current = Some(key.clone());
            }
        }
        store::keys::set_release_policy(
            &mut tx,
            vault.name.as_str(),
            backup.name.as_str(),
            backup.release_policy.as_ref(),
        )
        .await?;
        store::keys::set_current_version(
            &mut tx,
            vault.name.as_str(),
            backup.name.as_str(),
            backup.current_version.as_str(),
        )
        .await?;
        self.commit(tx).await?;
        current.ok_or_else(|| Error::Internal("restored backup lost its current version".into()))
    }
}
