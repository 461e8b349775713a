//! The `identities` table: user-assigned identities made through the management API.

use sqlx::{Row, SqliteConnection};

/// One stored user-assigned identity (its ids derive from tenant and name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredIdentity {
    pub name: String,
    pub tenant_id: uuid::Uuid,
    pub resource_group: String,
    pub location: String,
    pub tags: std::collections::BTreeMap<String, String>,
}

pub async fn upsert(conn: &mut SqliteConnection, identity: &StoredIdentity, now: i64) -> Result<(), sqlx::Error> {
    let tags = serde_json::to_string(&identity.tags).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO identities (name, tenant_id, resource_group, location, tags, created) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET location = excluded.location, tags = excluded.tags",
    )
    .bind(&identity.name)
    .bind(identity.tenant_id.to_string())
    .bind(&identity.resource_group)
    .bind(&identity.location)
    .bind(tags)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut SqliteConnection, name: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM identities WHERE name = ?").bind(name).execute(conn).await?;
    Ok(result.rows_affected() > 0)
}

pub async fn list(conn: &mut SqliteConnection) -> Result<Vec<StoredIdentity>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, tenant_id, resource_group, location, tags FROM identities ORDER BY name")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
            let tenant: String = row.try_get("tenant_id")?;
            let tags: String = row.try_get("tags")?;
            Ok(StoredIdentity {
                name: row.try_get("name")?,
                tenant_id: uuid::Uuid::parse_str(&tenant).map_err(|e| decode(Box::new(e)))?,
                resource_group: row.try_get("resource_group")?,
                location: row.try_get("location")?,
                tags: serde_json::from_str(&tags).map_err(|e| decode(Box::new(e)))?,
            })
        })
        .collect()
}
