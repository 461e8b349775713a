//! The audit table: batched inserts, retention, filtered pages, and per-version usage.

use sqlx::{QueryBuilder, Row, Sqlite};

use super::Conn;
use crate::audit::context::{RecordFacts, SharedContext};
use crate::audit::filter::AuditFilter;
use crate::audit::record::AuditRecord;

/// A record's facts and the id of its shared context.
pub struct AuditRow<'a> {
    pub facts: &'a RecordFacts,
    pub context: i64,
}

/// The id the next record gets (records are numbered by the writer, which is alone in writing).
pub async fn next_id(conn: &mut Conn) -> Result<i64, sqlx::Error> {
    // sqlite_sequence keeps the highest id ever used, even after retention deleted it.
    let used: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetch_optional(&mut *conn).await?;
    Ok(used.unwrap_or(0) + 1)
}

/// The id of `context` (its JSON is `json`), stored now if it is new.
pub async fn context_id(conn: &mut Conn, context: &SharedContext, json: &str) -> Result<i64, sqlx::Error> {
    // DO UPDATE rather than DO NOTHING: only then does RETURNING give the existing row's id.
    sqlx::query_scalar(
        "INSERT INTO audit_context (vault, key_name, version, caller_object_id, app_id, caller_name, operation, \
         context) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (context) DO UPDATE SET context = excluded.context RETURNING id",
    )
    .bind(context.vault.as_deref())
    .bind(context.key.as_deref())
    .bind(context.version.as_deref())
    .bind(context.caller.object_id.to_string())
    .bind(context.caller.app_id.to_string())
    .bind(context.caller.name.as_deref())
    .bind(context.operation.as_str())
    .bind(json)
    .fetch_one(&mut *conn)
    .await
}

/// Rows per INSERT statement, largest first: a batch goes in as few statements as these sizes
/// allow. One statement per batch had to be parsed and planned every time (and its thousands of
/// parameters allocated and freed); one per record costs a round trip to the connection's
/// thread each. These four are prepared once and stay in the connection's statement cache.
const ROWS_PER_STATEMENT: [usize; 4] = [64, 16, 4, 1];

