//! Key versions as the store last returned them, so that the hot paths (get key, wrapKey,
//! unwrapKey, sign, …) answer without a database round trip, which costs more than the rest of
//! such a request together.
//!
//! Write-through by invalidation: every committed write to keys (and a vault's purge) empties
//! the cache and moves its generation on. A reader notes the generation before reading the
//! store and keeps what it read only if no write committed meanwhile, so a read that raced a
//! write can never leave the older state behind. Only found versions are kept; a miss (404)
//! always asks the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use aws_lc_rs::rsa::PublicEncryptingKey;

use super::model::{Key, PublicKey};
use crate::crypto::{CryptoError, CryptoResult, rsa};

/// A version as the store returned it, with its RSA public key parsed on first use (wrapKey
/// and encrypt then skip parsing and the Montgomery set-up).
pub struct Version {
    pub key: Key,
    rsa_public: OnceLock<PublicEncryptingKey>,
}

impl Version {
    #[must_use]
    pub fn new(key: Key) -> Self {
        Self { key, rsa_public: OnceLock::new() }
    }

    /// The parsed RSA public key; an error for other key types.
    pub fn rsa_public(&self) -> CryptoResult<&PublicEncryptingKey> {
        if let Some(parsed) = self.rsa_public.get() {
            return Ok(parsed);
        }
        let PublicKey::Rsa { n, e } = &self.key.public else {
            return Err(CryptoError::Material("not an RSA key".into()));
        };
        let parsed = rsa::parse_public(n, e)?;
        Ok(self.rsa_public.get_or_init(|| parsed))
    }
}

/// The most lookups kept: far more versions than a test uses, a few MiB at most.
pub const CAPACITY: usize = 4096;

/// When the cache was last emptied: a reader's ticket for keeping what it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

#[derive(Default)]
struct State {
    generation: u64,
    by_lookup: HashMap<String, Arc<Version>>,
}

#[derive(Default)]
pub struct VersionCache {
    state: Mutex<State>,
}

impl std::fmt::Debug for VersionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionCache").field("len", &self.lock().by_lookup.len()).finish()
    }
}

/// What a lookup is keyed by: the vault, the key name as the store compares it (without case),
/// and the version asked for (`None`: the current one).
#[must_use]
pub fn lookup(vault: &str, name: &str, version: Option<&str>) -> String {
    let mut key = String::with_capacity(vault.len() + name.len() + 36);
    key.push_str(vault);
    key.push('/');
    key.extend(name.chars().map(|c| c.to_ascii_lowercase()));
    key.push('/');
    key.push_str(version.unwrap_or(""));
    key
}

impl VersionCache {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Take before reading the store; hand back to [`VersionCache::keep`].
    #[must_use]
    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    #[must_use]
    pub fn get(&self, lookup: &str) -> Option<Arc<Version>> {
        self.lock().by_lookup.get(lookup).cloned()
    }

    /// Keeps what a lookup read, unless a write committed since `read_at` was taken.
    pub fn keep(&self, read_at: Generation, lookup: String, version: Arc<Version>) {
        let mut state = self.lock();
        if state.generation != read_at.0 {
            return;
        }
        if state.by_lookup.len() >= CAPACITY {
            state.by_lookup.clear();
        }
        state.by_lookup.insert(lookup, version);
    }

    /// After every committed write that can change what a lookup returns.
    pub fn invalidate(&self) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.by_lookup.clear();
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().by_lookup.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::model::{KeyType, test_key};

    fn key() -> Arc<Version> {
        Arc::new(Version::new(test_key(KeyType::Oct, PublicKey::Symmetric { bits: 256 })))
    }

    #[test]
    fn lookups_ignore_the_case_of_the_name_only() {
        assert_eq!(lookup("v", "MyKey", None), lookup("v", "mykey", None));
        assert_ne!(lookup("v", "k", None), lookup("v", "k", Some("abc")));
        assert_ne!(lookup("v1", "k", None), lookup("v2", "k", None));
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = VersionCache::default();
        let before = cache.generation();
        cache.invalidate(); // a write committed while the store was being read
        cache.keep(before, lookup("v", "k", None), key());
        assert!(cache.is_empty());

        let now = cache.generation();
        cache.keep(now, lookup("v", "k", None), key());
        assert!(cache.get(&lookup("v", "K", None)).is_some());
        cache.invalidate();
        assert!(cache.get(&lookup("v", "k", None)).is_none());
    }
}
