//! The `keys` and `key_versions` tables: one row per key name (its current version and deleted
//! state) and one row per version (public JWK, sealed private material, properties).

use sqlx::SqliteConnection;

use crate::keys::model::{
    Key, KeyAttributes, KeyName, KeyOperation, KeyType, KeyVersion, PublicKey, PublicMembers, Tags,
};
use crate::keys::release::ReleasePolicy;

/// The row of a key name.
#[derive(Debug, sqlx::FromRow)]
pub struct KeyHeader {
    pub name: String,
    pub current_version: String,
    pub deleted_date: Option<i64>,
    pub scheduled_purge_date: Option<i64>,
    pub release_policy: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct VersionRow {
    name: String,
    version: String,
    seq: i64,
    kty: String,
    public_jwk: String,
    key_ops: String,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    exportable: Option<bool>,
    created: i64,
    updated: i64,
    tags: Option<String>,
    release_policy: Option<String>,
}

fn corrupt(what: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(what.into().into())
}

fn json_err(err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(err))
}

impl VersionRow {
    fn into_key(self) -> Result<(i64, Key), sqlx::Error> {
        let members: PublicMembers = serde_json::from_str(&self.public_jwk).map_err(json_err)?;
        let public = PublicKey::try_from(members).map_err(corrupt)?;
        let key_ops: Vec<String> = serde_json::from_str(&self.key_ops).map_err(json_err)?;
        let key = Key {
            name: KeyName::parse(&self.name).map_err(|_| corrupt(format!("bad key name {}", self.name)))?,
            version: KeyVersion::parse(&self.version)
                .ok_or_else(|| corrupt(format!("bad version {}", self.version)))?,
            key_type: KeyType::parse(&self.kty).map_err(|_| corrupt(format!("bad kty {}", self.kty)))?,
            public,
            key_ops: key_ops
                .iter()
                .map(|op| KeyOperation::parse(op).map_err(|_| corrupt(format!("bad key op {op}"))))
                .collect::<Result<_, _>>()?,
            attributes: KeyAttributes {
                enabled: self.enabled,
                not_before: self.nbf,
                expires: self.exp,
                exportable: self.exportable,
                created: self.created,
                updated: self.updated,
            },
            tags: self.tags.as_deref().map(serde_json::from_str::<Tags>).transpose().map_err(json_err)?,
            release_policy: self.release_policy.as_deref().map(serde_json::from_str).transpose().map_err(json_err)?,
        };
        Ok((self.seq, key))
    }
}

