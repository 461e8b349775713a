//! Key versions: create, import, get, list and update.

use crate::store;
use crate::vaults::Vault;

use super::{KeyService, Page, not_found, owner, run_blocking};
use crate::keys::material::{NewMaterial, generate_material, imported_material};
use crate::keys::model::{
    Key, KeyAttributes, KeyName, KeyOperation, KeyType, KeyVersion, PublicKey, Tags, validate_tags,
};
use crate::keys::release::ReleasePolicy;
use crate::keys::requests::{AttributeChanges, CreateKeyRequest, ImportKeyRequest, UpdateKeyRequest};
use crate::keys::rules::{
    GenerationPlan, check_exportability, check_store_accepts, checked_key_ops, immutable_policy, validate_generation,
    validate_key_ops,
};
use crate::keys::{Error, Result};

/// Everything a new version is made of; `add_version` stamps `created`/`updated`, and an
/// `expires_after` (rotation's `expiryTime`) counts from that same instant.
pub(super) struct NewVersion {
    pub(super) key_type: KeyType,
    pub(super) material: NewMaterial,
    pub(super) key_ops: Vec<KeyOperation>,
    pub(super) attributes: AttributeChanges,
    pub(super) tags: Option<Tags>,
    pub(super) expires_after: Option<i64>,
    /// A policy sent with this version; `None` keeps the key's.
    pub(super) release_policy: Option<ReleasePolicy>,
}

impl KeyService {
    /// New key material: from the RSA pool when it has a key of the size, else generated (RSA on
    /// the blocking pool).
    pub(super) async fn new_material(&self, request: CreateKeyRequest) -> Result<NewMaterial> {
        let validated = validate_generation(&request)?;
        if let GenerationPlan::Rsa(bits) = validated
            && let Some(material) = self.rsa_keys.take(bits)
        {
            return Ok(NewMaterial {
                private: material.pkcs8_der,
                public: PublicKey::Rsa { n: material.n, e: material.e },
            });
        }
        match validated {
            GenerationPlan::Rsa(_) => run_blocking("key generation", move || generate_material(validated)).await,
            // EC, oct and ML-DSA keys take microseconds: the blocking pool's thread hop would cost more.
            GenerationPlan::Ec(_) | GenerationPlan::Oct(_) | GenerationPlan::MlDsa(_) => generate_material(validated),
        }
    }

    /// Creates a key, or a new current version of an existing one.
    pub async fn create_key(&self, vault: &Vault, name: &KeyName, request: CreateKeyRequest) -> Result<Key> {
        check_store_accepts(vault, request.key_type.created_as())?;
        let key_ops = checked_key_ops(request.key_ops.clone(), request.key_type, request.tags.as_ref())?;
        let material = self.new_material(request.clone()).await?;
        let version = NewVersion {
            key_type: request.key_type.created_as(),
            material,
            key_ops,
            attributes: request.attributes,
            tags: request.tags,
            expires_after: None,
            release_policy: request.release_policy,
        };
        self.add_version(vault, name, version).await
    }

    /// Imports caller-supplied key material as a new key or a new version (contract §5.2 item 2).
    pub async fn import_key(&self, vault: &Vault, name: &KeyName, request: ImportKeyRequest) -> Result<Key> {
        let (jwk, hsm) = (request.material, request.hsm);
        let (key_type, material) = run_blocking("key import", move || imported_material(&jwk, hsm)).await?;
        check_store_accepts(vault, key_type)?;
        let key_ops = checked_key_ops(request.key_ops, key_type, request.tags.as_ref())?;
        let version = NewVersion {
            key_type,
            material,
            key_ops,
            attributes: request.attributes,
            tags: request.tags,
            expires_after: None,
            release_policy: request.release_policy,
        };
        self.add_version(vault, name, version).await
    }

