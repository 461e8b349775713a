//! `Microsoft.KeyVault/vaults` as Resource Manager manages them: create or update (PUT, with
//! `createMode: recover`), PATCH, soft delete and purge. The rules are plain functions over
//! the vault the store holds; each operation runs them inside one registry transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use super::ManagementError;
use crate::api_version::{ManagementFeature, ManagementVersion};
use crate::auth::policy::AccessPolicy;
use crate::vaults::{
    ArmInfo, DEFAULT_RETENTION_DAYS, Vault, VaultName, VaultRegistry, VaultSettings, check_retention,
    next_purge_protection,
};

/// Whether a vault created under `api_version` without `enableRbacAuthorization` uses RBAC
/// (Azure's 2026 "access control default" change; the api-version table says from which version).
/// Older versions keep access policies.
#[must_use]
pub fn rbac_by_default(api_version: &str) -> bool {
    ManagementVersion::requested_has(api_version, ManagementFeature::RbacByDefault)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CreateMode {
    #[default]
    Default,
    /// Bring a soft-deleted vault back, applying the request's properties in the same write.
    Recover,
}

impl CreateMode {
    pub fn parse(text: Option<&str>) -> Result<Self, ManagementError> {
        match text {
            None => Ok(Self::Default),
            Some(mode) if mode.eq_ignore_ascii_case("default") => Ok(Self::Default),
            Some(mode) if mode.eq_ignore_ascii_case("recover") => Ok(Self::Recover),
            Some(mode) => Err(ManagementError::InvalidRequest(crate::messages::management::invalid_create_mode(mode))),
        }
    }
}

/// A vault PUT or PATCH: every property is optional; what is absent keeps its value (or the
/// default, on creation).
#[derive(Clone, Debug, Default)]
pub struct VaultChange {
    pub location: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub tenant_id: Option<Uuid>,
    pub sku: Option<String>,
    pub access_policies: Option<Vec<AccessPolicy>>,
    pub enable_soft_delete: Option<bool>,
    pub soft_delete_retention_in_days: Option<u32>,
    pub enable_purge_protection: Option<bool>,
    pub enable_rbac_authorization: Option<bool>,
    pub create_mode: CreateMode,
}

/// Where the request comes from: the resource group in its path, the emulator's tenant (for
/// a vault that names none) and the api-version (which decides the RBAC default).
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub group: &'a str,
    pub default_tenant: Uuid,
    pub api_version: &'a str,
}

/// PUT: the vault after creating, updating or recovering `current` (the vault of that name as
/// the store holds it, active or soft-deleted).
pub fn put(
    current: Option<&Vault>,
    name: &VaultName,
    change: VaultChange,
    context: Context<'_>,
) -> Result<Vault, ManagementError> {
    let base = match (current, change.create_mode) {
        (Some(deleted), CreateMode::Recover) if deleted.is_deleted() => {
            if !deleted.arm.resource_group.eq_ignore_ascii_case(context.group) {
                return Err(ManagementError::DeletedVaultInOtherGroup {
                    name: name.to_string(),
                    group: deleted.arm.resource_group.clone(),
                });
            }
            let mut recovered = deleted.clone();
            recovered.deletion = None;
            Some(recovered)
        }
        (_, CreateMode::Recover) => return Err(ManagementError::DeletedVaultNotFound(name.to_string())),
        (Some(deleted), CreateMode::Default) if deleted.is_deleted() => {
            return Err(ManagementError::VaultSoftDeleted(name.to_string()));
        }
        (Some(active), CreateMode::Default) => {
            if !active.arm.resource_group.eq_ignore_ascii_case(context.group) {
                return Err(ManagementError::VaultNameInUse(name.to_string()));
            }
            Some(active.clone())
        }
        (None, CreateMode::Default) => None,
    };
    if base.is_none() && change.sku.is_none() {
        return Err(ManagementError::InvalidRequest(crate::messages::management::VAULT_SKU_REQUIRED.into()));
    }
    apply(base.as_ref(), name, change, context)
}

/// PATCH: the active vault `current` in the request's group, with `change` applied.
pub fn patch(current: Option<&Vault>, change: VaultChange, context: Context<'_>) -> Result<Vault, ManagementError> {
    let vault = current
        .filter(|v| !v.is_deleted() && v.arm.resource_group.eq_ignore_ascii_case(context.group))
        .ok_or_else(|| ManagementError::VaultNotFound(String::new()))?;
    apply(Some(vault), &vault.name.clone(), change, context)
}

