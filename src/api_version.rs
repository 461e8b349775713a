//! The api-versions the emulator knows, one table per plane: each version's release status and
//! what it adds. This is the only list of versions in the crate; the extractor, the error
//! messages and every version-dependent rule read it. No HTTP here.
//!
//! A feature is present in the version that adds it and in every version after it in the table
//! (the order of the table is the order of release), which is how the service rolls preview
//! additions into the next stable version.

use std::collections::HashSet;
use std::sync::Mutex;

/// Whether a version is generally available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Stable,
    Preview,
}

/// A data-plane behaviour that only some api-versions have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// `oct`/`oct-HSM` keys, symmetric encrypt/wrap (AES-GCM, AES-CBC, AES-KW).
    SymmetricKeys,
    /// Key rotation, rotation policies and `GET /rng`.
    Rotation,
    /// Exportable keys, release policies and secure key release.
    KeyRelease,
    /// HMAC signatures (`HS256`/`HS384`/`HS512`), `CKM_AES_KEY_WRAP`, key attestation.
    HmacAndAttestation,
    /// `attributes.key_size` on symmetric keys, `attributes.external_key`, and the
    /// `securewrapkey`/`secureunwrapkey` operations.
    SecureWrapAndKeySize,
    /// Algorithm Key Pair keys (`AKP`/`AKP-HSM`, ML-DSA), with context and external-mu signing.
    MlDsaKeys,
}

/// One data-plane api-version.
#[derive(Debug, PartialEq, Eq)]
pub struct DataPlaneVersion {
    pub name: &'static str,
    pub status: Status,
    /// What this version adds over the ones before it.
    pub adds: &'static [Feature],
}

const fn version(name: &'static str, status: Status, adds: &'static [Feature]) -> DataPlaneVersion {
    DataPlaneVersion { name, status, adds }
}

use Feature as F;
use Status::{Preview, Stable};

/// Keys API versions, in release order.
pub static DATA_PLANE: &[DataPlaneVersion] = &[
    version("7.0", Stable, &[]),
    version("7.1", Stable, &[]),
    version("7.2", Stable, &[F::SymmetricKeys]),
    version("7.3-preview", Preview, &[F::Rotation, F::KeyRelease]),
    version("7.3", Stable, &[]),
    version("7.4-preview.1", Preview, &[]),
    version("7.4", Stable, &[]),
    version("7.5-preview.1", Preview, &[]),
    version("7.5", Stable, &[]),
    version("7.6-preview.1", Preview, &[]),
    version("7.6-preview.2", Preview, &[F::HmacAndAttestation]),
    version("7.6", Stable, &[]),
    version("2025-06-01-preview", Preview, &[]),
    version("2025-07-01", Stable, &[]),
    version("2026-01-01-preview", Preview, &[F::SecureWrapAndKeySize]),
    version("2026-03-01-preview", Preview, &[]),
    version("2026-04-01", Stable, &[]),
    version("2026-05-01-preview", Preview, &[F::MlDsaKeys]),
    version("2026-07-01-preview", Preview, &[]),
];

impl DataPlaneVersion {
    /// The table entry named `name`, exactly as the service spells it.
    #[must_use]
    pub fn find(name: &str) -> Option<&'static Self> {
        DATA_PLANE.iter().find(|v| v.name == name)
    }

    /// The newest stable version: what errors tell clients to use.
    #[must_use]
    pub fn latest_stable() -> &'static Self {
        DATA_PLANE.iter().rev().find(|v| v.status == Stable).unwrap_or(&DATA_PLANE[0])
    }

    /// The newest version of any status: what a lenient emulator serves an unknown future date as.
    #[must_use]
    pub fn latest() -> &'static Self {
        &DATA_PLANE[DATA_PLANE.len() - 1]
    }

    fn position(&self) -> usize {
        DATA_PLANE.iter().position(|v| v.name == self.name).unwrap_or(0)
    }

    /// Whether requests under this version see `feature`.
    #[must_use]
    pub fn has(&self, feature: Feature) -> bool {
        DATA_PLANE[..=self.position()].iter().any(|v| v.adds.contains(&feature))
    }

    /// The first version that has `feature`.
    #[must_use]
    pub fn introducing(feature: Feature) -> &'static Self {
        DATA_PLANE.iter().find(|v| v.adds.contains(&feature)).unwrap_or_else(Self::latest)
    }
}

