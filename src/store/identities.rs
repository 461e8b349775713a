//! The `identities` table: user-assigned identities made through the management API, unique
//! by resource group and name.

use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

/// One stored user-assigned identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredIdentity {
    pub name: String,
    pub tenant_id: Uuid,
    pub resource_group: String,
    pub location: String,
    pub tags: std::collections::BTreeMap<String, String>,
    /// `(client id, object id)`; `None` for rows made before ids were stored, whose ids derive
    /// from tenant and name.
    pub ids: Option<(Uuid, Uuid)>,
}

/// Inserts the identity, or updates the location and tags of the one with its group and name
/// (its ids never change).
pub async fn upsert(conn: &mut SqliteConnection, identity: &StoredIdentity, now: i64) -> Result<(), sqlx::Error> {
    let tags = serde_json::to_string(&identity.tags).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO identities (resource_group, name, tenant_id, location, tags, client_id, object_id, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (resource_group, name) DO UPDATE SET location = excluded.location, tags = excluded.tags",
    )
    .bind(&identity.resource_group)
    .bind(&identity.name)
    .bind(identity.tenant_id.to_string())
    .bind(&identity.location)
    .bind(tags)
    .bind(identity.ids.map(|(client, _)| client.to_string()))
    .bind(identity.ids.map(|(_, object)| object.to_string()))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored identity `name` in `group`.
pub async fn get(conn: &mut SqliteConnection, group: &str, name: &str) -> Result<Option<StoredIdentity>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT name, tenant_id, resource_group, location, tags, client_id, object_id FROM identities
         WHERE resource_group = ? AND name = ?",
    )
    .bind(group)
    .bind(name)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn delete(conn: &mut SqliteConnection, group: &str, name: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM identities WHERE resource_group = ? AND name = ?")
        .bind(group)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() > 0)
}

pub async fn list(conn: &mut SqliteConnection) -> Result<Vec<StoredIdentity>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT name, tenant_id, resource_group, location, tags, client_id, object_id FROM identities
         ORDER BY resource_group, name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredIdentity, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let uuid = |text: &str| Uuid::parse_str(text).map_err(|e| decode(Box::new(e)));
    let tenant: String = row.try_get("tenant_id")?;
    let tags: String = row.try_get("tags")?;
    let client: Option<String> = row.try_get("client_id")?;
    let object: Option<String> = row.try_get("object_id")?;
    let ids = match (client, object) {
        (Some(client), Some(object)) => Some((uuid(&client)?, uuid(&object)?)),
        _ => None,
    };
    Ok(StoredIdentity {
        name: row.try_get("name")?,
        tenant_id: uuid(&tenant)?,
        resource_group: row.try_get("resource_group")?,
        location: row.try_get("location")?,
        tags: serde_json::from_str(&tags).map_err(|e| decode(Box::new(e)))?,
        ids,
    })
}