/// `change` over `base` (the existing vault, or nothing on creation), through the vault rules.
fn apply(
    base: Option<&Vault>,
    name: &VaultName,
    change: VaultChange,
    context: Context<'_>,
) -> Result<Vault, ManagementError> {
    if change.enable_soft_delete == Some(false) {
        return Err(ManagementError::InvalidRequest(crate::messages::management::VAULT_SOFT_DELETE_ALWAYS_ON.into()));
    }
    let retention = change
        .soft_delete_retention_in_days
        .or(base.map(|v| v.soft_delete_retention_days))
        .unwrap_or(DEFAULT_RETENTION_DAYS);
    check_retention(retention)?;
    if let Some(existing) = base {
        crate::vaults::retention_is_fixed(name.as_str(), existing.soft_delete_retention_days, retention)?;
    }
    let mut settings = VaultSettings::new(name.clone());
    settings.soft_delete_retention_days = retention;
    settings.purge_protection =
        next_purge_protection(base.is_some_and(|v| v.purge_protection), change.enable_purge_protection)?;
    let tenant_id = change.tenant_id.or(base.map(|v| v.tenant_id)).unwrap_or(context.default_tenant);
    let mut vault = base.cloned().unwrap_or_else(|| Vault::new(&settings, tenant_id));
    vault.tenant_id = tenant_id;
    vault.purge_protection = settings.purge_protection;
    vault.rbac_authorization = change
        .enable_rbac_authorization
        .or(base.map(|v| v.rbac_authorization))
        .unwrap_or_else(|| rbac_by_default(context.api_version));
    if let Some(policies) = change.access_policies {
        vault.access_policies = policies;
    }
    let defaults = base.map(|v| v.arm.clone()).unwrap_or_default();
    vault.arm = ArmInfo {
        resource_group: context.group.to_owned(),
        location: change.location.unwrap_or(defaults.location),
        tags: change.tags.unwrap_or(defaults.tags),
        sku: change.sku.unwrap_or(defaults.sku),
    };
    Ok(vault)
}

/// What a PUT did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// Updated, or recovered and updated.
    Updated,
}

/// PUT in one transaction: a recovery and its property changes are one write.
pub async fn put_vault(
    registry: &VaultRegistry,
    name: &VaultName,
    change: VaultChange,
    context: Context<'_>,
) -> Result<(Arc<Vault>, PutOutcome), ManagementError> {
    let written = registry.transact(name.as_str(), |current| put(current, name, change, context)).await?;
    let outcome = if written.before.is_some() { PutOutcome::Updated } else { PutOutcome::Created };
    Ok((written.after, outcome))
}

pub async fn patch_vault(
    registry: &VaultRegistry,
    name: &str,
    change: VaultChange,
    context: Context<'_>,
) -> Result<Arc<Vault>, ManagementError> {
    let written = registry
        .transact(name, |current| {
            patch(current, change, context).map_err(|err| match err {
                ManagementError::VaultNotFound(_) => ManagementError::VaultNotFound(name.to_owned()),
                other => other,
            })
        })
        .await?;
    Ok(written.after)
}

