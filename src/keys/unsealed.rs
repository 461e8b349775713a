//! Private material of key versions, unsealed and parsed once and kept for the hot paths
//! (unwrapKey, decrypt, sign): opening the sealed PKCS#8 and parsing it costs more than the
//! RSA-2048 private operation itself. A version's material never changes, so an entry is never
//! stale; purging a key forgets its entries, and the cache holds a bounded number of versions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use aws_lc_rs::rsa::{KeyPair, PrivateDecryptingKey};

use crate::crypto::{CryptoResult, rsa};

/// One version's private material (PKCS#8 DER, or the raw `oct` key) and its parsed forms.
pub struct Unsealed {
    material: Vec<u8>,
    decrypting: OnceLock<PrivateDecryptingKey>,
    signing: OnceLock<KeyPair>,
}

impl Unsealed {
    #[must_use]
    pub fn new(material: Vec<u8>) -> Self {
        Self { material, decrypting: OnceLock::new(), signing: OnceLock::new() }
    }

    #[must_use]
    pub fn material(&self) -> &[u8] {
        &self.material
    }

    /// The RSA key parsed for decryption, parsed on first use.
    pub fn rsa_decrypting(&self) -> CryptoResult<&PrivateDecryptingKey> {
        if let Some(key) = self.decrypting.get() {
            return Ok(key);
        }
        let parsed = rsa::parse_decrypting(&self.material)?;
        Ok(self.decrypting.get_or_init(|| parsed))
    }

    /// The RSA key parsed for signing, parsed on first use.
    pub fn rsa_signing(&self) -> CryptoResult<&KeyPair> {
        if let Some(key) = self.signing.get() {
            return Ok(key);
        }
        let parsed = rsa::parse_signing(&self.material)?;
        Ok(self.signing.get_or_init(|| parsed))
    }
}

/// The most versions kept: a few hundred KiB of parsed keys, far more than a test touches.
pub const CAPACITY: usize = 1024;

#[derive(Default)]
struct Entries {
    by_owner: HashMap<String, Arc<Unsealed>>,
    /// Insertion order, oldest first: the one evicted when full.
    order: VecDeque<String>,
}

/// Keyed by the sealing owner of a version (`vault/name/version`).
#[derive(Default)]
pub struct UnsealedCache {
    entries: Mutex<Entries>,
}

impl UnsealedCache {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[must_use]
    pub fn get(&self, owner: &str) -> Option<Arc<Unsealed>> {
        self.lock().by_owner.get(owner).cloned()
    }

    /// Keeps `unsealed` for `owner` (the one already kept wins, so parsing is shared).
    pub fn insert(&self, owner: String, unsealed: Unsealed) -> Arc<Unsealed> {
        let mut entries = self.lock();
        if let Some(kept) = entries.by_owner.get(&owner) {
            return kept.clone();
        }
        while entries.order.len() >= CAPACITY {
            if let Some(oldest) = entries.order.pop_front() {
                entries.by_owner.remove(&oldest);
            }
        }
        let unsealed = Arc::new(unsealed);
        entries.by_owner.insert(owner.clone(), unsealed.clone());
        entries.order.push_back(owner);
        unsealed
    }

    /// Forgets every version whose owner starts with `prefix` (`vault/name/`: a purged key).
    pub fn forget(&self, prefix: &str) {
        let mut entries = self.lock();
        entries.by_owner.retain(|owner, _| !owner.starts_with(prefix));
        entries.order.retain(|owner| !owner.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_shared_and_forgettable() {
        let cache = UnsealedCache::default();
        let first = cache.insert("v/k/1".into(), Unsealed::new(vec![1]));
        let again = cache.insert("v/k/1".into(), Unsealed::new(vec![2]));
        assert!(Arc::ptr_eq(&first, &again), "the kept entry is shared");
        cache.insert("v/other/1".into(), Unsealed::new(vec![3]));
        cache.forget("v/k/");
        assert!(cache.get("v/k/1").is_none());
        assert!(cache.get("v/other/1").is_some());
        for i in 0..CAPACITY + 10 {
            cache.insert(format!("v/many/{i}"), Unsealed::new(vec![]));
        }
        assert!(cache.get("v/many/0").is_none(), "the oldest went first");
        assert!(cache.get(&format!("v/many/{}", CAPACITY + 9)).is_some());
        assert!(cache.lock().by_owner.len() <= CAPACITY);
    }

    #[test]
    fn parsed_once_and_usable() {
        let material = rsa::generate(2048).unwrap();
        let unsealed = Unsealed::new(material.pkcs8_der.clone());
        let ciphertext = rsa::encrypt(&material.n, &material.e, rsa::Padding::OaepSha256, b"data key").unwrap();
        let key = unsealed.rsa_decrypting().unwrap();
        assert_eq!(rsa::decrypt_with(key, rsa::Padding::OaepSha256, &ciphertext).unwrap(), b"data key");
        assert!(std::ptr::eq(key, unsealed.rsa_decrypting().unwrap()));
        assert!(Unsealed::new(vec![1, 2, 3]).rsa_signing().is_err());
    }
}
