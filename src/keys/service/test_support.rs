//! What the service's unit tests share: a service over an in-memory store with one vault.

use std::sync::Arc;

use super::KeyService;
use crate::clock::Clock;
use crate::crypto::sealing::MasterKey;
use crate::keys::model::{KeyName, KeyType};
use crate::keys::pool::RsaKeyPool;
use crate::keys::requests::{AttributeChanges, CreateKeyRequest};
use crate::keys::version_cache::VersionCache;
use crate::store;
use crate::vaults::{Vault, VaultName};

pub(crate) async fn service() -> (KeyService, Vault) {
    let pool = store::open(None).await.unwrap();
    let clock = Clock::new();
    let versions = Arc::new(VersionCache::default());
    let registry = crate::vaults::VaultRegistry::load(pool.clone(), clock.clone(), versions.clone()).await.unwrap();
    let vault = registry
        .create(Vault {
            name: VaultName::parse("default").unwrap(),
            tenant_id: uuid::Uuid::nil(),
            soft_delete_retention_days: 90,
            purge_protection: false,
            access_policies: vec![],
            rbac_authorization: false,
            role_assignments: vec![],
            arm: crate::vaults::ArmInfo::default(),
            deletion: None,
            kind: crate::vaults::VaultKind::Vault,
        })
        .await
        .unwrap();
    let master = Arc::new(MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap());
    (KeyService::new(pool, clock, master, RsaKeyPool::new(Default::default()), versions), (*vault).clone())
}

pub(crate) fn ec_request() -> CreateKeyRequest {
    CreateKeyRequest {
        key_type: KeyType::Ec,
        key_size: None,
        public_exponent: None,
        curve: None,
        ml_dsa: None,
        key_ops: None,
        attributes: AttributeChanges::default(),
        tags: None,
        release_policy: None,
    }
}

pub(crate) fn name(text: &str) -> KeyName {
    KeyName::parse(text).unwrap()
}
