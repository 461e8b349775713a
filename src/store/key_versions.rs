//! The `key_versions` table: one row per version (public JWK, sealed private material,
//! properties), and the row mapping that listings of keys and deleted keys share.

use sqlx::SqliteConnection;

use crate::keys::model::{
    Key, KeyAttributes, KeyName, KeyOperation, KeyType, KeyVersion, PublicKey, PublicMembers, Tags,
};

#[derive(Debug, sqlx::FromRow)]
pub(super) struct VersionRow {
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

pub(super) fn corrupt(what: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(what.into().into())
}

pub(super) fn json_err(err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(err))
}

impl VersionRow {
    pub(super) fn into_key(self) -> Result<(i64, Key), sqlx::Error> {
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

pub(super) fn public_jwk_json(public: &PublicKey) -> Result<String, sqlx::Error> {
    serde_json::to_string(&PublicMembers::from(public)).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

pub(super) fn key_ops_json(ops: &[KeyOperation]) -> String {
    let names: Vec<&str> = ops.iter().map(|op| op.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

pub(super) fn tags_json(tags: Option<&Tags>) -> Option<String> {
    tags.map(|t| serde_json::to_value(t).unwrap_or_default().to_string())
}

pub(super) const VERSION_COLUMNS: &str = "v.name, v.version, v.seq, v.kty, v.public_jwk, v.key_ops, v.enabled, v.nbf, v.exp, v.exportable, v.created, v.updated, v.tags, k.release_policy";

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
