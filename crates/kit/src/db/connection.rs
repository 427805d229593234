//! One connection to a service's database, on either backend: what a query gets
//! ([`DbConnection`]), how the pool opens and sets one up ([`Manager`]), and how a
//! dead one is noticed without a query ([`WatchForLoss`]).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use diesel::{
    connection::{Instrumentation, InstrumentationEvent, SimpleConnection},
    query_dsl::methods::ExecuteDsl,
    r2d2::R2D2Connection,
    result::DatabaseErrorKind,
    Connection, PgConnection, QueryResult, SqliteConnection,
};
use secrecy::ExposeSecret;

use crate::settings::{DatabaseSettings, DatabaseUrl, DATABASE_URL_KEY};

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
    pub(super) lost: Arc<AtomicBool>,
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
pub(super) struct WatchForLoss(Arc<AtomicBool>);

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

/// libpq's TCP limits, added to a PostgreSQL URL that does not set them: a database
/// whose machine vanished (no FIN, no RST) is noticed within about 25 s, by keepalive
/// probes while a connection waits for an answer and by `tcp_user_timeout` while what it
/// sent goes unacknowledged. Without them libpq keeps the system's keepalive (probes
/// after 2 hours) and TCP retransmits for about 15 minutes: a query on such a connection
/// would hold its blocking thread and its slot of the pool for as long.
const TCP_LIMITS: [(&str, &str); 5] = [
    ("keepalives", "1"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "3"),
    ("tcp_user_timeout", "10000"),
];

/// `url` with each of [`TCP_LIMITS`] it does not set itself.
fn with_tcp_limits(url: &str) -> String {
    let given = url.split_once('?').map_or("", |(_, query)| query);
    let missing: Vec<String> = TCP_LIMITS
        .iter()
        .filter(|(key, _)| !given.split('&').any(|pair| pair.split('=').next() == Some(key)))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    match (missing.is_empty(), url.contains('?')) {
        (true, _) => url.to_string(),
        (false, true) => format!("{url}&{}", missing.join("&")),
        (false, false) => format!("{url}?{}", missing.join("&")),
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
    pub(super) fn new(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let url = settings.url.expose_secret();
        let target = match DatabaseUrl::parse(url) {
            Ok(DatabaseUrl::Postgres(url)) => Target::Postgres(with_tcp_limits(url)),
            Ok(DatabaseUrl::Sqlite(path)) => Target::Sqlite(path.to_string()),
            Err(e) => anyhow::bail!("setting {DATABASE_URL_KEY}: {e}"),
        };
        Ok(Self { target, statement_timeout_ms: settings.statement_timeout_ms })
    }

    pub(super) fn backend(&self) -> Backend {
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
    /// query on it failed because the connection is closed (`WatchForLoss`), or when
    /// a transaction was left open or broken. The pool then drops it and opens another
    /// in the background.
    fn has_broken(&self, conn: &mut PooledConnection) -> bool {
        std::thread::panicking() || conn.lost.load(Ordering::Relaxed) || conn.conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_gets_the_tcp_limits_it_does_not_set() {
        let all =
            "keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3&tcp_user_timeout=10000";
        assert_eq!(with_tcp_limits("postgres://u@h/db"), format!("postgres://u@h/db?{all}"));
        assert_eq!(
            with_tcp_limits("postgres://u@h/db?sslmode=require&keepalives_idle=60"),
            "postgres://u@h/db?sslmode=require&keepalives_idle=60&keepalives=1&keepalives_interval=5\
             &keepalives_count=3&tcp_user_timeout=10000"
        );
        let own = format!("postgres://u@h/db?{}", all.replace("10000", "500"));
        assert_eq!(with_tcp_limits(&own), own);
    }

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
}
