//! A bounded pool of pre-generated RSA keys per size, so that a create answers in milliseconds
//! instead of the 60–600 ms RSA generation costs.
//!
//! One background thread keeps each size topped up to its depth, generating one key at a time
//! (at most one core, never a burst), and sleeps when every size is full. A create takes a key
//! if one is ready and otherwise generates inline, so an empty or disabled pool is only slower,
//! never wrong. Pooled keys live in memory only: they are sealed like any other key when a
//! create takes one, and lost (harmlessly) when the process stops.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::crypto::rsa::{self, RsaKeyMaterial};

/// The documented default: four RSA-2048 keys, the size nearly every create asks for. Larger
/// sizes are pooled only when configured, since each costs up to a second of CPU to refill.
pub const DEFAULT_KEY_POOL: &str = "2048:4";

/// How many keys of each RSA size to keep ready. Empty means no pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPoolSpec {
    depths: BTreeMap<u32, usize>,
}

impl KeyPoolSpec {
    /// The most keys of one size the pool holds: enough for a burst of creates, bounded memory.
    pub const MAX_DEPTH: usize = 64;

    /// `0`/`off` (no pool), a bare depth `N` (N RSA-2048 keys), or `SIZE:DEPTH` pairs separated
    /// by commas: `2048:4,3072:1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self::default());
        }
        let mut depths = BTreeMap::new();
        for entry in text.split(',').map(str::trim) {
            let (size, depth) = match entry.split_once(':') {
                Some((size, depth)) => (size.trim(), depth.trim()),
                None => ("2048", entry),
            };
            let size: u32 = size.parse().map_err(|_| format!("key pool: '{size}' is not an RSA key size"))?;
            if !rsa::SUPPORTED_SIZES.contains(&size) {
                return Err(format!("key pool: RSA size {size} is not one of 2048, 3072, 4096"));
            }
            let depth: usize = depth.parse().map_err(|_| format!("key pool: '{depth}' is not a depth"))?;
            if depth > Self::MAX_DEPTH {
                return Err(format!("key pool: depth {depth} is more than {}", Self::MAX_DEPTH));
            }
            if depth > 0 {
                depths.insert(size, depth);
            }
        }
        Ok(Self { depths })
    }

    #[must_use]
    pub fn is_off(&self) -> bool {
        self.depths.is_empty()
    }

    /// The depth each size refills to.
    #[must_use]
    pub fn depths(&self) -> &BTreeMap<u32, usize> {
        &self.depths
    }
}

impl fmt::Display for KeyPoolSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.depths.is_empty() {
            return f.write_str("off");
        }
        let entries: Vec<String> = self.depths.iter().map(|(size, depth)| format!("{size}:{depth}")).collect();
        f.write_str(&entries.join(","))
    }
}

struct Shared {
    spec: KeyPoolSpec,
    state: Mutex<PoolState>,
    /// Signalled when a key is taken (there is room to refill) or the pool stops.
    wake: Condvar,
}

#[derive(Default)]
struct PoolState {
    ready: BTreeMap<u32, VecDeque<RsaKeyMaterial>>,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding this lock cannot leave the queues inconsistent (push and pop
        // are single calls), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The size furthest below its depth, relative to that depth, if any is below.
    fn most_needed(&self, state: &PoolState) -> Option<u32> {
        self.spec
            .depths
            .iter()
            .map(|(size, depth)| (*size, *depth, state.ready.get(size).map_or(0, VecDeque::len)))
            .filter(|(_, depth, have)| have < depth)
            .min_by_key(|(_, depth, have)| (have * 1000) / depth)
            .map(|(size, _, _)| size)
    }
}

/// The pool handle owned by the keys service. Dropping it stops the refill thread.
pub struct RsaKeyPool {
    shared: Arc<Shared>,
    started: std::sync::Once,
}

impl RsaKeyPool {
    /// An empty pool; nothing is generated until [`RsaKeyPool::start_refilling`], which the
    /// server calls once it is ready, so that filling never delays start-up.
    #[must_use]
    pub fn new(spec: KeyPoolSpec) -> Self {
        Self {
            shared: Arc::new(Shared { spec, state: Mutex::default(), wake: Condvar::new() }),
            started: std::sync::Once::new(),
        }
    }