/// Inserts a batch of rows (within the caller's transaction).
pub async fn insert_batch(conn: &mut Conn, rows: &[AuditRow<'_>]) -> Result<(), sqlx::Error> {
    let mut rest = rows;
    while !rest.is_empty() {
        let size = ROWS_PER_STATEMENT.into_iter().find(|&size| size <= rest.len()).unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO audit (id, time_ms, context, allowed, status, request_id, client_request_id, \
             client_address, query, duration_ms) ",
        );
        query.push_values(chunk, |mut values, row| {
            let f = row.facts;
            values
                .push_bind(f.id)
                .push_bind(f.time_ms)
                .push_bind(row.context)
                .push_bind(f.allowed)
                .push_bind(i64::from(f.status))
                .push_bind(f.request_id.as_str())
                .push_bind(f.client_request_id.as_deref())
                .push_bind(f.client_address.as_deref())
                .push_bind(f.query.as_deref())
                .push_bind(f.duration_ms);
        });
        query.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Parameters of one record in [`insert_batch`].
const PARAMETERS_PER_RECORD: usize = 10;
// SQLite allows 32,766 parameters a statement.
const _: () = assert!(ROWS_PER_STATEMENT[0] * PARAMETERS_PER_RECORD <= 32_766);

/// Deletes records beyond the newest `max_records` and those older than `oldest_ms` (emulator
/// clock). Returns how many went.
///
/// By count through the ids, not `ORDER BY id DESC OFFSET max_records`: that walks every kept
/// row (100,000 by default, 140 MB of pages) on each run. Ids are handed out one after another
/// and only the oldest are ever deleted, so the newest `max_records` are those above
/// `MAX(id) - max_records`.
pub async fn prune(conn: &mut Conn, max_records: u64, oldest_ms: i64) -> Result<u64, sqlx::Error> {
    let by_age = sqlx::query("DELETE FROM audit WHERE time_ms < ?").bind(oldest_ms).execute(&mut *conn).await?;
    let keep = i64::try_from(max_records).unwrap_or(i64::MAX);
    let by_count = sqlx::query("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?")
        .bind(keep)
        .execute(&mut *conn)
        .await?;
    Ok(by_age.rows_affected() + by_count.rows_affected())
}

/// Deletes the shared contexts no record names any more. Returns how many went.
pub async fn prune_contexts(conn: &mut Conn) -> Result<u64, sqlx::Error> {
    let gone = sqlx::query("DELETE FROM audit_context WHERE id NOT IN (SELECT context FROM audit)")
        .execute(&mut *conn)
        .await?;
    Ok(gone.rows_affected())
}

/// A record's columns and its context, in the order [`decode`] reads them (a macro, for
/// `concat!`: the statements stay static and cached).
macro_rules! record_columns {
    () => {
        "a.id, a.time_ms, a.allowed, a.status, a.request_id, a.client_request_id, a.client_address, a.query, \
         a.duration_ms, c.context"
    };
}
const SELECT_RECORDS: &str =
    concat!("SELECT ", record_columns!(), " FROM audit a JOIN audit_context c ON c.id = a.context");

fn push_filter(query: &mut QueryBuilder<Sqlite>, filter: &AuditFilter) {
    query.push(" WHERE 1 = 1");
    if let Some(vault) = &filter.vault {
        query.push(" AND c.vault = ").push_bind(vault.clone());
    }
    if let Some(key) = &filter.key {
        query.push(" AND c.key_name = ").push_bind(key.clone());
    }
    if let Some(version) = &filter.version {
        query.push(" AND c.version = ").push_bind(version.clone());
    }
    if let Some(caller) = &filter.caller {
        query
            .push(" AND (c.caller_object_id = ")
            .push_bind(caller.to_ascii_lowercase())
            .push(" OR c.app_id = ")
            .push_bind(caller.to_ascii_lowercase())
            .push(" OR c.caller_name = ")
            .push_bind(caller.clone())
            .push(")");
    }
    if let Some(operation) = &filter.operation {
        query.push(" AND c.operation = ").push_bind(operation.clone());
    }
    if let Some(allowed) = filter.allowed {
        query.push(" AND a.allowed = ").push_bind(allowed);
    }
    if let Some(from) = filter.from_ms {
        query.push(" AND a.time_ms >= ").push_bind(from);
    }
    if let Some(to) = filter.to_ms {
        query.push(" AND a.time_ms <= ").push_bind(to);
    }
}

/// Up to `limit` records matching `filter`, newest first, with ids below `before` if given.
pub async fn page(
    conn: &mut Conn,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let mut query = QueryBuilder::new(SELECT_RECORDS);
    push_filter(&mut query, filter);
    if let Some(before) = before {
        query.push(" AND a.id < ").push_bind(before);
    }
    query.push(" ORDER BY a.id DESC LIMIT ").push_bind(i64::from(limit));
    let rows = query.build().fetch_all(&mut *conn).await?;
    rows.iter().map(decode).collect()
}

/// Successful allowed requests on one key, per (version, caller): how many, and the newest.
pub async fn uses_by_caller(conn: &mut Conn, vault: &str, key: &str) -> Result<Vec<(i64, AuditRecord)>, sqlx::Error> {
    // The newest record of each group by a join: SQLite refuses an outer aggregate inside a
    // correlated subquery ("misuse of aggregate function MAX()").
    let rows = sqlx::query(concat!(
        "SELECT ",
        record_columns!(),
        ", g.uses FROM (SELECT COUNT(*) AS uses, MAX(u.id) AS newest FROM audit_context uc \
         JOIN audit u ON u.context = uc.id \
         WHERE uc.vault = ? AND uc.key_name = ? AND u.allowed = 1 AND u.status BETWEEN 200 AND 299 \
         GROUP BY uc.version, uc.caller_object_id) g JOIN audit a ON a.id = g.newest \
         JOIN audit_context c ON c.id = a.context",
    ))
    .bind(vault)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|row| Ok((row.try_get(RECORD_COLUMN_COUNT)?, decode(row)?))).collect()
}

/// The newest refused request on one key, per version named.
pub async fn last_denials(conn: &mut Conn, vault: &str, key: &str) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        record_columns!(),
        " FROM (SELECT MAX(u.id) AS newest FROM audit_context uc JOIN audit u ON u.context = uc.id \
         WHERE uc.vault = ? AND uc.key_name = ? AND u.allowed = 0 GROUP BY uc.version) g \
         JOIN audit a ON a.id = g.newest \
         JOIN audit_context c ON c.id = a.context",
    ))
    .bind(vault)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode).collect()
}

