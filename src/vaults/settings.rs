//! The properties a vault is declared with on the command line
//! (`--vault NAME[:retention-days=N][:purge-protection]`) and in the config file.

use super::{DEFAULT_RETENTION_DAYS, VaultName, check_retention};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultSettings {
    pub name: VaultName,
    pub soft_delete_retention_days: u32,
    pub purge_protection: bool,
}

impl VaultSettings {
    /// A vault with the defaults: 90 days of retention, no purge protection.
    #[must_use]
    pub fn new(name: VaultName) -> Self {
        Self { name, soft_delete_retention_days: DEFAULT_RETENTION_DAYS, purge_protection: false }
    }

    /// Parses `NAME[:retention-days=N][:purge-protection]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let name = VaultName::parse(name).ok_or_else(|| {
            format!("'{name}' is not a valid vault name: 3-24 letters, digits and hyphens, starting with a letter")
        })?;
        let mut settings = Self::new(name);
        for part in parts {
            match part.split_once('=') {
                Some(("retention-days", days)) => {
                    settings.soft_delete_retention_days =
                        days.parse().map_err(|_| format!("retention-days '{days}' is not a number"))?;
                }
                None if part == "purge-protection" => settings.purge_protection = true,
                _ => {
                    return Err(format!(
                        "unknown vault option '{part}': expected retention-days=N or purge-protection"
                    ));
                }
            }
        }
        check_retention(settings.soft_delete_retention_days).map_err(|e| e.to_string())?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_settings_parse() {
        let s = VaultSettings::parse("cmk:retention-days=7:purge-protection").unwrap();
        assert_eq!((s.name.as_str(), s.soft_delete_retention_days, s.purge_protection), ("cmk", 7, true));
        assert_eq!(VaultSettings::parse("plain").unwrap(), VaultSettings::new(VaultName::parse("plain").unwrap()));
        for bad in ["x", "cmk:retention-days=6", "cmk:retention-days=91", "cmk:retention-days=ten", "cmk:purge"] {
            assert!(VaultSettings::parse(bad).is_err(), "{bad}");
        }
    }
}
