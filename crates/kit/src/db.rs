//! A service's database: PostgreSQL or SQLite, chosen by the URL, behind one r2d2 pool.
//!
//! Queries are plain `fn(&mut DbConnection) -> Result<T, ApiError>` run off the event
//! loop by [`Db::run`]. [`on_backend!`](crate::on_backend) runs the same diesel
//! expression on whichever connection it is, so one query serves both databases.

use std::time::{Duration, Instant};

use diesel::{connection::SimpleConnection, Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use futures::future::BoxFuture;
use prometheus::Histogram;
use secrecy::ExposeSecret;

use crate::{metrics::Metrics, server::Readiness, settings::DatabaseSettings, ApiError};

/// One connection to a service's database.
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection, on either backend.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// `postgres://` and `postgresql://` are PostgreSQL; anything else is a SQLite file.
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connect(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Setup(#[from] diesel::result::Error),
    #[error("cannot create the directory of the SQLite file: {0}")]
    Directory(#[from] std::io::Error),
}

/// Opens connections and sets them up: statement timeout on PostgreSQL; WAL, a busy
/// timeout and foreign keys on SQLite.
pub struct Manager {
    url: String,
    backend: Backend,
    statement_timeout_ms: u64,
}

impl Manager {
    fn sqlite_path(&self) -> &str {
        self.url.strip_prefix("sqlite://").unwrap_or(&self.url)
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        let timeout = self.statement_timeout_ms;
        match self.backend {
            Backend::Postgres => {
                let mut c = PgConnection::establish(&self.url)?;
                c.batch_execute(&format!("SET statement_timeout = {timeout}"))?;
                Ok(DbConnection::Pg(c))
            }
            Backend::Sqlite => {
                let path = self.sqlite_path();
                if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let mut c = SqliteConnection::establish(path)?;
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {timeout}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                ))?;
                Ok(DbConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        on_backend!(conn, |c| c.batch_execute("SELECT 1"))?;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// The pool and what the process measures about it.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    wait: Histogram,
}

/// The migrations of one service, for each backend.
/// Functions, because `EmbeddedMigrations` is consumed by each run: pass
/// `|| POSTGRES_MIGRATIONS` for a `const POSTGRES_MIGRATIONS = embed_migrations!(..)`.
pub struct Migrations {
    pub postgres: fn() -> EmbeddedMigrations,
    pub sqlite: fn() -> EmbeddedMigrations,
}

impl Db {
    /// Builds the pool (failing fast if the database does not answer), runs the
    /// pending migrations, and registers the pool gauges.
    pub fn connect(
        settings: &DatabaseSettings,
        migrations: &Migrations,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let url = settings.url.expose_secret().to_string();
        let backend = Backend::of(&url);
        let manager = Manager { url, backend, statement_timeout_ms: settings.statement_timeout_ms };
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .connection_timeout(Duration::from_millis(settings.pool_timeout_ms))
            .build(manager)
            .map_err(|e| anyhow::anyhow!("cannot connect to the {backend:?} database: {e}"))?;
        let db = Self {
            pool,
            backend,
            wait: metrics
                .histogram("db_pool_wait_seconds", "Time a request waited for a database connection"),
        };
        db.migrate(migrations)?;

        let connections =
            metrics.gauge_vec("db_pool_connections", "Database connections by state", &["state"]);
        let max = metrics.gauge("db_pool_max_connections", "Largest number of database connections");
        max.set(i64::from(settings.pool_size));
        let pool = db.pool.clone();
        metrics.on_scrape(move || {
            let state = pool.state();
            connections.with_label_values(&["idle"]).set(i64::from(state.idle_connections));
            connections
                .with_label_values(&["in_use"])
                .set(i64::from(state.connections - state.idle_connections));
        });
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs the pending migrations. On PostgreSQL an advisory lock keeps replicas that
    /// start together from migrating at once.
    pub fn migrate(&self, migrations: &Migrations) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        let done = match &mut *conn {
            DbConnection::Pg(c) => {
                c.batch_execute("SELECT pg_advisory_lock(7235001)")?;
                let r = c.run_pending_migrations((migrations.postgres)()).map(|v| v.len());
                c.batch_execute("SELECT pg_advisory_unlock(7235001)")?;
                r
            }
            DbConnection::Sqlite(c) => c.run_pending_migrations((migrations.sqlite)()).map(|v| v.len()),
        }
        .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
        let _ = done;
        Ok(())
    }

    /// Reverts every migration (for the migration tests).
    pub fn revert_all(&self, migrations: &Migrations) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        match &mut *conn {
            DbConnection::Pg(c) => c.revert_all_migrations((migrations.postgres)()).map(drop),
            DbConnection::Sqlite(c) => c.revert_all_migrations((migrations.sqlite)()).map(drop),
        }
        .map_err(|e| anyhow::anyhow!("reverting migrations failed: {e}"))
    }

    /// Runs `query` on a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, query: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let wait = self.wait.clone();
        actix_web::web::block(move || {
            let start = Instant::now();
            let mut conn = pool.get()?;
            wait.observe(start.elapsed().as_secs_f64());
            query(&mut conn)
        })
        .await?
    }
}

impl Db {
    /// Keeps `gauge` at what `query` counts, refreshed every `period` off the request
    /// path (business totals: never a count on every request or scrape).
    pub fn refresh_gauge_every(
        &self,
        gauge: prometheus::IntGauge,
        period: Duration,
        query: fn(&mut DbConnection) -> Result<i64, ApiError>,
    ) {
        let db = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                if let Ok(n) = db.run(query).await {
                    gauge.set(n);
                }
            }
        });
    }
}

impl Readiness for Db {
    fn check(&self) -> BoxFuture<'static, Result<(), String>> {
        let db = self.clone();
        Box::pin(async move {
            db.run(|conn| on_backend!(conn, |c| c.batch_execute("SELECT 1")).map_err(ApiError::from))
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_the_url() {
        assert_eq!(Backend::of("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of("data/users.db"), Backend::Sqlite);
        assert_eq!(Backend::of("sqlite://data/users.db"), Backend::Sqlite);
    }
}
