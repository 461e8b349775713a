//! Vaults: their properties and the registry every request resolves its vault through.
//!
//! Vault creation happens in exactly one place, [`VaultRegistry::create`], so the command line,
//! the config file and the management API (later issues) all apply the same rules.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::auth::policy::AccessPolicy;
use crate::auth::rbac::RoleAssignment;
use crate::clock::Clock;
use crate::keys::version_cache::VersionCache;
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
    /// `enableRbacAuthorization`: role assignments decide, access policies are ignored.
    pub rbac_authorization: bool,
    pub role_assignments: Vec<RoleAssignment>,
    /// The vault as Azure Resource Manager sees it.
    pub arm: ArmInfo,
    /// Set while the vault is soft-deleted: its keys are unreachable until it is recovered.
    pub deletion: Option<VaultDeletion>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VaultDeletion {
    pub deleted_date: crate::clock::UnixSeconds,
    pub scheduled_purge_date: crate::clock::UnixSeconds,
}

/// A vault's resource-manager properties, which the data plane ignores.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmInfo {
    pub resource_group: String,
    pub location: String,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    pub sku: String,
}

impl Default for ArmInfo {
    fn default() -> Self {
        Self {
            resource_group: crate::auth::identity::DEFAULT_RESOURCE_GROUP.to_owned(),
            location: DEFAULT_LOCATION.to_owned(),
            tags: std::collections::BTreeMap::new(),
            sku: "standard".to_owned(),
        }
    }
}

/// The location the emulator's resources report.
pub const DEFAULT_LOCATION: &str = "local";

impl Vault {
    /// The ARM resource id the emulator gives the vault (RBAC scopes and messages use it).
    #[must_use]
    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}",
            crate::auth::identity::default_subscription(self.tenant_id),
            self.arm.resource_group,
            self.name
        )
    }

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
    /// The name belongs to a vault elsewhere (another resource group).
    #[error("{0}")]
    NameInUse(String),
    /// The name belongs to a soft-deleted vault: recover or purge it first.
    #[error("vault '{0}' is soft-deleted; recover it or purge it first")]
    Deleted(String),
    #[error("no vault named '{0}'")]
    NotFound(String),
    #[error("vault '{0}' has purge protection: it is purged at its scheduled purge date, not before")]
    PurgeProtected(String),
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
    /// The key service's cache of key lookups: a purged vault's keys leave the store here, and
    /// a vault created later under the same name must not see them.
    key_versions: Arc<VersionCache>,
}

impl VaultRegistry {
    pub async fn load(pool: Pool, clock: Clock, key_versions: Arc<VersionCache>) -> Result<Self, VaultError> {
        let mut conn = pool.acquire().await?;
        let all = store::vaults::list(&mut conn).await?;
        drop(conn);
        let vaults = all.into_iter().map(|v| (v.name.as_str().to_owned(), Arc::new(v))).collect();
        Ok(Self { pool, clock, vaults: Arc::new(RwLock::new(vaults)), key_versions })
    }

