//! The `signing_keys` table: the token issuer's RSA keys, sealed like key material.

use sqlx::SqliteConnection;

#[derive(Debug, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub sealed_private_key: Vec<u8>,
}

pub async fn newest(conn: &mut SqliteConnection) -> Result<Option<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as("SELECT kid, sealed_private_key FROM signing_keys ORDER BY created DESC, kid LIMIT 1")
        .fetch_optional(conn)
        .await
}

pub async fn insert(
    conn: &mut SqliteConnection,
    kid: &str,
    sealed_private_key: &[u8],
    created: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO signing_keys (kid, sealed_private_key, created) VALUES (?, ?, ?)")
        .bind(kid)
        .bind(sealed_private_key)
        .bind(created)
        .execute(conn)
        .await?;
    Ok(())
}