fn public_jwk_json(public: &PublicKey) -> Result<String, sqlx::Error> {
    serde_json::to_string(&PublicMembers::from(public)).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn key_ops_json(ops: &[KeyOperation]) -> String {
    let names: Vec<&str> = ops.iter().map(|op| op.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

fn tags_json(tags: Option<&Tags>) -> Option<String> {
    tags.map(|t| serde_json::to_value(t).unwrap_or_default().to_string())
}

const VERSION_COLUMNS: &str = "v.name, v.version, v.seq, v.kty, v.public_jwk, v.key_ops, v.enabled, v.nbf, v.exp, v.exportable, v.created, v.updated, v.tags, k.release_policy";

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

/// Adds a version and makes it current, creating the key row on first use.
pub async fn insert_version(
    conn: &mut SqliteConnection,
    vault: &str,
    key: &Key,
    sealed_private_key: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO keys (vault, name, current_version) VALUES (?, ?, ?)
         ON CONFLICT (vault, name) DO UPDATE SET current_version = excluded.current_version",
    )
    .bind(vault)
    .bind(key.name.as_str())
    .bind(key.version.as_str())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO key_versions (vault, name, version, seq, kty, public_jwk, sealed_private_key, key_ops, enabled, nbf, exp, exportable, created, updated, tags)
         VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM key_versions WHERE vault = ? AND name = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(vault)
    .bind(key.name.as_str())
    .bind(key.version.as_str())
    // `seq` orders the versions of one key (the listing pages by it). Taken per key, the MAX is
    // one step down the (vault, name, seq) index; taken over the whole vault it was a scan of
    // every version in the vault, so each create got slower as the vault grew.
    .bind(vault)
    .bind(key.name.as_str())
    .bind(key.key_type.as_str())
    .bind(public_jwk_json(&key.public)?)
    .bind(sealed_private_key)
    .bind(key_ops_json(&key.key_ops))
    .bind(key.attributes.enabled)
    .bind(key.attributes.not_before)
    .bind(key.attributes.expires)
    .bind(key.attributes.exportable)
    .bind(key.attributes.created)
    .bind(key.attributes.updated)
    .bind(tags_json(key.tags.as_ref()))
    .execute(conn)
    .await?;
    Ok(())
}

/// A version of a key that is not deleted; `None` for the version means the current one.
pub async fn find_active_version(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Option<Key>, sqlx::Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM key_versions v JOIN keys k ON k.vault = v.vault AND k.name = v.name
         WHERE v.vault = ? AND v.name = ? AND v.version = COALESCE(?, k.current_version) AND k.deleted_date IS NULL"
    );
    let row: Option<VersionRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(vault).bind(name).bind(version).fetch_optional(conn).await?;
    row.map(|r| r.into_key().map(|(_, key)| key)).transpose()
}

pub async fn sealed_private_key(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    version: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT sealed_private_key FROM key_versions WHERE vault = ? AND name = ? AND version = ?")
        .bind(vault)
        .bind(name)
        .bind(version)
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

/// Versions of one non-deleted key in creation order, after creation sequence `after_seq`.
pub async fn list_versions(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    after_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<(i64, Key)>, sqlx::Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM key_versions v JOIN keys k ON k.vault = v.vault AND k.name = v.name
         WHERE v.vault = ? AND v.name = ? AND k.deleted_date IS NULL AND v.seq > COALESCE(?, 0)
         ORDER BY v.seq LIMIT ?"
    );
    let rows: Vec<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vault)
        .bind(name)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(VersionRow::into_key).collect()
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

/// Writes a version's mutable properties: key_ops, attributes and tags.
pub async fn update_properties(conn: &mut SqliteConnection, vault: &str, key: &Key) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE key_versions SET key_ops = ?, enabled = ?, nbf = ?, exp = ?, exportable = ?, updated = ?, tags = ?
         WHERE vault = ? AND name = ? AND version = ?",
    )
    .bind(key_ops_json(&key.key_ops))
    .bind(key.attributes.enabled)
    .bind(key.attributes.not_before)
    .bind(key.attributes.expires)
    .bind(key.attributes.exportable)
    .bind(key.attributes.updated)
    .bind(tags_json(key.tags.as_ref()))
    .bind(vault)
    .bind(key.name.as_str())
    .bind(key.version.as_str())
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

/// Every version of a non-deleted key with its sealed material, oldest first: what a backup holds.
pub async fn versions_with_material(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
) -> Result<Vec<(Key, Vec<u8>)>, sqlx::Error> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS}, v.sealed_private_key FROM key_versions v JOIN keys k ON k.vault = v.vault AND k.name = v.name
         WHERE v.vault = ? AND v.name = ? AND k.deleted_date IS NULL ORDER BY v.seq"
    );
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        version: VersionRow,
        sealed_private_key: Vec<u8>,
    }
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(vault).bind(name).fetch_all(conn).await?;
    rows.into_iter().map(|row| row.version.into_key().map(|(_, key)| (key, row.sealed_private_key))).collect()
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

/// The stored rotation policy JSON of a non-deleted key: `None` if the key does not exist,
/// `Some(None)` if it has no policy.
pub async fn rotation_policy(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT rotation_policy FROM keys WHERE vault = ? AND name = ? AND deleted_date IS NULL")
        .bind(vault)
        .bind(name)
        .fetch_optional(conn)
        .await
}

pub async fn set_rotation_policy(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    policy: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE keys SET rotation_policy = ? WHERE vault = ? AND name = ?")
        .bind(policy)
        .bind(vault)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// (name, policy JSON) of every non-deleted key of a vault that has a rotation policy.
pub async fn keys_with_rotation_policy(
    conn: &mut SqliteConnection,
    vault: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT name, rotation_policy FROM keys WHERE vault = ? AND rotation_policy IS NOT NULL AND deleted_date IS NULL")
        .bind(vault)
        .fetch_all(conn)
        .await
}