    fn any(&self, name: &str) -> Option<Arc<Vault>> {
        self.vaults.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&name.to_ascii_lowercase()).cloned()
    }

    /// An active (not soft-deleted) vault.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Arc<Vault>> {
        self.any(name).filter(|v| v.deletion.is_none())
    }

    /// A soft-deleted vault.
    #[must_use]
    pub fn get_deleted(&self, name: &str) -> Option<Arc<Vault>> {
        self.any(name).filter(|v| v.deletion.is_some())
    }

    fn sorted(&self, deleted: bool) -> Vec<Arc<Vault>> {
        let mut vaults: Vec<_> = self
            .vaults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|v| v.deletion.is_some() == deleted)
            .cloned()
            .collect();
        vaults.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        vaults
    }

    /// Every active vault, by name.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Vault>> {
        self.sorted(false)
    }

    /// Every soft-deleted vault, by name.
    #[must_use]
    pub fn all_deleted(&self) -> Vec<Arc<Vault>> {
        self.sorted(true)
    }

    /// Soft-deletes a vault: it and its keys disappear from the data plane until recovered,
    /// and it is purged `retention` days later on the emulator clock.
    pub async fn delete(&self, name: &str) -> Result<Arc<Vault>, VaultError> {
        let mut vault = (*self.get(name).ok_or_else(|| VaultError::NotFound(name.to_owned()))?).clone();
        if vault.name.as_str() == DEFAULT_VAULT {
            return Err(VaultError::Invalid("the emulator's default vault always exists and cannot be deleted".into()));
        }
        let now = self.clock.now();
        vault.deletion = Some(VaultDeletion {
            deleted_date: now,
            scheduled_purge_date: now.saturating_add(i64::from(vault.soft_delete_retention_days) * 86_400),
        });
        self.write(vault).await
    }

    /// Brings a soft-deleted vault back with its keys.
    pub async fn recover(&self, name: &str) -> Result<Arc<Vault>, VaultError> {
        let mut vault = (*self.get_deleted(name).ok_or_else(|| VaultError::NotFound(name.to_owned()))?).clone();
        vault.deletion = None;
        self.write(vault).await
    }

    /// Purges a soft-deleted vault and its keys for good; refused under purge protection.
    pub async fn purge(&self, name: &str) -> Result<(), VaultError> {
        let vault = self.get_deleted(name).ok_or_else(|| VaultError::NotFound(name.to_owned()))?;
        if vault.purge_protection {
            return Err(VaultError::PurgeProtected(vault.name.to_string()));
        }
        self.remove(&vault).await
    }

    async fn remove(&self, vault: &Vault) -> Result<(), VaultError> {
        let mut tx = store::begin_write(&self.pool).await?;
        store::vaults::delete(&mut tx, vault.name.as_str()).await?;
        let committed = tx.commit().await;
        self.key_versions.invalidate();
        committed?;
        self.vaults.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(vault.name.as_str());
        tracing::info!(vault = %vault.name, "purged a deleted vault and its keys");
        Ok(())
    }

    /// Purges every soft-deleted vault whose scheduled purge date the emulator clock reached.
    pub async fn purge_due(&self) -> Result<usize, VaultError> {
        let now = self.clock.now();
        let due: Vec<_> = self
            .all_deleted()
            .into_iter()
            .filter(|v| v.deletion.is_some_and(|d| d.scheduled_purge_date <= now))
            .collect();
        for vault in &due {
            self.remove(vault).await?;
        }
        Ok(due.len())
    }

    /// Puts a vault just written to the store into the cache.
    fn remember(&self, vault: Vault) -> Arc<Vault> {
        let vault = Arc::new(vault);
        self.vaults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(vault.name.as_str().to_owned(), vault.clone());
        vault
    }

    /// Creates a vault, or returns the existing one unchanged when the name is taken.
    pub async fn create(&self, vault: Vault) -> Result<Arc<Vault>, VaultError> {
        if !(7..=90).contains(&vault.soft_delete_retention_days) {
            return Err(VaultError::Invalid(format!(
                "softDeleteRetentionInDays must be between 7 and 90, found {}",
                vault.soft_delete_retention_days
            )));
        }
        if let Some(existing) = self.any(vault.name.as_str()) {
            if existing.deletion.is_some() {
                return Err(VaultError::Deleted(existing.name.to_string()));
            }
            return Ok(existing);
        }
        let mut tx = store::begin_write(&self.pool).await?;
        store::vaults::insert(&mut tx, &vault, self.clock.now()).await?;
        tx.commit().await?;
        Ok(self.remember(vault))
    }
}

/// The properties a vault is declared with (`--vault NAME[:retention-days=N][:purge-protection]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultSettings {
    pub name: VaultName,
    pub soft_delete_retention_days: u32,
    pub purge_protection: bool,
}

impl VaultSettings {
    /// A vault with the defaults: 90 days of retention, no purge protection.
    #[must_use]
    pub fn new(name: VaultName) -> Self {
        Self { name, soft_delete_retention_days: DEFAULT_RETENTION_DAYS, purge_protection: false }
    }

