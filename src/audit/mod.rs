//! The audit log: one record per request that reached authorization (vault data plane and
//! management plane), kept in SQLite with bounded retention, queryable at `/_emulator/audit`,
//! streamed live at `/_emulator/audit/stream`, summarised per key version at
//! `/_emulator/keys/{vault}/{key}/usage`, and optionally written as Azure `AuditEvent` lines
//! (`--diagnostics-log`).
//!
//! Off the request's critical path: a request hands a [`PendingAudit`] to a bounded channel
//! with `try_send` and moves on; one writer task takes records in batches, formats them, writes
//! each batch in one transaction, applies retention, then publishes them to the live stream and
//! the diagnostics file. When the channel is full the record is dropped and counted
//! (`dropped` in the list, `keyvault_emulator_audit_dropped_total` in `/metrics`): a request
//! never waits for the audit log.
//!
//! - `record`: the record and its JSON shape (a public contract); `context`: the record split
//!   into what is stored per row and the context many rows share.
//! - `filter`: list and stream filters; `usage`: the per-version summary;
//!   `diagnostics`: the `AuditEvent` line; `writer`: the batching writer task.

pub mod context;
pub mod diagnostics;
pub mod filter;
pub mod record;
pub mod usage;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{broadcast, mpsc, oneshot};

pub use record::{AuditRecord, Exchange, ManagementDecision, PendingAudit, Subject};

use crate::auth::identity::Identities;
use crate::clock::Clock;
use crate::store::Pool;

/// Records the channel holds before new ones are dropped: far more than a burst of requests on
/// two cores produces while the writer commits one batch.
pub const CHANNEL_CAPACITY: usize = 8192;
/// Records written per transaction at most.
pub const BATCH_SIZE: usize = 512;
/// Stream subscribers that fall this far behind skip ahead (and are told how much they missed).
const LIVE_CAPACITY: usize = 1024;

/// Defaults for retention: enough for a day of a busy local stack, small enough to stay fast.
pub const DEFAULT_MAX_RECORDS: u64 = 100_000;
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 30 * 86_400;

/// How the audit log is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSettings {
    /// `false`: no records at all (`--no-audit-log`), for the benchmark's comparison.
    pub enabled: bool,
    pub max_records: u64,
    /// Records older than this on the emulator clock are deleted.
    pub max_age_seconds: i64,
    /// Where to append Azure `AuditEvent` JSON lines, if anywhere.
    pub diagnostics_log: Option<PathBuf>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_records: DEFAULT_MAX_RECORDS,
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
            diagnostics_log: None,
        }
    }
}

/// A record as the live stream carries it: with its emulator time, for time filters.
#[derive(Clone, Debug)]
pub struct LiveRecord {
    pub time_ms: i64,
    pub record: Arc<AuditRecord>,
}

enum Command {
    Record(Box<PendingAudit>),
    /// Answered once every record sent before it is committed.
    Flush(oneshot::Sender<()>),
    /// A flush, after which the writer closes its connection and stops (shutdown).
    Close(oneshot::Sender<()>),
}

/// The handle requests and the controls use.
#[derive(Debug)]
pub struct AuditLog {
    sender: Option<mpsc::Sender<Command>>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    live: broadcast::Sender<LiveRecord>,
    clock: Clock,
    pool: Pool,
    flush_requested: Arc<tokio::sync::Notify>,
    /// Set by [`AuditLog::close`]: later records are dropped (and counted) at once.
    closed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Record(_) => "Record",
            Self::Flush(_) => "Flush",
            Self::Close(_) => "Close",
        })
    }
}

/// (emulator time, wall time) in milliseconds: records and retention need finer than the
/// clock's seconds, or an age limit of one second would keep what is up to two seconds old.
#[must_use]
pub fn now_ms(clock: &Clock) -> (i64, i64) {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    (wall.saturating_add(clock.offset().saturating_mul(1000)), wall)
}

impl AuditLog {
    /// Starts the writer task (when enabled). Fails only if the diagnostics file cannot be
    /// opened.
    pub fn start(
        settings: AuditSettings,
        pool: Pool,
        clock: Clock,
        identities: Identities,
    ) -> std::io::Result<Arc<Self>> {
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let flush_requested = Arc::new(tokio::sync::Notify::new());
        let sender = if settings.enabled {
            let diagnostics =
                settings.diagnostics_log.as_deref().map(diagnostics::DiagnosticsFile::open).transpose()?;
            let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
            let writer = writer::Writer {
                receiver,
                pool: pool.clone(),
                clock: clock.clone(),
                identities,
                settings,
                live: live.clone(),
                diagnostics,
                dropped: dropped.clone(),
                written: written.clone(),
                own_connection: None,
                next_id: None,
                contexts: writer::KnownContexts::default(),
                facts: Vec::new(),
                context_refs: Vec::new(),
                prunes: 0,
                flush_requested: flush_requested.clone(),
            };
            tokio::spawn(writer.run());
            Some(sender)
        } else {
            None
        };
        Ok(Arc::new(Self { sender, dropped, written, live, clock, pool, flush_requested, closed: Default::default() }))
    }

    #[must_use]
    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// The emulator time and wall time, in Unix milliseconds, for a record made now.
    #[must_use]
    pub fn now_ms(&self) -> (i64, i64) {
        now_ms(&self.clock)
    }

