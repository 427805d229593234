//! user-service: MiniTwit's accounts. Owns the `users` table: username (unique,
//! immutable), email and the argon2id hash of the password (or, until its first
//! login, the hash an imported legacy account came with: [`legacy`]).
//!
//! The routes are listed in [`minitwit_api::user`].

pub mod bulk;
pub mod legacy;
mod password;
mod routes;
mod schema;
mod users;

use minitwit_kit::{
    db::{Db, Migrations},
    server::{serve, Running},
    settings::{OwnSettings, ServiceSettings},
};
use serde::{Deserialize, Serialize};

pub use password::Argon2Settings;

pub const NAME: &str = "user-service";
/// Environment variables of this service start with `USER_SERVICE_`.
pub const ENV_PREFIX: &str = "USER_SERVICE";

pub const MIGRATIONS: Migrations = minitwit_kit::embedded_migrations!(
    "../../migrations/user-service/postgres",
    "../../migrations/user-service/sqlite"
);

/// user-service's settings: kit's `http`, `log` and `database`, and its [`Own`].
pub type Settings = ServiceSettings<Own>;

/// What only user-service is told.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Own {
    /// The password hash's cost (`USER_SERVICE_ARGON2__MEMORY_KIB` and the others).
    pub argon2: Argon2Settings,
}

impl OwnSettings for Own {
    const ENV_PREFIX: &'static str = ENV_PREFIX;
    const PORT: u16 = 8081;
    const SQLITE_FILE: &'static str = "data/users.db";
}

/// Returns the bound server, not yet started. It serves at once; the database is
/// connected and migrated in the background (`/ready` is 503 until it is, see
/// [`Db::start_service`]).
pub fn build(settings: &Settings, logger: slog::Logger) -> anyhow::Result<Running> {
    let (service, db) = Db::start_service(NAME, logger, &settings.database, MIGRATIONS)?;
    let state = routes::State::new(db, password::Hasher::new(&settings.own.argon2)?, &service.metrics);
    state.spawn_gauge_refresh();
    serve(&settings.http, service, move |cfg| routes::configure(cfg, state.clone()))
}