    /// Parses `NAME[:retention-days=N][:purge-protection]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let name = VaultName::parse(name).ok_or_else(|| {
            format!("'{name}' is not a valid vault name: 3-24 letters, digits and hyphens, starting with a letter")
        })?;
        let mut settings = Self::new(name);
        for part in parts {
            match part.split_once('=') {
                Some(("retention-days", days)) => {
                    settings.soft_delete_retention_days =
                        days.parse().map_err(|_| format!("retention-days '{days}' is not a number"))?;
                }
                None if part == "purge-protection" => settings.purge_protection = true,
                _ => {
                    return Err(format!(
                        "unknown vault option '{part}': expected retention-days=N or purge-protection"
                    ));
                }
            }
        }
        if !(7..=90).contains(&settings.soft_delete_retention_days) {
            return Err(format!(
                "softDeleteRetentionInDays must be between 7 and 90, found {}",
                settings.soft_delete_retention_days
            ));
        }
        Ok(settings)
    }
}

impl VaultRegistry {
    /// Makes sure vault `name` exists in `tenant` and grants `policy`.
    ///
    /// With `declared` settings, an existing vault must agree with them: the retention is
    /// fixed at creation, and purge protection can be turned on but never off. Without, an
    /// existing vault keeps its properties and a new one gets the defaults. A data directory
    /// first used with another `--tenant-id` keeps its vaults; they move to the new tenant,
    /// since no token of the old one can be issued any more.
    pub async fn ensure(
        &self,
        name: &VaultName,
        declared: Option<&VaultSettings>,
        tenant_id: Uuid,
        policies: &[AccessPolicy],
    ) -> Result<Arc<Vault>, VaultError> {
        self.ensure_with(name, declared, tenant_id, |vault| {
            for policy in policies {
                if !vault.access_policies.contains(policy) {
                    vault.access_policies.push(policy.clone());
                }
            }
        })
        .await
    }

    /// Like [`VaultRegistry::ensure`], but the vault's authorization is exactly `authorization`
    /// (RBAC or not, its access policies and role assignments): what a config file declares.
    pub async fn declare(
        &self,
        settings: &VaultSettings,
        tenant_id: Uuid,
        authorization: Authorization,
    ) -> Result<Arc<Vault>, VaultError> {
        self.ensure_with(&settings.name, Some(settings), tenant_id, move |vault| authorization.apply_to(vault)).await
    }

    /// Replaces the authorization of an existing vault; takes effect on the next request.
    pub async fn set_authorization(&self, name: &str, authorization: Authorization) -> Result<Arc<Vault>, VaultError> {
        let existing = self.get(name).ok_or_else(|| VaultError::Invalid(format!("no vault named '{name}'")))?;
        let mut vault = (*existing).clone();
        authorization.apply_to(&mut vault);
        self.write(vault).await
    }

    async fn write(&self, vault: Vault) -> Result<Arc<Vault>, VaultError> {
        let mut tx = store::begin_write(&self.pool).await?;
        store::vaults::update(&mut tx, &vault).await?;
        tx.commit().await?;
        Ok(self.remember(vault))
    }

    async fn ensure_with(
        &self,
        name: &VaultName,
        declared: Option<&VaultSettings>,
        tenant_id: Uuid,
        authorize: impl FnOnce(&mut Vault),
    ) -> Result<Arc<Vault>, VaultError> {
        if self.get_deleted(name.as_str()).is_some() {
            return Err(VaultError::Deleted(name.to_string()));
        }
        let Some(existing) = self.get(name.as_str()) else {
            let settings = declared.cloned().unwrap_or_else(|| VaultSettings::new(name.clone()));
            let mut vault = Vault {
                name: name.clone(),
                tenant_id,
                soft_delete_retention_days: settings.soft_delete_retention_days,
                purge_protection: settings.purge_protection,
                access_policies: vec![],
                rbac_authorization: false,
                role_assignments: vec![],
                arm: ArmInfo::default(),
                deletion: None,
            };
            authorize(&mut vault);
            return self.create(vault).await;
        };
        let mut vault = (*existing).clone();
        if let Some(settings) = declared {
            if settings.soft_delete_retention_days != vault.soft_delete_retention_days {
                return Err(VaultError::Invalid(format!(
                    "vault '{name}' keeps deleted keys for {} days; softDeleteRetentionInDays is set when a vault is created and cannot be changed to {}",
                    vault.soft_delete_retention_days, settings.soft_delete_retention_days
                )));
            }
            if vault.purge_protection && !settings.purge_protection {
                return Err(VaultError::Invalid(format!(
                    "vault '{name}' has purge protection, which cannot be turned off once enabled"
                )));
            }
            vault.purge_protection = settings.purge_protection;
        }
        vault.tenant_id = tenant_id;
        authorize(&mut vault);
        if vault == *existing {
            return Ok(existing);
        }
        self.write(vault).await
    }
}

