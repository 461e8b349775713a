//! `POST /rng`: random bytes from the emulator's secure source.

use super::KeyService;
use crate::keys::{Error, Result};

impl KeyService {
    /// `count` bytes from the emulator's secure random source (`POST /rng`, 1–128 bytes).
    pub fn random_bytes(count: i64) -> Result<Vec<u8>> {
        match usize::try_from(count) {
            Ok(count @ 1..=128) => Ok(crate::crypto::random_bytes(count)?),
            _ => Err(Error::BadParameter(crate::messages::keys::RNG_COUNT_OUT_OF_RANGE.into())),
        }
    }
}
