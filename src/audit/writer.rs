//! The one task that writes the audit log: batches from the channel, one transaction each,
//! retention, then the live stream and the diagnostics file.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use super::context::{ContextSource, RecordFacts, SharedContext};
use super::diagnostics::DiagnosticsFile;
use super::record::AuditRecord;
use super::{AuditSettings, BATCH_SIZE, Command, LiveRecord, PendingAudit};
use crate::auth::identity::{Identities, IdentityDirectory};
use crate::clock::Clock;
use crate::store::{self, Pool};

/// Retention runs after this many new records or this long, whichever comes first.
const PRUNE_EVERY_RECORDS: u64 = 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(5);
/// How long the writer waits for more records after the first of a batch: at a few thousand
/// requests a second, a full batch. The live stream lags by as much; readers do not (a flush
/// ends the wait).
const BATCH_LINGER: Duration = Duration::from_millis(250);
/// Records formatted between two yields to the runtime.
const FORMAT_BETWEEN_YIELDS: usize = 32;
/// Unreferenced shared contexts are deleted on every this many retention runs.
const PRUNE_CONTEXTS_EVERY: u64 = 100;
/// The writer forgets the contexts it knows beyond this many (a context is a few hundred bytes,
/// one per caller, operation, key version and path in use: a local stack has tens to hundreds).
const MAX_KNOWN_CONTEXTS: usize = 4096;

/// The shared contexts the writer has stored, by what they were made from.
#[derive(Default)]
pub(super) struct KnownContexts {
    known: HashMap<ContextSource, (i64, Arc<SharedContext>)>,
    /// The identity directory the callers' names were looked up in.
    directory: Option<Arc<IdentityDirectory>>,
}

impl KnownContexts {
    /// Forgets everything when the directory changed (a caller's name may have) or the cache
    /// is full.
    fn follow(&mut self, directory: &Arc<IdentityDirectory>) {
        let same = self.directory.as_ref().is_some_and(|known| Arc::ptr_eq(known, directory));
        if !same || self.known.len() > MAX_KNOWN_CONTEXTS {
            self.known.clear();
            self.directory = Some(directory.clone());
        }
    }
}

/// A batch record's context: one the store holds, or one of the batch's new ones.
pub(super) enum ContextRef {
    Stored(i64, Arc<SharedContext>),
    New(usize),
}

/// The contexts first seen in a batch, each made and serialised once.
#[derive(Default)]
struct NewContexts {
    sources: HashMap<ContextSource, usize>,
    contexts: Vec<(Arc<SharedContext>, String)>,
}

impl NewContexts {
    fn index(&mut self, source: ContextSource, directory: &IdentityDirectory) -> Result<usize, sqlx::Error> {
        if let Some(&index) = self.sources.get(&source) {
            return Ok(index);
        }
        let context = source.shared(directory);
        let json = serde_json::to_string(&context).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        self.contexts.push((Arc::new(context), json));
        self.sources.insert(source, self.contexts.len() - 1);
        Ok(self.contexts.len() - 1)
    }
}

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
    /// Woken by [`super::AuditLog::flush`], so a reader does not wait out [`BATCH_LINGER`].
    pub flush_requested: Arc<tokio::sync::Notify>,
    /// The id of the next record, once read from the store.
    pub next_id: Option<i64>,
    /// The writer's own connection to a database file (see [`store::dedicated_connection`]).
    pub own_connection: Option<sqlx::SqliteConnection>,
    pub contexts: KnownContexts,
    /// A batch's facts and their contexts, kept for the next batch (see `run`).
    pub facts: Vec<RecordFacts>,
    pub context_refs: Vec<ContextRef>,
    /// Retention runs so far.
    pub prunes: u64,
}

