//! The `keys` table: one row per key name (its current version, release policy and deleted
//! state). Versions are in `key_versions`, rotation policies in `rotation_policies`.

use sqlx::SqliteConnection;

use crate::keys::model::Key;
use crate::keys::release::ReleasePolicy;

use super::key_versions::{VERSION_COLUMNS, VersionRow};

/// The row of a key name.
#[derive(Debug, sqlx::FromRow)]
pub struct KeyHeader {
    pub name: String,
    pub current_version: String,
    pub deleted_date: Option<i64>,
    pub scheduled_purge_date: Option<i64>,
    pub release_policy: Option<String>,
}

pub async fn find_header(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
) -> Result<Option<KeyHeader>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, current_version, deleted_date, scheduled_purge_date, release_policy FROM keys WHERE vault = ? AND name = ?",
    )
    .bind(vault)
    .bind(name)
    .fetch_optional(conn)
    .await
}
/// The current version of each non-deleted key, by name, after `after_name`.
pub async fn list_current(
    conn: &mut SqliteConnection,
    vault: &str,
    after_name: Option<&str>,
    limit: u32,
) -> Result<Vec<Key>, sqlx::Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM keys k JOIN key_versions v ON v.vault = k.vault AND v.name = k.name AND v.version = k.current_version
         WHERE k.vault = ? AND k.deleted_date IS NULL AND (? IS NULL OR k.name > ?)
         ORDER BY k.name COLLATE NOCASE LIMIT ?"
    );
    let rows: Vec<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vault)
        .bind(after_name)
        .bind(after_name)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(|r| r.into_key().map(|(_, key)| key)).collect()
}
/// Sets (or clears) the key-level release policy.
pub async fn set_release_policy(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    policy: Option<&ReleasePolicy>,
) -> Result<(), sqlx::Error> {
    let json = policy.map(serde_json::to_string).transpose().map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("UPDATE keys SET release_policy = ? WHERE vault = ? AND name = ?")
        .bind(json)
        .bind(vault)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}
/// The current version of a soft-deleted key, with its deletion dates.
#[derive(Debug, sqlx::FromRow)]
struct DeletedRow {
    #[sqlx(flatten)]
    version: VersionRow,
    deleted_date: i64,
    scheduled_purge_date: i64,
}

/// (key, deleted date, scheduled purge date)
pub type DeletedKeyRow = (Key, i64, i64);

const DELETED_SELECT: &str = "SELECT v.name, v.version, v.seq, v.kty, v.public_jwk, v.key_ops, v.enabled, v.nbf, v.exp, v.exportable, v.created, v.updated, v.tags, k.release_policy, k.deleted_date, k.scheduled_purge_date
     FROM keys k JOIN key_versions v ON v.vault = k.vault AND v.name = k.name AND v.version = k.current_version";

impl DeletedRow {
    fn into_deleted(self) -> Result<DeletedKeyRow, sqlx::Error> {
        let (_, key) = self.version.into_key()?;
        Ok((key, self.deleted_date, self.scheduled_purge_date))
    }
}

/// Soft-deletes every version of a key at once: the key row carries the state.
pub async fn mark_deleted(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    deleted_date: i64,
    scheduled_purge_date: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE keys SET deleted_date = ?, scheduled_purge_date = ? WHERE vault = ? AND name = ?")
        .bind(deleted_date)
        .bind(scheduled_purge_date)
        .bind(vault)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn clear_deleted(conn: &mut SqliteConnection, vault: &str, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE keys SET deleted_date = NULL, scheduled_purge_date = NULL WHERE vault = ? AND name = ?")
        .bind(vault)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find_deleted(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
) -> Result<Option<DeletedKeyRow>, sqlx::Error> {
    let sql = format!("{DELETED_SELECT} WHERE k.vault = ? AND k.name = ? AND k.deleted_date IS NOT NULL");
    let row: Option<DeletedRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(vault).bind(name).fetch_optional(conn).await?;
    row.map(DeletedRow::into_deleted).transpose()
}

pub async fn list_deleted(
    conn: &mut SqliteConnection,
    vault: &str,
    after_name: Option<&str>,
    limit: u32,
) -> Result<Vec<DeletedKeyRow>, sqlx::Error> {
    let sql = format!(
        "{DELETED_SELECT} WHERE k.vault = ? AND k.deleted_date IS NOT NULL AND (? IS NULL OR k.name > ?)
         ORDER BY k.name COLLATE NOCASE LIMIT ?"
    );
    let rows: Vec<DeletedRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vault)
        .bind(after_name)
        .bind(after_name)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(DeletedRow::into_deleted).collect()
}

/// Removes a key and, through the cascade, every version and its sealed material.
pub async fn purge(conn: &mut SqliteConnection, vault: &str, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM keys WHERE vault = ? AND name = ?").bind(vault).bind(name).execute(conn).await?;
    Ok(())
}

/// Purges every soft-deleted key whose scheduled purge date is at or before `now`; returns
/// (vault, name) of each.
pub async fn purge_due(conn: &mut SqliteConnection, now: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM keys WHERE scheduled_purge_date IS NOT NULL AND scheduled_purge_date <= ? RETURNING vault, name",
    )
    .bind(now)
    .fetch_all(conn)
    .await
}

/// Points the key at one of its versions.
pub async fn set_current_version(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    version: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE keys SET current_version = ? WHERE vault = ? AND name = ?")
        .bind(version)
        .bind(vault)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}
