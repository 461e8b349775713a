//! `Microsoft.KeyVault/managedHSMs` as Resource Manager manages them: create or update (PUT,
//! with `createMode: recover`), PATCH, soft delete, purge and the name check. An HSM is a
//! `Vault` of the Managed HSM kind (see `vaults::hsm`), so the retention and purge-protection
//! rules are the vaults' own; what differs is here: a SKU of the HSM family, a tenant and at
//! least one initial administrator on creation, and soft delete always on. Every operation is
//! one registry transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use super::ManagementError;
use super::vaults::{CreateMode, PutOutcome};
use crate::vaults::{
    ArmInfo, DEFAULT_RETENTION_DAYS, Flavour, Vault, VaultName, VaultRegistry, VaultSettings, check_retention,
    next_purge_protection,
};

/// The SKUs Azure offers for Managed HSM pools; all behave alike here.
pub const SKUS: [&str; 5] = ["Standard_B1", "Custom_B32", "Custom_B6", "Custom_C42", "Custom_C10"];

/// An HSM PUT or PATCH: what is absent keeps its value (or the default, on creation).
#[derive(Clone, Debug, Default)]
pub struct HsmChange {
    pub location: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub sku: Option<String>,
    pub tenant_id: Option<Uuid>,
    pub initial_admin_object_ids: Option<Vec<Uuid>>,
    pub enable_soft_delete: Option<bool>,
    pub soft_delete_retention_in_days: Option<u32>,
    pub enable_purge_protection: Option<bool>,
    pub create_mode: CreateMode,
}

fn invalid(message: impl Into<String>) -> ManagementError {
    ManagementError::InvalidRequest(message.into())
}

