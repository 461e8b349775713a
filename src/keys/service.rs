//! The keys service: create, read, list, update and the cryptographic operations, each one
//! load → check lifecycle → act → persist, with write transactions opened here.

use std::sync::Arc;

use crate::clock::{Clock, UnixSeconds};
use crate::crypto::ec::{self, Curve};
use crate::crypto::mldsa::{self, MlDsa};
use crate::crypto::sealing::MasterKey;
use crate::crypto::{aes, rsa, rsa_unhashed};
use crate::store::{self, Pool};
use crate::vaults::Vault;

use super::algorithms::{CipherScheme, SignatureScheme, cipher_scheme, signature_scheme};
pub use super::algorithms::{EncryptionAlgorithm, SignatureAlgorithm};
use super::backup::KeyBackup;
pub use super::cipher::{CipherInput, CipherOutput};
use super::cipher::{symmetric_decrypt, symmetric_encrypt};
use super::lifecycle::check_operation;
use super::model::{
    DeletedKey, Key, KeyAttributes, KeyFamily, KeyName, KeyOperation, KeyType, KeyVersion, PublicKey, Tags,
    default_key_ops, validate_tags,
};
use super::pool::RsaKeyPool;
use super::release::{ReleasePolicy, ReleaseWrapping, WrappingKey, wrap_for_release, wrapping_key};
use super::rotation::RotationPolicy;
use super::unsealed::{Unsealed, UnsealedCache};
use super::version_cache::{self, Version, VersionCache};
use super::{Error, Result};

/// Writable attributes in a create or update request; `None` leaves a value as it is (or at
/// its default on create).
#[derive(Clone, Debug, Default)]
pub struct AttributeChanges {
    pub enabled: Option<bool>,
    pub not_before: Option<UnixSeconds>,
    pub expires: Option<UnixSeconds>,
    pub exportable: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct CreateKeyRequest {
    pub key_type: KeyType,
    pub key_size: Option<u32>,
    pub public_exponent: Option<u32>,
    pub curve: Option<Curve>,
    /// The parameter set of an AKP key (its `alg`).
    pub ml_dsa: Option<MlDsa>,
    pub key_ops: Option<Vec<KeyOperation>>,
    pub attributes: AttributeChanges,
    pub tags: Option<Tags>,
    pub release_policy: Option<ReleasePolicy>,
}

/// The private members of an imported JWK, checked present by the wire layer.
#[derive(Clone, Debug)]
pub enum PrivateJwk {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Vec<u8>,
        p: Vec<u8>,
        q: Vec<u8>,
        dp: Vec<u8>,
        dq: Vec<u8>,
        qi: Vec<u8>,
    },
    /// Only the private exponent: the CRT members are derived at import.
    RsaWithoutCrt {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Vec<u8>,
    },
    /// A PKCS#8 `PrivateKeyInfo` (from a PEM file): RSA, or EC on any supported curve.
    Pkcs8 {
        der: Vec<u8>,
    },
    Ec {
        curve: Curve,
        d: Vec<u8>,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Oct {
        k: Vec<u8>,
    },
}

#[derive(Clone, Debug)]
pub struct ImportKeyRequest {
    pub material: PrivateJwk,
    /// The `Hsm` flag: report the key as `RSA-HSM`/`EC-HSM`/`oct-HSM`.
    pub hsm: bool,
    pub key_ops: Option<Vec<KeyOperation>>,
    pub attributes: AttributeChanges,
    pub tags: Option<Tags>,
    pub release_policy: Option<ReleasePolicy>,
}

/// Patch semantics: each present field replaces the stored one whole (contract §5.2 item 4).
#[derive(Clone, Debug, Default)]
pub struct UpdateKeyRequest {
    pub key_ops: Option<Vec<KeyOperation>>,
    pub attributes: Option<AttributeChanges>,
    pub tags: Option<Tags>,
    pub release_policy: Option<ReleasePolicy>,
}

/// A released key: the version, and its private material wrapped for the caller's key.
#[derive(Debug)]
pub struct ReleasedKey {
    pub key: Key,
    pub wrapped_for: WrappingKey,
    pub wrapping: ReleaseWrapping,
    pub ciphertext: Vec<u8>,
}

/// What a pass of [`KeyService::run_due`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DueWork {
    pub purged: usize,
    pub rotated: usize,
    /// Soft-deleted vaults purged (set by the caller that also purges vaults).
    pub purged_vaults: usize,
}

/// One page of a listing and the marker to continue after, if there is more.
#[derive(Debug)]
pub struct Page<T, M> {
    pub items: Vec<T>,
    pub next: Option<M>,
}

