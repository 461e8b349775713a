//! Tokens whose signature has already been checked, so that a client sending the same bearer
//! token on every request (all SDKs do, until it nears expiry) pays for the RSA verification
//! and the JSON decoding once. Only the signature check is remembered: every claim is still
//! checked on every request, against the clock of that request. Entries are keyed by the
//! SHA-256 of the token, so the cache holds no usable credential, and an entry leaves at the
//! token's expiry (or earlier, when the cache is full).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_lc_rs::digest::{SHA256, digest};

use crate::clock::UnixSeconds;

/// The most tokens remembered: each is a few hundred bytes of claims, and a test run uses a
/// handful of identities.
pub const CAPACITY: usize = 4096;

type TokenHash = [u8; 32];

/// A token's fingerprint: what the cache is keyed by.
#[must_use]
pub fn fingerprint(token: &str) -> TokenHash {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    hash
}

struct Entry<C> {
    claims: Arc<C>,
    /// When the entry stops being useful: the token's `exp` plus the tolerated skew.
    useless_after: UnixSeconds,
}

/// Signature-checked claims of type `C` by token fingerprint.
pub struct VerifiedTokens<C> {
    entries: Mutex<HashMap<TokenHash, Entry<C>>>,
    capacity: usize,
}

impl<C> Default for VerifiedTokens<C> {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl<C> std::fmt::Debug for VerifiedTokens<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens").field("len", &self.lock().len()).finish_non_exhaustive()
    }
}

impl<C> VerifiedTokens<C> {
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TokenHash, Entry<C>>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The claims of a token verified before and still useful at `now`.
    #[must_use]
    pub fn get(&self, fingerprint: &TokenHash, now: UnixSeconds) -> Option<Arc<C>> {
        let entries = self.lock();
        let entry = entries.get(fingerprint)?;
        (now <= entry.useless_after).then(|| entry.claims.clone())
    }

    /// Remembers a token whose signature checked out, until `useless_after`. When full, the
    /// entries no longer useful at `now` go first; if none is, everything goes (the cost is one
    /// more signature check per token in use, not a wrong answer).
    pub fn insert(&self, fingerprint: TokenHash, claims: Arc<C>, useless_after: UnixSeconds, now: UnixSeconds) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&fingerprint) {
            entries.retain(|_, entry| now <= entry.useless_after);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(fingerprint, Entry { claims, useless_after });
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_it_is_useless() {
        let cache = VerifiedTokens::with_capacity(4);
        let token = fingerprint("a.b.c");
        cache.insert(token, Arc::new(7), 100, 0);
        assert_eq!(cache.get(&token, 100).as_deref(), Some(&7));
        assert_eq!(cache.get(&token, 101), None);
        assert_eq!(cache.get(&fingerprint("a.b.d"), 0), None);
    }

    #[test]
    fn a_full_cache_drops_useless_entries_first_and_stays_bounded() {
        let cache = VerifiedTokens::with_capacity(2);
        cache.insert(fingerprint("old"), Arc::new(1), 10, 0);
        cache.insert(fingerprint("live"), Arc::new(2), 1000, 0);
        cache.insert(fingerprint("new"), Arc::new(3), 1000, 50);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&fingerprint("live"), 50).as_deref(), Some(&2));
        assert_eq!(cache.get(&fingerprint("new"), 50).as_deref(), Some(&3));
        cache.insert(fingerprint("newer"), Arc::new(4), 1000, 60);
        assert!(cache.len() <= 2);
        assert_eq!(cache.get(&fingerprint("newer"), 60).as_deref(), Some(&4));
    }
}