/// PUT: the HSM after creating, updating or recovering `current` (the HSM of that name, active
/// or soft-deleted) in resource group `group`.
pub fn put(
    current: Option<&Vault>,
    name: &VaultName,
    change: HsmChange,
    group: &str,
) -> Result<Vault, ManagementError> {
    let base = match (current, change.create_mode) {
        (Some(deleted), CreateMode::Recover) if deleted.is_deleted() => {
            if !deleted.arm.resource_group.eq_ignore_ascii_case(group) {
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
            if !active.arm.resource_group.eq_ignore_ascii_case(group) {
                return Err(ManagementError::VaultNameInUse(name.to_string()));
            }
            Some(active.clone())
        }
        (None, CreateMode::Default) => None,
    };
    apply(base.as_ref(), name, change, group)
}

/// PATCH: the active HSM `current` in `group`, with `change` applied.
pub fn patch(current: Option<&Vault>, change: HsmChange, group: &str) -> Result<Vault, ManagementError> {
    let hsm = current
        .filter(|v| !v.is_deleted() && v.arm.resource_group.eq_ignore_ascii_case(group))
        .ok_or_else(|| ManagementError::VaultNotFound(String::new()))?;
    apply(Some(hsm), &hsm.name.clone(), change, group)
}

fn apply(base: Option<&Vault>, name: &VaultName, change: HsmChange, group: &str) -> Result<Vault, ManagementError> {
    if change.enable_soft_delete == Some(false) {
        return Err(invalid(crate::messages::management::HSM_SOFT_DELETE_ALWAYS_ON));
    }
    if let Some(sku) = &change.sku
        && !SKUS.iter().any(|s| s.eq_ignore_ascii_case(sku))
    {
        return Err(invalid(crate::messages::management::invalid_hsm_sku(sku, &SKUS.join(", "))));
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
    let mut hsm = match base {
        Some(existing) => {
            let unchanged = change
                .initial_admin_object_ids
                .as_ref()
                .is_none_or(|ids| existing.managed_hsm().is_some_and(|h| &h.initial_admin_object_ids == ids));
            if !unchanged {
                return Err(invalid(crate::messages::management::HSM_ADMINS_FIXED));
            }
            if change.tenant_id.is_some_and(|t| t != existing.tenant_id) {
                return Err(invalid(crate::messages::management::HSM_TENANT_FIXED));
            }
            existing.clone()
        }
        None => {
            let tenant = change.tenant_id.ok_or_else(|| invalid(crate::messages::management::HSM_TENANT_REQUIRED))?;
            let admins = change.initial_admin_object_ids.clone().unwrap_or_default();
            if admins.is_empty() {
                return Err(invalid(crate::messages::management::HSM_ADMINS_REQUIRED));
            }
            if change.sku.is_none() {
                return Err(invalid(crate::messages::management::HSM_SKU_REQUIRED));
            }
            Vault::new_managed_hsm(&settings, tenant, admins)
        }
    };
    hsm.soft_delete_retention_days = retention;
    hsm.purge_protection = settings.purge_protection;
    let defaults = base.map(|v| v.arm.clone()).unwrap_or_else(|| hsm.arm.clone());
    hsm.arm = ArmInfo {
        resource_group: group.to_owned(),
        location: change.location.unwrap_or(defaults.location),
        tags: change.tags.unwrap_or(defaults.tags),
        sku: change.sku.map_or(defaults.sku, |s| canonical_sku(&s)),
    };
    Ok(hsm)
}

fn canonical_sku(sku: &str) -> String {
    SKUS.iter().find(|s| s.eq_ignore_ascii_case(sku)).map_or_else(|| sku.to_owned(), |s| (*s).to_owned())
}

pub async fn put_hsm(
    registry: &VaultRegistry,
    name: &VaultName,
    change: HsmChange,
    group: &str,
) -> Result<(Arc<Vault>, PutOutcome), ManagementError> {
    let written = registry.transact_hsm(name.as_str(), |current| put(current, name, change, group)).await?;
    let outcome = if written.before.is_some() { PutOutcome::Updated } else { PutOutcome::Created };
    Ok((written.after, outcome))
}

pub async fn patch_hsm(
    registry: &VaultRegistry,
    name: &str,
    change: HsmChange,
    group: &str,
) -> Result<Arc<Vault>, ManagementError> {
    let written = registry
        .transact_hsm(name, |current| {
            patch(current, change, group).map_err(|err| match err {
                ManagementError::VaultNotFound(_) => ManagementError::VaultNotFound(name.to_owned()),
                other => other,
            })
        })
        .await?;
    Ok(written.after)
}

/// DELETE: a soft delete of the HSM in `group`; `false` when there was none to delete.
pub async fn delete_hsm(registry: &VaultRegistry, group: &str, name: &str) -> Result<bool, ManagementError> {
    let now = registry.clock().now();
    let result = registry
        .transact_hsm(name, |current| {
            let mut hsm = current
                .filter(|v| !v.is_deleted() && v.arm.resource_group.eq_ignore_ascii_case(group))
                .cloned()
                .ok_or_else(|| ManagementError::VaultNotFound(name.to_owned()))?;
            hsm.deletion = Some(crate::vaults::deletion_at(now, hsm.soft_delete_retention_days));
            Ok(hsm)
        })
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(ManagementError::VaultNotFound(_)) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Purges soft-deleted HSM `name` in `location` at once; refused under purge protection.
pub async fn purge_hsm(registry: &VaultRegistry, location: &str, name: &str) -> Result<(), ManagementError> {
    let found = registry.get_deleted_hsm(name).filter(|v| v.arm.location.eq_ignore_ascii_case(location));
    let Some(hsm) = found else {
        return Err(ManagementError::DeletedVaultNotFound(name.to_owned()));
    };
    if hsm.purge_protection {
        return Err(ManagementError::PurgeProtected(name.to_owned()));
    }
    registry.purge_of(Flavour::ManagedHsm, name).await.map_err(|err| match err {
        crate::vaults::VaultError::NotFound(_) => ManagementError::DeletedVaultNotFound(name.to_owned()),
        other => other.into(),
    })
}

/// Why a name cannot be taken (`checkMhsmNameAvailability`), or `None` when it can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameUnavailable {
    Invalid,
    /// An HSM or vault (active or soft-deleted) holds it: names are one namespace here.
    AlreadyExists,
}

#[must_use]
pub fn name_availability(registry: &VaultRegistry, name: &str) -> Option<NameUnavailable> {
    if VaultName::parse(name).is_none() {
        return Some(NameUnavailable::Invalid);
    }
    let held = [Flavour::Vault, Flavour::ManagedHsm]
        .into_iter()
        .any(|kind| registry.get_of(kind, name).is_some() || registry.get_deleted_of(kind, name).is_some());
    held.then_some(NameUnavailable::AlreadyExists)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> VaultName {
        VaultName::parse("cmkhsm").unwrap()
    }

    fn admin() -> Uuid {
        Uuid::from_u128(42)
    }

    fn create() -> HsmChange {
        HsmChange {
            sku: Some("standard_b1".into()),
            tenant_id: Some(Uuid::from_u128(7)),
            initial_admin_object_ids: Some(vec![admin()]),
            ..HsmChange::default()
        }
    }

    #[test]
    fn creation_needs_sku_tenant_and_an_administrator() {
        for missing in [
            HsmChange { sku: None, ..create() },
            HsmChange { tenant_id: None, ..create() },
            HsmChange { initial_admin_object_ids: Some(vec![]), ..create() },
            HsmChange { sku: Some("standard".into()), ..create() },
            HsmChange { enable_soft_delete: Some(false), ..create() },
        ] {
            assert!(matches!(put(None, &name(), missing, "rg"), Err(ManagementError::InvalidRequest(_))));
        }
        let hsm = put(None, &name(), create(), "rg").unwrap();
        let state = hsm.managed_hsm().expect("a managed HSM");
        assert!(!state.activated, "a new HSM waits for its security domain");
        assert_eq!(state.initial_admin_object_ids, vec![admin()]);
        assert_eq!(
            (hsm.arm.sku.as_str(), hsm.soft_delete_retention_days, hsm.purge_protection),
            ("Standard_B1", 90, false)
        );
    }

    #[test]
    fn purge_protection_and_retention_follow_the_vault_rules() {
        let protected =
            HsmChange { soft_delete_retention_in_days: Some(7), enable_purge_protection: Some(true), ..create() };
        let hsm = put(None, &name(), protected, "rg").unwrap();
        let off = HsmChange { enable_purge_protection: Some(false), ..HsmChange::default() };
        assert!(matches!(patch(Some(&hsm), off, "rg"), Err(ManagementError::Rule(_))));
        let longer = HsmChange { soft_delete_retention_in_days: Some(30), ..HsmChange::default() };
        assert!(matches!(patch(Some(&hsm), longer, "rg"), Err(ManagementError::Rule(_))));
        let admins = HsmChange { initial_admin_object_ids: Some(vec![Uuid::from_u128(1)]), ..HsmChange::default() };
        assert!(matches!(patch(Some(&hsm), admins, "rg"), Err(ManagementError::InvalidRequest(_))));
        let tags = HsmChange { tags: Some(BTreeMap::from([("a".into(), "b".into())])), ..HsmChange::default() };
        assert_eq!(patch(Some(&hsm), tags, "rg").unwrap().arm.tags["a"], "b");
        assert!(matches!(patch(Some(&hsm), HsmChange::default(), "other"), Err(ManagementError::VaultNotFound(_))));
    }

    #[test]
    fn a_soft_deleted_hsm_is_recovered_by_a_put_in_its_group() {
        let mut deleted = put(None, &name(), create(), "rg").unwrap();
        deleted.deletion = Some(crate::vaults::deletion_at(0, 90));
        assert!(matches!(put(Some(&deleted), &name(), create(), "rg"), Err(ManagementError::VaultSoftDeleted(_))));
        let recover = HsmChange { create_mode: CreateMode::Recover, ..HsmChange::default() };
        assert!(matches!(
            put(Some(&deleted), &name(), recover.clone(), "other"),
            Err(ManagementError::DeletedVaultInOtherGroup { .. })
        ));
        let recovered = put(Some(&deleted), &name(), recover.clone(), "rg").unwrap();
        assert!(!recovered.is_deleted() && recovered.is_managed_hsm());
        assert!(matches!(put(None, &name(), recover, "rg"), Err(ManagementError::DeletedVaultNotFound(_))));
    }
}
