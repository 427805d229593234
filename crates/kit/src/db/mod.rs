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
//! drops it (`Manager::has_broken`) and opens a fresh one for the next request.
//!
//! One job per file, each using only the ones listed before it:
//! - `connection`: one connection, on either backend, and how the pool opens it;
//! - `pool`: the [`Db`] and its pool, running queries and saying whether it is ready;
//! - `metrics`: what the process measures about the pool, and business gauges;
//! - `migrations`: each service's migrations, run and reverted;
//! - `startup`: bringing a [`Db`] up, at once or in the background.
//!
//! This file only declares them and re-exports their public items: every path is
//! `minitwit_kit::db::...`.

mod connection;
mod metrics;
mod migrations;
mod pool;
mod startup;

pub(crate) use connection::open_sqlite;
pub use connection::{Backend, ConnectError, DbConnection, Manager, PooledConnection};
// Made public next to `DbConnection` by diesel's `MultiConnection` derive.
pub use connection::{MultiBackend, MultiField, MultiRawValue, MultiRow};
pub(crate) use migrations::migrate;
pub use migrations::Migrations;
pub use pool::{Db, Pool};
pub use startup::{backoff, BACKOFF_MAX, BACKOFF_MIN};