    /// Starts the refill thread (once) when the spec asks for any keys.
    pub fn start_refilling(&self) {
        if self.shared.spec.is_off() {
            return;
        }
        self.started.call_once(|| {
            let worker = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new().name("rsa-key-pool".into()).spawn(move || refill(&worker));
            if let Err(err) = spawned {
                tracing::warn!(error = %err, "could not start the RSA key pool; keys will be generated on demand");
            }
        });
    }

    /// A ready key of `bits`, if the pool has one. Taking wakes the refill thread.
    #[must_use]
    pub fn take(&self, bits: u32) -> Option<RsaKeyMaterial> {
        let key = self.shared.lock().ready.get_mut(&bits).and_then(VecDeque::pop_front);
        if key.is_some() {
            self.shared.wake.notify_one();
        }
        key
    }

    /// The depth each size refills to.
    #[must_use]
    pub fn target(&self) -> &BTreeMap<u32, usize> {
        self.shared.spec.depths()
    }

    /// Keys ready now, per size (for the benchmark, metrics and tests).
    #[must_use]
    pub fn ready(&self) -> BTreeMap<u32, usize> {
        self.shared.lock().ready.iter().map(|(size, keys)| (*size, keys.len())).collect()
    }

    /// Puts a known key in the pool, so tests can tell a pooled key from a generated one.
    #[cfg(test)]
    pub(crate) fn insert(&self, bits: u32, key: RsaKeyMaterial) {
        self.shared.lock().ready.entry(bits).or_default().push_back(key);
    }

    /// Whether every configured size is at its depth.
    #[must_use]
    pub fn is_full(&self) -> bool {
        let state = self.shared.lock();
        self.shared.most_needed(&state).is_none()
    }
}

impl Drop for RsaKeyPool {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
    }
}

fn refill(shared: &Shared) {
    loop {
        let size = {
            let mut state = shared.lock();
            loop {
                if state.stopping {
                    return;
                }
                if let Some(size) = shared.most_needed(&state) {
                    break size;
                }
                state = shared.wake.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        match rsa::generate(size) {
            Ok(key) => {
                let mut state = shared.lock();
                if state.stopping {
                    return;
                }
                state.ready.entry(size).or_default().push_back(key);
            }
            Err(err) => {
                tracing::warn!(error = %err, size, "RSA key pool generation failed; stopping the pool");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn specs_parse_and_print() {
        assert!(KeyPoolSpec::parse("0").unwrap().is_off());
        assert!(KeyPoolSpec::parse("off").unwrap().is_off());
        assert_eq!(KeyPoolSpec::parse("3").unwrap().to_string(), "2048:3");
        assert_eq!(KeyPoolSpec::parse("4096:1, 2048:4").unwrap().to_string(), "2048:4,4096:1");
        assert_eq!(KeyPoolSpec::parse(DEFAULT_KEY_POOL).unwrap().to_string(), "2048:4");
        for bad in ["1024:2", "2048:x", "2048:65", "big"] {
            assert!(KeyPoolSpec::parse(bad).is_err(), "{bad}");
        }
    }

    fn wait_until_full(pool: &RsaKeyPool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pool.is_full() {
            assert!(Instant::now() < deadline, "the pool did not fill");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn the_pool_fills_hands_out_distinct_keys_and_refills() {
        let pool = RsaKeyPool::new(KeyPoolSpec::parse("2048:2").unwrap());
        assert!(pool.take(2048).is_none(), "nothing is generated before refilling starts");
        pool.start_refilling();
        wait_until_full(&pool);
        assert_eq!(pool.ready().get(&2048), Some(&2));
        let a = pool.take(2048).unwrap();
        let b = pool.take(2048).unwrap();
        assert_ne!(a.n, b.n);
        assert_eq!(a.n.len(), 256);
        assert!(pool.take(3072).is_none(), "sizes not configured are never pooled");
        wait_until_full(&pool);
        assert_eq!(pool.ready().get(&2048), Some(&2), "taken keys are replaced");
    }

    #[test]
    fn an_off_pool_is_always_empty() {
        let pool = RsaKeyPool::new(KeyPoolSpec::default());
        pool.start_refilling();
        assert!(pool.is_full());
        assert!(pool.take(2048).is_none());
    }
}
