//! The pool and running queries on it: [`Db`] lends a pooled connection to a query on
//! the blocking thread pool, once, or once more on a fresh connection for a query that
//! may run twice, and answers 503 at once while the database is not ready.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use diesel::connection::SimpleConnection;
use futures::future::BoxFuture;
use prometheus::Histogram;

use super::connection::{DbConnection, Manager};
use crate::{server::Readiness, ApiError};

pub type Pool = r2d2::Pool<Manager>;

/// The pool and what the process measures about it. Its fields are open to the other
/// files of `db` (made in `metrics`, used by `migrations` and `startup`), not beyond.
#[derive(Clone)]
pub struct Db {
    pub(super) pool: Pool,
    /// Opens a connection outside the pool, for a query retried after its pooled
    /// connection turned out to be dead ([`Db::run_idempotent`]).
    pub(super) manager: Manager,
    pub(super) wait: Histogram,
    /// Requests refused because no connection came free in time ([`Db::checkout`]).
    pub(super) shed: prometheus::IntCounter,
    pub(super) status: Arc<Status>,
}

/// Whether the database answered and is migrated; until then, the last failed attempt.
#[derive(Default)]
pub(super) struct Status {
    pub(super) ready: AtomicBool,
    /// "N failed attempts, the last: <error>", once an attempt failed.
    pub(super) failures: Mutex<Option<String>>,
}

impl Db {
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
    /// out to be dead (`WatchForLoss`): after a database restart every pooled
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
    use std::time::Duration;

    use super::*;
    use crate::settings::DatabaseSettings;

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
}