impl<T, M> Page<T, M> {
    /// Cuts a page from rows fetched one past `max_results`: the extra row only says that
    /// there is more, and the last kept row gives the marker to continue after.
    fn cut(mut rows: Vec<T>, max_results: u32, marker: impl FnOnce(&T) -> M) -> Self {
        let max = max_results as usize;
        let next = if rows.len() > max {
            rows.truncate(max);
            rows.last().map(marker)
        } else {
            None
        };
        Self { items: rows, next }
    }
}

#[derive(Clone)]
pub struct KeyService {
    pool: Pool,
    clock: Clock,
    master: Arc<MasterKey>,
    rsa_keys: Arc<RsaKeyPool>,
    /// One pass of due work at a time: the sweep and a clock move must not both rotate a key.
    due_work: Arc<tokio::sync::Mutex<()>>,
    unsealed: Arc<UnsealedCache>,
    versions: Arc<VersionCache>,
}

fn owner(vault: &Vault, key: &Key) -> String {
    format!("{}/{}/{}", vault.name, key.name.as_str().to_ascii_lowercase(), key.version)
}

/// The owner prefix of every version of `name`, for forgetting a purged key.
fn owner_prefix(vault: &str, name: &str) -> String {
    format!("{vault}/{}/", name.to_ascii_lowercase())
}

fn not_found(name: &KeyName, version: Option<&str>) -> Error {
    Error::KeyNotFound { name: name.to_string(), version: version.map(str::to_owned) }
}

fn immutable_policy() -> Error {
    Error::BadParameter("AKV.SKR.1020: Immutable Key Release Policy cannot be modified.".into())
}

/// Exportable keys and release policies go together (contract §5.2; texts as the real service
/// sends them, with their AKV.SKR codes).
fn check_exportability(exportable: bool, has_release_policy: bool) -> Result<()> {
    match (exportable, has_release_policy) {
        (true, false) => Err(Error::BadParameter("AKV.SKR.1004: Exportable keys must have release policy.".into())),
        (false, true) => {
            Err(Error::BadParameter("AKV.SKR.1005: Non-exportable keys must not have release policy.".into()))
        }
        _ => Ok(()),
    }
}

fn validate_key_ops(ops: &[KeyOperation], key_type: KeyType) -> Result<()> {
    match ops.iter().find(|op| !op.supported_by(key_type.family())) {
        Some(op) => Err(Error::BadParameter(format!(
            "The key operation '{}' is not supported by key type {}.",
            op.as_str(),
            key_type.as_str()
        ))),
        None => Ok(()),
    }
}

/// Everything a new version is made of; `add_version` stamps `created`/`updated`, and an
/// `expires_after` (rotation's `expiryTime`) counts from that same instant.
struct NewVersion {
    key_type: KeyType,
    material: NewMaterial,
    key_ops: Vec<KeyOperation>,
    attributes: AttributeChanges,
    tags: Option<Tags>,
    expires_after: Option<i64>,
    /// A policy sent with this version; `None` keeps the key's.
    release_policy: Option<ReleasePolicy>,
}

/// Generated or imported material: what gets sealed (PKCS#8 DER for RSA and EC, the raw key
/// for `oct`) and the public JWK members.
struct NewMaterial {
    private: Vec<u8>,
    public: PublicKey,
}

/// The key_ops a new version gets (the request's, or the type's defaults), once they and
/// the tags are valid.
fn checked_key_ops(
    requested: Option<Vec<KeyOperation>>,
    key_type: KeyType,
    tags: Option<&Tags>,
) -> Result<Vec<KeyOperation>> {
    let key_ops = requested.unwrap_or_else(|| default_key_ops(key_type.family()));
    validate_key_ops(&key_ops, key_type)?;
    if let Some(tags) = tags {
        validate_tags(tags)?;
    }
    Ok(key_ops)
}

/// Runs CPU-heavy crypto (key generation, private-key operations: milliseconds at 4096 bits)
/// on the blocking pool, off the async workers.
async fn run_blocking<T: Send + 'static, E: Into<Error> + Send + 'static>(
    what: &str,
    work: impl FnOnce() -> std::result::Result<T, E> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("{what} task failed: {e}")))?
        .map_err(Into::into)
}

/// The largest RSA key whose private operations run on the async worker itself. RSA-2048
/// takes a few hundred microseconds, as much as the RSA signature of every TLS handshake, which
/// rustls also makes there; sending it to the blocking pool and back cost about a tenth of the
/// operation again in thread switches. Larger keys take milliseconds and still go to the pool.
const INLINE_RSA_BITS: u32 = 2048;

