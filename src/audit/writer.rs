//! The one task that writes the audit log: batches from the channel, one transaction each,
//! retention, then the live stream and the diagnostics file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use super::diagnostics::DiagnosticsFile;
use super::{AuditSettings, BATCH_SIZE, Command, LiveRecord, PendingAudit};
use crate::auth::identity::Identities;
use crate::clock::Clock;
use crate::store::{self, Pool};

/// Retention runs after this many new records or this long, whichever comes first.
const PRUNE_EVERY_RECORDS: u64 = 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(5);
/// How long the writer waits for more records after the first of a batch.
const BATCH_LINGER: Duration = Duration::from_millis(25);

pub(super) struct Writer {
    pub receiver: mpsc::Receiver<Command>,
    pub pool: Pool,
    pub clock: Clock,
    pub identities: Identities,
    pub settings: AuditSettings,
    pub live: broadcast::Sender<LiveRecord>,
    pub diagnostics: Option<DiagnosticsFile>,
    pub dropped: Arc<AtomicU64>,
    pub written: Arc<AtomicU64>,
}

impl Writer {
    pub async fn run(mut self) {
        let mut since_prune = 0u64;
        let mut last_prune = Instant::now();
        // Retention first, so a restart with a smaller limit applies it at once.
        self.prune().await;
        let mut commands = Vec::with_capacity(BATCH_SIZE);
        while self.receiver.recv_many(&mut commands, BATCH_SIZE).await > 0 {
            // Gather a batch before committing: a commit (and its fsync) per request costs more
            // than the request itself. A flush (a reader waiting) is served at once.
            if commands.len() < BATCH_SIZE && !commands.iter().any(|c| matches!(c, Command::Flush(_))) {
                tokio::time::sleep(BATCH_LINGER).await;
                while commands.len() < BATCH_SIZE {
                    match self.receiver.try_recv() {
                        Ok(command) => commands.push(command),
                        Err(_) => break,
                    }
                }
            }
            let mut records = Vec::with_capacity(commands.len());
            let mut flushes = Vec::new();
            for command in commands.drain(..) {
                match command {
                    Command::Record(pending) => records.push(*pending),
                    Command::Flush(done) => flushes.push(done),
                }
            }
            if !records.is_empty() {
                since_prune += records.len() as u64;
                self.write(records).await;
            }
            if since_prune >= PRUNE_EVERY_RECORDS || (since_prune > 0 && last_prune.elapsed() >= PRUNE_EVERY) {
                self.prune().await;
                since_prune = 0;
                last_prune = Instant::now();
            }
            for done in flushes {
                let _ = done.send(());
            }
        }
    }

    async fn write(&mut self, batch: Vec<PendingAudit>) {
        let count = batch.len() as u64;
        let directory = self.identities.current();
        let written = async {
            let mut tx = store::begin_write(&self.pool).await?;
            let mut id = store::audit::next_id(&mut tx).await?;
            let mut live = Vec::with_capacity(batch.len());
            for pending in batch {
                let time_ms = pending.emulator_ms;
                let record = pending.into_record(id, &directory);
                let json = serde_json::to_string(&record).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                store::audit::insert(&mut tx, &store::audit::AuditRow { time_ms, record: &record, json: &json })
                    .await?;
                live.push(LiveRecord { time_ms, record: Arc::new(record) });
                id += 1;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(live)
        }
        .await;
        match written {
            Ok(live) => {
                self.written.fetch_add(count, Ordering::Relaxed);
                if let Some(file) = &mut self.diagnostics {
                    file.append(live.iter().map(|l| l.record.as_ref()));
                }
                for record in live {
                    // No subscriber is not an error.
                    let _ = self.live.send(record);
                }
            }
            Err(err) => {
                self.dropped.fetch_add(count, Ordering::Relaxed);
                tracing::warn!(error = %err, records = count, "audit records could not be written and were dropped");
            }
        }
    }

    async fn prune(&self) {
        let (now_ms, _) = super::now_ms(&self.clock);
        let oldest = now_ms.saturating_sub(self.settings.max_age_seconds.saturating_mul(1000));
        let pruned = async {
            let mut tx = store::begin_write(&self.pool).await?;
            let gone = store::audit::prune(&mut tx, self.settings.max_records, oldest).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(gone)
        }
        .await;
        if let Err(err) = pruned {
            tracing::warn!(error = %err, "audit retention could not run");
        }
    }
}
