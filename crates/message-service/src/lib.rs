//! message-service: MiniTwit's messages. Owns the `messages` table (author id, text,
//! pub_date, flagged) and the simulator's `latest` value (`sim_latest`).
//!
//! The routes are listed in [`minitwit_api::message`]. The binary also has the
//! operator's `flag <id>` / `unflag <id>` subcommands (see [`Command`]).

pub mod bulk;
mod cli;
mod keyset;
mod latest;
mod messages;
mod routes;
mod schema;

use minitwit_kit::{
    db::{Db, Migrations},
    server::{serve, Running},
    settings::{HttpSettings, OwnSettings, ServiceSettings},
};
use serde::{Deserialize, Serialize};

pub use cli::{flag_tool, Command, USAGE};

pub const NAME: &str = "message-service";
/// Environment variables of this service start with `MESSAGE_SERVICE_`.
pub const ENV_PREFIX: &str = "MESSAGE_SERVICE";

pub const MIGRATIONS: Migrations = minitwit_kit::embedded_migrations!(
    "../../migrations/message-service/postgres",
    "../../migrations/message-service/sqlite"
);

/// message-service's settings: kit's `http`, `log` and `database`, and its [`Own`].
pub type Settings = ServiceSettings<Own>;

/// What only message-service is told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Own {
    /// Largest page any list answers; a larger `limit` is cut down to it
    /// (`MESSAGE_SERVICE_MAX_LIMIT`).
    pub max_limit: u32,
}

impl Default for Own {
    fn default() -> Self {
        Self { max_limit: 1000 }
    }
}

impl OwnSettings for Own {
    const ENV_PREFIX: &'static str = ENV_PREFIX;
    const PORT: u16 = 8082;
    const SQLITE_FILE: &'static str = "data/messages.db";

    /// Room for a "my timeline" query of AUTHORS_MAX ids of any size (~100 KB).
    fn http() -> HttpSettings {
        HttpSettings { body_limit_bytes: 128 * 1024, ..HttpSettings::on_port(Self::PORT) }
    }
}

/// Returns the bound server, not yet started. It serves at once; the database is
/// connected and migrated in the background (`/ready` is 503 until it is, see
/// [`Db::start_service`]).
pub fn build(settings: &Settings, logger: slog::Logger) -> anyhow::Result<Running> {
    anyhow::ensure!(settings.own.max_limit > 0, "max_limit must be at least 1");
    let (service, db) = Db::start_service(NAME, logger, &settings.database, MIGRATIONS)?;
    let state = routes::State::new(db, settings.own.max_limit, &service.metrics);
    state.spawn_gauge_refresh();
    serve(&settings.http, service, move |cfg| routes::configure(cfg, state.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_come_from_the_environment() {
        let vars = [("MESSAGE_SERVICE_MAX_LIMIT", "50"), ("MESSAGE_SERVICE_HTTP__PORT", "9082")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let s: Settings = minitwit_kit::settings::load_from(ENV_PREFIX, &[], vars).unwrap();
        assert_eq!((s.own.max_limit, s.http.port), (50, 9082));
        let d = Settings::default();
        assert_eq!((d.own.max_limit, d.http.port), (1000, 8082));
        assert!(d.http.body_limit_bytes > minitwit_api::message::AUTHORS_MAX * 21);
    }
}
