//! The keys service: every key rule runs here, each one load → check lifecycle → act → persist,
//! with write transactions opened here. This file holds the service and what its capabilities
//! share (version lookups through the cache, unsealing, the blocking pool); each capability has
//! its own file beside it.

mod backup;
mod deleted;
mod operations;
mod release;
mod rng;
mod rotation;
mod versions;

#[cfg(test)]
pub(crate) mod test_support;

use std::sync::Arc;

use crate::clock::Clock;
use crate::crypto::sealing::MasterKey;
use crate::store::{self, Pool};
use crate::vaults::Vault;

pub use super::algorithms::{EncryptionAlgorithm, SignatureAlgorithm};
pub use super::cipher::{CipherInput, CipherOutput};
use super::lifecycle::check_operation;
use super::model::{Key, KeyName, KeyOperation, KeyVersion, PublicKey};
use super::pool::RsaKeyPool;
pub use super::requests::{AttributeChanges, CreateKeyRequest, ImportKeyRequest, PrivateJwk, UpdateKeyRequest};
use super::unsealed::{Unsealed, UnsealedCache};
use super::version_cache::{self, Version, VersionCache};
use super::{Error, Result};
pub use release::ReleasedKey;

#[cfg(feature = "fuzzing")]
pub(crate) use super::material::imported_public_key;

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

impl KeyService {
    #[must_use]
    pub fn new(
        pool: Pool,
        clock: Clock,
        master: Arc<MasterKey>,
        rsa_keys: RsaKeyPool,
        versions: Arc<VersionCache>,
    ) -> Self {
        Self { pool, clock, master, rsa_keys: Arc::new(rsa_keys), unsealed: Arc::default(), versions }
    }

    /// Commits a write to keys; what lookups kept from before it is forgotten.
    async fn commit(&self, tx: sqlx::Transaction<'static, sqlx::Sqlite>) -> Result<()> {
        let committed = tx.commit().await;
        self.versions.invalidate();
        Ok(committed?)
    }

    /// The pre-generated RSA keys (for the benchmark, metrics and tests).
    #[must_use]
    pub fn rsa_key_pool(&self) -> &RsaKeyPool {
        &self.rsa_keys
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
        Ok(store::key_versions::find_active_version(
            conn,
            vault.name.as_str(),
            name.as_str(),
            parsed.map(KeyVersion::as_str),
        )
        .await?)
    }

    /// A version ready for a private-key operation: found, allowed by its lifecycle, accepted
    /// by `fits` (the algorithm against the key), and its material unsealed.
    async fn unsealed_for<T>(
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
            store::key_versions::sealed_private_key(conn, vault.name.as_str(), key.name.as_str(), key.version.as_str())
                .await?
                .ok_or_else(|| not_found(&key.name, Some(key.version.as_str())))?;
        Ok(self.master.open(&owner(vault, key), &sealed)?)
    }
}
