//! Rotation policies: the `rotation_policy` column of the `keys` table, one JSON document per
//! key, read and written apart from the key's other state.

use sqlx::SqliteConnection;

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
