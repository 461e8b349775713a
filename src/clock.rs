//! The emulator clock: the one source of "now" for key lifecycle rules.
//!
//! Tests and the `/_emulator/clock` control move it forward. Bearer tokens deliberately do not
//! read it (see `wall_now`): SDKs cache tokens against their own wall clock, so moving the
//! emulator clock must never invalidate a token a client still believes is fresh.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of every Key Vault timestamp (IntDate).
pub type UnixSeconds = i64;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The emulator's notion of now: the wall clock plus every advance so far.
    #[must_use]
    pub fn now(&self) -> UnixSeconds {
        wall_now() + self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Moves the emulator clock forward (or backward, for a negative value).
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }

    #[must_use]
    pub fn offset(&self) -> i64 {
        self.offset_seconds.load(Ordering::Relaxed)
    }
}

/// The real wall clock, for token issuance and validation only.
#[must_use]
pub fn wall_now() -> UnixSeconds {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_but_not_the_wall_clock() {
        let clock = Clock::new();
        let before = clock.now();
        clock.advance(86_400);
        assert!(clock.now() >= before + 86_400);
        assert!(wall_now() < clock.now() - 86_000);
        assert_eq!(clock.offset(), 86_400);
    }
}
