//! Bringing a [`Db`] up: [`Db::connect`] at once, failing if the database does not
//! answer (tools and tests), or [`Db::start`] in the background, retrying with
//! [`backoff`] until the database answers and is migrated (services).

use std::{
    sync::{atomic::Ordering, Arc, Weak},
    time::{Duration, Instant},
};

use super::{
    connection::Manager,
    migrations::{migrate, Migrations},
    pool::{Db, Pool, Status},
};
use crate::{metrics::Metrics, settings::DatabaseSettings};

/// The wait after the first failed attempt to reach the database at start-up; it
/// doubles after each failure up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to reach the database at start-up.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Once migrated, how long start-up waits at most for the pool to hold all its
/// connections before the database counts as ready (see [`Db::start`]).
pub const FILL_WITHIN: Duration = Duration::from_secs(5);

/// The wait after failed attempt number `attempt` (1-based): 100 ms, 200 ms, ... 5 s.
pub fn backoff(attempt: u64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16) as u32;
    BACKOFF_MIN.saturating_mul(1 << doublings).min(BACKOFF_MAX)
}

impl Db {
    /// Builds the pool (failing fast if the database does not answer), runs the
    /// pending migrations, and registers the pool gauges. For tools and tests that
    /// need the database now; services use [`Db::start`].
    pub fn connect(
        settings: &DatabaseSettings,
        migrations: &Migrations,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let manager = Manager::new(settings)?;
        let backend = manager.backend();
        let pool = Self::pool_builder(settings)
            .build(manager.clone())
            .map_err(|e| anyhow::anyhow!("cannot connect to the {backend:?} database: {e}"))?;
        let db = Self::with_pool(pool, manager, settings, metrics);
        db.migrate(migrations)?;
        db.status.ready.store(true, Ordering::Release);
        Ok(db)
    }

    /// Returns at once, whether or not the database answers. A background thread
    /// connects and runs the pending migrations, retrying with [`backoff`] (each
    /// failure logged at warn with its attempt number) until they are done, then waits
    /// (at most 5 s, `FILL_WITHIN`) until the pool holds all its connections; until then
    /// the database is not ready: `/ready` answers 503 and [`Db::run`] answers
    /// `503 database_unavailable` without waiting. The thread ends when it succeeds or
    /// when the last clone of this `Db` is dropped.
    ///
    /// (Ready with a pool still opening its connections, a new replica put in service
    /// under load made its first calls wait for connections being opened, over TLS, from
    /// a busy PostgreSQL: past the pool's wait they were shed, 503, in a burst each time
    /// a rolling update started a replica.)
    pub fn start(
        settings: &DatabaseSettings,
        migrations: Migrations,
        metrics: &Metrics,
        logger: &slog::Logger,
    ) -> anyhow::Result<Self> {
        let manager = Manager::new(settings)?;
        let backend = manager.backend();
        // Opens no connection here: the pool fills itself in the background.
        let pool = Self::pool_builder(settings).build_unchecked(manager.clone());
        let db = Self::with_pool(pool, manager.clone(), settings, metrics);
        let status = Arc::downgrade(&db.status);
        let logger = logger.new(slog::o!("backend" => format!("{backend:?}")));
        std::thread::Builder::new().name("db-start".into()).spawn({
            let pool = db.pool.clone();
            move || prepare_until_ready(&manager, &pool, migrations, &status, &logger)
        })?;
        Ok(db)
    }

    /// A service on its database, what each service's `build` begins with: the database
    /// [started](Self::start) with the service's metrics and logger, and the service
    /// ready only when its database is.
    pub fn start_service(
        name: &'static str,
        logger: slog::Logger,
        settings: &DatabaseSettings,
        migrations: Migrations,
    ) -> anyhow::Result<(crate::Service, Self)> {
        let service = crate::Service::new(name, logger);
        let db = Self::start(settings, migrations, &service.metrics, &service.logger)?;
        Ok((service.with_readiness(db.clone()), db))
    }

    fn pool_builder(settings: &DatabaseSettings) -> r2d2::Builder<Manager> {
        r2d2::Pool::builder()
            // No `SELECT 1` before each query: see `Manager::has_broken`.
            .test_on_check_out(false)
            .max_size(settings.pool_size)
            .connection_timeout(Duration::from_millis(settings.pool_timeout_ms))
    }
}

/// [`Db::start`]'s background work: connect and migrate on a connection of its own,
/// until it works (then, once the pool is full, the database is ready) or nobody holds
/// the `Db` any more.
fn prepare_until_ready(
    manager: &Manager,
    pool: &Pool,
    migrations: Migrations,
    status: &Weak<Status>,
    logger: &slog::Logger,
) {
    for attempt in 1.. {
        let result = r2d2::ManageConnection::connect(manager)
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| migrate(&mut conn, &migrations));
        let Some(status) = status.upgrade() else { return };
        match result {
            Ok(()) => {
                let waited = Instant::now();
                let connections = wait_until_full(pool, FILL_WITHIN);
                status.ready.store(true, Ordering::Release);
                slog::info!(logger, "database ready"; "attempt" => attempt,
                    "connections" => connections, "pool_size" => pool.max_size(),
                    "filling_ms" => waited.elapsed().as_millis() as u64);
                return;
            }
            Err(e) => {
                let delay = backoff(attempt);
                // One line: libpq's messages span several.
                let error = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
                slog::warn!(logger, "database not ready, retrying";
                    "attempt" => attempt, "retry_in_ms" => delay.as_millis() as u64, "error" => &error);
                *status.failures.lock().expect("status lock") =
                    Some(format!("{attempt} failed attempts, the last: {error}"));
                drop(status);
                std::thread::sleep(delay);
            }
        }
    }
}

/// Waits until the pool holds all its connections (it opens them in the background,
/// again and again while the database refuses), or `within` has passed; how many it
/// holds.
fn wait_until_full(pool: &Pool, within: Duration) -> u32 {
    let until = Instant::now() + within;
    loop {
        let connections = pool.state().connections;
        if connections >= pool.max_size() || Instant::now() >= until {
            return connections;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_up_to_5_s() {
        let waits: Vec<u128> = (1..=8).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(u64::MAX), BACKOFF_MAX);
    }
}