    /// Seals and stores new key material as the current version of `name`.
    pub(super) async fn add_version(&self, vault: &Vault, name: &KeyName, version: NewVersion) -> Result<Key> {
        let NewVersion { key_type, material, key_ops, attributes, tags, expires_after, release_policy } = version;
        let now = self.clock.now();
        let mut tx = store::begin_write(&self.pool).await?;
        let header = store::keys::find_header(&mut tx, vault.name.as_str(), name.as_str()).await?;
        if let Some(header) = header.as_ref().filter(|h| h.deleted_date.is_some()) {
            return Err(Error::DeletedButRecoverable { name: header.name.clone() });
        }
        // A new exportable version inherits the key's release policy when it names none (the
        // policy is required on the first version only).
        let stored_policy: Option<ReleasePolicy> = header
            .as_ref()
            .and_then(|h| h.release_policy.as_deref())
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| Error::Internal(format!("stored release policy: {e}")))?;
        let exportable = attributes.exportable.unwrap_or(false);
        if stored_policy.as_ref().is_some_and(|p| p.immutable) && release_policy.is_some() {
            return Err(immutable_policy());
        }
        let effective_policy = release_policy.clone().or(if exportable { stored_policy } else { None });
        check_exportability(exportable, effective_policy.is_some())?;
        // A new version keeps the spelling the key was first created with.
        let stored_name = match &header {
            Some(header) => KeyName::parse(&header.name)?,
            None => name.clone(),
        };
        let key = Key {
            name: stored_name,
            version: KeyVersion::generate(),
            key_type,
            public: material.public,
            key_ops,
            attributes: KeyAttributes {
                enabled: attributes.enabled.unwrap_or(true),
                not_before: attributes.not_before,
                expires: expires_after.map(|seconds| now.saturating_add(seconds)).or(attributes.expires),
                exportable: attributes.exportable,
                created: now,
                updated: now,
            },
            tags,
            release_policy: effective_policy,
        };
        let sealed = self.master.seal(&owner(vault, &key), &material.private)?;
        store::key_versions::insert_version(&mut tx, vault.name.as_str(), &key, &sealed).await?;
        if let Some(policy) = &release_policy {
            store::keys::set_release_policy(&mut tx, vault.name.as_str(), key.name.as_str(), Some(policy)).await?;
        }
        self.commit(tx).await?;
        Ok(key)
    }

    /// The current version of every key, ordered by name.
    pub async fn list_keys(&self, vault: &Vault, max_results: u32, after: Option<String>) -> Result<Page<Key, String>> {
        let mut conn = self.pool.acquire().await?;
        let rows = store::keys::list_current(&mut conn, vault.name.as_str(), after.as_deref(), max_results + 1).await?;
        Ok(Page::cut(rows, max_results, |k| k.name.to_string()))
    }

    /// Every version of one key, oldest first.
    pub async fn list_versions(
        &self,
        vault: &Vault,
        name: &KeyName,
        max_results: u32,
        after: Option<i64>,
    ) -> Result<Page<Key, i64>> {
        let mut conn = self.pool.acquire().await?;
        let rows =
            store::key_versions::list_versions(&mut conn, vault.name.as_str(), name.as_str(), after, max_results + 1)
                .await?;
        if rows.is_empty() && after.is_none() {
            return Err(not_found(name, None));
        }
        let page = Page::cut(rows, max_results, |(seq, _)| *seq);
        Ok(Page { items: page.items.into_iter().map(|(_, key)| key).collect(), next: page.next })
    }

    pub async fn update_key(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        request: UpdateKeyRequest,
    ) -> Result<Key> {
        let mut tx = store::begin_write(&self.pool).await?;
        let mut key = Self::find(&mut tx, vault, name, version).await?;
        let exportable = key.attributes.exportable.unwrap_or(false);
        if request.attributes.as_ref().and_then(|a| a.exportable).is_some_and(|wanted| wanted != exportable) {
            return Err(Error::BadParameter(crate::messages::keys::EXPORTABLE_IS_FIXED.into()));
        }
        if let Some(policy) = request.release_policy {
            // [unverified] text, quoted by third parties; the rule follows from the policy being
            // key-level.
            if version.is_some_and(|v| !v.is_empty()) {
                return Err(Error::BadParameter(crate::messages::keys::RELEASE_POLICY_ON_VERSIONLESS_KEY_ONLY.into()));
            }
            if key.release_policy.as_ref().is_some_and(|p| p.immutable) {
                return Err(immutable_policy());
            }
            check_exportability(exportable, true)?;
            store::keys::set_release_policy(&mut tx, vault.name.as_str(), key.name.as_str(), Some(&policy)).await?;
            key.release_policy = Some(policy);
        }
        if let Some(ops) = request.key_ops {
            validate_key_ops(&ops, key.key_type)?;
            key.key_ops = ops;
        }
        if let Some(tags) = request.tags {
            validate_tags(&tags)?;
            key.tags = Some(tags);
        }
        if let Some(changes) = request.attributes {
            let attrs = &mut key.attributes;
            attrs.enabled = changes.enabled.unwrap_or(attrs.enabled);
            attrs.not_before = changes.not_before.or(attrs.not_before);
            attrs.expires = changes.expires.or(attrs.expires);
        }
        key.attributes.updated = self.clock.now();
        store::key_versions::update_properties(&mut tx, vault.name.as_str(), &key).await?;
        self.commit(tx).await?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rsa;
    use crate::keys::algorithms::SignatureAlgorithm;
    use crate::keys::service::test_support::{ec_request, name, service};

    #[tokio::test]
    async fn versions_list_oldest_first_and_the_newest_is_current() {
        let (keys, vault) = service().await;
        let first = keys.create_key(&vault, &name("k"), ec_request()).await.unwrap();
        let second = keys.create_key(&vault, &name("K"), ec_request()).await.unwrap();
        assert_eq!(second.name.as_str(), "k", "a new version keeps the first spelling");
        assert_eq!(keys.get_key(&vault, &name("k"), None).await.unwrap().version, second.version);
        let page = keys.list_versions(&vault, &name("k"), 1, None).await.unwrap();
        assert_eq!(page.items[0].version, first.version);
        let rest = keys.list_versions(&vault, &name("k"), 1, page.next).await.unwrap();
        assert_eq!(rest.items[0].version, second.version);
        assert!(rest.next.is_none());
    }

    #[tokio::test]
    async fn rsa_creates_take_pooled_keys_of_their_size_and_generate_otherwise() {
        let (keys, vault) = service().await;
        let pooled = rsa::generate(2048).unwrap();
        keys.rsa_key_pool().insert(2048, pooled.clone());
        let rsa_request = |size| CreateKeyRequest { key_type: KeyType::Rsa, key_size: Some(size), ..ec_request() };
        let bad = keys.create_key(&vault, &name("r"), rsa_request(1024)).await;
        assert!(matches!(bad, Err(Error::BadParameter(_))));
        assert_eq!(keys.rsa_key_pool().ready().get(&2048), Some(&1), "a refused create takes nothing");
        let bigger = keys.create_key(&vault, &name("r"), rsa_request(3072)).await.unwrap();
        assert_eq!(bigger.public.key_size(), Some(3072));
        let created = keys.create_key(&vault, &name("r"), rsa_request(2048)).await.unwrap();
        assert_eq!(created.public, PublicKey::Rsa { n: pooled.n.clone(), e: pooled.e });
        let next = keys.create_key(&vault, &name("r"), rsa_request(2048)).await.unwrap();
        assert_ne!(next.public, created.public, "an empty pool falls back to generation");
        let (_, signature) = keys
            .sign(&vault, &name("r"), Some(created.version.as_str()), SignatureAlgorithm::Rs256, &[1; 32])
            .await
            .unwrap();
        assert_eq!(signature.len(), 256, "the pooled key's private part was sealed with it");
    }

    #[tokio::test]
    async fn exportability_rules_apply_on_create_update_and_new_versions() {
        let (keys, vault) = service().await;
        let policy = |immutable| {
            let data = br#"{"anyOf":[{"authority":"https://a/attestation","allOf":[{"claim":"c","equals":1}]}]}"#;
            ReleasePolicy::parse(data, None, Some(immutable)).unwrap()
        };
        let message = |result: Result<Key>| match result {
            Err(Error::BadParameter(m)) => m,
            other => panic!("expected a bad parameter, got {other:?}"),
        };
        let mut exportable = ec_request();
        exportable.attributes.exportable = Some(true);
        assert!(message(keys.create_key(&vault, &name("x"), exportable.clone()).await).starts_with("AKV.SKR.1004"));
        let mut with_policy = ec_request();
        with_policy.release_policy = Some(policy(false));
        assert!(message(keys.create_key(&vault, &name("x"), with_policy).await).starts_with("AKV.SKR.1005"));

        exportable.release_policy = Some(policy(true));
        let first = keys.create_key(&vault, &name("x"), exportable.clone()).await.unwrap();
        assert_eq!(first.release_policy, Some(policy(true)));
        exportable.release_policy = None;
        let second = keys.create_key(&vault, &name("x"), exportable.clone()).await.unwrap();
        assert_eq!(second.release_policy, Some(policy(true)), "a new exportable version inherits the policy");
        exportable.release_policy = Some(policy(false));
        assert!(message(keys.create_key(&vault, &name("x"), exportable).await).starts_with("AKV.SKR.1020"));

        let change_policy = UpdateKeyRequest { release_policy: Some(policy(false)), ..Default::default() };
        assert!(message(keys.update_key(&vault, &name("x"), None, change_policy).await).starts_with("AKV.SKR.1020"));
        let unexport = UpdateKeyRequest {
            attributes: Some(AttributeChanges { exportable: Some(false), ..Default::default() }),
            ..Default::default()
        };
        assert!(message(keys.update_key(&vault, &name("x"), None, unexport).await).starts_with("AKV.SKR.1014"));
        keys.create_key(&vault, &name("plain"), ec_request()).await.unwrap();
        let add_policy = UpdateKeyRequest { release_policy: Some(policy(false)), ..Default::default() };
        assert!(message(keys.update_key(&vault, &name("plain"), None, add_policy).await).starts_with("AKV.SKR.1005"));
        let mut mutable = ec_request();
        mutable.attributes.exportable = Some(true);
        mutable.release_policy = Some(policy(false));
        let key = keys.create_key(&vault, &name("mutable"), mutable).await.unwrap();
        let replace = || UpdateKeyRequest { release_policy: Some(policy(false)), ..Default::default() };
        let versioned = keys.update_key(&vault, &name("mutable"), Some(key.version.as_str()), replace()).await;
        assert!(message(versioned).starts_with("AKV.SKR.1016"));
        assert!(keys.update_key(&vault, &name("mutable"), None, replace()).await.is_ok());
    }
}
