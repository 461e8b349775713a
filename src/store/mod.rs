//! SQLite through sqlx: opening the database, migrations, and one module per aggregate.
//!
//! Store functions are free functions over `&mut SqliteConnection` so a service can compose
//! them inside one transaction. Queries are runtime-checked: the build needs no database.

pub mod audit;
pub mod identities;
pub mod key_versions;
pub mod keys;
pub mod role_assignments;
pub mod rotation_policies;
pub mod signing_keys;
pub mod vaults;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

pub type Pool = SqlitePool;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database file in a data directory.
pub const DB_FILE: &str = "keyvault.sqlite3";

/// Opens (creating if needed) the database in `data_dir`, or a private in-memory one.
///
/// File databases run WAL with `synchronous=FULL`: every acknowledged commit is fsynced, so it
/// survives a killed process. The in-memory database lives in exactly one connection that the
/// pool never closes, because each new in-memory connection would be a new, empty database.
pub async fn open(data_dir: Option<&Path>) -> Result<Pool, sqlx::Error> {
    let pool = match data_dir {
        Some(dir) => {
            let options = with_common_pragmas(SqliteConnectOptions::new())
                .filename(dir.join(DB_FILE))
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            pool_options().max_connections(4).connect_with(options).await?
        }
        None => {
            let options = with_common_pragmas(SqliteConnectOptions::from_str("sqlite::memory:")?);
            pool_options()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        }
    };
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// No ping before handing out a connection: sqlx's default round trip to the connection's
/// worker thread doubled the cost of a key lookup, and a local SQLite file does not go stale the
/// way a network connection does.
fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new().test_before_acquire(false)
}

fn with_common_pragmas(options: SqliteConnectOptions) -> SqliteConnectOptions {
    // secure_delete: a purged key's sealed material is overwritten in the file, not just
    // unlinked from the b-tree.
    options.foreign_keys(true).busy_timeout(Duration::from_secs(10)).pragma("secure_delete", "ON")
}

/// Starts a write transaction. IMMEDIATE takes the write lock up front; a deferred transaction
/// that reads first and then writes can fail with SQLITE_BUSY when another writer got in between.
pub async fn begin_write(pool: &Pool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

pub type Conn = SqliteConnection;

/// A connection of its own to the pool's database file, for a task that writes all the time
/// (the audit writer). The pool hands out its idle connections in turn, and a connection that
/// finds the file changed by another one drops its page cache: a writer that keeps one
/// connection keeps its cache. `None` for the in-memory database, which exists only inside the
/// pool's one connection.
///
/// Two pragmas differ from the pool's, because only the audit log, which no client waits for and
/// which holds no key material, writes through it:
/// - `synchronous=NORMAL`: in WAL mode a commit then reaches the log without an fsync, so it
///   survives a killed process but not a power cut;
/// - `secure_delete=OFF`: retention deletes as many rows as are written, and zeroing them would
///   double the pages written.
pub async fn dedicated_connection(pool: &Pool) -> Result<Option<SqliteConnection>, sqlx::Error> {
    use sqlx::{ConnectOptions, Row};
    let file: String = sqlx::query("PRAGMA database_list").fetch_one(pool).await?.try_get("file")?;
    if file.is_empty() {
        return Ok(None);
    }
    let options =
        (*pool.connect_options()).clone().synchronous(SqliteSynchronous::Normal).pragma("secure_delete", "OFF");
    Ok(Some(options.connect().await?))
}

/// Starts a write transaction on a connection the caller holds (see [`begin_write`]).
pub async fn begin_write_on(conn: &mut SqliteConnection) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, sqlx::Error> {
    sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await
}

/// SQLITE_BUSY (and its extended codes), SQLITE_LOCKED, or no free connection in time: another
/// writer held the store past the busy timeout. Worth a retry (503 on both planes), not a 500.
#[must_use]
pub fn is_busy(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("5" | "6" | "261" | "517" | "773")),
        _ => false,
    }
}
