//! follow-service: MiniTwit's follow graph. Owns the `follows` table: one row per
//! (follower, followee) pair of user ids, nothing else.
//!
//! The routes are listed in [`minitwit_api::follow`].

pub mod bulk;
mod follows;
mod routes;
mod schema;

use minitwit_kit::{
    db::{Db, Migrations},
    server::{serve, Running},
    settings::{OwnSettings, ServiceSettings},
};
use serde::{Deserialize, Serialize};

pub const NAME: &str = "follow-service";
/// Environment variables of this service start with `FOLLOW_SERVICE_`.
pub const ENV_PREFIX: &str = "FOLLOW_SERVICE";

pub const MIGRATIONS: Migrations = minitwit_kit::embedded_migrations!(
    "../../migrations/follow-service/postgres",
    "../../migrations/follow-service/sqlite"
);

/// follow-service's settings: kit's `http`, `log` and `database`, and its [`Own`].
pub type Settings = ServiceSettings<Own>;

/// What only follow-service is told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Own {
    /// Largest `limit` of `GET /follows/{follower}`; larger ones are capped to it
    /// (`FOLLOW_SERVICE_MAX_LIMIT`).
    pub max_limit: u32,
}

impl Default for Own {
    fn default() -> Self {
        Self { max_limit: 5000 }
    }
}

impl OwnSettings for Own {
    const ENV_PREFIX: &'static str = ENV_PREFIX;
    const PORT: u16 = 8083;
    const SQLITE_FILE: &'static str = "data/follows.db";
}

/// Returns the bound server, not yet started. It serves at once; the database is
/// connected and migrated in the background (`/ready` is 503 until it is, see
/// [`Db::start_service`]).
pub fn build(settings: &Settings, logger: slog::Logger) -> anyhow::Result<Running> {
    let (service, db) = Db::start_service(NAME, logger, &settings.database, MIGRATIONS)?;
    let state = routes::State::new(db, settings.own.max_limit, &service.metrics);
    serve(&settings.http, service, move |cfg| routes::configure(cfg, state.clone()))
}
