//! The registry every request resolves its vault through: all vaults cached in memory (they
//! are few and read on every request) and written through to the store.
//!
//! Every write goes through [`VaultRegistry::transact`]: the vault is read inside a
//! `BEGIN IMMEDIATE` transaction, the caller's rule decides from what the store holds, and the
//! cache learns the result only after the commit. Writers are also serialised in-process, so
//! the cache is updated in commit order. A read-modify-write that read the cache instead lost
//! concurrent access-policy and role-assignment grants (issue 14).
//!
//! Vaults and Managed HSMs share the registry and its one namespace; every lookup and write
//! names the flavour it wants (`Flavour`), so a vault path never reaches an HSM.
//!
//! Over 400 lines because the one write path, the purge path and the inherited (subscription-
//! and group-scope) assignments share the cache and the write lock kept here, for both
//! flavours; about a third is tests.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use super::{
    Authorization, DEFAULT_VAULT, Flavour, ManagedHsm, Vault, VaultDeletion, VaultKind, VaultName, VaultRule,
    VaultSettings, next_purge_protection, retention_is_fixed,
};
use crate::auth::policy::AccessPolicy;
use crate::auth::rbac::{AssignmentScope, scope_covers};
use crate::clock::Clock;
use crate::keys::version_cache::VersionCache;
use crate::store::role_assignments::ScopedAssignment;
use crate::store::{self, Pool};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{}", crate::messages::management::invalid_vault_settings(.0))]
    Invalid(String),
    #[error("{0}")]
    Rule(#[from] VaultRule),
    /// The name belongs to a soft-deleted vault: recover or purge it first.
    #[error("{}", crate::messages::management::registry_vault_deleted(.0))]
    Deleted(String),
    #[error("{}", crate::messages::management::registry_vault_not_found(.0))]
    NotFound(String),
    #[error("{}", crate::messages::management::registry_purge_protected(.0))]
    PurgeProtected(String),
    /// Vaults and HSMs share one namespace: the name is held by the other kind.
    #[error("{}", crate::messages::management::name_taken(name, holder))]
    NameTaken { name: String, holder: &'static str },
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
}

/// What one write saw and left behind.
#[derive(Clone, Debug)]
pub struct Written {
    /// The vault as the store held it when the transaction began (active or soft-deleted).
    pub before: Option<Vault>,
    pub after: Arc<Vault>,
}

#[derive(Clone)]
pub struct VaultRegistry {
    pool: Pool,
    clock: Clock,
    vaults: Arc<RwLock<HashMap<String, Arc<Vault>>>>,
    /// Held across every write's transaction and cache update, so the cache changes in commit
    /// order (two commits remembered the other way round would leave the older one cached).
    writes: Arc<tokio::sync::Mutex<()>>,
    /// Role assignments at subscription or resource-group scope; each cached vault also carries
    /// those covering it (as `AssignmentScope::Inherited`), so the data plane decides on the
    /// vault alone.
    scoped: Arc<RwLock<Vec<ScopedAssignment>>>,
    /// The key service's cache of key lookups: a purged vault's keys leave the store here, and
    /// a vault created later under the same name must not see them.
    key_versions: Arc<VersionCache>,
}

impl VaultRegistry {
    pub async fn load(pool: Pool, clock: Clock, key_versions: Arc<VersionCache>) -> Result<Self, VaultError> {
        let mut conn = pool.acquire().await?;
        let all = store::vaults::list(&mut conn).await?;
        let scoped = store::role_assignments::list(&mut conn).await?;
        drop(conn);
        let vaults =
            all.into_iter().map(|v| (v.name.as_str().to_owned(), Arc::new(with_inherited(v, &scoped)))).collect();
        Ok(Self {
            pool,
            clock,
            vaults: Arc::new(RwLock::new(vaults)),
            writes: Arc::default(),
            scoped: Arc::new(RwLock::new(scoped)),
            key_versions,
        })
    }

    /// Every role assignment at subscription or resource-group scope.
    #[must_use]
    pub fn scoped_assignments(&self) -> Vec<ScopedAssignment> {
        self.scoped.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The write path for subscription- and group-scope assignments: reads them all inside a
    /// write transaction, lets `change` edit the list, writes the difference (assignments are
    /// added or removed, never changed) and commits; then the cache, and every cached vault's
    /// inherited assignments, follow.
    pub async fn transact_scoped<T, E>(
        &self,
        change: impl FnOnce(&mut Vec<ScopedAssignment>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<VaultError>,
    {
        let _serialised = self.writes.lock().await;
        let mut tx = store::begin_write(&self.pool).await.map_err(VaultError::from)?;
        let before = store::role_assignments::list(&mut tx).await.map_err(VaultError::from)?;
        let mut after = before.clone();
        let answer = change(&mut after)?;
        let has = |list: &[ScopedAssignment], id| list.iter().any(|s| s.assignment.id == id);
        for gone in before.iter().filter(|s| !has(&after, s.assignment.id)) {
            store::role_assignments::delete(&mut tx, gone.assignment.id).await.map_err(VaultError::from)?;
        }
        for added in after.iter().filter(|s| !has(&before, s.assignment.id)) {
            store::role_assignments::insert(&mut tx, added, self.clock.now()).await.map_err(VaultError::from)?;
        }
        tx.commit().await.map_err(VaultError::from)?;
        let mut vaults = self.vaults.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for vault in vaults.values_mut() {
            *vault = Arc::new(with_inherited((**vault).clone(), &after));
        }
        drop(vaults);
        *self.scoped.write().unwrap_or_else(std::sync::PoisonError::into_inner) = after;
        Ok(answer)
    }

    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn any(&self, name: &str) -> Option<Arc<Vault>> {
        self.vaults.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&name.to_ascii_lowercase()).cloned()
    }

    /// An active (not soft-deleted) store of `flavour` named `name`.
    #[must_use]
    pub fn get_of(&self, flavour: Flavour, name: &str) -> Option<Arc<Vault>> {
        self.any(name).filter(|v| v.deletion.is_none() && v.flavour() == flavour)
    }

    /// A soft-deleted store of `flavour`.
    #[must_use]
    pub fn get_deleted_of(&self, flavour: Flavour, name: &str) -> Option<Arc<Vault>> {
        self.any(name).filter(|v| v.deletion.is_some() && v.flavour() == flavour)
    }

    /// An active (not soft-deleted) vault (never an HSM).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Arc<Vault>> {
        self.get_of(Flavour::Vault, name)
    }

    /// A soft-deleted vault (never an HSM).
    #[must_use]
    pub fn get_deleted(&self, name: &str) -> Option<Arc<Vault>> {
        self.get_deleted_of(Flavour::Vault, name)
    }

    /// An active Managed HSM.
    #[must_use]
    pub fn get_hsm(&self, name: &str) -> Option<Arc<Vault>> {
        self.get_of(Flavour::ManagedHsm, name)
    }

    /// A soft-deleted Managed HSM.
    #[must_use]
    pub fn get_deleted_hsm(&self, name: &str) -> Option<Arc<Vault>> {
        self.get_deleted_of(Flavour::ManagedHsm, name)
    }

    /// Every store of `flavour`, active or soft-deleted as `deleted` says, by name.
    #[must_use]
    pub fn all_of(&self, flavour: Flavour, deleted: bool) -> Vec<Arc<Vault>> {
        let mut vaults: Vec<_> = self
            .vaults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|v| v.deletion.is_some() == deleted && v.flavour() == flavour)
            .cloned()
            .collect();
        vaults.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        vaults
    }

    /// Every active vault, by name.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Vault>> {
        self.all_of(Flavour::Vault, false)
    }

    /// Every soft-deleted vault, by name.
    #[must_use]
    pub fn all_deleted(&self) -> Vec<Arc<Vault>> {
        self.all_of(Flavour::Vault, true)
    }

    /// Every active Managed HSM, by name.
    #[must_use]
    pub fn all_hsms(&self) -> Vec<Arc<Vault>> {
        self.all_of(Flavour::ManagedHsm, false)
    }

    /// Every active vault and HSM: what due work (rotation, purges of keys) runs over.
    #[must_use]
    pub fn all_stores(&self) -> Vec<Arc<Vault>> {
        let mut all = self.all();
        all.extend(self.all_hsms());
        all
    }

    /// The one write path for vaults: [`VaultRegistry::transact_of`] for [`Flavour::Vault`].
    pub async fn transact<E>(
        &self,
        name: &str,
        change: impl FnOnce(Option<&Vault>) -> Result<Vault, E>,
    ) -> Result<Written, E>
    where
        E: From<VaultError>,
    {
        self.transact_of(Flavour::Vault, name, change).await
    }

    /// The one write path for Managed HSMs: [`VaultRegistry::transact_of`] for
    /// [`Flavour::ManagedHsm`].
    pub async fn transact_hsm<E>(
        &self,
        name: &str,
        change: impl FnOnce(Option<&Vault>) -> Result<Vault, E>,
    ) -> Result<Written, E>
    where
        E: From<VaultError>,
    {
        self.transact_of(Flavour::ManagedHsm, name, change).await
    }

    /// The one write path. Reads store `name` (active or soft-deleted) inside a write
    /// transaction; `change` decides from that and returns the store to write; the commit comes
    /// before the cache update. Returning it unchanged writes nothing. A name held by the other
    /// flavour is `NameTaken` before `change` runs, and `change` cannot turn one flavour into the
    /// other.
    pub async fn transact_of<E>(
        &self,
        flavour: Flavour,
        name: &str,
        change: impl FnOnce(Option<&Vault>) -> Result<Vault, E>,
    ) -> Result<Written, E>
    where
        E: From<VaultError>,
    {
        let name = name.to_ascii_lowercase();
        let _serialised = self.writes.lock().await;
        let mut tx = store::begin_write(&self.pool).await.map_err(VaultError::from)?;
        let before = store::vaults::get(&mut tx, &name).await.map_err(VaultError::from)?;
        if let Some(holder) = before.as_ref().filter(|v| v.flavour() != flavour) {
            return Err(VaultError::NameTaken { name, holder: holder.kind.noun() }.into());
        }
        let after = change(before.as_ref())?;
        if after.name.as_str() != name {
            return Err(VaultError::Invalid(format!("a write to vault '{name}' cannot rename it")).into());
        }
        if after.flavour() != flavour {
            return Err(VaultError::Invalid(format!("a write to '{name}' cannot change its kind")).into());
        }
        if before.as_ref() == Some(&after) {
            drop(tx);
            let cached = self.any(&name).filter(|v| **v == after).unwrap_or_else(|| self.remember(after));
            return Ok(Written { before, after: cached });
        }
        match &before {
            None => store::vaults::insert(&mut tx, &after, self.clock.now()).await.map_err(VaultError::from)?,
            Some(existing) => {
                retention_is_fixed(
                    after.name.as_str(),
                    existing.soft_delete_retention_days,
                    after.soft_delete_retention_days,
                )
                .map_err(VaultError::from)?;
                store::vaults::update(&mut tx, &after).await.map_err(VaultError::from)?;
            }
        }
        tx.commit().await.map_err(VaultError::from)?;
        Ok(Written { before, after: self.remember(after) })
    }

    /// Changes an active vault; a missing or soft-deleted one is `NotFound`.
    pub async fn modify<E>(&self, name: &str, change: impl FnOnce(&mut Vault) -> Result<(), E>) -> Result<Written, E>
    where
        E: From<VaultError>,
    {
        self.modify_of(Flavour::Vault, name, change).await
    }

    /// Changes an active Managed HSM; a missing or soft-deleted one is `NotFound`.
    pub async fn modify_hsm<E>(
        &self,
        name: &str,
        change: impl FnOnce(&mut Vault) -> Result<(), E>,
    ) -> Result<Written, E>
    where
        E: From<VaultError>,
    {
        self.modify_of(Flavour::ManagedHsm, name, change).await
    }

    async fn modify_of<E>(
        &self,
        flavour: Flavour,
        name: &str,
        change: impl FnOnce(&mut Vault) -> Result<(), E>,
    ) -> Result<Written, E>
    where
        E: From<VaultError>,
    {
        self.transact_of(flavour, name, |current| {
            let mut vault =
                current.filter(|v| !v.is_deleted()).cloned().ok_or_else(|| VaultError::NotFound(name.to_owned()))?;
            change(&mut vault)?;
            Ok(vault)
        })
        .await
    }

    /// Soft-deletes a vault: it and its keys disappear from the data plane until recovered,
    /// and it is purged `retention` days later on the emulator clock.
    pub async fn delete(&self, name: &str) -> Result<Arc<Vault>, VaultError> {
        self.delete_of(Flavour::Vault, name).await
    }

    /// Soft-deletes a vault or HSM of `flavour` (an HSM always has soft delete).
    pub async fn delete_of(&self, flavour: Flavour, name: &str) -> Result<Arc<Vault>, VaultError> {
        let now = self.clock.now();
        let written = self
            .modify_of(flavour, name, |vault| {
                if vault.name.as_str() == DEFAULT_VAULT {
                    return Err(VaultError::Invalid(
                        "the emulator's default vault always exists and cannot be deleted".into(),
                    ));
                }
                vault.deletion = Some(deletion_at(now, vault.soft_delete_retention_days));
                Ok(())
            })
            .await?;
        Ok(written.after)
    }

    /// Purges a soft-deleted vault and its keys for good; refused under purge protection.
    pub async fn purge(&self, name: &str) -> Result<(), VaultError> {
        self.purge_of(Flavour::Vault, name).await
    }

    /// Purges a soft-deleted vault or HSM of `flavour`; refused under purge protection.
    pub async fn purge_of(&self, flavour: Flavour, name: &str) -> Result<(), VaultError> {
        self.remove(name, |vault| {
            if vault.flavour() != flavour {
                Err(VaultError::NotFound(vault.name.to_string()))
            } else if vault.purge_protection {
                Err(VaultError::PurgeProtected(vault.name.to_string()))
            } else {
                Ok(())
            }
        })
        .await
    }

    /// Purges every soft-deleted vault whose scheduled purge date the emulator clock reached.
    pub async fn purge_due(&self) -> Result<usize, VaultError> {
        let now = self.clock.now();
        let due = |vault: &Vault| vault.deletion.is_some_and(|d| d.scheduled_purge_date <= now);
        let mut candidates = self.all_of(Flavour::Vault, true);
        candidates.extend(self.all_of(Flavour::ManagedHsm, true));
        candidates.retain(|v| due(v));
        let mut purged = 0;
        for vault in &candidates {
            // Recovered since the list was taken: not due any more.
            match self
                .remove(vault.name.as_str(), |v| if due(v) { Ok(()) } else { Err(VaultError::NotFound(String::new())) })
                .await
            {
                Ok(()) => purged += 1,
                Err(VaultError::NotFound(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(purged)
    }

    /// Deletes soft-deleted vault `name` and its keys if `allowed` agrees, deciding on what the
    /// store holds inside the transaction.
    async fn remove(
        &self,
        name: &str,
        allowed: impl FnOnce(&Vault) -> Result<(), VaultError>,
    ) -> Result<(), VaultError> {
        let name = name.to_ascii_lowercase();
        let _serialised = self.writes.lock().await;
        let mut tx = store::begin_write(&self.pool).await?;
        let vault = store::vaults::get(&mut tx, &name)
            .await?
            .filter(Vault::is_deleted)
            .ok_or_else(|| VaultError::NotFound(name.clone()))?;
        allowed(&vault)?;
        store::vaults::delete(&mut tx, &name).await?;
        let committed = tx.commit().await;
        self.key_versions.invalidate();
        committed?;
        self.vaults.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&name);
        tracing::info!(vault = %name, "purged a deleted vault and its keys");
        Ok(())
    }

    /// Puts a vault just committed to the store into the cache.
    fn remember(&self, vault: Vault) -> Arc<Vault> {
        let vault =
            Arc::new(with_inherited(vault, &self.scoped.read().unwrap_or_else(std::sync::PoisonError::into_inner)));
        self.vaults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(vault.name.as_str().to_owned(), vault.clone());
        vault
    }

    /// Creates a vault or HSM, or returns the existing one unchanged when the name is taken by
    /// the same kind.
    pub async fn create(&self, vault: Vault) -> Result<Arc<Vault>, VaultError> {
        super::check_retention(vault.soft_delete_retention_days)?;
        let flavour = vault.flavour();
        let written = self
            .transact_of(flavour, vault.name.as_str().to_owned().as_str(), |current| match current {
                Some(existing) if existing.is_deleted() => Err(VaultError::Deleted(existing.name.to_string())),
                Some(existing) => Ok(existing.clone()),
                None => Ok(vault),
            })
            .await?;
        Ok(written.after)
    }

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
        let written = self
            .modify(name, |vault| {
                authorization.apply_to(vault);
                Ok::<_, VaultError>(())
            })
            .await?;
        Ok(written.after)
    }

    /// Makes sure Managed HSM `settings.name` exists in `tenant`, with `initial_admins` as
    /// Administrators at `/`, active when `activated` says so (the `--hsm` flag and the config
    /// file declare HSMs active for tests that do not care about the security domain). An
    /// existing HSM keeps its state; it is activated if asked, never deactivated, and learns
    /// initial administrators it did not have.
    pub async fn ensure_hsm(
        &self,
        settings: &VaultSettings,
        tenant_id: Uuid,
        initial_admins: &[Uuid],
        activated: bool,
    ) -> Result<Arc<Vault>, VaultError> {
        super::check_retention(settings.soft_delete_retention_days)?;
        let written = self
            .transact_hsm(settings.name.as_str(), |current| {
                let mut hsm = match current {
                    Some(existing) if existing.is_deleted() => {
                        return Err(VaultError::Deleted(settings.name.to_string()));
                    }
                    Some(existing) => existing.clone(),
                    None => Vault::new_managed_hsm(settings, tenant_id, initial_admins.to_vec()),
                };
                retention_is_fixed(
                    settings.name.as_str(),
                    hsm.soft_delete_retention_days,
                    settings.soft_delete_retention_days,
                )?;
                hsm.purge_protection = next_purge_protection(hsm.purge_protection, Some(settings.purge_protection))?;
                hsm.tenant_id = tenant_id;
                if let VaultKind::ManagedHsm(state) = &mut hsm.kind {
                    state.activated |= activated;
                    for admin in initial_admins {
                        if !state.initial_admin_object_ids.contains(admin) {
                            state.initial_admin_object_ids.push(*admin);
                            hsm.role_assignments.push(super::hsm::initial_administrator(*admin));
                        }
                    }
                }
                Ok(hsm)
            })
            .await?;
        Ok(written.after)
    }

    /// Sets HSM `name`'s activation state in one write (the security domain flow calls this).
    pub async fn set_hsm_state<E>(
        &self,
        name: &str,
        change: impl FnOnce(&mut ManagedHsm) -> Result<(), E>,
    ) -> Result<Arc<Vault>, E>
    where
        E: From<VaultError>,
    {
        let written = self
            .modify_hsm(name, |hsm| match &mut hsm.kind {
                VaultKind::ManagedHsm(state) => change(state),
                VaultKind::Vault => Err(VaultError::NotFound(name.to_owned()).into()),
            })
            .await?;
        Ok(written.after)
    }

    async fn ensure_with(
        &self,
        name: &VaultName,
        declared: Option<&VaultSettings>,
        tenant_id: Uuid,
        authorize: impl FnOnce(&mut Vault),
    ) -> Result<Arc<Vault>, VaultError> {
        if let Some(settings) = declared {
            super::check_retention(settings.soft_delete_retention_days)?;
        }
        let written = self
            .transact(name.as_str(), |current| {
                let mut vault = match current {
                    Some(existing) if existing.is_deleted() => return Err(VaultError::Deleted(name.to_string())),
                    Some(existing) => existing.clone(),
                    None => {
                        let defaults = VaultSettings::new(name.clone());
                        Vault::new(declared.unwrap_or(&defaults), tenant_id)
                    }
                };
                if let Some(settings) = declared {
                    retention_is_fixed(
                        name.as_str(),
                        vault.soft_delete_retention_days,
                        settings.soft_delete_retention_days,
                    )?;
                    vault.purge_protection =
                        next_purge_protection(vault.purge_protection, Some(settings.purge_protection))?;
                }
                vault.tenant_id = tenant_id;
                authorize(&mut vault);
                Ok(vault)
            })
            .await?;
        Ok(written.after)
    }
}

/// `vault` with the subscription- and group-scope assignments that cover it, as `Inherited`.
fn with_inherited(mut vault: Vault, scoped: &[ScopedAssignment]) -> Vault {
    vault.role_assignments.retain(|a| !matches!(a.scope, AssignmentScope::Inherited(_)));
    let id = vault.resource_id();
    vault.role_assignments.extend(scoped.iter().filter(|s| scope_covers(&s.scope, &id)).map(|s| s.assignment.clone()));
    vault
}

/// The deletion record of a vault soft-deleted at `now`.
#[must_use]
pub fn deletion_at(now: crate::clock::UnixSeconds, retention_days: u32) -> VaultDeletion {
    VaultDeletion { deleted_date: now, scheduled_purge_date: now.saturating_add(i64::from(retention_days) * 86_400) }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn registry() -> VaultRegistry {
        let pool = store::open(None).await.unwrap();
        VaultRegistry::load(pool, Clock::new(), Arc::default()).await.unwrap()
    }

    #[tokio::test]
    async fn purge_protection_cannot_be_turned_off_and_retention_is_fixed() {
        let registry = registry().await;
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

    #[tokio::test]
    async fn concurrent_modifications_all_land() {
        let registry = registry().await;
        let tenant = Uuid::from_u128(1);
        let name = VaultName::parse("race").unwrap();
        registry.ensure(&name, None, tenant, &[]).await.unwrap();
        let writers = (0..40u128).map(|n| {
            let registry = registry.clone();
            tokio::spawn(async move {
                registry
                    .modify("race", |vault| {
                        vault.access_policies.push(AccessPolicy::all_keys(tenant, Uuid::from_u128(100 + n)));
                        Ok::<_, VaultError>(())
                    })
                    .await
                    .unwrap();
            })
        });
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(registry.get("race").unwrap().access_policies.len(), 40);
    }

    #[tokio::test]
    async fn delete_recover_and_purge_decide_on_the_stored_vault() {
        let registry = registry().await;
        let protected = VaultSettings::parse("kept:retention-days=7:purge-protection").unwrap();
        registry.ensure(&protected.name, Some(&protected), Uuid::nil(), &[]).await.unwrap();
        assert!(matches!(registry.purge("kept").await, Err(VaultError::NotFound(_))), "not deleted yet");
        registry.delete("kept").await.unwrap();
        assert!(registry.get("kept").is_none() && registry.get_deleted("kept").is_some());
        assert!(matches!(registry.purge("kept").await, Err(VaultError::PurgeProtected(_))));
        assert!(matches!(registry.delete(DEFAULT_VAULT).await, Err(VaultError::NotFound(_))));
    }

    #[tokio::test]
    async fn vaults_and_hsms_share_one_namespace_and_lookups_keep_them_apart() {
        let registry = registry().await;
        let tenant = Uuid::from_u128(1);
        let admin = Uuid::from_u128(7);
        let mut settings = VaultSettings::new(VaultName::parse("hsm1").unwrap());
        settings.purge_protection = true;
        let hsm = registry.ensure_hsm(&settings, tenant, &[admin], false).await.unwrap();
        let state = hsm.managed_hsm().unwrap();
        assert!(!state.activated && state.initial_admin_object_ids == [admin]);
        assert_eq!(hsm.role_assignments.len(), 1, "the initial admin is an Administrator at /");
        assert!(registry.get("hsm1").is_none() && registry.get_hsm("hsm1").is_some());
        assert!(registry.all().iter().all(|v| !v.is_managed_hsm()));

        // A vault cannot take the HSM's name, nor an HSM a vault's.
        let taken = registry.ensure(&VaultName::parse("hsm1").unwrap(), None, tenant, &[]).await;
        assert!(matches!(taken, Err(VaultError::NameTaken { holder: "managed HSM", .. })), "{taken:?}");
        registry.ensure(&VaultName::parse("cmk").unwrap(), None, tenant, &[]).await.unwrap();
        let taken = registry.ensure_hsm(&VaultSettings::new(VaultName::parse("cmk").unwrap()), tenant, &[], true).await;
        assert!(matches!(taken, Err(VaultError::NameTaken { holder: "vault", .. })), "{taken:?}");
        assert!(
            registry.modify("hsm1", |_| Ok::<_, VaultError>(())).await.is_err(),
            "a vault write never reaches an HSM"
        );

        // Activation only goes one way; purge protection stays on; the state survives a reload.
        registry.ensure_hsm(&settings, tenant, &[], true).await.unwrap();
        settings.purge_protection = false;
        assert!(registry.ensure_hsm(&settings, tenant, &[], false).await.is_err());
        let reloaded = VaultRegistry::load(registry.pool.clone(), Clock::new(), Arc::default()).await.unwrap();
        let hsm = reloaded.get_hsm("hsm1").unwrap();
        assert!(hsm.managed_hsm().unwrap().activated && hsm.purge_protection);
        assert_eq!(hsm.resource_id().rsplit('/').nth(1), Some("managedHSMs"));
    }
}
