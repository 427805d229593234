//! A service's database: PostgreSQL or SQLite, chosen by the URL, behind one r2d2 pool.
//!
//! Queries are plain `fn(&mut DbConnection) -> Result<T, ApiError>` run off the event
//! loop by [`Db::run`]. [`DbConnection`] is diesel's `MultiConnection`: a query written
//! once runs on whichever database it is. What diesel's multi-backend cannot express
//! (upserts, hand-written SQL for one database) matches on the variant instead, in the
//! query module that needs it, saying why.
//!
//! A service does not wait for its database to start ([`Db::start`]): it serves at once,
//! `/ready` says 503 and every query answers `503 database_unavailable` (`Retry-After:
//! 1`) at once, while a background thread connects and migrates, retrying with a bounded
//! exponential backoff. In a swarm a restarting PostgreSQL then makes the services
//! unready for a while instead of failing their tasks and rolling a release back.
//!
//! A pooled connection is not checked before it is lent (no `SELECT 1` per request): a
//! dead one is found by the query that uses it, which answers 503, and the pool then
//! drops it ([`Manager::has_broken`]) and opens a fresh one for the next request.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, Weak,
    },
    time::{Duration, Instant},
};

use diesel::{
    connection::{Instrumentation, InstrumentationEvent, SimpleConnection},
    query_dsl::methods::ExecuteDsl,
    r2d2::R2D2Connection,
    result::DatabaseErrorKind,
    Connection, PgConnection, QueryResult, SqliteConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use futures::future::BoxFuture;
use prometheus::Histogram;
use secrecy::ExposeSecret;

use crate::{
    metrics::Metrics,
    server::Readiness,
    settings::{DatabaseSettings, DatabaseUrl, DATABASE_URL_KEY},
    ApiError,
};

/// One connection to a service's database, on either backend. Diesel's derive makes it a
/// `Connection` of its own (with a `MultiBackend`), so a query is written once; match on
/// the variant only for what one backend does differently.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    /// Executes `statement` on the inner connection: the one escape hatch for a statement
    /// both databases run but diesel's `MultiBackend` cannot build, which is `ON CONFLICT`
    /// (its `OnConflictClause` is `DoesNotSupportOnConflictClause`). The statement is
    /// still written once, with diesel's DSL.
    pub fn execute_on_backend<Q>(&mut self, statement: Q) -> QueryResult<usize>
    where
        Q: ExecuteDsl<PgConnection> + ExecuteDsl<SqliteConnection>,
    {
        match self {
            DbConnection::Pg(c) => ExecuteDsl::<PgConnection>::execute(statement, c),
            DbConnection::Sqlite(c) => ExecuteDsl::<SqliteConnection>::execute(statement, c),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
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

/// A pooled connection, and whether a query on it found the server gone.
pub struct PooledConnection {
    conn: DbConnection,
    lost: Arc<AtomicBool>,
}

impl std::ops::Deref for PooledConnection {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// Watches every query of one PostgreSQL connection and remembers when one failed
/// because the connection is closed. Diesel's own `is_broken` misses a failure while
/// preparing a statement (its transaction state is only updated after a prepared
/// statement runs), and libpq's status is not exposed; diesel reports every failed
/// query, prepare included, to the connection's instrumentation.
struct WatchForLoss(Arc<AtomicBool>);

impl Instrumentation for WatchForLoss {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error: Some(e), .. } = event {
            if matches!(
                e,
                diesel::result::Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _
                )
            ) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// What a [`Manager`] opens: the checked URL.
#[derive(Clone)]
enum Target {
    Postgres(String),
    Sqlite(String),
}

/// Opens connections and sets them up: statement timeout on PostgreSQL; WAL, a busy
/// timeout and foreign keys on SQLite.
#[derive(Clone)]
pub struct Manager {
    target: Target,
    statement_timeout_ms: u64,
}

impl Manager {
    /// Fails on a URL that names no database we know, naming the setting.
    fn new(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let url = settings.url.expose_secret();
        let target = match DatabaseUrl::parse(url) {
            Ok(DatabaseUrl::Postgres(url)) => Target::Postgres(url.to_string()),
            Ok(DatabaseUrl::Sqlite(path)) => Target::Sqlite(path.to_string()),
            Err(e) => anyhow::bail!("setting {DATABASE_URL_KEY}: {e}"),
        };
        Ok(Self { target, statement_timeout_ms: settings.statement_timeout_ms })
    }

    fn backend(&self) -> Backend {
        match self.target {
            Target::Postgres(_) => Backend::Postgres,
            Target::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// A SQLite file as every MiniTwit process opens it (its directory made first): WAL,
/// foreign keys on, and `busy_ms` to wait for another writer.
pub(crate) fn open_sqlite(path: &str, busy_ms: u64) -> Result<SqliteConnection, ConnectError> {
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut c = SqliteConnection::establish(path)?;
    c.batch_execute(&format!(
        "PRAGMA busy_timeout = {busy_ms}; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
    ))?;
    Ok(c)
}

impl r2d2::ManageConnection for Manager {
    type Connection = PooledConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<PooledConnection, ConnectError> {
        let timeout = self.statement_timeout_ms;
        let lost = Arc::new(AtomicBool::new(false));
        let conn = match &self.target {
            Target::Postgres(url) => {
                let mut c = PgConnection::establish(url)?;
                c.batch_execute(&format!("SET statement_timeout = {timeout}"))?;
                c.set_instrumentation(WatchForLoss(lost.clone()));
                DbConnection::Pg(c)
            }
            Target::Sqlite(path) => DbConnection::Sqlite(open_sqlite(path, timeout)?),
        };
        Ok(PooledConnection { conn, lost })
    }

    /// Only for r2d2's optional check on checkout, which the pool leaves off.
    fn is_valid(&self, conn: &mut PooledConnection) -> Result<(), ConnectError> {
        Ok(conn.conn.ping()?)
    }

    /// Checked, without a query, when a connection comes back to the pool: true once a
    /// query on it failed because the connection is closed ([`WatchForLoss`]), or when
    /// a transaction was left open or broken. The pool then drops it and opens another
    /// in the background.
    fn has_broken(&self, conn: &mut PooledConnection) -> bool {
        std::thread::panicking() || conn.lost.load(Ordering::Relaxed) || conn.conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// The pool and what the process measures about it.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// Opens a connection outside the pool, for a query retried after its pooled
    /// connection turned out to be dead ([`Db::run_idempotent`]).
    manager: Manager,
    wait: Histogram,
    /// Requests refused because no connection came free in time ([`Db::checkout`]).
    shed: prometheus::IntCounter,
    status: Arc<Status>,
}

/// Whether the database answered and is migrated; until then, the last failed attempt.
#[derive(Default)]
struct Status {
    ready: AtomicBool,
    /// "N failed attempts, the last: <error>", once an attempt failed.
    failures: Mutex<Option<String>>,
}

/// The migrations of one service, for each backend.
/// Functions, because `EmbeddedMigrations` is consumed by each run: pass
/// `|| POSTGRES_MIGRATIONS` for a `const POSTGRES_MIGRATIONS = embed_migrations!(..)`.
#[derive(Clone, Copy)]
pub struct Migrations {
    pub postgres: fn() -> EmbeddedMigrations,
    pub sqlite: fn() -> EmbeddedMigrations,
}

/// The wait after the first failed attempt to reach the database at start-up; it
/// doubles after each failure up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to reach the database at start-up.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

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
    /// failure logged at warn with its attempt number) until they are done; until then
    /// the database is not ready: `/ready` answers 503 and [`Db::run`] answers
    /// `503 database_unavailable` without waiting. The thread ends when it succeeds or
    /// when the last clone of this `Db` is dropped.
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
        std::thread::Builder::new()
            .name("db-start".into())
            .spawn(move || prepare_until_ready(&manager, migrations, &status, &logger))?;
        Ok(db)
    }

    fn pool_builder(settings: &DatabaseSettings) -> r2d2::Builder<Manager> {
        r2d2::Pool::builder()
            // No `SELECT 1` before each query: see `Manager::has_broken`.
            .test_on_check_out(false)
            .max_size(settings.pool_size)
            .connection_timeout(Duration::from_millis(settings.pool_timeout_ms))
    }

    /// The `Db` around `pool`, not ready yet, with its gauges registered.
    fn with_pool(pool: Pool, manager: Manager, settings: &DatabaseSettings, metrics: &Metrics) -> Self {
        let db = Self {
            pool,
            manager,
            wait: metrics
                .histogram("db_pool_wait_seconds", "Time a request waited for a database connection"),
            shed: metrics.counter(
                "db_pool_shed_total",
                "Requests answered 503 overloaded at once: no database connection came free within the pool time-out",
            ),
            status: Arc::default(),
        };
        let connections =
            metrics.gauge_vec("db_pool_connections", "Database connections by state", &["state"]);
        let max = metrics.gauge("db_pool_max_connections", "Largest number of database connections");
        max.set(i64::from(settings.pool_size));
        let ready =
            metrics.gauge("db_ready", "1 once the database answered and is migrated since start-up, else 0");
        let (pool, status) = (db.pool.clone(), db.status.clone());
        metrics.on_scrape(move || {
            let state = pool.state();
            connections.with_label_values(&["idle"]).set(i64::from(state.idle_connections));
            connections
                .with_label_values(&["in_use"])
                .set(i64::from(state.connections - state.idle_connections));
            ready.set(i64::from(status.ready.load(Ordering::Acquire)));
        });
        db
    }

    /// Whether the database answered and is migrated since start-up.
    pub fn is_ready(&self) -> bool {
        self.status.ready.load(Ordering::Acquire)
    }

    /// Why the database is not ready yet.
    fn not_ready_reason(&self) -> String {
        match &*self.status.failures.lock().expect("status lock") {
            None => "the database is not ready yet: connecting".to_string(),
            Some(failures) => format!("the database is not ready yet ({failures})"),
        }
    }

    /// Runs the pending migrations. On PostgreSQL an advisory lock keeps replicas that
    /// start together from migrating at once.
    pub fn migrate(&self, migrations: &Migrations) -> anyhow::Result<()> {
        migrate(&mut *self.pool.get()?, migrations)
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

    /// Runs `query` on a pooled connection on the blocking thread pool, once: for
    /// writes that must not happen twice (a new user, a message without a key).
    pub async fn run<T, F>(&self, query: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.blocking(move |db| {
            let mut conn = db.checkout()?;
            query(&mut conn)
        })
        .await
    }

    /// Runs `query` like [`Db::run`], and once more on a new connection (opened outside
    /// the pool: its other idle connections may be dead too) when its connection turned
    /// out to be dead ([`WatchForLoss`]): after a database restart every pooled
    /// connection is, and without this each would fail one request. Only
    /// for queries that may run twice with the effect of once: reads and idempotent
    /// writes (follow, unfollow, a flag, `latest`, a message under its key).
    pub async fn run_idempotent<T, F>(&self, query: F) -> Result<T, ApiError>
    where
        F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.blocking(move |db| {
            let mut conn = db.checkout()?;
            match query(&mut conn) {
                Err(_) if conn.lost.load(Ordering::Relaxed) => {
                    // Back to the pool, which drops it (`has_broken`).
                    drop(conn);
                    let mut fresh = r2d2::ManageConnection::connect(&db.manager)
                        .map_err(|e| ApiError::database_unavailable("the database is not reachable", e))?;
                    query(&mut fresh)
                }
                result => result,
            }
        })
        .await
    }

    /// Runs `work` on the blocking thread pool once the database is ready; at once
    /// `503 database_unavailable` while it is not.
    async fn blocking<T, W>(&self, work: W) -> Result<T, ApiError>
    where
        W: FnOnce(&Db) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        if !self.is_ready() {
            let why = anyhow::anyhow!(self.not_ready_reason());
            return Err(ApiError::database_unavailable("the database is not reachable yet", why));
        }
        let db = self.clone();
        actix_web::web::block(move || work(&db)).await?
    }

    /// A connection from the pool, its wait observed. No connection within the pool's
    /// time-out is one of two things. If opening one failed (r2d2 then reports the
    /// connect error), the database does not answer: `503 database_unavailable`.
    /// Otherwise every connection was busy the whole time: the request is shed, `503
    /// overloaded` (counted in `db_pool_shed_total`), instead of queueing past what a
    /// client waits (the simulator gives up after 0.3 s); it never touched the
    /// database, so any caller may send it again.
    fn checkout(&self) -> Result<r2d2::PooledConnection<Manager>, ApiError> {
        let start = Instant::now();
        let result = self.pool.get();
        self.wait.observe(start.elapsed().as_secs_f64());
        result.map_err(|e| {
            if connect_failed(&e) {
                ApiError::database_unavailable("no database connection available", e)
            } else {
                self.shed.inc();
                ApiError::overloaded("every database connection is busy, try again", e)
            }
        })
    }
}

/// Whether r2d2 gave up because opening a connection failed: it then appends the last
/// connect error to its "timed out waiting for connection" (its `Error` keeps that text
/// private; the bare text means every connection stayed busy).
fn connect_failed(e: &r2d2::Error) -> bool {
    e.to_string().len() > "timed out waiting for connection".len()
}

impl Db {
    /// Keeps `gauge` at what `query` counts, refreshed every `period` off the request
    /// path (business totals: never a count on every request or scrape). A failed count
    /// (the database not ready yet at start-up) is retried after a second, not a period.
    pub fn refresh_gauge_every(
        &self,
        gauge: prometheus::IntGauge,
        period: Duration,
        query: fn(&mut DbConnection) -> Result<i64, ApiError>,
    ) {
        let db = self.clone();
        tokio::spawn(async move {
            loop {
                let wait = match db.run(query).await {
                    Ok(n) => {
                        gauge.set(n);
                        period
                    }
                    Err(_) => period.min(Duration::from_secs(1)),
                };
                tokio::time::sleep(wait).await;
            }
        });
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

/// [`Db::start`]'s background work: connect and migrate on a connection of its own,
/// until it works (then the database is ready) or nobody holds the `Db` any more.
fn prepare_until_ready(
    manager: &Manager,
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
                status.ready.store(true, Ordering::Release);
                slog::info!(logger, "database ready"; "attempt" => attempt);
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

impl Readiness for Db {
    fn check(&self) -> BoxFuture<'static, Result<(), String>> {
        if !self.is_ready() {
            return Box::pin(futures::future::ready(Err(self.not_ready_reason())));
        }
        let db = self.clone();
        Box::pin(async move {
            db.run(|conn| conn.batch_execute("SELECT 1").map_err(ApiError::from))
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_picks_the_backend() {
        let backend = |url: &str| Manager::new(&DatabaseSettings::at(url)).map(|m| m.backend()).ok();
        assert_eq!(backend("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(backend("postgresql://u@h/db"), Some(Backend::Postgres));
        assert_eq!(backend("data/users.db"), Some(Backend::Sqlite));
        assert_eq!(backend("sqlite://data/users"), Some(Backend::Sqlite));
    }

    #[test]
    fn an_unknown_url_is_an_error_naming_the_setting() {
        for url in ["mysql://u@h/db", "data/users", "postgre://u@h/db"] {
            let e = Manager::new(&DatabaseSettings::at(url)).err().expect("refused").to_string();
            assert!(e.contains(DATABASE_URL_KEY), "{e}");
        }
    }

    /// r2d2's two texts, which tell a busy pool from a database that does not answer.
    #[test]
    fn a_connect_error_is_told_from_a_busy_pool() {
        let manager = Manager::new(&DatabaseSettings::at("postgres://nobody@127.0.0.1:1/none")).unwrap();
        let timeout = Duration::from_millis(50);
        let unreachable = r2d2::Pool::builder().connection_timeout(timeout).build_unchecked(manager);
        assert!(connect_failed(&unreachable.get().err().expect("no connection")));

        let dir = std::env::temp_dir().join(format!("kit-shed-{}", std::process::id()));
        let manager = Manager::new(&DatabaseSettings::at(dir.join("busy.db").to_str().unwrap())).unwrap();
        let busy = r2d2::Pool::builder().max_size(1).connection_timeout(timeout).build(manager).unwrap();
        let _held = busy.get().expect("the one connection");
        assert!(!connect_failed(&busy.get().err().expect("every connection busy")));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn backoff_doubles_from_100_ms_up_to_5_s() {
        let waits: Vec<u128> = (1..=8).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(u64::MAX), BACKOFF_MAX);
    }
}
