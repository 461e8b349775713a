//! Soft delete, recover and purge, and the purge of keys whose scheduled purge date has come.

use crate::store;
use crate::vaults::Vault;

use super::{KeyService, Page, owner_prefix};
use crate::keys::model::{DeletedKey, Key, KeyName};
use crate::keys::{Error, Result};

impl KeyService {
    /// Soft-deletes a key: every version at once, synchronously, so SDK pollers see the final
    /// state on their first look (contract §6). Purge is scheduled `retention` days ahead.
    pub async fn delete_key(&self, vault: &Vault, name: &KeyName) -> Result<DeletedKey> {
        let mut tx = store::begin_write(&self.pool).await?;
        let key = Self::find(&mut tx, vault, name, None).await?;
        let deleted_date = self.clock.now();
        let scheduled_purge_date = deleted_date.saturating_add(i64::from(vault.soft_delete_retention_days) * 86_400);
        store::keys::mark_deleted(&mut tx, vault.name.as_str(), key.name.as_str(), deleted_date, scheduled_purge_date)
            .await?;
        self.commit(tx).await?;
        Ok(DeletedKey { key, deleted_date, scheduled_purge_date })
    }

    pub async fn get_deleted_key(&self, vault: &Vault, name: &KeyName) -> Result<DeletedKey> {
        let mut conn = self.pool.acquire().await?;
        Self::find_deleted(&mut conn, vault, name).await
    }

    async fn find_deleted(conn: &mut store::Conn, vault: &Vault, name: &KeyName) -> Result<DeletedKey> {
        store::keys::find_deleted(conn, vault.name.as_str(), name.as_str())
            .await?
            .map(|(key, deleted_date, scheduled_purge_date)| DeletedKey { key, deleted_date, scheduled_purge_date })
            .ok_or_else(|| Error::DeletedKeyNotFound { name: name.to_string() })
    }

    /// Soft-deleted keys, ordered by name.
    pub async fn list_deleted_keys(
        &self,
        vault: &Vault,
        max_results: u32,
        after: Option<String>,
    ) -> Result<Page<DeletedKey, String>> {
        let mut conn = self.pool.acquire().await?;
        let rows = store::keys::list_deleted(&mut conn, vault.name.as_str(), after.as_deref(), max_results + 1).await?;
        let items: Vec<DeletedKey> = rows
            .into_iter()
            .map(|(key, deleted_date, scheduled_purge_date)| DeletedKey { key, deleted_date, scheduled_purge_date })
            .collect();
        Ok(Page::cut(items, max_results, |d| d.key.name.to_string()))
    }

    /// Brings a soft-deleted key back with all its versions and ids.
    pub async fn recover_deleted_key(&self, vault: &Vault, name: &KeyName) -> Result<Key> {
        let mut tx = store::begin_write(&self.pool).await?;
        let deleted = Self::find_deleted(&mut tx, vault, name).await?;
        store::keys::clear_deleted(&mut tx, vault.name.as_str(), deleted.key.name.as_str()).await?;
        self.commit(tx).await?;
        Ok(deleted.key)
    }

    /// Removes a soft-deleted key for good; refused while the vault has purge protection.
    pub async fn purge_deleted_key(&self, vault: &Vault, name: &KeyName) -> Result<()> {
        let mut tx = store::begin_write(&self.pool).await?;
        let deleted = Self::find_deleted(&mut tx, vault, name).await?;
        if vault.purge_protection {
            return Err(Error::PurgeProtected { vault: vault.name.to_string() });
        }
        store::keys::purge(&mut tx, vault.name.as_str(), deleted.key.name.as_str()).await?;
        self.commit(tx).await?;
        self.unsealed.forget(&owner_prefix(vault.name.as_str(), deleted.key.name.as_str()));
        Ok(())
    }

    /// Purges every soft-deleted key whose scheduled purge date the emulator clock has reached,
    /// in every vault. Returns how many were purged.
    pub async fn purge_due(&self) -> Result<usize> {
        let mut tx = store::begin_write(&self.pool).await?;
        let purged = store::keys::purge_due(&mut tx, self.clock.now()).await?;
        self.commit(tx).await?;
        for (vault, name) in &purged {
            self.unsealed.forget(&owner_prefix(vault, name));
            tracing::info!(vault = %vault, key = %name, "purged a deleted key at its scheduled purge date");
        }
        Ok(purged.len())
    }
}
