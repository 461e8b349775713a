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

/// How far the emulator clock may move from the wall clock either way: 1,000 years keeps every
/// date it computes (now plus a retention period or a rotation interval) far inside `i64`.
pub const MAX_OFFSET_SECONDS: i64 = 1_000 * 366 * 86_400;

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
        wall_now().saturating_add(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves the emulator clock forward (or backward, for a negative value), no further than
    /// [`MAX_OFFSET_SECONDS`] from the wall clock.
    pub fn advance(&self, seconds: i64) {
        let _ = self.offset_seconds.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
            Some(offset.saturating_add(seconds).clamp(-MAX_OFFSET_SECONDS, MAX_OFFSET_SECONDS))
        });
    }

    /// Sets the distance from the wall clock, in seconds (clamped to [`MAX_OFFSET_SECONDS`]).
    pub fn set_offset(&self, seconds: i64) {
        self.offset_seconds.store(seconds.clamp(-MAX_OFFSET_SECONDS, MAX_OFFSET_SECONDS), Ordering::Relaxed);
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

    #[test]
    fn the_offset_is_bounded_and_now_never_overflows() {
        let clock = Clock::new();
        clock.advance(i64::MAX);
        clock.advance(i64::MAX);
        assert_eq!(clock.offset(), MAX_OFFSET_SECONDS);
        assert!(clock.now() > 0);
        clock.set_offset(i64::MIN);
        assert_eq!(clock.offset(), -MAX_OFFSET_SECONDS);
    }
}

/// Parses an ISO-8601 duration (`P90D`, `PT48H`, `P1Y2M10DT2H30M`, `P2W`) into seconds.
/// Years count 365 days and months 30, the approximations Key Vault's own durations use.
pub fn parse_iso8601_duration(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('P').or_else(|| text.strip_prefix('p'))?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once(['T', 't']) {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let sum = |part: &str, units: &[(char, i64)]| -> Option<i64> {
        let mut total: i64 = 0;
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = units[next_unit..].iter().position(|(u, _)| u.eq_ignore_ascii_case(&c))? + next_unit;
            let value: i64 = number.parse().ok()?;
            total = total.checked_add(value.checked_mul(units[position].1)?)?;
            number.clear();
            next_unit = position + 1;
        }
        number.is_empty().then_some(total)
    };
    let days = sum(date, &[('Y', 365 * 86_400), ('M', 30 * 86_400), ('W', 7 * 86_400), ('D', 86_400)])?;
    let hours = match time {
        Some(time) => sum(time, &[('H', 3_600), ('M', 60), ('S', 1)])?,
        None => 0,
    };
    days.checked_add(hours)
}

#[cfg(test)]
mod duration_tests {
    use super::parse_iso8601_duration as parse;

    #[test]
    fn durations() {
        assert_eq!(parse("P90D"), Some(90 * 86_400));
        assert_eq!(parse("PT48H"), Some(48 * 3_600));
        assert_eq!(parse("P1Y2M10DT2H30M5S"), Some(365 * 86_400 + 60 * 86_400 + 10 * 86_400 + 2 * 3_600 + 30 * 60 + 5));
        assert_eq!(parse("P2W"), Some(14 * 86_400));
        assert_eq!(parse("P0D"), Some(0));
        for bad in ["", "P", "PT", "90D", "P1H", "PD", "P1D2Y", "P-1D", "P1.5D", "P99999999999999999999D"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