/// A vault as the management API creates or updates it (PUT): every property given.
#[derive(Clone, Debug)]
pub struct VaultDefinition {
    pub settings: VaultSettings,
    pub tenant_id: Uuid,
    pub authorization: Authorization,
    pub arm: ArmInfo,
}

impl VaultRegistry {
    /// Creates or updates a vault from the management API, through the same rules as the
    /// command line and the config file (retention fixed, purge protection never off).
    pub async fn put(&self, definition: VaultDefinition) -> Result<Arc<Vault>, VaultError> {
        if let Some(existing) = self.get(definition.settings.name.as_str())
            && !existing.arm.resource_group.eq_ignore_ascii_case(&definition.arm.resource_group)
        {
            return Err(VaultError::NameInUse(format!(
                "The vault name '{}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information on soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.",
                definition.settings.name
            )));
        }
        let VaultDefinition { settings, tenant_id, authorization, arm } = definition;
        self.ensure_with(&settings.name, Some(&settings), tenant_id, move |vault| {
            authorization.apply_to(vault);
            vault.arm = arm;
        })
        .await
    }
}

/// Who may do what in a vault: access policies, or role assignments when RBAC is on.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    #[serde(default)]
    pub enable_rbac_authorization: bool,
    #[serde(default)]
    pub access_policies: Vec<AccessPolicy>,
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
}

impl Authorization {
    fn apply_to(self, vault: &mut Vault) {
        vault.rbac_authorization = self.enable_rbac_authorization;
        vault.access_policies = self.access_policies;
        vault.role_assignments = self.role_assignments;
    }

    #[must_use]
    pub fn of(vault: &Vault) -> Self {
        Self {
            enable_rbac_authorization: vault.rbac_authorization,
            access_policies: vault.access_policies.clone(),
            role_assignments: vault.role_assignments.clone(),
        }
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
            rbac_authorization: false,
            role_assignments: vec![],
            arm: ArmInfo::default(),
            deletion: None,
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
    fn vault_settings_parse() {
        let s = VaultSettings::parse("cmk:retention-days=7:purge-protection").unwrap();
        assert_eq!((s.name.as_str(), s.soft_delete_retention_days, s.purge_protection), ("cmk", 7, true));
        assert_eq!(VaultSettings::parse("plain").unwrap(), VaultSettings::new(VaultName::parse("plain").unwrap()));
        for bad in ["x", "cmk:retention-days=6", "cmk:retention-days=91", "cmk:retention-days=ten", "cmk:purge"] {
            assert!(VaultSettings::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn purge_protection_cannot_be_turned_off_and_retention_is_fixed() {
        let pool = store::open(None).await.unwrap();
        let registry = VaultRegistry::load(pool, Clock::new(), Arc::default()).await.unwrap();
        let tenant = Uuid::from_u128(1);
        let policy = AccessPolicy::all_keys(tenant, Uuid::from_u128(2));
        let protected = VaultSettings::parse("cmk:retention-days=7:purge-protection").unwrap();
        let vault =
            registry.ensure(&protected.name, Some(&protected), tenant, std::slice::from_ref(&policy)).await.unwrap();
        assert_eq!(vault.recovery_level(), "CustomizedRecoverable");
        let off = VaultSettings::parse("cmk:retention-days=7").unwrap();
        assert!(registry.ensure(&off.name, Some(&off), tenant, std::slice::from_ref(&policy)).await.is_err());
        let longer = VaultSettings::parse("cmk:retention-days=30:purge-protection").unwrap();
        assert!(registry.ensure(&longer.name, Some(&longer), tenant, std::slice::from_ref(&policy)).await.is_err());
        assert!(
            registry
                .ensure(&protected.name, None, tenant, std::slice::from_ref(&policy))
                .await
                .unwrap()
                .purge_protection
        );
    }

    #[test]
    fn vault_names() {
        assert_eq!(VaultName::parse("My-Vault1").unwrap().as_str(), "my-vault1");
        for bad in ["ab", "1abc", "abc-", "a--b", "a_bc", &"a".repeat(25)] {
            assert!(VaultName::parse(bad).is_none(), "{bad}");
        }
    }
}
