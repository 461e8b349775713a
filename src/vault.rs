//! Vaults: their properties and the registry every request resolves its vault through.
//!
//! Vault creation happens in exactly one place, [`VaultRegistry::create`], so the command line,
//! the config file and the management API (later issues) all apply the same rules.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::auth::policy::AccessPolicy;
use crate::clock::Clock;
use crate::store::{self, Pool};

/// The vault every host without a vault label routes to.
pub const DEFAULT_VAULT: &str = "default";
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// A vault name as Azure allows it: 3–24 characters, letters, digits and hyphens, starting with
/// a letter, ending with a letter or digit, no consecutive hyphens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VaultName(String);

impl VaultName {
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let valid = (3..=24).contains(&bytes.len())
            && bytes[0].is_ascii_alphabetic()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && !text.contains("--");
        valid.then(|| Self(text.to_ascii_lowercase()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for VaultName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vault {
    pub name: VaultName,
    pub tenant_id: Uuid,
    pub soft_delete_retention_days: u32,
    pub purge_protection: bool,
    pub access_policies: Vec<AccessPolicy>,
}

impl Vault {
    /// `recoveryLevel` as the contract's §6 table derives it from the vault's settings.
    #[must_use]
    pub fn recovery_level(&self) -> &'static str {
        match (self.soft_delete_retention_days >= DEFAULT_RETENTION_DAYS, self.purge_protection) {
            (true, false) => "Recoverable+Purgeable",
            (true, true) => "Recoverable",
            (false, false) => "CustomizedRecoverable+Purgeable",
            (false, true) => "CustomizedRecoverable",
        }
    }

    #[must_use]
    pub fn recoverable_days(&self) -> u32 {
        self.soft_delete_retention_days
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("invalid vault settings: {0}")]
    Invalid(String),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
}

/// All vaults, cached in memory (they are few and read on every request) and written through
/// to the store.
#[derive(Clone)]
pub struct VaultRegistry {
    pool: Pool,
    clock: Clock,
    vaults: Arc<RwLock<HashMap<String, Arc<Vault>>>>,
}

impl VaultRegistry {
    pub async fn load(pool: Pool, clock: Clock) -> Result<Self, VaultError> {
        let mut conn = pool.acquire().await?;
        let all = store::vaults::list(&mut conn).await?;
        drop(conn);
        let vaults = all.into_iter().map(|v| (v.name.as_str().to_owned(), Arc::new(v))).collect();
        Ok(Self { pool, clock, vaults: Arc::new(RwLock::new(vaults)) })
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<Arc<Vault>> {
        self.vaults.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&name.to_ascii_lowercase()).cloned()
    }

    /// Creates a vault, or returns the existing one unchanged when the name is taken.
    pub async fn create(&self, vault: Vault) -> Result<Arc<Vault>, VaultError> {
        if !(7..=90).contains(&vault.soft_delete_retention_days) {
            return Err(VaultError::Invalid(format!(
                "softDeleteRetentionInDays must be between 7 and 90, found {}",
                vault.soft_delete_retention_days
            )));
        }
        if let Some(existing) = self.get(vault.name.as_str()) {
            return Ok(existing);
        }
        let mut tx = store::begin_write(&self.pool).await?;
        store::vaults::insert(&mut tx, &vault, self.clock.now()).await?;
        tx.commit().await?;
        let vault = Arc::new(vault);
        self.vaults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(vault.name.as_str().to_owned(), vault.clone());
        Ok(vault)
    }
}

impl VaultRegistry {
    /// Makes sure the default vault exists in `tenant` and grants `policy`. A data directory
    /// first used with another `--tenant-id` keeps its keys; its default vault moves to the new
    /// tenant, since no token of the old one can be issued any more.
    pub async fn ensure_default(&self, tenant_id: Uuid, policy: AccessPolicy) -> Result<Arc<Vault>, VaultError> {
        let name = VaultName::parse(DEFAULT_VAULT).ok_or_else(|| VaultError::Invalid("default vault name".into()))?;
        let Some(existing) = self.get(DEFAULT_VAULT) else {
            return self
                .create(Vault {
                    name,
                    tenant_id,
                    soft_delete_retention_days: DEFAULT_RETENTION_DAYS,
                    purge_protection: false,
                    access_policies: vec![policy],
                })
                .await;
        };
        if existing.tenant_id == tenant_id && existing.access_policies.contains(&policy) {
            return Ok(existing);
        }
        let mut vault = (*existing).clone();
        vault.tenant_id = tenant_id;
        if !vault.access_policies.contains(&policy) {
            vault.access_policies.push(policy);
        }
        let mut tx = store::begin_write(&self.pool).await?;
        store::vaults::update(&mut tx, &vault).await?;
        tx.commit().await?;
        let vault = Arc::new(vault);
        self.vaults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(vault.name.as_str().to_owned(), vault.clone());
        Ok(vault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(days: u32, protected: bool) -> Vault {
        Vault {
            name: VaultName::parse("default").unwrap(),
            tenant_id: Uuid::nil(),
            soft_delete_retention_days: days,
            purge_protection: protected,
            access_policies: vec![],
        }
    }

    #[test]
    fn recovery_level_follows_the_contract_table() {
        assert_eq!(vault(90, false).recovery_level(), "Recoverable+Purgeable");
        assert_eq!(vault(90, true).recovery_level(), "Recoverable");
        assert_eq!(vault(7, false).recovery_level(), "CustomizedRecoverable+Purgeable");
        assert_eq!(vault(89, true).recovery_level(), "CustomizedRecoverable");
        assert_eq!(vault(7, true).recoverable_days(), 7);
    }

    #[test]
    fn vault_names() {
        assert_eq!(VaultName::parse("My-Vault1").unwrap().as_str(), "my-vault1");
        for bad in ["ab", "1abc", "abc-", "a--b", "a_bc", &"a".repeat(25)] {
            assert!(VaultName::parse(bad).is_none(), "{bad}");
        }
    }
}
