//! The audit table: batched inserts, retention, filtered pages, and per-version usage.

use sqlx::{QueryBuilder, Row, Sqlite};

use super::Conn;
use crate::audit::filter::AuditFilter;
use crate::audit::record::AuditRecord;

/// A record and the columns it is filtered by.
pub struct AuditRow<'a> {
    pub time_ms: i64,
    pub record: &'a AuditRecord,
    pub json: String,
}

/// The id the next record gets (records are numbered by the writer, which is alone in writing).
pub async fn next_id(conn: &mut Conn) -> Result<i64, sqlx::Error> {
    // sqlite_sequence keeps the highest id ever used, even after retention deleted it.
    let used: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetch_optional(&mut *conn).await?;
    Ok(used.unwrap_or(0) + 1)
}

/// Inserts a batch in one statement: a statement per record costs a round trip to the
/// connection's thread each, which was most of what the audit log cost a request.
pub async fn insert_batch(conn: &mut Conn, rows: Vec<AuditRow<'_>>) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO audit (id, time_ms, vault, key_name, version, caller_object_id, caller_app_id, caller_name, \
         operation, allowed, status, record) ",
    );
    query.push_values(rows, |mut values, row| {
        let r = row.record;
        values
            .push_bind(r.id)
            .push_bind(row.time_ms)
            .push_bind(r.vault.clone())
            .push_bind(r.key.clone())
            .push_bind(r.version.clone())
            .push_bind(r.caller.object_id.to_string())
            .push_bind(r.caller.app_id.to_string())
            .push_bind(r.caller.name.clone())
            .push_bind(r.operation.clone())
            .push_bind(r.decision == "allowed")
            .push_bind(i64::from(r.status))
            .push_bind(row.json);
    });
    // Not kept in the statement cache: each batch size is a different statement, and they would
    // push out the statements requests use.
    query.build().persistent(false).execute(&mut *conn).await?;
    Ok(())
}

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

fn push_filter(query: &mut QueryBuilder<Sqlite>, filter: &AuditFilter) {
    query.push(" WHERE 1 = 1");
    if let Some(vault) = &filter.vault {
        query.push(" AND vault = ").push_bind(vault.clone());
    }
    if let Some(key) = &filter.key {
        query.push(" AND key_name = ").push_bind(key.clone());
    }
    if let Some(version) = &filter.version {
        query.push(" AND version = ").push_bind(version.clone());
    }
    if let Some(caller) = &filter.caller {
        query
            .push(" AND (caller_object_id = ")
            .push_bind(caller.to_ascii_lowercase())
            .push(" OR caller_app_id = ")
            .push_bind(caller.to_ascii_lowercase())
            .push(" OR caller_name = ")
            .push_bind(caller.clone())
            .push(")");
    }
    if let Some(operation) = &filter.operation {
        query.push(" AND operation = ").push_bind(operation.clone());
    }
    if let Some(allowed) = filter.allowed {
        query.push(" AND allowed = ").push_bind(allowed);
    }
    if let Some(from) = filter.from_ms {
        query.push(" AND time_ms >= ").push_bind(from);
    }
    if let Some(to) = filter.to_ms {
        query.push(" AND time_ms <= ").push_bind(to);
    }
}

/// Up to `limit` records matching `filter`, newest first, with ids below `before` if given.
pub async fn page(
    conn: &mut Conn,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let mut query = QueryBuilder::new("SELECT record FROM audit");
    push_filter(&mut query, filter);
    if let Some(before) = before {
        query.push(" AND id < ").push_bind(before);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
    let rows = query.build().fetch_all(&mut *conn).await?;
    rows.iter().map(|row| decode(row, 0)).collect()
}

/// Successful allowed requests on one key, per (version, caller): how many, and the newest.
pub async fn uses_by_caller(conn: &mut Conn, vault: &str, key: &str) -> Result<Vec<(i64, AuditRecord)>, sqlx::Error> {
    let rows = sqlx::query(
        // The newest record of each group by a join: SQLite refuses an outer aggregate inside a
        // correlated subquery ("misuse of aggregate function MAX()").
        "SELECT g.uses, a.record FROM (SELECT COUNT(*) AS uses, MAX(id) AS newest FROM audit \
         WHERE vault = ? AND key_name = ? AND allowed = 1 AND status BETWEEN 200 AND 299 \
         GROUP BY version, caller_object_id) g JOIN audit a ON a.id = g.newest",
    )
    .bind(vault)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, decode(row, 1)?))).collect()
}

/// The newest refused request on one key, per version named.
pub async fn last_denials(conn: &mut Conn, vault: &str, key: &str) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.record FROM (SELECT MAX(id) AS newest FROM audit \
         WHERE vault = ? AND key_name = ? AND allowed = 0 GROUP BY version) g JOIN audit a ON a.id = g.newest",
    )
    .bind(vault)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|row| decode(row, 0)).collect()
}

fn decode(row: &sqlx::sqlite::SqliteRow, column: usize) -> Result<AuditRecord, sqlx::Error> {
    let json: String = row.try_get(column)?;
    serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Up to `limit` records matching `filter` with ids above `after`, oldest first (a stream's
/// replay after `Last-Event-ID`).
pub async fn after(
    conn: &mut Conn,
    filter: &AuditFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let mut query = QueryBuilder::new("SELECT record FROM audit");
    push_filter(&mut query, filter);
    query.push(" AND id > ").push_bind(after);
    query.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
    let rows = query.build().fetch_all(&mut *conn).await?;
    rows.iter().map(|row| decode(row, 0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Caller, RuleView};
    use uuid::Uuid;

    fn record(id: i64, vault: &str, key: &str, version: &str, caller: u128, allowed: bool) -> AuditRecord {
        AuditRecord {
            id,
            time: String::new(),
            wall_time: String::new(),
            plane: "vault".into(),
            vault: Some(vault.into()),
            resource_id: String::new(),
            operation: if allowed { "UnwrapKey" } else { "GetKey" }.into(),
            key: Some(key.into()),
            version: Some(version.into()),
            caller: Caller {
                object_id: Uuid::from_u128(caller),
                app_id: Uuid::from_u128(caller + 100),
                tenant_id: Uuid::nil(),
                name: Some(format!("Caller{caller}")),
                token_kind: "unknown".into(),
            },
            decision: if allowed { "allowed" } else { "denied" }.into(),
            rule: RuleView::default(),
            reason: String::new(),
            status: if allowed { 200 } else { 403 },
            request_id: String::new(),
            client_request_id: None,
            client_address: None,
            user_agent: None,
            method: "POST".into(),
            host: None,
            path: String::new(),
            duration_ms: 0.0,
        }
    }

    async fn filled() -> (crate::store::Pool, Vec<(i64, AuditRecord)>) {
        let pool = crate::store::open(None).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let first_id = next_id(&mut conn).await.unwrap();
        let all: Vec<(i64, AuditRecord)> = (0..40i64)
            .map(|n| {
                let vault = if n % 2 == 0 { "cmk" } else { "other" };
                let version = if n % 3 == 0 { "v1" } else { "v2" };
                let caller = u128::from(n.unsigned_abs() % 4);
                (1_000 * n, record(first_id + n, vault, "k", version, caller, n % 5 != 0))
            })
            .collect();
        // In batches of different sizes, as the writer sends them.
        for batch in all.chunks(16) {
            let rows = batch
                .iter()
                .map(|(time_ms, r)| AuditRow { time_ms: *time_ms, record: r, json: serde_json::to_string(r).unwrap() })
                .collect();
            insert_batch(&mut conn, rows).await.unwrap();
        }
        drop(conn);
        (pool, all)
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
}
