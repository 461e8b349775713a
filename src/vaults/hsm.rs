//! Managed HSM: the second kind of key store. An HSM is a `Vault` whose `kind` carries this
//! state; the key code is shared and the rules that differ (key types, activation, local RBAC)
//! read it.
//!
//! Namespace: vaults and HSMs live in one table and their names are unique across both kinds
//! (Azure keeps them apart, `{name}.vault.azure.net` and `{name}.managedhsm.azure.net`, but a
//! shared namespace keeps one registry and one write path; declaring an HSM under a vault's
//! name is refused). The host decides the kind: `{name}.{vault domain}` resolves only vaults,
//! `{name}.managedhsm.{parent of the vault domain}` only HSMs.
//!
//! The state is stored as one JSON column, so fields added later (with `#[serde(default)]`)
//! need no migration.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::rbac::{AssignmentScope, RoleAssignment};

/// The ARM `sku.name` of every HSM the emulator serves.
pub const HSM_SKU: &str = "Standard_B1";

/// What kind of key store a `Vault` is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum VaultKind {
    #[default]
    Vault,
    // Boxed: an HSM's state is far larger than a vault's nothing, and every `Vault` carries a kind.
    ManagedHsm(Box<ManagedHsm>),
}

impl VaultKind {
    /// The ARM resource type segment (`Microsoft.KeyVault/{type}`).
    #[must_use]
    pub fn resource_type(&self) -> &'static str {
        match self {
            Self::Vault => "vaults",
            Self::ManagedHsm(_) => "managedHSMs",
        }
    }

    /// What the kind is called in messages.
    #[must_use]
    pub fn noun(&self) -> &'static str {
        match self {
            Self::Vault => "vault",
            Self::ManagedHsm(_) => "managed HSM",
        }
    }
}

/// The kind of a store without its state: what lookups and writes are asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    Vault,
    ManagedHsm,
}

impl VaultKind {
    #[must_use]
    pub fn flavour(&self) -> Flavour {
        match self {
            Self::Vault => Flavour::Vault,
            Self::ManagedHsm(_) => Flavour::ManagedHsm,
        }
    }
}

/// The state only a Managed HSM has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedHsm {
    /// A new HSM is not active: key operations are refused until a security domain is
    /// downloaded (or uploaded), or the HSM was declared active by flag or config file.
    #[serde(default)]
    pub activated: bool,
    /// The principals given Managed HSM Administrator at scope `/` when the HSM was created.
    #[serde(default)]
    pub initial_admin_object_ids: Vec<Uuid>,
    /// Custom role definitions of the HSM's local RBAC (built-in ones are not stored).
    #[serde(default)]
    pub role_definitions: Vec<crate::auth::local_rbac::CustomRole>,
    /// The security domain: its key once activated, the transfer key, the last outcomes.
    #[serde(default)]
    pub security_domain: crate::security_domain::SecurityDomainState,
}

impl ManagedHsm {
    /// Whether `operation` is refused now because the HSM is not activated yet.
    #[must_use]
    pub fn refuses_before_activation(&self, operation: crate::auth::table::Operation) -> bool {
        !self.activated && needs_activation(operation)
    }

    #[must_use]
    pub fn new(initial_admin_object_ids: Vec<Uuid>) -> Self {
        Self {
            activated: false,
            initial_admin_object_ids,
            role_definitions: vec![],
            security_domain: Default::default(),
        }
    }
}

/// Whether `operation` waits for the HSM's activation: everything but the security-domain
/// operations that activate it.
#[must_use]
pub fn needs_activation(operation: crate::auth::table::Operation) -> bool {
    use crate::auth::table::Operation as Op;
    !matches!(
        operation,
        Op::SecurityDomainDownload
            | Op::SecurityDomainDownloadStatus
            | Op::SecurityDomainUpload
            | Op::SecurityDomainUploadStatus
            | Op::SecurityDomainTransferKey
    )
}

/// The Administrator assignment at `/` an initial admin object id gets.
#[must_use]
pub fn initial_administrator(principal_id: Uuid) -> RoleAssignment {
    RoleAssignment {
        id: Uuid::new_v4(),
        principal_id,
        role_definition_id: crate::auth::local_rbac::ADMINISTRATOR,
        scope: AssignmentScope::Vault,
    }
}

/// The domain HSM hosts live under: `managedhsm.` + the parent of the vault domain
/// (`vault.localhost` gives `managedhsm.localhost`).
#[must_use]
pub fn hsm_domain(vault_domain: &str) -> String {
    let vault_domain = vault_domain.trim_end_matches('.').to_ascii_lowercase();
    let parent = vault_domain.split_once('.').map_or(vault_domain.as_str(), |(_, parent)| parent);
    format!("managedhsm.{parent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hsm_domain_is_a_sibling_of_the_vault_domain() {
        assert_eq!(hsm_domain("vault.localhost"), "managedhsm.localhost");
        assert_eq!(hsm_domain("kv.corp.test."), "managedhsm.corp.test");
    }

    #[test]
    fn state_written_before_a_field_existed_still_reads() {
        let hsm: ManagedHsm = serde_json::from_str(r#"{"activated":true}"#).unwrap();
        assert!(hsm.activated && hsm.initial_admin_object_ids.is_empty());
    }
}