/// DELETE: a soft delete of the vault in `group`; `false` when there was none to delete.
pub async fn delete_vault(registry: &VaultRegistry, group: &str, name: &str) -> Result<bool, ManagementError> {
    let now = registry.clock().now();
    let result = registry
        .modify(name, |vault| {
            if !vault.arm.resource_group.eq_ignore_ascii_case(group) {
                return Err(ManagementError::VaultNotFound(name.to_owned()));
            }
            if vault.name.as_str() == crate::vaults::DEFAULT_VAULT {
                return Err(ManagementError::InvalidRequest(
                    crate::messages::management::DEFAULT_VAULT_UNDELETABLE.into(),
                ));
            }
            vault.deletion = Some(crate::vaults::deletion_at(now, vault.soft_delete_retention_days));
            Ok(())
        })
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(ManagementError::VaultNotFound(_)) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Purges soft-deleted vault `name` in `location` at once; refused under purge protection.
pub async fn purge_vault(registry: &VaultRegistry, location: &str, name: &str) -> Result<(), ManagementError> {
    let found = registry.get_deleted(name).filter(|v| v.arm.location.eq_ignore_ascii_case(location));
    if found.is_none() {
        return Err(ManagementError::DeletedVaultNotFound(name.to_owned()));
    }
    registry.purge(name).await.map_err(|err| match err {
        crate::vaults::VaultError::NotFound(_) => ManagementError::DeletedVaultNotFound(name.to_owned()),
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "2023-07-01";

    fn context(group: &str) -> Context<'_> {
        Context { group, default_tenant: Uuid::from_u128(7), api_version: OLD }
    }

    fn name() -> VaultName {
        VaultName::parse("cmk").unwrap()
    }

    fn create() -> VaultChange {
        VaultChange { sku: Some("standard".into()), ..VaultChange::default() }
    }

    #[test]
    fn creation_needs_a_sku_and_takes_the_defaults() {
        assert!(matches!(
            put(None, &name(), VaultChange::default(), context("rg")),
            Err(ManagementError::InvalidRequest(_))
        ));
        let vault = put(None, &name(), create(), context("rg")).unwrap();
        assert_eq!(
            (vault.soft_delete_retention_days, vault.purge_protection, vault.rbac_authorization),
            (90, false, false)
        );
        assert_eq!((vault.tenant_id, vault.arm.resource_group.as_str()), (Uuid::from_u128(7), "rg"));
    }

    #[test]
    fn rbac_is_the_default_from_2026_02_01() {
        assert!(!rbac_by_default("2025-05-01"));
        assert!(!rbac_by_default("2024-12-01-preview"));
        assert!(rbac_by_default("2026-02-01"));
        assert!(rbac_by_default("2026-03-01-preview"));
        assert!(!rbac_by_default(""));
        let new = Context { api_version: "2026-02-01", ..context("rg") };
        assert!(put(None, &name(), create(), new).unwrap().rbac_authorization);
        let explicit = VaultChange { enable_rbac_authorization: Some(false), ..create() };
        assert!(!put(None, &name(), explicit, new).unwrap().rbac_authorization);
        let existing = put(None, &name(), create(), context("rg")).unwrap();
        assert!(!put(Some(&existing), &name(), create(), new).unwrap().rbac_authorization, "an update keeps it");
    }

    #[test]
    fn retention_and_purge_protection_follow_the_vault_rules() {
        let protected =
            VaultChange { soft_delete_retention_in_days: Some(7), enable_purge_protection: Some(true), ..create() };
        let vault = put(None, &name(), protected, context("rg")).unwrap();
        let off = VaultChange { enable_purge_protection: Some(false), ..VaultChange::default() };
        assert!(matches!(patch(Some(&vault), off, context("rg")), Err(ManagementError::Rule(_))));
        let longer = VaultChange { soft_delete_retention_in_days: Some(30), ..VaultChange::default() };
        assert!(matches!(patch(Some(&vault), longer, context("rg")), Err(ManagementError::Rule(_))));
        let too_short = VaultChange { soft_delete_retention_in_days: Some(3), ..create() };
        assert!(matches!(put(None, &name(), too_short, context("rg")), Err(ManagementError::Rule(_))));
        let no_soft_delete = VaultChange { enable_soft_delete: Some(false), ..create() };
        assert!(matches!(put(None, &name(), no_soft_delete, context("rg")), Err(ManagementError::InvalidRequest(_))));
    }

    #[test]
    fn names_are_global_and_soft_deleted_names_are_taken_until_recovered() {
        let vault = put(None, &name(), create(), context("rg")).unwrap();
        assert!(matches!(
            put(Some(&vault), &name(), create(), context("other")),
            Err(ManagementError::VaultNameInUse(_))
        ));
        let mut deleted = vault.clone();
        deleted.deletion = Some(crate::vaults::deletion_at(0, 90));
        assert!(matches!(
            put(Some(&deleted), &name(), create(), context("rg")),
            Err(ManagementError::VaultSoftDeleted(_))
        ));
        let recover = VaultChange {
            create_mode: CreateMode::Recover,
            tags: Some(BTreeMap::from([("a".into(), "b".into())])),
            ..create()
        };
        assert!(matches!(
            put(Some(&deleted), &name(), recover.clone(), context("other")),
            Err(ManagementError::DeletedVaultInOtherGroup { .. })
        ));
        let recovered = put(Some(&deleted), &name(), recover.clone(), context("rg")).unwrap();
        assert!(!recovered.is_deleted());
        assert_eq!(recovered.arm.tags["a"], "b", "the recovery and its update are one change");
        assert!(matches!(
            put(Some(&vault), &name(), recover, context("rg")),
            Err(ManagementError::DeletedVaultNotFound(_))
        ));
        assert!(matches!(CreateMode::parse(Some("restore")), Err(ManagementError::InvalidRequest(_))));
    }
}
