//! Lifecycle rules as pure functions over a key and the emulator clock (contract §6).
//! The service calls these before any cryptographic operation; tests call them directly.

use crate::clock::UnixSeconds;

use super::Error;
use super::model::{Key, KeyOperation};

/// May `op` run on `key` at `now`? The order of checks decides which error a caller sees when
/// several apply: a disabled key says so first, then `key_ops`, then the validity window.
pub fn check_operation(key: &Key, op: KeyOperation, now: UnixSeconds) -> Result<(), Error> {
    if !key.attributes.enabled {
        return Err(Error::KeyDisabled(op));
    }
    if !key.key_ops.contains(&op) {
        return Err(Error::OperationNotPermitted(op));
    }
    if op.requires_validity_window() {
        if key.attributes.not_before.is_some_and(|nbf| now < nbf) {
            return Err(Error::KeyNotYetValid(op));
        }
        if key.attributes.expires.is_some_and(|exp| now >= exp) {
            return Err(Error::KeyExpired(op));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::model::{KeyType, PublicKey, test_key};

    fn key(enabled: bool, nbf: Option<i64>, exp: Option<i64>) -> Key {
        let mut key = test_key(KeyType::Rsa, PublicKey::Rsa { n: vec![1], e: vec![1, 0, 1] });
        key.attributes.enabled = enabled;
        key.attributes.not_before = nbf;
        key.attributes.expires = exp;
        key
    }

    #[test]
    fn enabled_key_in_window_allows_everything() {
        for op in [KeyOperation::WrapKey, KeyOperation::UnwrapKey, KeyOperation::Encrypt, KeyOperation::Decrypt] {
            assert!(check_operation(&key(true, Some(10), Some(100)), op, 50).is_ok());
        }
    }

    #[test]
    fn disabled_key_refuses_first() {
        let k = key(false, None, Some(1));
        assert!(matches!(check_operation(&k, KeyOperation::UnwrapKey, 50), Err(Error::KeyDisabled(_))));
    }

    #[test]
    fn operation_outside_key_ops_is_refused() {
        let mut k = key(true, None, None);
        k.key_ops = vec![KeyOperation::WrapKey];
        assert!(matches!(
            check_operation(&k, KeyOperation::UnwrapKey, 0),
            Err(Error::OperationNotPermitted(KeyOperation::UnwrapKey))
        ));
    }

    #[test]
    fn window_blocks_producing_but_not_consuming() {
        let expired = key(true, None, Some(100));
        assert!(matches!(check_operation(&expired, KeyOperation::WrapKey, 100), Err(Error::KeyExpired(_))));
        assert!(matches!(check_operation(&expired, KeyOperation::Encrypt, 200), Err(Error::KeyExpired(_))));
        assert!(check_operation(&expired, KeyOperation::UnwrapKey, 200).is_ok());
        assert!(check_operation(&expired, KeyOperation::Decrypt, 200).is_ok());
        let early = key(true, Some(100), None);
        assert!(matches!(check_operation(&early, KeyOperation::WrapKey, 99), Err(Error::KeyNotYetValid(_))));
        assert!(check_operation(&early, KeyOperation::UnwrapKey, 99).is_ok());
    }
}