/// Runs a private-key operation with `key`: inline when it is quick, else on the blocking pool.
async fn run_private_op<T: Send + 'static>(
    key: &Key,
    what: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let slow =
        matches!(key.public, PublicKey::Rsa { .. }) && key.public.key_size().is_some_and(|b| b > INLINE_RSA_BITS);
    if slow { run_blocking(what, work).await } else { work() }
}

/// What a create will generate, once its parameters are checked.
#[derive(Clone, Copy, Debug)]
enum GenerationPlan {
    Rsa(u32),
    Ec(Curve),
    Oct(u32),
    MlDsa(MlDsa),
}

fn validate_generation(request: &CreateKeyRequest) -> Result<GenerationPlan> {
    match request.key_type.family() {
        KeyFamily::Rsa => {
            let bits = request.key_size.unwrap_or(2048);
            if !rsa::SUPPORTED_SIZES.contains(&bits) {
                return Err(Error::BadParameter(format!(
                    "The RSA key size {bits} is not supported. Supported sizes: 2048, 3072, 4096."
                )));
            }
            if let Some(e) = request.public_exponent.filter(|e| *e != 65537) {
                return Err(Error::BadParameter(format!(
                    "The public exponent {e} is not supported. Supported public exponent: 65537."
                )));
            }
            Ok(GenerationPlan::Rsa(bits))
        }
        KeyFamily::Ec => Ok(GenerationPlan::Ec(request.curve.unwrap_or(Curve::P256))),
        KeyFamily::Oct => {
            let bits = request.key_size.unwrap_or(256);
            if !OCT_KEY_SIZES.contains(&bits) {
                return Err(Error::BadParameter(format!(
                    "The oct key size {bits} is not supported. Supported sizes: 128, 192, 256."
                )));
            }
            Ok(GenerationPlan::Oct(bits))
        }
        KeyFamily::Akp => request.ml_dsa.map(GenerationPlan::MlDsa).ok_or_else(|| {
            Error::BadParameter(
                "The 'alg' parameter is required for AKP keys: ML-DSA-44, ML-DSA-65 or ML-DSA-87.".into(),
            )
        }),
    }
}

fn generate_material(plan: GenerationPlan) -> Result<NewMaterial> {
    match plan {
        GenerationPlan::Rsa(bits) => {
            let material = rsa::generate(bits)?;
            Ok(NewMaterial { private: material.pkcs8_der, public: PublicKey::Rsa { n: material.n, e: material.e } })
        }
        GenerationPlan::Ec(curve) => {
            let material = ec::generate(curve)?;
            Ok(NewMaterial {
                private: material.pkcs8_der,
                public: PublicKey::Ec { curve: material.curve, x: material.x, y: material.y },
            })
        }
        GenerationPlan::Oct(bits) => {
            Ok(NewMaterial { private: aes::generate(bits)?, public: PublicKey::Symmetric { bits } })
        }
        GenerationPlan::MlDsa(algorithm) => {
            let material = mldsa::generate(algorithm)?;
            Ok(NewMaterial {
                private: material.pkcs8_der,
                public: PublicKey::Akp { algorithm, public: material.public },
            })
        }
    }
}

/// AES key sizes an `oct` key may have (contract §8).
const OCT_KEY_SIZES: [u32; 3] = [128, 192, 256];

/// The public key an import of `jwk` would store (the fuzz targets check import with it).
#[cfg(feature = "fuzzing")]
pub(crate) fn imported_public_key(jwk: &PrivateJwk, hsm: bool) -> Result<PublicKey> {
    imported_material(jwk, hsm).map(|(_, material)| material.public)
}

