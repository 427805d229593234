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
    settings::{DatabaseSettings, HttpSettings, LogSettings},
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub http: HttpSettings,
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub argon2: Argon2Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: HttpSettings::on_port(8081),
            log: LogSettings::default(),
            database: DatabaseSettings::at("data/users.db"),
            argon2: Argon2Settings::default(),
        }
    }
}

impl Settings {
    /// The settings from the environment; refused when listening beyond loopback
    /// without a service token.
    pub fn load() -> anyhow::Result<Self> {
        minitwit_kit::settings::load_internal(ENV_PREFIX, |s: &Self| &s.http)
    }
}

/// Returns the bound server, not yet started. It serves at once; the database is
/// connected and migrated in the background (`/ready` is 503 until it is, see
/// [`Db::start_service`]).
pub fn build(settings: &Settings, logger: slog::Logger) -> anyhow::Result<Running> {
    let (service, db) = Db::start_service(NAME, logger, &settings.database, MIGRATIONS)?;
    let state = routes::State::new(db, password::Hasher::new(&settings.argon2)?, &service.metrics);
    state.spawn_gauge_refresh();
    serve(&settings.http, service, move |cfg| routes::configure(cfg, state.clone()))
}