impl Writer {
    pub async fn run(mut self) {
        let mut since_prune = 0u64;
        let mut last_prune = Instant::now();
        self.own_connection = match store::dedicated_connection(&self.pool).await {
            Ok(connection) => connection,
            Err(err) => {
                tracing::warn!(error = %err, "the audit writer shares the pool's connections");
                None
            }
        };
        // Retention first, so a restart with a smaller limit applies it at once.
        self.prune().await;
        let mut commands = Vec::with_capacity(BATCH_SIZE);
        // Kept from batch to batch: allocating and freeing a batch's worth each time made the
        // allocator consolidate its free lists, a visible share of the writer's cost.
        let mut records = Vec::with_capacity(BATCH_SIZE);
        while self.receiver.recv_many(&mut commands, BATCH_SIZE).await > 0 {
            // Gather a batch before committing: each commit rewrites the table's and the
            // indexes' last pages and passes through the connection's thread, and batches of a
            // few records cost a request a fifth of its time. A flush (a reader waiting) ends the
            // wait at once; records alone do not wake the writer while it waits.
            if commands.len() < BATCH_SIZE
                && !commands.iter().any(|c| matches!(c, Command::Flush(_) | Command::Close(_)))
            {
                tokio::select! {
                    () = tokio::time::sleep(BATCH_LINGER) => {}
                    () = self.flush_requested.notified() => {}
                }
                while commands.len() < BATCH_SIZE {
                    match self.receiver.try_recv() {
                        Ok(command) => commands.push(command),
                        Err(_) => break,
                    }
                }
            }
            let mut flushes = Vec::new();
            let mut closing = false;
            for command in commands.drain(..) {
                match command {
                    Command::Record(pending) => records.push(*pending),
                    Command::Flush(done) => flushes.push(done),
                    Command::Close(done) => {
                        closing = true;
                        flushes.push(done);
                    }
                }
            }
            if !records.is_empty() {
                since_prune += records.len() as u64;
                self.write(&mut records).await;
            }
            if since_prune >= PRUNE_EVERY_RECORDS || (since_prune > 0 && last_prune.elapsed() >= PRUNE_EVERY) {
                self.prune().await;
                since_prune = 0;
                last_prune = Instant::now();
            }
            if closing {
                // SQLite removes the WAL only when the database's last connection closes: the
                // store's close at shutdown needs this one gone first.
                if let Some(connection) = self.own_connection.take()
                    && let Err(err) = sqlx::Connection::close(connection).await
                {
                    tracing::warn!(error = %err, "the audit writer's connection did not close cleanly");
                }
            }
            for done in flushes {
                let _ = done.send(());
            }
            if closing {
                return;
            }
        }
    }