    /// Hands a record to the writer without waiting; drops (and counts) it when the channel is
    /// full.
    pub fn submit(&self, pending: PendingAudit) {
        let Some(sender) = &self.sender else { return };
        if self.closed.load(Ordering::Relaxed) || sender.try_send(Command::Record(Box::new(pending))).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until every record submitted so far is committed (a read of the log sees the
    /// requests that finished before it).
    pub async fn flush(&self) {
        // After close there is nothing to wait for (and no writer to answer).
        if !self.closed.load(Ordering::Relaxed) {
            self.send_and_wait(Command::Flush).await;
        }
    }

    /// Commits every record submitted so far, closes the writer's own database connection and
    /// stops the writer: the last step before the store closes. Records submitted later are
    /// dropped and counted.
    pub async fn close(&self) {
        if !self.closed.swap(true, Ordering::Relaxed) {
            self.send_and_wait(Command::Close).await;
        }
    }

    async fn send_and_wait(&self, command: fn(oneshot::Sender<()>) -> Command) {
        let Some(sender) = &self.sender else { return };
        let (done, wait) = oneshot::channel();
        if sender.send(command(done)).await.is_ok() {
            self.flush_requested.notify_one();
            let _ = wait.await;
        }
    }

    /// Records dropped because the channel was full (or a batch failed to commit).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<LiveRecord> {
        self.live.subscribe()
    }

    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// The audit log's lines of `/metrics` (Prometheus text).
#[must_use]
pub fn render_metrics(audit: &AuditLog) -> String {
    format!(
        "# HELP kvemu_audit_records_total Audit records written.\n# TYPE kvemu_audit_records_total counter\n\
         kvemu_audit_records_total {}\n\
         # HELP kvemu_audit_dropped_total Audit records dropped: the writer's queue was full or a write failed.\n\
         # TYPE kvemu_audit_dropped_total counter\nkvemu_audit_dropped_total {}\n",
        audit.written(),
        audit.dropped()
    )
}

/// The key version a vault handler resolved, left on its response for the audit record.
#[derive(Clone, Debug)]
pub struct ResolvedVersion(pub String);

/// The address of the connection a request came on, set by the listener.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub std::net::SocketAddr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;
    use crate::auth::identity::IdentityDirectory;
    use crate::auth::table::ManagementOperation;
    use uuid::Uuid;

    fn pending() -> PendingAudit {
        // Now, not the epoch: retention would prune records dated 1970.
        let now_ms =
            i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis())
                .unwrap();
        PendingAudit {
            emulator_ms: now_ms,
            wall_ms: now_ms,
            principal: Principal {
                tenant_id: Uuid::nil(),
                object_id: Uuid::from_u128(1),
                app_id: Uuid::from_u128(2),
                issuer: "iss".into(),
            },
            subject: Subject::Management {
                operation: ManagementOperation::ListSubscriptions,
                scope: "/subscriptions".into(),
                action: None,
                decision: ManagementDecision::AnyCaller,
            },
            exchange: Exchange { status: 200, ..Exchange::default() },
        }
    }

    /// Submitting never waits: with the writer stuck (the in-memory store's one connection is
    /// held), what the queue cannot take is dropped and counted, and the rest is written later.
    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let pool = crate::store::open(None).await.unwrap();
        let identities = Identities::load(pool.clone(), IdentityDirectory::with_defaults(Uuid::nil())).await.unwrap();
        let held = pool.acquire().await.unwrap();
        let audit = AuditLog::start(AuditSettings::default(), pool.clone(), Clock::new(), identities).unwrap();
        let total = CHANNEL_CAPACITY + BATCH_SIZE + 100;
        for _ in 0..total {
            audit.submit(pending());
        }
        let dropped = audit.dropped();
        assert!(dropped >= 100, "dropped {dropped}");
        drop(held);
        audit.flush().await;
        assert_eq!(audit.written() + dropped, total as u64);
        let mut conn = pool.acquire().await.unwrap();
        let stored = crate::store::audit::page(&mut conn, &filter::AuditFilter::default(), None, 1).await.unwrap();
        assert_eq!(stored[0].id, i64::try_from(audit.written()).unwrap());
        assert_eq!(stored[0].plane, "management");
    }

    /// On a database file the writer holds a connection of its own; `close` commits what was
    /// submitted and closes it, so closing the store then removes the WAL.
    #[tokio::test]
    async fn close_commits_and_lets_the_store_close_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::store::open(Some(dir.path())).await.unwrap();
        let identities = Identities::load(pool.clone(), IdentityDirectory::with_defaults(Uuid::nil())).await.unwrap();
        let audit = AuditLog::start(AuditSettings::default(), pool.clone(), Clock::new(), identities).unwrap();
        for _ in 0..3 {
            audit.submit(pending());
        }
        audit.close().await;
        assert_eq!(audit.written(), 3);
        audit.submit(pending());
        audit.flush().await;
        assert_eq!((audit.written(), audit.dropped()), (3, 1), "after close, records are dropped and counted");
        pool.close().await;
        let wal = dir.path().join(format!("{}-wal", crate::store::DB_FILE));
        assert!(!wal.exists(), "the WAL outlived the store: a connection was left open");
    }

    #[tokio::test]
    async fn a_disabled_log_keeps_nothing() {
        let pool = crate::store::open(None).await.unwrap();
        let identities = Identities::load(pool.clone(), IdentityDirectory::with_defaults(Uuid::nil())).await.unwrap();
        let settings = AuditSettings { enabled: false, ..AuditSettings::default() };
        let audit = AuditLog::start(settings, pool, Clock::new(), identities).unwrap();
        audit.submit(pending());
        audit.flush().await;
        assert_eq!((audit.enabled(), audit.written(), audit.dropped()), (false, 0, 0));
    }
}
