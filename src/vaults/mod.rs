//! Vaults: the model, the rules every way of declaring a vault obeys (command line, config file,
//! management API), and the registry every request resolves its vault through.
//!
//! This is the one home of the soft-delete retention range and of the rule that purge
//! protection, once on, stays on. Nothing here knows HTTP; the management API's wire mapping
//! lives in `api/arm`.

mod hsm;
pub mod local_rbac;
mod registry;
mod rules;
mod settings;

use uuid::Uuid;

use crate::auth::policy::AccessPolicy;
use crate::auth::rbac::RoleAssignment;

pub use hsm::{Flavour, HSM_SKU, ManagedHsm, VaultKind, hsm_domain};
pub use registry::{VaultError, VaultRegistry, Written, deletion_at};
pub use rules::{RETENTION_DAYS, VaultRule, check_retention, next_purge_protection, retention_is_fixed};
pub use settings::VaultSettings;

/// The vault every host without a vault label routes to.
pub const DEFAULT_VAULT: &str = "default";
/// The retention a vault gets when none is given, as in Azure.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// The location the emulator's resources report.
pub const DEFAULT_LOCATION: &str = "local";

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
    /// A Key Vault vault, or a Managed HSM with its own state. Both kinds share one namespace
    /// (one table, names unique across both): see `vaults::hsm`.
    pub kind: VaultKind,
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

impl Vault {
    /// A new vault with `settings`, no authorization and the default ARM properties.
    #[must_use]
    pub fn new(settings: &VaultSettings, tenant_id: Uuid) -> Self {
        Self {
            name: settings.name.clone(),
            tenant_id,
            soft_delete_retention_days: settings.soft_delete_retention_days,
            purge_protection: settings.purge_protection,
            access_policies: vec![],
            rbac_authorization: false,
            role_assignments: vec![],
            arm: ArmInfo::default(),
            deletion: None,
            kind: VaultKind::Vault,
        }
    }

    /// A new, not yet activated Managed HSM: soft delete is always on, local RBAC always decides
    /// (access policies never apply), and `initial_admin_object_ids` are its first
    /// Administrators at scope `/`.
    #[must_use]
    pub fn new_managed_hsm(settings: &VaultSettings, tenant_id: Uuid, initial_admin_object_ids: Vec<Uuid>) -> Self {
        let mut hsm = Self::new(settings, tenant_id);
        hsm.rbac_authorization = true;
        hsm.role_assignments = initial_admin_object_ids.iter().map(|&id| hsm::initial_administrator(id)).collect();
        hsm.arm.sku = hsm::HSM_SKU.to_owned();
        hsm.kind = VaultKind::ManagedHsm(Box::new(ManagedHsm::new(initial_admin_object_ids)));
        hsm
    }

    /// The Managed HSM state, if this is one.
    #[must_use]
    pub fn managed_hsm(&self) -> Option<&ManagedHsm> {
        match &self.kind {
            VaultKind::ManagedHsm(hsm) => Some(hsm),
            VaultKind::Vault => None,
        }
    }

    #[must_use]
    pub fn flavour(&self) -> Flavour {
        self.kind.flavour()
    }

    #[must_use]
    pub fn is_managed_hsm(&self) -> bool {
        self.managed_hsm().is_some()
    }

    /// The ARM resource id the emulator gives the vault or HSM (RBAC scopes and messages use it).
    #[must_use]
    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/{}/{}",
            crate::auth::identity::default_subscription(self.tenant_id),
            self.arm.resource_group,
            self.kind.resource_type(),
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

    /// The role assignments at the vault or one of its keys, without those it inherits from a
    /// subscription or resource group.
    pub fn own_role_assignments(&self) -> impl Iterator<Item = &RoleAssignment> {
        self.role_assignments.iter().filter(|a| !matches!(a.scope, crate::auth::rbac::AssignmentScope::Inherited(_)))
    }

    #[must_use]
    pub fn is_deleted(&self) -> bool {
        self.deletion.is_some()
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
    /// Sets the vault's own authorization; assignments inherited from a subscription or
    /// resource group are not the vault's to hold and are left out.
    pub fn apply_to(self, vault: &mut Vault) {
        vault.rbac_authorization = self.enable_rbac_authorization;
        vault.access_policies = self.access_policies;
        vault.role_assignments = self.role_assignments;
        vault.role_assignments.retain(|a| !matches!(a.scope, crate::auth::rbac::AssignmentScope::Inherited(_)));
    }

    /// The vault's own authorization (without inherited assignments).
    #[must_use]
    pub fn of(vault: &Vault) -> Self {
        Self {
            enable_rbac_authorization: vault.rbac_authorization,
            access_policies: vault.access_policies.clone(),
            role_assignments: vault.own_role_assignments().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(days: u32, protected: bool) -> Vault {
        let mut settings = VaultSettings::new(VaultName::parse("default").unwrap());
        settings.soft_delete_retention_days = days;
        settings.purge_protection = protected;
        Vault::new(&settings, Uuid::nil())
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