    async fn write(&mut self, batch: &mut Vec<PendingAudit>) {
        let count = batch.len() as u64;
        let directory = self.identities.current();
        self.contexts.follow(&directory);
        // Whole records are made only for someone to read them now; the store needs only the
        // facts and the contexts' ids.
        let wanted = self.live.receiver_count() > 0 || self.diagnostics.is_some();
        let written = async {
            // Split before the write lock is taken, and a few records at a time: a batch is
            // hundreds of records, and the runtime thread it runs on serves requests too.
            let first_id = self.next_id().await?;
            let mut facts = std::mem::take(&mut self.facts);
            let mut contexts = std::mem::take(&mut self.context_refs);
            let mut new = NewContexts::default();
            for (id, pending) in (first_id..).zip(batch.drain(..)) {
                let (record_facts, source) = pending.into_parts(id);
                let context = match self.contexts.known.get(&source) {
                    Some((id, context)) => ContextRef::Stored(*id, context.clone()),
                    None => ContextRef::New(new.index(source, &directory)?),
                };
                facts.push(record_facts);
                contexts.push(context);
                if facts.len().is_multiple_of(FORMAT_BETWEEN_YIELDS) {
                    tokio::task::yield_now().await;
                }
            }
            let mut tx = self.begin().await?;
            let mut new_ids = Vec::with_capacity(new.contexts.len());
            for (context, json) in &new.contexts {
                new_ids.push(store::audit::context_id(&mut tx, context, json).await?);
            }
            let rows: Vec<_> = facts
                .iter()
                .zip(&contexts)
                .map(|(facts, context)| store::audit::AuditRow {
                    facts,
                    context: match context {
                        ContextRef::Stored(id, _) => *id,
                        ContextRef::New(index) => new_ids[*index],
                    },
                })
                .collect();
            store::audit::insert_batch(&mut tx, &rows).await?;
            drop(rows);
            tx.commit().await?;
            Ok::<_, sqlx::Error>((facts, contexts, new, new_ids))
        }
        .await;
        match written {
            Ok((mut facts, mut contexts, new, new_ids)) => {
                // The next id is known only after a commit; after a failure it is read again.
                self.next_id = facts.last().map(|f| f.id + 1).or(self.next_id);
                self.written.fetch_add(count, Ordering::Relaxed);
                // Only now: a context's id from a transaction that failed would not exist.
                for (source, index) in new.sources {
                    self.contexts.known.insert(source, (new_ids[index], new.contexts[index].0.clone()));
                }
                if wanted {
                    let live: Vec<LiveRecord> = facts
                        .drain(..)
                        .zip(contexts.drain(..))
                        .map(|(facts, context)| {
                            let context = match context {
                                ContextRef::Stored(_, context) => context,
                                ContextRef::New(index) => new.contexts[index].0.clone(),
                            };
                            let time_ms = facts.time_ms;
                            LiveRecord { time_ms, record: Arc::new(AuditRecord::assemble(facts, &context)) }
                        })
                        .collect();
                    if let Some(file) = &mut self.diagnostics {
                        file.append(live.iter().map(|l| l.record.as_ref()));
                    }
                    for record in live {
                        // No subscriber is not an error.
                        let _ = self.live.send(record);
                    }
                }
                facts.clear();
                contexts.clear();
                self.facts = facts;
                self.context_refs = contexts;
            }
            Err(err) => {
                self.next_id = None;
                self.dropped.fetch_add(count, Ordering::Relaxed);
                tracing::warn!(error = %err, records = count, "audit records could not be written and were dropped");
            }
        }
    }

    /// The id the next record gets. The writer is alone in writing the table, so it reads the
    /// store once and counts on from there.
    async fn next_id(&mut self) -> Result<i64, sqlx::Error> {
        if let Some(id) = self.next_id {
            return Ok(id);
        }
        let id = match &mut self.own_connection {
            Some(connection) => store::audit::next_id(connection).await?,
            None => store::audit::next_id(&mut *self.pool.acquire().await?).await?,
        };
        self.next_id = Some(id);
        Ok(id)
    }

    async fn begin(&mut self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, sqlx::Error> {
        match &mut self.own_connection {
            Some(connection) => store::begin_write_on(connection).await,
            None => store::begin_write(&self.pool).await,
        }
    }

    async fn prune(&mut self) {
        // Contexts outlive their last record until this runs; it reads every record's context,
        // so only every so often (and at start).
        let contexts_too = self.prunes.is_multiple_of(PRUNE_CONTEXTS_EVERY);
        self.prunes += 1;
        let (now_ms, _) = super::now_ms(&self.clock);
        let oldest = now_ms.saturating_sub(self.settings.max_age_seconds.saturating_mul(1000));
        let pruned = async {
            let max_records = self.settings.max_records;
            let mut tx = self.begin().await?;
            let gone = store::audit::prune(&mut tx, max_records, oldest).await?;
            if contexts_too {
                store::audit::prune_contexts(&mut tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(gone)
        }
        .await;
        if contexts_too {
            // Whatever happened, a cached id may name a context that is gone.
            self.contexts.known.clear();
        }
        if let Err(err) = pruned {
            tracing::warn!(error = %err, "audit retention could not run");
        }
    }
}
