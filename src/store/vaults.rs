//! The `vaults` table.

use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use crate::auth::policy::AccessPolicy;
use crate::clock::UnixSeconds;
use crate::vault::{Vault, VaultName};

pub async fn insert(conn: &mut SqliteConnection, vault: &Vault, now: UnixSeconds) -> Result<(), sqlx::Error> {
    let policies = serde_json::to_string(&vault.access_policies).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO vaults (name, tenant_id, soft_delete_retention_days, purge_protection, access_policies, created)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(vault.name.as_str())
    .bind(vault.tenant_id.to_string())
    .bind(i64::from(vault.soft_delete_retention_days))
    .bind(vault.purge_protection)
    .bind(policies)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a vault's tenant, purge protection and access policies (retention never changes).
pub async fn update(conn: &mut SqliteConnection, vault: &Vault) -> Result<(), sqlx::Error> {
    let policies = serde_json::to_string(&vault.access_policies).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("UPDATE vaults SET tenant_id = ?, purge_protection = ?, access_policies = ? WHERE name = ?")
        .bind(vault.tenant_id.to_string())
        .bind(vault.purge_protection)
        .bind(policies)
        .bind(vault.name.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list(conn: &mut SqliteConnection) -> Result<Vec<Vault>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT name, tenant_id, soft_delete_retention_days, purge_protection, access_policies FROM vaults ORDER BY name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(vault_from_row).collect()
}

fn vault_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Vault, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let name: String = row.try_get("name")?;
    let tenant: String = row.try_get("tenant_id")?;
    let days: i64 = row.try_get("soft_delete_retention_days")?;
    let policies: String = row.try_get("access_policies")?;
    Ok(Vault {
        name: VaultName::parse(&name).ok_or_else(|| decode(format!("bad vault name {name}").into()))?,
        tenant_id: Uuid::parse_str(&tenant).map_err(|e| decode(Box::new(e)))?,
        soft_delete_retention_days: u32::try_from(days).map_err(|e| decode(Box::new(e)))?,
        purge_protection: row.try_get("purge_protection")?,
        access_policies: serde_json::from_str::<Vec<AccessPolicy>>(&policies).map_err(|e| decode(Box::new(e)))?,
    })
}
