//! The relational database of a service: a pooled SeaORM connection to MySQL/MariaDB or SQLite,
//! and its migrations.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

use crate::config::DatabaseConfig;
use crate::http::Probe;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The directory of a SQLite file could not be created.
    #[error("cannot create the directory of SQLite database {path}")]
    CreateDir {
        /// The database file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to {backend} database {target}")]
    Connect {
        /// `mysql` or `sqlite`.
        backend: &'static str,
        /// Where, without the password.
        target: String,
        /// The cause.
        source: DbErr,
    },
    /// A migration failed.
    #[error("cannot apply the database migrations")]
    Migrate(#[source] DbErr),
}

/// Where the configuration points, without credentials, for messages and logs.
pub fn describe(config: &DatabaseConfig) -> String {
    match config {
        DatabaseConfig::MySql {
            server,
            user,
            database,
            ..
        } => format!("{user}@{server}/{database}"),
        DatabaseConfig::Sqlite { path } => path.display().to_string(),
    }
}

fn url(config: &DatabaseConfig) -> String {
    fn encode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }
    match config {
        DatabaseConfig::MySql {
            server,
            user,
            password,
            database,
        } => format!(
            "mysql://{}:{}@{server}/{}",
            encode(user),
            encode(password.expose_secret()),
            encode(database)
        ),
        DatabaseConfig::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
    }
}

/// Opens a connection pool; SQLite files and their directories are created when missing.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DatabaseError> {
    if let DatabaseConfig::Sqlite { path } = config
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DatabaseError::CreateDir {
            path: path.display().to_string(),
            source,
        })?;
    }
    let mut options = ConnectOptions::new(url(config));
    options
        .max_connections(match config {
            DatabaseConfig::MySql { .. } => 16,
            // SQLite serialises writers anyway; a few readers are enough.
            DatabaseConfig::Sqlite { .. } => 4,
        })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let connect_error = |source| DatabaseError::Connect {
        backend: config.backend(),
        target: describe(config),
        source,
    };
    let db = Database::connect(options).await.map_err(connect_error)?;
    if matches!(config, DatabaseConfig::Sqlite { .. }) {
        // WAL lets readers proceed while one writer commits; it is stored in the file.
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .map_err(connect_error)?;
    }
    Ok(db)
}

/// Applies every pending migration of `M`; applying twice changes nothing.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DatabaseError> {
    M::up(db, None).await.map_err(DatabaseError::Migrate)
}

/// What the services' migrations are built of. Each statement is `IF NOT EXISTS` because a
/// migration is not one transaction on MySQL: one stopped part way must run again from the start.
pub mod schema {
    use sea_orm_migration::prelude::{Index, IndexCreateStatement, Table, TableCreateStatement};

    /// `CREATE TABLE IF NOT EXISTS name`, its columns to be added.
    pub fn table(name: &'static str) -> TableCreateStatement {
        Table::create().table(name).if_not_exists().to_owned()
    }

    /// `CREATE INDEX IF NOT EXISTS name ON table (columns)`.
    pub fn index(
        name: &'static str,
        table: &'static str,
        columns: &[&'static str],
    ) -> IndexCreateStatement {
        let mut index = Index::create();
        index.if_not_exists().name(name).table(table);
        for column in columns {
            index.col(*column);
        }
        index.to_owned()
    }
}

/// Readiness probe: the database answers a ping.
#[derive(Debug, Clone)]
pub struct DatabaseProbe(pub DatabaseConnection);

#[async_trait::async_trait]
impl Probe for DatabaseProbe {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.to_string())
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock at once (waiting up to
/// the busy timeout): a deferred transaction that reads and then writes fails immediately with
/// `SQLITE_BUSY` whenever another writer committed in between. Other backends are unaffected.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
