//! Work the emulator clock makes due: soft-deleted vaults and keys past their scheduled purge
//! date, and keys whose rotation policy says rotate. [`DueWorkScheduler`] is its one owner:
//! the periodic sweep (started by `server`) and the run right after a clock move
//! (`/_emulator/clock`, `Emulator::advance_clock`) both go through [`DueWorkScheduler::run`],
//! one pass at a time. No HTTP here.

use std::sync::Arc;
use std::time::Duration;

use crate::keys::service::KeyService;
use crate::vaults::VaultRegistry;

/// How often the sweep looks for due work. Moving the clock runs it at once; this catches the
/// wall clock getting there.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DueWork {
    /// Soft-deleted keys purged.
    pub purged: usize,
    /// Keys rotated by their policy.
    pub rotated: usize,
    /// Soft-deleted vaults purged.
    pub purged_vaults: usize,
}

#[derive(Clone)]
pub struct DueWorkScheduler {
    keys: KeyService,
    vaults: VaultRegistry,
    /// One pass at a time: the sweep and a clock move must not both rotate a key.
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

impl DueWorkScheduler {
    #[must_use]
    pub fn new(keys: KeyService, vaults: VaultRegistry) -> Self {
        Self { keys, vaults, one_at_a_time: Arc::default() }
    }

    /// Everything the clock made due: soft-deleted vaults past their purge date first (their
    /// keys go with them), then deleted keys and policy rotations in the remaining vaults.
    pub async fn run(&self) -> Result<DueWork, crate::keys::Error> {
        let _one_at_a_time = self.one_at_a_time.lock().await;
        let purged_vaults = self.vaults.purge_due().await.map_err(|e| crate::keys::Error::Internal(e.to_string()))?;
        let purged = self.keys.purge_due().await?;
        let rotated = self.keys.rotate_due(&self.vaults.all_stores()).await?;
        Ok(DueWork { purged, rotated, purged_vaults })
    }

    /// Runs [`Self::run`] every `every` until the task is aborted; a failed pass is logged and
    /// the next one tries again.
    pub async fn sweep(self, every: Duration) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(err) = self.run().await {
                tracing::warn!(error = %err, "due-work sweep (purge, rotation) failed; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::crypto::sealing::MasterKey;
    use crate::keys::model::KeyName;
    use crate::keys::pool::RsaKeyPool;
    use crate::keys::service::test_support::ec_request;
    use crate::keys::version_cache::VersionCache;
    use crate::vaults::{Vault, VaultName, VaultSettings};

    const DAY: i64 = 86_400;

    async fn scheduler() -> (DueWorkScheduler, Clock) {
        let pool = crate::store::open(None).await.unwrap();
        let clock = Clock::new();
        let versions = Arc::new(VersionCache::default());
        let vaults = VaultRegistry::load(pool.clone(), clock.clone(), versions.clone()).await.unwrap();
        let master = Arc::new(MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap());
        let keys = KeyService::new(pool, clock.clone(), master, RsaKeyPool::new(Default::default()), versions);
        (DueWorkScheduler::new(keys, vaults), clock)
    }

    async fn vault(scheduler: &DueWorkScheduler, name: &str) -> Arc<Vault> {
        scheduler
            .vaults
            .create({
                let mut settings = VaultSettings::new(VaultName::parse(name).unwrap());
                settings.soft_delete_retention_days = 7;
                Vault::new(&settings, uuid::Uuid::nil())
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_pass_purges_and_rotates_what_the_clock_reached_and_nothing_else() {
        let (scheduler, clock) = scheduler().await;
        let kept = vault(&scheduler, "kept").await;
        vault(&scheduler, "gone").await;
        let name = |text| KeyName::parse(text).unwrap();
        scheduler.keys.create_key(&kept, &name("deleted"), ec_request()).await.unwrap();
        scheduler.keys.delete_key(&kept, &name("deleted")).await.unwrap();
        let first = scheduler.keys.create_key(&kept, &name("rotating"), ec_request()).await.unwrap();
        let policy = serde_json::from_value(serde_json::json!({
            "lifetimeActions": [{ "trigger": { "timeAfterCreate": "P10D" }, "action": { "type": "Rotate" } }]
        }))
        .unwrap();
        scheduler.keys.set_rotation_policy(&kept, &name("rotating"), policy).await.unwrap();
        scheduler.vaults.delete("gone").await.unwrap();

        assert_eq!(scheduler.run().await.unwrap(), DueWork::default(), "nothing is due yet");
        clock.advance(8 * DAY);
        assert_eq!(scheduler.run().await.unwrap(), DueWork { purged: 1, rotated: 0, purged_vaults: 1 });
        clock.advance(3 * DAY);
        assert_eq!(scheduler.run().await.unwrap(), DueWork { purged: 0, rotated: 1, purged_vaults: 0 });
        let current = scheduler.keys.get_key(&kept, &name("rotating"), None).await.unwrap();
        assert_ne!(current.version, first.version);
        assert_eq!(scheduler.run().await.unwrap(), DueWork::default(), "a pass does each thing once");
    }

    #[tokio::test]
    async fn concurrent_passes_do_the_work_once() {
        let (scheduler, clock) = scheduler().await;
        let kept = vault(&scheduler, "kept").await;
        let name = KeyName::parse("k").unwrap();
        scheduler.keys.create_key(&kept, &name, ec_request()).await.unwrap();
        let policy = serde_json::from_value(serde_json::json!({
            "lifetimeActions": [{ "trigger": { "timeAfterCreate": "P7D" }, "action": { "type": "Rotate" } }]
        }))
        .unwrap();
        scheduler.keys.set_rotation_policy(&kept, &name, policy).await.unwrap();
        clock.advance(8 * DAY);
        let (a, b) = tokio::join!(scheduler.run(), scheduler.run());
        assert_eq!(a.unwrap().rotated + b.unwrap().rotated, 1);
        let versions = scheduler.keys.list_versions(&kept, &name, 25, None).await.unwrap();
        assert_eq!(versions.items.len(), 2);
    }
}
