//! The `vaults` table.

use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use crate::auth::policy::AccessPolicy;
use crate::auth::rbac::RoleAssignment;
use crate::clock::UnixSeconds;
use crate::vaults::{ArmInfo, ManagedHsm, Vault, VaultDeletion, VaultKind, VaultName};

fn json<T: serde::Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// The HSM state column: NULL for a vault.
fn managed_hsm(vault: &Vault) -> Result<Option<String>, sqlx::Error> {
    vault.managed_hsm().map(json).transpose()
}

/// The vault's own assignments as stored; inherited ones live in `scoped_role_assignments`.
fn own_assignments(vault: &Vault) -> Result<String, sqlx::Error> {
    json(&vault.own_role_assignments().collect::<Vec<_>>())
}

pub async fn insert(conn: &mut SqliteConnection, vault: &Vault, now: UnixSeconds) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO vaults (name, tenant_id, soft_delete_retention_days, purge_protection, access_policies, rbac_authorization, role_assignments, arm, managed_hsm, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(vault.name.as_str())
    .bind(vault.tenant_id.to_string())
    .bind(i64::from(vault.soft_delete_retention_days))
    .bind(vault.purge_protection)
    .bind(json(&vault.access_policies)?)
    .bind(vault.rbac_authorization)
    .bind(own_assignments(vault)?)
    .bind(json(&vault.arm)?)
    .bind(managed_hsm(vault)?)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes everything about a vault but its name, retention and kind (which never change).
pub async fn update(conn: &mut SqliteConnection, vault: &Vault) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vaults SET tenant_id = ?, purge_protection = ?, access_policies = ?, rbac_authorization = ?, role_assignments = ?, arm = ?,
         managed_hsm = ?, deleted_date = ?, scheduled_purge_date = ? WHERE name = ?",
    )
        .bind(vault.tenant_id.to_string())
        .bind(vault.purge_protection)
        .bind(json(&vault.access_policies)?)
        .bind(vault.rbac_authorization)
        .bind(own_assignments(vault)?)
        .bind(json(&vault.arm)?)
        .bind(managed_hsm(vault)?)
        .bind(vault.deletion.map(|d| d.deleted_date))
        .bind(vault.deletion.map(|d| d.scheduled_purge_date))
        .bind(vault.name.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

const COLUMNS: &str = "name, tenant_id, soft_delete_retention_days, purge_protection, access_policies, rbac_authorization, role_assignments, arm, managed_hsm, deleted_date, scheduled_purge_date";

pub async fn list(conn: &mut SqliteConnection) -> Result<Vec<Vault>, sqlx::Error> {
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM vaults ORDER BY name"))).fetch_all(conn).await?;
    rows.iter().map(vault_from_row).collect()
}

/// Vault `name` (lower-case), active or soft-deleted.
pub async fn get(conn: &mut SqliteConnection, name: &str) -> Result<Option<Vault>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM vaults WHERE name = ?")))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(vault_from_row).transpose()
}

fn vault_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Vault, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let name: String = row.try_get("name")?;
    let tenant: String = row.try_get("tenant_id")?;
    let days: i64 = row.try_get("soft_delete_retention_days")?;
    let policies: String = row.try_get("access_policies")?;
    let assignments: String = row.try_get("role_assignments")?;
    Ok(Vault {
        name: VaultName::parse(&name).ok_or_else(|| decode(format!("bad vault name {name}").into()))?,
        tenant_id: Uuid::parse_str(&tenant).map_err(|e| decode(Box::new(e)))?,
        soft_delete_retention_days: u32::try_from(days).map_err(|e| decode(Box::new(e)))?,
        purge_protection: row.try_get("purge_protection")?,
        access_policies: serde_json::from_str::<Vec<AccessPolicy>>(&policies).map_err(|e| decode(Box::new(e)))?,
        rbac_authorization: row.try_get("rbac_authorization")?,
        role_assignments: serde_json::from_str::<Vec<RoleAssignment>>(&assignments).map_err(|e| decode(Box::new(e)))?,
        arm: row
            .try_get::<Option<String>, _>("arm")?
            .map(|arm| serde_json::from_str::<ArmInfo>(&arm).map_err(|e| decode(Box::new(e))))
            .transpose()?
            .unwrap_or_default(),
        deletion: match (
            row.try_get::<Option<i64>, _>("deleted_date")?,
            row.try_get::<Option<i64>, _>("scheduled_purge_date")?,
        ) {
            (Some(deleted_date), Some(scheduled_purge_date)) => {
                Some(VaultDeletion { deleted_date, scheduled_purge_date })
            }
            _ => None,
        },
        kind: match row.try_get::<Option<String>, _>("managed_hsm")? {
            None => VaultKind::Vault,
            Some(state) => VaultKind::ManagedHsm(Box::new(
                serde_json::from_str::<ManagedHsm>(&state).map_err(|e| decode(Box::new(e)))?,
            )),
        },
    })
}

/// Deletes a vault row; its keys and versions go with it (foreign keys cascade).
pub async fn delete(conn: &mut SqliteConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM key_versions WHERE vault = ?").bind(name).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM keys WHERE vault = ?").bind(name).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM vaults WHERE name = ?").bind(name).execute(conn).await?;
    Ok(())
}