/// The material of an imported JWK and the key type it becomes (`Hsm` asks for the -HSM type).
fn imported_material(jwk: &PrivateJwk, hsm: bool) -> Result<(KeyType, NewMaterial)> {
    let pick = |soft: KeyType, hard: KeyType| if hsm { hard } else { soft };
    match jwk {
        PrivateJwk::Rsa { n, e, d, p, q, dp, dq, qi } => {
            let imported = rsa::import(&rsa::RsaPrivateComponents { n, e, d, p, q, dp, dq, qi })?;
            let public = PublicKey::Rsa { n: imported.n, e: imported.e };
            Ok((pick(KeyType::Rsa, KeyType::RsaHsm), NewMaterial { private: imported.pkcs8_der, public }))
        }
        PrivateJwk::RsaWithoutCrt { n, e, d } => {
            let imported = rsa::complete_from_d(n, e, d)?;
            let public = PublicKey::Rsa { n: imported.n, e: imported.e };
            Ok((pick(KeyType::Rsa, KeyType::RsaHsm), NewMaterial { private: imported.pkcs8_der, public }))
        }
        PrivateJwk::Pkcs8 { der } => {
            if let Ok(rsa_key) = rsa::material_from_pkcs8(der) {
                let bits = crate::crypto::trim_leading_zeros(&rsa_key.n).len() * 8;
                if !rsa::SUPPORTED_SIZES.iter().any(|s| *s as usize == bits) {
                    return Err(Error::BadParameter(format!(
                        "The RSA key is {bits} bits; Key Vault imports RSA keys of 2048, 3072 or 4096 bits."
                    )));
                }
                let public = PublicKey::Rsa { n: rsa_key.n, e: rsa_key.e };
                return Ok((pick(KeyType::Rsa, KeyType::RsaHsm), NewMaterial { private: rsa_key.pkcs8_der, public }));
            }
            let ec_key =
                Curve::ALL.iter().find_map(|curve| ec::material_from_pkcs8(*curve, der).ok()).ok_or_else(|| {
                    Error::BadParameter(
                        "The PKCS#8 key is neither an RSA key nor an EC key on P-256, P-384, P-521 or P-256K.".into(),
                    )
                })?;
            let public = PublicKey::Ec { curve: ec_key.curve, x: ec_key.x, y: ec_key.y };
            Ok((pick(KeyType::Ec, KeyType::EcHsm), NewMaterial { private: ec_key.pkcs8_der, public }))
        }
        PrivateJwk::Ec { curve, d, x, y } => {
            let imported = ec::import(*curve, d, x, y)?;
            let public = PublicKey::Ec { curve: imported.curve, x: imported.x, y: imported.y };
            Ok((pick(KeyType::Ec, KeyType::EcHsm), NewMaterial { private: imported.pkcs8_der, public }))
        }
        PrivateJwk::Oct { k } => {
            let bits = u32::try_from(k.len() * 8).unwrap_or(u32::MAX);
            if !OCT_KEY_SIZES.contains(&bits) {
                return Err(Error::BadParameter(format!(
                    "The oct key to import is {} bytes long; oct keys are 16, 24 or 32 bytes (128, 192 or 256 bits).",
                    k.len()
                )));
            }
            let public = PublicKey::Symmetric { bits };
            Ok((pick(KeyType::Oct, KeyType::OctHsm), NewMaterial { private: k.clone(), public }))
        }
    }
}

impl KeyService {
    #[must_use]
    pub fn new(
        pool: Pool,
        clock: Clock,
        master: Arc<MasterKey>,
        rsa_keys: RsaKeyPool,
        versions: Arc<VersionCache>,
    ) -> Self {
        Self {
            pool,
            clock,
            master,
            rsa_keys: Arc::new(rsa_keys),
            due_work: Arc::default(),
            unsealed: Arc::default(),
            versions,
        }
    }

    /// Commits a write to keys; what lookups kept from before it is forgotten.
    async fn commit(&self, tx: sqlx::Transaction<'static, sqlx::Sqlite>) -> Result<()> {
        let committed = tx.commit().await;
        self.versions.invalidate();
        Ok(committed?)
    }

    /// The emulator clock's now, for the capability modules beside this one.
    pub(super) fn clock_now(&self) -> UnixSeconds {
        self.clock.now()
    }

    /// The pre-generated RSA keys (for the benchmark, metrics and tests).
    #[must_use]
    pub fn rsa_key_pool(&self) -> &RsaKeyPool {
        &self.rsa_keys
    }