/// A management-plane (`Microsoft.KeyVault` resource provider) behaviour that depends on version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagementFeature {
    /// A vault created without `enableRbacAuthorization` uses RBAC ("access control default").
    RbacByDefault,
}

/// One management-plane api-version.
#[derive(Debug, PartialEq, Eq)]
pub struct ManagementVersion {
    pub name: &'static str,
    pub status: Status,
    pub adds: &'static [ManagementFeature],
}

const fn management(name: &'static str, status: Status, adds: &'static [ManagementFeature]) -> ManagementVersion {
    ManagementVersion { name, status, adds }
}

/// `Microsoft.KeyVault` versions the management SDKs, Terraform and `az` (through 2.91) send,
/// in release order.
pub static MANAGEMENT: &[ManagementVersion] = &[
    management("2019-09-01", Stable, &[]),
    management("2021-04-01-preview", Preview, &[]),
    management("2021-06-01-preview", Preview, &[]),
    management("2021-10-01", Stable, &[]),
    management("2021-11-01-preview", Preview, &[]),
    management("2022-02-01-preview", Preview, &[]),
    management("2022-07-01", Stable, &[]),
    management("2022-11-01", Stable, &[]),
    management("2023-02-01", Stable, &[]),
    management("2023-07-01", Stable, &[]),
    management("2024-04-01-preview", Preview, &[]),
    management("2024-11-01", Stable, &[]),
    management("2024-12-01-preview", Preview, &[]),
    management("2025-05-01", Stable, &[]),
    management("2026-02-01", Stable, &[ManagementFeature::RbacByDefault]),
    // azure-mgmt-keyvault 14.1.0's default.
    management("2026-05-15", Stable, &[]),
];

