//! Each service's schema: its migrations for each backend ([`Migrations`]), run when
//! the database comes up (one replica at a time on PostgreSQL) and reverted by the
//! migration tests.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use super::{connection::DbConnection, pool::Db};

/// The migrations of one service, for each backend ([`embedded_migrations!`](crate::embedded_migrations)).
/// Functions, because `EmbeddedMigrations` is consumed by each run.
#[derive(Clone, Copy)]
pub struct Migrations {
    pub postgres: fn() -> EmbeddedMigrations,
    pub sqlite: fn() -> EmbeddedMigrations,
}

impl Db {
    /// Runs the pending migrations. On PostgreSQL an advisory lock keeps replicas that
    /// start together from migrating at once.
    pub fn migrate(&self, migrations: &Migrations) -> anyhow::Result<()> {
        migrate(&mut *self.pool.get()?, migrations)
    }

    /// Reverts the newest migration (for the migration tests: a new migration on a
    /// database that holds data).
    pub fn revert_last(&self, migrations: &Migrations) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        match &mut **conn {
            DbConnection::Pg(c) => c.revert_last_migration((migrations.postgres)()).map(drop),
            DbConnection::Sqlite(c) => c.revert_last_migration((migrations.sqlite)()).map(drop),
        }
        .map_err(|e| anyhow::anyhow!("reverting the last migration failed: {e}"))
    }

    /// Reverts every migration (for the migration tests).
    pub fn revert_all(&self, migrations: &Migrations) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        match &mut **conn {
            DbConnection::Pg(c) => c.revert_all_migrations((migrations.postgres)()).map(drop),
            DbConnection::Sqlite(c) => c.revert_all_migrations((migrations.sqlite)()).map(drop),
        }
        .map_err(|e| anyhow::anyhow!("reverting migrations failed: {e}"))
    }
}

/// Runs the pending migrations on `conn`. On PostgreSQL an advisory lock keeps
/// replicas that start together from migrating at once.
pub(crate) fn migrate(conn: &mut DbConnection, migrations: &Migrations) -> anyhow::Result<()> {
    match conn {
        DbConnection::Pg(c) => {
            c.batch_execute("SELECT pg_advisory_lock(7235001)")?;
            let r = c.run_pending_migrations((migrations.postgres)()).map(drop);
            c.batch_execute("SELECT pg_advisory_unlock(7235001)")?;
            r
        }
        DbConnection::Sqlite(c) => c.run_pending_migrations((migrations.sqlite)()).map(drop),
    }
    .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))
}

/// A service's [`Migrations`], embedded in its binary from its two directories (paths
/// from the service's crate, as `diesel_migrations::embed_migrations!` takes them; the
/// service depends on `diesel_migrations`).
#[macro_export]
macro_rules! embedded_migrations {
    ($postgres:tt, $sqlite:tt) => {
        $crate::db::Migrations {
            postgres: || {
                const POSTGRES: ::diesel_migrations::EmbeddedMigrations =
                    ::diesel_migrations::embed_migrations!($postgres);
                POSTGRES
            },
            sqlite: || {
                const SQLITE: ::diesel_migrations::EmbeddedMigrations =
                    ::diesel_migrations::embed_migrations!($sqlite);
                SQLITE
            },
        }
    };
}