    /// New key material: from the RSA pool when it has a key of the size, else generated (RSA on
    /// the blocking pool).
    async fn new_material(&self, request: CreateKeyRequest) -> Result<NewMaterial> {
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
    async fn add_version(&self, vault: &Vault, name: &KeyName, version: NewVersion) -> Result<Key> {
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
        store::keys::insert_version(&mut tx, vault.name.as_str(), &key, &sealed).await?;
        if let Some(policy) = &release_policy {
            store::keys::set_release_policy(&mut tx, vault.name.as_str(), key.name.as_str(), Some(policy)).await?;
        }
        self.commit(tx).await?;
        Ok(key)
    }

    /// A key version; `None` (or an empty path segment) means the current version.
    /// Answered from the version cache when it holds the lookup: this is the hot path of every
    /// key operation.
    pub async fn get_key(&self, vault: &Vault, name: &KeyName, version: Option<&str>) -> Result<Key> {
        Ok(self.version(vault, name, version).await?.key.clone())
    }

    /// [`KeyService::get_key`] with the parsed forms the cache keeps.
    async fn version(&self, vault: &Vault, name: &KeyName, version: Option<&str>) -> Result<Arc<Version>> {
        let parsed = Self::parse_version(name, version)?;
        let lookup = version_cache::lookup(vault.name.as_str(), name.as_str(), parsed.as_ref().map(KeyVersion::as_str));
        if let Some(found) = self.versions.get(&lookup) {
            return Ok(found);
        }
        let read_at = self.versions.generation();
        let mut conn = self.pool.acquire().await?;
        let key = Self::find_parsed(&mut conn, vault, name, parsed.as_ref())
            .await?
            .ok_or_else(|| not_found(name, version.filter(|v| !v.is_empty())))?;
        let found = Arc::new(Version::new(key));
        self.versions.keep(read_at, lookup, found.clone());
        Ok(found)
    }

    /// The version a path segment names; `None` (or an empty segment) for the current one.
    fn parse_version(name: &KeyName, version: Option<&str>) -> Result<Option<KeyVersion>> {
        match version.filter(|v| !v.is_empty()) {
            Some(text) => KeyVersion::parse(text).map(Some).ok_or_else(|| not_found(name, Some(text))),
            None => Ok(None),
        }
    }

    /// A version read from the store (inside write transactions, which must see their own state).
    async fn find(conn: &mut store::Conn, vault: &Vault, name: &KeyName, version: Option<&str>) -> Result<Key> {
        let parsed = Self::parse_version(name, version)?;
        Self::find_parsed(conn, vault, name, parsed.as_ref())
            .await?
            .ok_or_else(|| not_found(name, version.filter(|v| !v.is_empty())))
    }

    async fn find_parsed(
        conn: &mut store::Conn,
        vault: &Vault,
        name: &KeyName,
        parsed: Option<&KeyVersion>,
    ) -> Result<Option<Key>> {
        Ok(store::keys::find_active_version(conn, vault.name.as_str(), name.as_str(), parsed.map(KeyVersion::as_str))
            .await?)
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
            store::keys::list_versions(&mut conn, vault.name.as_str(), name.as_str(), after, max_results + 1).await?;
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
            return Err(Error::BadParameter("AKV.SKR.1014: Cannot modify the exportable state of a key.".into()));
        }
        if let Some(policy) = request.release_policy {
            // [unverified] text, quoted by third parties; the rule follows from the policy being
            // key-level.
            if version.is_some_and(|v| !v.is_empty()) {
                return Err(Error::BadParameter(
                    "AKV.SKR.1016: Key Release Policy can only be set on versionless key".into(),
                ));
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
        store::keys::update_properties(&mut tx, vault.name.as_str(), &key).await?;
        self.commit(tx).await?;
        Ok(key)
    }

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

    /// Every version of a key, private material included, sealed into an opaque blob.
    pub async fn backup_key(&self, vault: &Vault, name: &KeyName) -> Result<Vec<u8>> {
        let mut conn = self.pool.acquire().await?;
        let current = Self::find(&mut conn, vault, name, None).await?;
        let sealed_versions =
            store::keys::versions_with_material(&mut conn, vault.name.as_str(), current.name.as_str()).await?;
        drop(conn);
        let mut versions = Vec::with_capacity(sealed_versions.len());
        for (key, sealed) in sealed_versions {
            let pkcs8 = self.master.open(&owner(vault, &key), &sealed)?;
            versions.push((key, pkcs8));
        }
        KeyBackup {
            release_policy: current.release_policy,
            name: current.name,
            current_version: current.version,
            versions,
        }
        .seal(&self.master, vault.tenant_id)
    }

    /// Restores a backup with the same version ids into `vault`; the name must be free, neither
    /// in use nor soft-deleted (contract §5.2 item 13).
    pub async fn restore_key(&self, vault: &Vault, blob: &[u8]) -> Result<Key> {
        let backup = KeyBackup::open(blob, &self.master, vault.tenant_id)?;
        let mut tx = store::begin_write(&self.pool).await?;
        if store::keys::find_header(&mut tx, vault.name.as_str(), backup.name.as_str()).await?.is_some() {
            return Err(Error::RestoreConflict {
                name: backup.name.to_string(),
                version: backup.current_version.to_string(),
            });
        }
        let mut current = None;
        for (key, pkcs8) in &backup.versions {
            let sealed = self.master.seal(&owner(vault, key), pkcs8)?;
            store::keys::insert_version(&mut tx, vault.name.as_str(), key, &sealed).await?;
            if key.version == backup.current_version {
                current = Some(key.clone());
            }
        }
        store::keys::set_release_policy(
            &mut tx,
            vault.name.as_str(),
            backup.name.as_str(),
            backup.release_policy.as_ref(),
        )
        .await?;
        store::keys::set_current_version(
            &mut tx,
            vault.name.as_str(),
            backup.name.as_str(),
            backup.current_version.as_str(),
        )
        .await?;
        self.commit(tx).await?;
        current.ok_or_else(|| Error::Internal("restored backup lost its current version".into()))
    }

    /// The key's rotation policy, or the default one when none was set.
    pub async fn get_rotation_policy(&self, vault: &Vault, name: &KeyName) -> Result<RotationPolicy> {
        let mut conn = self.pool.acquire().await?;
        Self::stored_policy(&mut conn, vault, name).await.map(|p| p.unwrap_or_else(RotationPolicy::default_policy))
    }

    async fn stored_policy(conn: &mut store::Conn, vault: &Vault, name: &KeyName) -> Result<Option<RotationPolicy>> {
        let stored = store::keys::rotation_policy(conn, vault.name.as_str(), name.as_str())
            .await?
            .ok_or_else(|| not_found(name, None))?;
        stored
            .map(|json| {
                serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored rotation policy: {e}")))
            })
            .transpose()
    }

    /// Replaces the key's rotation policy (PUT is a full replace).
    pub async fn set_rotation_policy(
        &self,
        vault: &Vault,
        name: &KeyName,
        policy: RotationPolicy,
    ) -> Result<RotationPolicy> {
        let mut tx = store::begin_write(&self.pool).await?;
        let previous = Self::stored_policy(&mut tx, vault, name).await?;
        let policy = policy.normalized(previous.as_ref(), self.clock.now())?;
        let json = serde_json::to_string(&policy).map_err(|e| Error::Internal(format!("rotation policy: {e}")))?;
        let key = Self::find(&mut tx, vault, name, None).await?;
        store::keys::set_rotation_policy(&mut tx, vault.name.as_str(), key.name.as_str(), &json).await?;
        self.commit(tx).await?;
        Ok(policy)
    }

    /// A new version with the current one's type, size or curve, key_ops and tags; its expiry
    /// follows the policy's `expiryTime`.
    pub async fn rotate_key(&self, vault: &Vault, name: &KeyName) -> Result<Key> {
        let (current, policy) = {
            let mut conn = self.pool.acquire().await?;
            let current = Self::find(&mut conn, vault, name, None).await?;
            let policy = Self::stored_policy(&mut conn, vault, name).await?;
            (current, policy)
        };
        let request = CreateKeyRequest {
            key_type: current.key_type,
            key_size: current.public.key_size(),
            public_exponent: None,
            curve: current.public.curve(),
            ml_dsa: current.public.ml_dsa(),
            key_ops: None,
            attributes: AttributeChanges::default(),
            tags: None,
            release_policy: None,
        };
        let material = self.new_material(request).await?;
        let version = NewVersion {
            key_type: current.key_type,
            material,
            key_ops: current.key_ops,
            attributes: AttributeChanges::default(),
            tags: current.tags,
            // Relative to the new version's `created`, which add_version stamps.
            expires_after: policy.as_ref().and_then(RotationPolicy::expiry_seconds),
            release_policy: None,
        };
        self.add_version(vault, &current.name, version).await
    }

    /// Rotates every key of `vaults` whose policy's Rotate trigger the emulator clock has
    /// reached. Returns how many keys were rotated.
    pub async fn rotate_due(&self, vaults: &[Arc<Vault>]) -> Result<usize> {
        let now = self.clock.now();
        let mut rotated = 0;
        for vault in vaults {
            let candidates = {
                let mut conn = self.pool.acquire().await?;
                store::keys::keys_with_rotation_policy(&mut conn, vault.name.as_str()).await?
            };
            for (name, json) in candidates {
                let Ok(policy) = serde_json::from_str::<RotationPolicy>(&json) else { continue };
                let name = KeyName::parse(&name)?;
                let current = self.get_key(vault, &name, None).await?;
                if policy.rotation_due(&current, now) {
                    self.rotate_key(vault, &name).await?;
                    tracing::info!(vault = %vault.name, key = %name, "rotated a key by its rotation policy");
                    rotated += 1;
                }
            }
        }
        Ok(rotated)
    }

    /// Everything that becomes due as the clock moves: scheduled purges, then policy rotations.
    pub async fn run_due(&self, vaults: &[Arc<Vault>]) -> Result<DueWork> {
        let _one_at_a_time = self.due_work.lock().await;
        let purged = self.purge_due().await?;
        let rotated = self.rotate_due(vaults).await?;
        Ok(DueWork { purged, rotated, purged_vaults: 0 })
    }

    /// A version ready for a private-key operation: found, allowed by its lifecycle, accepted
    /// by `fits` (the algorithm against the key), and its material unsealed.
    pub(super) async fn unsealed_for<T>(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        operation: KeyOperation,
        fits: impl FnOnce(&Key) -> Result<T>,
    ) -> Result<(Key, T, Arc<Unsealed>)> {
        // The unwrap hot path: once both caches hold the version, no store read at all.
        let key = self.get_key(vault, name, version).await?;
        check_operation(&key, operation, self.clock.now())?;
        let fitted = fits(&key)?;
        let owner = owner(vault, &key);
        let private = match self.unsealed.get(&owner) {
            Some(private) => private,
            None => {
                let material = self.private_material(vault, &key).await?;
                self.unsealed.insert(owner, Unsealed::new(material))
            }
        };
        Ok((key, fitted, private))
    }

    /// The unsealed private material of one version: PKCS#8 DER, or the raw `oct` key.
    async fn private_material(&self, vault: &Vault, key: &Key) -> Result<Vec<u8>> {
        let mut conn = self.pool.acquire().await?;
        self.open_private_material(&mut conn, vault, key).await
    }

    async fn open_private_material(&self, conn: &mut store::Conn, vault: &Vault, key: &Key) -> Result<Vec<u8>> {
        let sealed =
            store::keys::sealed_private_key(conn, vault.name.as_str(), key.name.as_str(), key.version.as_str())
                .await?
                .ok_or_else(|| not_found(&key.name, Some(key.version.as_str())))?;
        Ok(self.master.open(&owner(vault, key), &sealed)?)
    }

    /// Signs a caller-computed digest (for RSNULL, the raw value) with the key's private part.
    pub async fn sign(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: SignatureAlgorithm,
        digest: &[u8],
    ) -> Result<(Key, Vec<u8>)> {
        let (key, scheme, private) =
            self.unsealed_for(vault, name, version, KeyOperation::Sign, |key| signature_scheme(algorithm, key)).await?;
        let digest = digest.to_vec();
        let signature = run_private_op(&key, "signing", move || match scheme {
            SignatureScheme::Rsa(padding, hash) => {
                Ok(rsa::sign_digest_with(private.rsa_signing()?, padding, hash, &digest)?)
            }
            SignatureScheme::RsaUnhashed => Ok(rsa_unhashed::sign(private.material(), &digest)?),
            SignatureScheme::Ec(curve) => Ok(ec::sign_digest(curve, private.material(), &digest)?),
            SignatureScheme::Hmac(hash) => Ok(aes::hmac_sign(private.material(), hash, &digest)?),
        })
        .await?;
        Ok((key, signature))
    }

    /// Verifies a signature over a digest: `false` for a bad signature, never an error
    /// (contract §5 items 14–19). Asymmetric keys verify with the public part; HMAC needs the
    /// key itself.
    pub async fn verify(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        algorithm: SignatureAlgorithm,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let key = self.get_key(vault, name, version).await?;
        check_operation(&key, KeyOperation::Verify, self.clock.now())?;
        let valid = match (signature_scheme(algorithm, &key)?, &key.public) {
            (SignatureScheme::Rsa(padding, hash), PublicKey::Rsa { n, e }) => {
                rsa::verify_digest(n, e, padding, hash, digest, signature)?
            }
            (SignatureScheme::RsaUnhashed, PublicKey::Rsa { n, e }) => rsa_unhashed::verify(n, e, digest, signature)?,
            (SignatureScheme::Ec(curve), PublicKey::Ec { x, y, .. }) => {
                ec::verify_digest(curve, x, y, digest, signature)?
            }
            (SignatureScheme::Hmac(hash), PublicKey::Symmetric { .. }) => {
                let secret = self.private_material(vault, &key).await?;
                aes::hmac_verify(&secret, hash, digest, signature)?
            }
            _ => return Err(Error::Internal("signature scheme does not match the key".into())),
        };
        Ok(valid)
    }

    /// encrypt or wrapKey (`operation` says which). RSA runs the public-key primitive without
    /// touching private material; AES needs the key.
    pub async fn encrypt(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        operation: KeyOperation,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        let found = self.version(vault, name, version).await?;
        let key = &found.key;
        check_operation(key, operation, self.clock.now())?;
        let scheme = cipher_scheme(algorithm, operation, key)?;
        let output = match (scheme, &key.public) {
            (CipherScheme::Rsa(padding), PublicKey::Rsa { .. }) => {
                CipherOutput::value(rsa::encrypt_with(found.rsa_public()?, padding, &input.value)?)
            }
            _ => {
                let secret = self.private_material(vault, key).await?;
                symmetric_encrypt(scheme, &secret, input)?
            }
        };
        Ok((key.clone(), output))
    }

    /// decrypt or unwrapKey: the private-key primitive, or AES with the key.
    pub async fn decrypt(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        operation: KeyOperation,
        algorithm: EncryptionAlgorithm,
        input: CipherInput,
    ) -> Result<(Key, CipherOutput)> {
        let fits = |key: &Key| cipher_scheme(algorithm, operation, key);
        let (key, scheme, private) = self.unsealed_for(vault, name, version, operation, fits).await?;
        let output = run_private_op(&key, "decryption", move || match scheme {
            CipherScheme::Rsa(padding) => rsa::decrypt_with(private.rsa_decrypting()?, padding, &input.value)
                .map(CipherOutput::value)
                .map_err(Error::from),
            _ => symmetric_decrypt(scheme, algorithm.as_str(), private.material(), input),
        })
        .await?;
        Ok((key, output))
    }

    /// Secure key release: checks that the key may be released to the holder of `claims` (the
    /// verified attestation token) under its release policy, then wraps the key's private
    /// material for the RSA key those claims carry. `key_ops` play no part (contract §5 item 20).
    pub async fn release_key(
        &self,
        vault: &Vault,
        name: &KeyName,
        version: Option<&str>,
        claims: &serde_json::Value,
        wrapping: ReleaseWrapping,
    ) -> Result<ReleasedKey> {
        let key = self.get_key(vault, name, version).await?;
        if !key.attributes.enabled {
            return Err(Error::KeyDisabled(KeyOperation::Export));
        }
        let policy = match (&key.release_policy, key.attributes.exportable) {
            (Some(policy), Some(true)) => policy,
            _ => {
                return Err(Error::BadParameter(format!(
                    "The key '{}' cannot be released: only exportable keys with a release policy can be.",
                    key.name
                )));
            }
        };
        if !policy.satisfied_by(claims)? {
            return Err(Error::ReleasePolicyNotSatisfied);
        }
        let to = wrapping_key(claims)?;
        let material = self.private_material(vault, &key).await?;
        let target = to.clone();
        let ciphertext = run_blocking("key release", move || wrap_for_release(wrapping, &target, &material)).await?;
        Ok(ReleasedKey { key, wrapped_for: to, wrapping, ciphertext })
    }

    /// `count` bytes from the emulator's secure random source (`POST /rng`, 1–128 bytes).
    pub fn random_bytes(count: i64) -> Result<Vec<u8>> {
        match usize::try_from(count) {
            Ok(count @ 1..=128) => Ok(crate::crypto::random_bytes(count)?),
            _ => Err(Error::BadParameter(
                "GetRandomBytesRequest: count cannot be greater than 128 or less than 1".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vaults::VaultName;

    async fn service() -> (KeyService, Vault) {
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
            })
            .await
            .unwrap();
        let master = Arc::new(MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap());
        (KeyService::new(pool, clock, master, RsaKeyPool::new(Default::default()), versions), (*vault).clone())
    }

    fn ec_request() -> CreateKeyRequest {
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

    fn name(text: &str) -> KeyName {
        KeyName::parse(text).unwrap()
    }

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

    #[tokio::test]
    async fn ec_keys_refuse_rsa_encryption_and_missing_keys_are_not_found() {
        let (keys, vault) = service().await;
        let mut request = ec_request();
        request.key_ops = Some(vec![KeyOperation::Sign, KeyOperation::Verify]);
        keys.create_key(&vault, &name("ec"), request).await.unwrap();
        let wrap = keys
            .encrypt(
                &vault,
                &name("ec"),
                None,
                KeyOperation::Sign,
                EncryptionAlgorithm::RsaOaep,
                CipherInput::value(b"x".to_vec()),
            )
            .await;
        assert!(matches!(wrap, Err(Error::BadParameter(_))));
        let missing = keys.get_key(&vault, &name("nope"), None).await;
        assert!(matches!(missing, Err(Error::KeyNotFound { .. })));
        let mut bad_ops = ec_request();
        bad_ops.key_ops = Some(vec![KeyOperation::WrapKey]);
        assert!(matches!(keys.create_key(&vault, &name("ec2"), bad_ops).await, Err(Error::BadParameter(_))));
    }
}