/// How many columns `record_columns!` names.
const RECORD_COLUMN_COUNT: usize = 10;

fn decode(row: &sqlx::sqlite::SqliteRow) -> Result<AuditRecord, sqlx::Error> {
    let status: i64 = row.try_get(3)?;
    let facts = RecordFacts {
        id: row.try_get(0)?,
        time_ms: row.try_get(1)?,
        allowed: row.try_get(2)?,
        status: u16::try_from(status).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        request_id: row.try_get(4)?,
        client_request_id: row.try_get(5)?,
        client_address: row.try_get(6)?,
        query: row.try_get(7)?,
        duration_ms: row.try_get(8)?,
    };
    let context: String = row.try_get(9)?;
    let context: SharedContext = serde_json::from_str(&context).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(AuditRecord::assemble(facts, &context))
}

/// Up to `limit` records matching `filter` with ids above `after`, oldest first (a stream's
/// replay after `Last-Event-ID`).
pub async fn after(
    conn: &mut Conn,
    filter: &AuditFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let mut query = QueryBuilder::new(SELECT_RECORDS);
    push_filter(&mut query, filter);
    query.push(" AND a.id > ").push_bind(after);
    query.push(" ORDER BY a.id LIMIT ").push_bind(i64::from(limit));
    let rows = query.build().fetch_all(&mut *conn).await?;
    rows.iter().map(decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::Caller;
    use crate::audit::record::RuleView;
    use uuid::Uuid;

    fn parts(
        id: i64,
        vault: &str,
        key: &str,
        version: &str,
        caller: u128,
        allowed: bool,
    ) -> (RecordFacts, SharedContext) {
        let facts = RecordFacts {
            id,
            time_ms: 0,
            allowed,
            status: if allowed { 200 } else { 403 },
            request_id: format!("request-{id}"),
            client_request_id: None,
            client_address: Some("127.0.0.1:50000".into()),
            query: Some("api-version=7.6".into()),
            duration_ms: 1.5,
        };
        let context = SharedContext {
            plane: "vault".into(),
            resource_id: String::new(),
            operation: if allowed { "UnwrapKey" } else { "GetKey" }.into(),
            caller: Caller {
                object_id: Uuid::from_u128(caller),
                app_id: Uuid::from_u128(caller + 100),
                tenant_id: Uuid::nil(),
                name: Some(format!("Caller{caller}")),
                token_kind: "unknown".into(),
            },
            rule: RuleView::default(),
            reason: String::new(),
            user_agent: Some("test".into()),
            method: "POST".into(),
            host: None,
            clock_offset_ms: 3_000,
            vault: Some(vault.into()),
            key: Some(key.into()),
            version: Some(version.into()),
            path: format!("/keys/{key}/{version}"),
        };
        (facts, context)
    }

    /// Records inserted through the store, and as they were made.
    async fn filled() -> (crate::store::Pool, Vec<(i64, AuditRecord)>) {
        let pool = crate::store::open(None).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let first_id = next_id(&mut conn).await.unwrap();
        let made: Vec<(RecordFacts, SharedContext)> = (0..40i64)
            .map(|n| {
                let vault = if n % 2 == 0 { "cmk" } else { "other" };
                let version = if n % 3 == 0 { "v1" } else { "v2" };
                let caller = u128::from(n.unsigned_abs() % 4);
                let (mut facts, context) = parts(first_id + n, vault, "k", version, caller, n % 5 != 0);
                facts.time_ms = 1_000 * n;
                (facts, context)
            })
            .collect();
        // In batches of different sizes, as the writer sends them.
        for batch in made.chunks(16) {
            let mut rows = Vec::new();
            for (facts, context) in batch {
                let json = serde_json::to_string(context).unwrap();
                let context = context_id(&mut conn, context, &json).await.unwrap();
                rows.push(AuditRow { facts, context });
            }
            insert_batch(&mut conn, &rows).await.unwrap();
        }
        drop(conn);
        let all =
            made.into_iter().map(|(facts, context)| (facts.time_ms, AuditRecord::assemble(facts, &context))).collect();
        (pool, all)
    }

    #[tokio::test]
    async fn a_batch_goes_in_whole_whatever_its_size() {
        let pool = crate::store::open(None).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let made: Vec<_> = (1..=150).map(|id| parts(id, "cmk", "k", "v1", 1, true)).collect();
        let json = serde_json::to_string(&made[0].1).unwrap();
        let context = context_id(&mut conn, &made[0].1, &json).await.unwrap();
        let rows: Vec<_> = made.iter().map(|(facts, _)| AuditRow { facts, context }).collect();
        // 64 + 64 + 16 + 4 + 1 + 1 rows.
        insert_batch(&mut conn, &rows).await.unwrap();
        let ids: Vec<i64> =
            page(&mut conn, &AuditFilter::default(), None, 1000).await.unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, (1..=150).rev().collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn records_read_back_as_they_were_made_and_contexts_are_stored_once() {
        let (pool, all) = filled().await;
        let mut conn = pool.acquire().await.unwrap();
        let mut read = page(&mut conn, &AuditFilter::default(), None, 1000).await.unwrap();
        read.reverse();
        assert_eq!(read, all.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>());
        assert_eq!(read[0].wall_time, "1969-12-31T23:59:57.000Z", "the wall clock is the time less the offset");
        let contexts = context_count(&mut conn).await;
        assert_eq!(contexts, 15, "the callers, versions and decisions that occur together");
        // Once no record names a context, it goes.
        prune(&mut conn, 1, i64::MAX).await.unwrap();
        assert_eq!(prune_contexts(&mut conn).await.unwrap(), 15);
    }

    #[tokio::test]
    async fn sql_filters_agree_with_the_streams_filter() {
        let (pool, all) = filled().await;
        let mut conn = pool.acquire().await.unwrap();
        let filters = [
            AuditFilter::default(),
            AuditFilter { vault: Some("CMK".into()), ..AuditFilter::default() },
            AuditFilter { version: Some("v1".into()), allowed: Some(false), ..AuditFilter::default() },
            AuditFilter { caller: Some("caller2".into()), ..AuditFilter::default() },
            AuditFilter { caller: Some(Uuid::from_u128(103).to_string()), ..AuditFilter::default() },
            AuditFilter {
                operation: Some("UnwrapKey".into()),
                from_ms: Some(5_000),
                to_ms: Some(20_000),
                ..AuditFilter::default()
            },
        ];
        for filter in &filters {
            let from_sql: Vec<i64> = page(&mut conn, filter, None, 1000).await.unwrap().iter().map(|r| r.id).collect();
            let mut expected: Vec<i64> = all.iter().filter(|(t, r)| filter.matches(r, *t)).map(|(_, r)| r.id).collect();
            expected.reverse();
            assert!(!expected.is_empty(), "{filter:?}");
            assert_eq!(from_sql, expected, "{filter:?}");
        }
        // Pages continue below the cursor.
        let first = page(&mut conn, &AuditFilter::default(), None, 10).await.unwrap();
        let next = page(&mut conn, &AuditFilter::default(), Some(first[9].id), 10).await.unwrap();
        assert_eq!(next[0].id, first[9].id - 1);
    }

    #[tokio::test]
    async fn retention_keeps_the_newest_records_within_age_and_ids_are_never_reused() {
        let (pool, _) = filled().await;
        let mut conn = pool.acquire().await.unwrap();
        let gone = prune(&mut conn, 25, 10_000).await.unwrap();
        assert_eq!(gone, 15, "10 too old, then 5 beyond the newest 25");
        let left = page(&mut conn, &AuditFilter::default(), None, 1000).await.unwrap();
        assert_eq!(left.len(), 25);
        assert_eq!((left[0].id, left[24].id), (40, 16));
        assert_eq!(prune(&mut conn, 25, 0).await.unwrap(), 0, "nothing more to do");
        prune(&mut conn, 1, i64::MAX).await.unwrap();
        assert!(page(&mut conn, &AuditFilter::default(), None, 10).await.unwrap().is_empty());
        assert_eq!(next_id(&mut conn).await.unwrap(), 41, "after everything went, ids still go on");
    }

    #[tokio::test]
    async fn usage_counts_successful_uses_per_version_and_caller() {
        let (pool, all) = filled().await;
        let mut conn = pool.acquire().await.unwrap();
        let uses = uses_by_caller(&mut conn, "cmk", "k").await.unwrap();
        let expected = all.iter().filter(|(_, r)| r.vault.as_deref() == Some("cmk") && r.decision == "allowed").count();
        assert_eq!(uses.iter().map(|(n, _)| n).sum::<i64>(), i64::try_from(expected).unwrap());
        let denials = last_denials(&mut conn, "cmk", "k").await.unwrap();
        assert!(denials.iter().all(|r| r.decision == "denied"));
        let newest_denied_v1 = all
            .iter()
            .filter(|(_, r)| {
                r.vault.as_deref() == Some("cmk") && r.decision == "denied" && r.version.as_deref() == Some("v1")
            })
            .map(|(_, r)| r.id)
            .max();
        assert_eq!(denials.iter().find(|r| r.version.as_deref() == Some("v1")).map(|r| r.id), newest_denied_v1);
    }

    async fn context_count(conn: &mut Conn) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_context").fetch_one(&mut *conn).await.unwrap()
    }

    /// A private in-memory database with the migrations numbered below `version` applied.
    async fn migrated_below(version: i64) -> Conn {
        use sqlx::Connection;
        let mut conn = Conn::connect("sqlite::memory:").await.unwrap();
        for migration in crate::store::MIGRATOR.iter().filter(|m| m.version < version) {
            sqlx::raw_sql(migration.sql.clone()).execute(&mut conn).await.unwrap();
        }
        conn
    }

    /// Applies the migrations numbered `version` and above.
    async fn migrate_from(conn: &mut Conn, version: i64) {
        for migration in crate::store::MIGRATOR.iter().filter(|m| m.version >= version) {
            sqlx::raw_sql(migration.sql.clone()).execute(&mut *conn).await.unwrap();
        }
    }

    /// Migration 0015 turns records of the earlier shape (the whole JSON record in a column)
    /// into rows and shared contexts that read back as the same records, and ids go on from the
    /// old table's sequence.
    #[tokio::test]
    async fn records_written_before_contexts_were_shared_read_back_unchanged() {
        let mut conn = migrated_below(15).await;
        let mut old = Vec::new();
        for (id, caller, allowed) in [(3, 1, true), (4, 2, false), (5, 1, true)] {
            let (mut facts, context) = parts(id, "cmk", "k", "v1", caller, allowed);
            facts.time_ms = 1_700_000_000_000 + id;
            let record = AuditRecord::assemble(facts, &context);
            sqlx::query(
                "INSERT INTO audit (id, time_ms, vault, key_name, version, caller_object_id, caller_app_id, \
                 caller_name, operation, allowed, status, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(1_700_000_000_000 + id)
            .bind("cmk")
            .bind("k")
            .bind("v1")
            .bind(record.caller.object_id.to_string())
            .bind(record.caller.app_id.to_string())
            .bind(record.caller.name.clone())
            .bind(record.operation.clone())
            .bind(allowed)
            .bind(i64::from(record.status))
            .bind(serde_json::to_string(&record).unwrap())
            .execute(&mut conn)
            .await
            .unwrap();
            old.push(record);
        }
        // Retention had deleted newer records than these.
        sqlx::query("UPDATE sqlite_sequence SET seq = 50 WHERE name = 'audit'").execute(&mut conn).await.unwrap();
        migrate_from(&mut conn, 15).await;
        let mut read = page(&mut conn, &AuditFilter::default(), None, 10).await.unwrap();
        read.reverse();
        assert_eq!(read, old);
        let contexts = context_count(&mut conn).await;
        assert_eq!(contexts, 2, "two callers");
        let caller2 = AuditFilter { caller: Some("caller2".into()), ..AuditFilter::default() };
        assert_eq!(page(&mut conn, &caller2, None, 10).await.unwrap().len(), 1);
        assert_eq!(next_id(&mut conn).await.unwrap(), 51);
    }

    /// Migration 0016 moves the vault, key, version, caller object id and path of records of
    /// the 0015 shape into their contexts: the records read back unchanged, contexts split by
    /// those facts, the usage summary reads them, and ids go on.
    #[tokio::test]
    async fn records_of_the_0015_shape_read_back_unchanged() {
        let mut conn = migrated_below(16).await;
        let mut old = Vec::new();
        for (id, version, caller, allowed) in
            [(3, "v1", 1, true), (4, "v1", 2, false), (5, "v2", 1, true), (6, "v1", 1, true)]
        {
            let (mut facts, context) = parts(id, "cmk", "k", version, caller, allowed);
            facts.time_ms = 1_700_000_000_000 + id;
            if id == 6 {
                facts.query = None;
            }
            let record = AuditRecord::assemble(facts, &context);
            let mut shared = serde_json::to_value(&context).unwrap();
            for moved in ["vault", "key", "version", "path"] {
                shared.as_object_mut().unwrap().remove(moved);
            }
            shared["caller"].as_object_mut().unwrap().remove("objectId");
            let shared = shared.to_string();
            sqlx::query(
                "INSERT OR IGNORE INTO audit_context (app_id, caller_name, operation, context) VALUES (?, ?, ?, ?)",
            )
            .bind(record.caller.app_id.to_string())
            .bind(record.caller.name.clone())
            .bind(record.operation.clone())
            .bind(&shared)
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO audit (id, time_ms, vault, key_name, version, caller_object_id, allowed, status, context, \
                 request_id, client_request_id, client_address, path, duration_ms) \
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, id, ?, ?, ?, ?, ? FROM audit_context WHERE context = ?",
            )
            .bind(id)
            .bind(1_700_000_000_000 + id)
            .bind("cmk")
            .bind("k")
            .bind(version)
            .bind(record.caller.object_id.to_string())
            .bind(allowed)
            .bind(i64::from(record.status))
            .bind(record.request_id.clone())
            .bind(record.client_request_id.clone())
            .bind(record.client_address.clone())
            .bind(record.path.clone())
            .bind(record.duration_ms)
            .bind(&shared)
            .execute(&mut conn)
            .await
            .unwrap();
            old.push(record);
        }
        sqlx::query("UPDATE sqlite_sequence SET seq = 70 WHERE name = 'audit'").execute(&mut conn).await.unwrap();
        migrate_from(&mut conn, 16).await;
        let mut read = page(&mut conn, &AuditFilter::default(), None, 10).await.unwrap();
        read.reverse();
        assert_eq!(read, old);
        assert_eq!(read[3].path, "/keys/k/v1", "no query");
        let contexts = context_count(&mut conn).await;
        assert_eq!(contexts, 3, "v1 by caller 1 (twice), v1 refused to caller 2, v2 by caller 1");
        let v2 = AuditFilter { version: Some("v2".into()), ..AuditFilter::default() };
        assert_eq!(page(&mut conn, &v2, None, 10).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [5]);
        let mut uses: Vec<_> = uses_by_caller(&mut conn, "CMK", "k")
            .await
            .unwrap()
            .into_iter()
            .map(|(n, r)| (r.version.unwrap(), n, r.id))
            .collect();
        uses.sort();
        assert_eq!(uses, [("v1".to_owned(), 2, 6), ("v2".to_owned(), 1, 5)]);
        assert_eq!(last_denials(&mut conn, "cmk", "k").await.unwrap()[0].id, 4);
        assert_eq!(next_id(&mut conn).await.unwrap(), 71);
    }
}
