//! The vault property rules, as Azure states them: soft-delete retention is 7 to 90 days and
//! fixed once the vault exists; purge protection, once enabled, cannot be disabled. Every way of
//! declaring a vault (flags, config file, management API) goes through these functions.

use std::ops::RangeInclusive;

/// The soft-delete retention Azure accepts, in days.
pub const RETENTION_DAYS: RangeInclusive<u32> = 7..=90;

/// A vault property change that Azure refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VaultRule {
    #[error("{}", crate::messages::management::retention_out_of_range(*.0))]
    RetentionOutOfRange(u32),
    #[error("{}", crate::messages::management::retention_fixed(vault, *current, *requested))]
    RetentionFixed { vault: String, current: u32, requested: u32 },
    #[error("{}", crate::messages::management::PURGE_PROTECTION_IRREVERSIBLE)]
    PurgeProtectionIrreversible,
}

/// `days` if Azure accepts it as a soft-delete retention.
pub fn check_retention(days: u32) -> Result<u32, VaultRule> {
    if RETENTION_DAYS.contains(&days) { Ok(days) } else { Err(VaultRule::RetentionOutOfRange(days)) }
}

/// The retention of an existing vault may be restated, never changed.
pub fn retention_is_fixed(vault: &str, current: u32, requested: u32) -> Result<(), VaultRule> {
    if current == requested {
        Ok(())
    } else {
        Err(VaultRule::RetentionFixed { vault: vault.to_owned(), current, requested })
    }
}

/// The purge protection a vault has after a change that `requested` it (or left it unsaid).
pub fn next_purge_protection(current: bool, requested: Option<bool>) -> Result<bool, VaultRule> {
    match (current, requested) {
        (true, Some(false)) => Err(VaultRule::PurgeProtectionIrreversible),
        (_, Some(requested)) => Ok(requested),
        (current, None) => Ok(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_seven_to_ninety_days() {
        assert_eq!(check_retention(7), Ok(7));
        assert_eq!(check_retention(90), Ok(90));
        assert_eq!(check_retention(6), Err(VaultRule::RetentionOutOfRange(6)));
        assert_eq!(check_retention(91), Err(VaultRule::RetentionOutOfRange(91)));
    }

    #[test]
    fn retention_can_be_restated_but_not_changed() {
        assert!(retention_is_fixed("cmk", 7, 7).is_ok());
        let err = retention_is_fixed("cmk", 7, 30).unwrap_err();
        assert!(err.to_string().contains("cannot be changed to 30"), "{err}");
    }

    #[test]
    fn purge_protection_is_irreversible() {
        assert_eq!(next_purge_protection(false, Some(true)), Ok(true));
        assert_eq!(next_purge_protection(false, None), Ok(false));
        assert_eq!(next_purge_protection(true, None), Ok(true));
        assert_eq!(next_purge_protection(true, Some(true)), Ok(true));
        assert_eq!(next_purge_protection(true, Some(false)), Err(VaultRule::PurgeProtectionIrreversible));
    }
}