impl ManagementVersion {
    #[must_use]
    pub fn find(name: &str) -> Option<&'static Self> {
        MANAGEMENT.iter().find(|v| v.name == name)
    }

    #[must_use]
    pub fn latest_stable() -> &'static Self {
        MANAGEMENT.iter().rev().find(|v| v.status == Stable).unwrap_or(&MANAGEMENT[0])
    }

    /// Position in release order: `a.order() < b.order()` when `a` came first.
    #[must_use]
    pub fn order(&self) -> usize {
        MANAGEMENT.iter().position(|v| v.name == self.name).unwrap_or(0)
    }

    #[must_use]
    pub fn has(&self, feature: ManagementFeature) -> bool {
        MANAGEMENT[..=self.order()].iter().any(|v| v.adds.contains(&feature))
    }

    /// Whether a request under `requested` gets `feature`. The management plane does not refuse
    /// versions it does not know (tools newer than the table keep working), so an unknown
    /// well-formed version gets every feature introduced on or before its date.
    #[must_use]
    pub fn requested_has(requested: &str, feature: ManagementFeature) -> bool {
        if let Some(known) = Self::find(requested) {
            return known.has(feature);
        }
        let introduced = MANAGEMENT.iter().find(|v| v.adds.contains(&feature)).and_then(|v| date_of(v.name));
        matches!((date_of(requested), introduced), (Some(date), Some(since)) if date >= since)
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DD-preview`, as a comparable date; `None` for anything else
/// (`7.x` versions are never "future").
fn date_of(version: &str) -> Option<(u16, u8, u8)> {
    let date = version.strip_suffix("-preview").unwrap_or(version);
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(year, 4) || !digits(month, 2) || !digits(day, 2) {
        return None;
    }
    let (year, month, day) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some((year, month, day))
}

/// How strictly the data plane checks `api-version` (`--lenient-api-version`).
#[derive(Debug, Default)]
pub struct Policy {
    lenient: bool,
    /// Future versions already warned about: one warning per version, not per request.
    warned: Mutex<HashSet<String>>,
}

/// Why a requested version is not served.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownVersion;

impl Policy {
    #[must_use]
    pub fn new(lenient: bool) -> Self {
        Self { lenient, warned: Mutex::default() }
    }

    /// The table entry a request's `api-version` is served as: the entry itself, or, when
    /// lenient, the newest known entry for a well-formed date later than every known one.
    pub fn resolve(&self, requested: &str) -> Result<&'static DataPlaneVersion, UnknownVersion> {
        if let Some(known) = DataPlaneVersion::find(requested) {
            return Ok(known);
        }
        let latest = DataPlaneVersion::latest();
        let is_future = date_of(requested).zip(date_of(latest.name)).is_some_and(|(asked, known)| asked > known);
        if !(self.lenient && is_future) {
            return Err(UnknownVersion);
        }
        let first_time = self.warned.lock().map(|mut warned| warned.insert(requested.to_owned())).unwrap_or(false);
        if first_time {
            tracing::warn!(
                requested,
                served_as = latest.name,
                "api-version {requested} is newer than this emulator knows; serving it as {} (--lenient-api-version)",
                latest.name
            );
        }
        Ok(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_plane_has_a_stable_latest() {
        let names: HashSet<_> = DATA_PLANE.iter().map(|v| v.name).collect();
        assert_eq!(names.len(), DATA_PLANE.len());
        let names: HashSet<_> = MANAGEMENT.iter().map(|v| v.name).collect();
        assert_eq!(names.len(), MANAGEMENT.len());
        assert_eq!(DataPlaneVersion::latest_stable().name, "2026-04-01");
        assert_eq!(ManagementVersion::latest_stable().name, "2026-05-15");
    }

    #[test]
    fn date_versions_are_in_release_order() {
        let dated: Vec<_> = DATA_PLANE.iter().filter_map(|v| date_of(v.name)).collect();
        assert!(dated.windows(2).all(|w| w[0] < w[1]), "{dated:?}");
        let dated: Vec<_> = MANAGEMENT.iter().filter_map(|v| date_of(v.name)).collect();
        assert!(dated.windows(2).all(|w| w[0] < w[1]), "{dated:?}");
    }

    #[test]
    fn features_roll_forward_from_the_version_that_adds_them() {
        let v = |name| DataPlaneVersion::find(name).unwrap();
        assert!(!v("2025-07-01").has(Feature::SecureWrapAndKeySize));
        assert!(v("2026-01-01-preview").has(Feature::SecureWrapAndKeySize));
        assert!(v("2026-04-01").has(Feature::SecureWrapAndKeySize));
        assert!(!v("2026-04-01").has(Feature::MlDsaKeys));
        assert!(v("2026-07-01-preview").has(Feature::MlDsaKeys));
        assert!(v("7.2").has(Feature::SymmetricKeys) && !v("7.1").has(Feature::SymmetricKeys));
        assert_eq!(DataPlaneVersion::introducing(Feature::MlDsaKeys).name, "2026-05-01-preview");
        let m = |name| ManagementVersion::find(name).unwrap();
        assert!(!m("2025-05-01").has(ManagementFeature::RbacByDefault));
        assert!(m("2026-02-01").has(ManagementFeature::RbacByDefault));
        assert!(ManagementVersion::requested_has("2026-05-15", ManagementFeature::RbacByDefault));
        assert!(ManagementVersion::requested_has("2026-03-01-preview", ManagementFeature::RbacByDefault));
        assert!(!ManagementVersion::requested_has("2025-06-01", ManagementFeature::RbacByDefault));
        assert!(!ManagementVersion::requested_has("not-a-version", ManagementFeature::RbacByDefault));
        assert!(m("2023-07-01").order() < m("2026-02-01").order());
    }

    #[test]
    fn strict_policy_refuses_what_the_table_lacks() {
        let strict = Policy::new(false);
        assert_eq!(strict.resolve("2026-04-01").unwrap().name, "2026-04-01");
        assert_eq!(strict.resolve("2027-01-01"), Err(UnknownVersion));
        assert_eq!(strict.resolve("7.7"), Err(UnknownVersion));
    }

    #[test]
    fn lenient_policy_serves_only_well_formed_future_dates_as_the_latest() {
        let lenient = Policy::new(true);
        assert_eq!(lenient.resolve("2027-01-01").unwrap(), DataPlaneVersion::latest());
        assert_eq!(lenient.resolve("2027-01-01").unwrap(), DataPlaneVersion::latest());
        assert_eq!(lenient.resolve("2027-02-01-preview").unwrap(), DataPlaneVersion::latest());
        assert_eq!(lenient.warned.lock().unwrap().len(), 2);
        for refused in ["2020-01-01", "2026-06-01", "7.7", "2027-13-01", "2027-1-01", "2027-01-01-beta", "latest", ""] {
            assert_eq!(lenient.resolve(refused), Err(UnknownVersion), "{refused}");
        }
    }
}
