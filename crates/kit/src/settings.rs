//! Layered settings: built-in defaults, then an optional file (`<PREFIX>_CONFIG`), then
//! environment variables (`<PREFIX>_SECTION__KEY`), then `*_FILE` variables whose value
//! is read from a file (Docker secrets: `USER_SERVICE_DATABASE__URL_FILE=/run/secrets/x`).

use std::path::Path;

use config::{Config, Environment, File};
use secrecy::SecretString;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub use crate::secret::{expose, expose_optional};
use crate::tls::ServerTlsSettings;

/// How a process listens for HTTP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    /// Worker threads; 0 means one per CPU.
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Seconds to let in-flight requests finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Milliseconds to go on serving as usual after SIGTERM before stopping: time for
    /// clients to stop sending here once the swarm took this task out of DNS (nginx
    /// looks up again every 5 s, the gateway renews its connections every
    /// `SERVICES__CONNECTION_MAX_AGE_MS`). 0 stops at once (`make run`, tests).
    pub drain_ms: u64,
    pub keep_alive_secs: u64,
    /// Connections served at once per worker; more wait in the listen backlog. Bounds
    /// the memory an overload can take (an open request costs the gateway ~70 KB).
    pub max_connections: usize,
    /// The internal services' shared secret (a Docker secret: `HTTP__SERVICE_TOKEN_FILE`).
    /// When set, every route but `/health`, `/ready` and `/metrics` answers 401
    /// `service_token_required` unless the call carries `Authorization: Bearer <token>`.
    /// The gateway, whose routes are public, leaves it unset and sends it
    /// (`SERVICES__TOKEN`).
    #[serde(serialize_with = "expose_optional")]
    pub service_token: Option<SecretString>,
    /// Mutual TLS on the port (see [`crate::tls`]); off by default.
    pub tls: ServerTlsSettings,
}

impl HttpSettings {
    pub fn on_port(port: u16) -> Self {
        Self { port, ..Self::default() }
    }

    /// For an internal service: refuses to listen beyond loopback without a service
    /// token, since every internal route would then answer anyone who reaches the port
    /// (`make run` listens on 127.0.0.1 and needs none; the stack sets one), and refuses
    /// TLS settings that do not make a working mutual TLS ([`ServerTlsSettings`]).
    /// `prefix` is the service's environment prefix, to name the settings in the error.
    pub fn check_internal(&self, prefix: &str) -> anyhow::Result<()> {
        self.tls.server_config(prefix)?;
        if self.service_token.is_none() && !self.on_loopback() {
            anyhow::bail!(
                "{prefix}_HTTP__HOST is {}, beyond loopback, so {prefix}_HTTP__SERVICE_TOKEN (or \
                 {prefix}_HTTP__SERVICE_TOKEN_FILE) must be set: without a token every internal \
                 route answers anyone who reaches this port",
                self.host
            );
        }
        Ok(())
    }

    /// Whether the port can only be reached from this machine (this container).
    pub fn on_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            workers: 0,
            body_limit_bytes: 64 * 1024,
            shutdown_timeout_secs: 20,
            drain_ms: 0,
            keep_alive_secs: 75,
            max_connections: 256,
            service_token: None,
            tls: ServerTlsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log shippers.
    Json,
    /// Coloured, human-readable lines for a terminal.
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `trace`, `debug`, `info`, `warning`, `error` or `critical`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Pretty }
    }
}

/// A service's own database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:5432/db` (or `postgresql://`), or a SQLite file:
    /// `sqlite://<path>` or a path ending in `.db` (`data/users.db`). Anything else is a
    /// start-up error ([`DatabaseUrl::parse`]), never a new SQLite file by surprise.
    #[serde(serialize_with = "expose")]
    pub url: SecretString,
    pub pool_size: u32,
    /// How long a request waits for a free connection before it is shed (`503
    /// overloaded`, see `Db::checkout`): well under the simulator's 0.3 s.
    pub pool_timeout_ms: u64,
    /// PostgreSQL `statement_timeout`; SQLite's busy timeout.
    pub statement_timeout_ms: u64,
}

impl DatabaseSettings {
    pub fn at(url: &str) -> Self {
        Self { url: url.into(), ..Self::default() }
    }
}

/// The settings key of [`DatabaseSettings::url`] in a service's settings; its environment
/// variable is `<PREFIX>_DATABASE__URL`.
pub const DATABASE_URL_KEY: &str = "database.url";

/// Which database a URL names, and what to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl<'a> {
    /// The whole URL, for libpq.
    Postgres(&'a str),
    /// The path of the SQLite file.
    Sqlite(&'a str),
}

impl<'a> DatabaseUrl<'a> {
    /// `postgres://` and `postgresql://` are PostgreSQL; `sqlite://<path>` and a plain path
    /// ending in `.db` are SQLite files. Anything else is an error that says what is
    /// accepted; it quotes the scheme, not the URL (which may hold a password).
    pub fn parse(url: &'a str) -> Result<Self, String> {
        const ACCEPTED: &str =
            "use postgres://user:password@host/db, postgresql://..., sqlite://<path> or a path ending in .db";
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return if path.is_empty() {
                Err(format!("sqlite:// names no file: {ACCEPTED}"))
            } else {
                Ok(Self::Sqlite(path))
            };
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(format!("unknown scheme {scheme}://: {ACCEPTED}"));
        }
        if url.ends_with(".db") {
            return Ok(Self::Sqlite(url));
        }
        Err(format!("{url:?} is neither a URL nor a path ending in .db: {ACCEPTED}"))
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "data/minitwit.db".into(),
            pool_size: 10,
            pool_timeout_ms: 100,
            statement_timeout_ms: 5_000,
        }
    }
}

/// Loads `T` for the process whose environment variables start with `<prefix>_`.
/// `list_keys` are keys (dotted, lower case) whose env value is a comma-separated list.
pub fn load<T>(prefix: &str, list_keys: &[&str]) -> anyhow::Result<T>
where
    T: Default + Serialize + DeserializeOwned,
{
    load_from(prefix, list_keys, std::env::vars())
}

/// An internal service's settings: what every service is told (`http`, `log`,
/// `database`) and what only it is (`own`, read from the same level: follow-service's
/// `FOLLOW_SERVICE_MAX_LIMIT` beside its `FOLLOW_SERVICE_HTTP__PORT`).
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSettings<Own> {
    pub http: HttpSettings,
    pub log: LogSettings,
    pub database: DatabaseSettings,
    #[serde(flatten)]
    pub own: Own,
}

/// What a service adds to [`ServiceSettings`], and where it listens and keeps its SQLite
/// file by default (`make run`).
pub trait OwnSettings: Default + Serialize + DeserializeOwned {
    /// Its environment variables start with `<ENV_PREFIX>_`.
    const ENV_PREFIX: &'static str;
    const PORT: u16;
    const SQLITE_FILE: &'static str;

    /// Its default `http` settings: [`Self::PORT`] and kit's defaults.
    fn http() -> HttpSettings {
        HttpSettings::on_port(Self::PORT)
    }
}

impl<Own: OwnSettings> Default for ServiceSettings<Own> {
    fn default() -> Self {
        Self {
            http: Own::http(),
            log: LogSettings::default(),
            database: DatabaseSettings::at(Own::SQLITE_FILE),
            own: Own::default(),
        }
    }
}

/// Each part is read on its own, not through serde's `flatten` (which reads the service's
/// own settings from a copy that has lost their names), so that a bad value is an error
/// that names its setting (`invalid type: string "many", expected u32 for key
/// `max_limit``).
impl<'de, Own: OwnSettings> Deserialize<'de> for ServiceSettings<Own> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn part<T: DeserializeOwned, E: serde::de::Error>(
            map: &mut config::Map<String, config::Value>,
            key: &str,
            default: T,
        ) -> Result<T, E> {
            match map.remove(key) {
                None => Ok(default),
                Some(value) => value.try_deserialize().map_err(|e| E::custom(format!("{key}: {e}"))),
            }
        }
        let mut map = config::Map::<String, config::Value>::deserialize(d)?;
        let defaults = Self::default();
        Ok(Self {
            http: part(&mut map, "http", defaults.http)?,
            log: part(&mut map, "log", defaults.log)?,
            database: part(&mut map, "database", defaults.database)?,
            own: config::Value::from(map).try_deserialize().map_err(serde::de::Error::custom)?,
        })
    }
}

impl<Own: OwnSettings> ServiceSettings<Own> {
    /// The settings from the environment ([`load`]); refused when their `http` part
    /// cannot serve an internal API safely ([`HttpSettings::check_internal`]: listening
    /// beyond loopback without a service token).
    pub fn load() -> anyhow::Result<Self> {
        let settings: Self = load(Own::ENV_PREFIX, &[])?;
        settings.http.check_internal(Own::ENV_PREFIX)?;
        Ok(settings)
    }
}

/// [`load`] with an explicit environment, for tests.
pub fn load_from<T>(
    prefix: &str,
    list_keys: &[&str],
    vars: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<T>
where
    T: Default + Serialize + DeserializeOwned,
{
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    let mut builder = Config::builder().add_source(Config::try_from(&T::default())?);

    let config_var = format!("{prefix}_CONFIG");
    if let Some((_, path)) = vars.iter().find(|(k, _)| *k == config_var) {
        builder = builder.add_source(File::from(Path::new(path)).required(true));
    }

    let mut env =
        Environment::with_prefix(prefix).prefix_separator("_").separator("__").try_parsing(true).source(
            Some(vars.iter().filter(|(k, _)| *k != config_var && !k.ends_with("_FILE")).cloned().collect()),
        );
    if !list_keys.is_empty() {
        env = env.list_separator(",");
        for key in list_keys {
            env = env.with_list_parse_key(key);
        }
    }
    builder = builder.add_source(env);

    let head = format!("{prefix}_");
    for (name, path) in &vars {
        let Some(key) = name.strip_prefix(&head).and_then(|k| k.strip_suffix("_FILE")) else {
            continue;
        };
        let value =
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {name}={path}: {e}"))?;
        let key = key.to_lowercase().replace("__", ".");
        builder = builder.set_override(key, value.trim_end_matches(['\n', '\r']).to_string())?;
    }

    let config = builder.build()?;
    // Checked here, not when the database is opened, so that the error names the variable.
    if let Ok(url) = config.get_string(DATABASE_URL_KEY) {
        DatabaseUrl::parse(&url)
            .map_err(|e| anyhow::anyhow!("{prefix}_DATABASE__URL (setting {DATABASE_URL_KEY}): {e}"))?;
    }
    Ok(config.try_deserialize()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Sample {
        http: HttpSettings,
        database: DatabaseSettings,
        allow: Vec<String>,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_service_beyond_loopback_needs_a_token() {
        let on = |host: &str, token: Option<&str>| HttpSettings {
            host: host.into(),
            service_token: token.map(|t| t.to_string().into()),
            ..HttpSettings::default()
        };
        for host in ["127.0.0.1", "127.0.0.2", "::1", "localhost"] {
            assert!(on(host, None).check_internal("X").is_ok(), "{host}");
        }
        for host in ["0.0.0.0", "::", "10.0.0.7", "user-service"] {
            let err = on(host, None).check_internal("X").unwrap_err().to_string();
            assert!(err.contains(&format!("X_HTTP__HOST is {host}")), "{err}");
            assert!(err.contains("X_HTTP__SERVICE_TOKEN"), "{err}");
            assert!(on(host, Some("t")).check_internal("X").is_ok(), "{host}");
        }
    }

    /// A service's own settings: a number and a nested section, as user-service's
    /// `argon2` is.
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(default)]
    struct Own {
        max_limit: u32,
        hashing: Hashing,
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Hashing {
        iterations: u32,
    }

    impl Default for Own {
        fn default() -> Self {
            Self { max_limit: 7, hashing: Hashing { iterations: 2 } }
        }
    }

    impl OwnSettings for Own {
        const ENV_PREFIX: &'static str = "T";
        const PORT: u16 = 8089;
        const SQLITE_FILE: &'static str = "data/t.db";
    }

    #[test]
    fn a_service_reads_its_own_settings_beside_kits() {
        let d = ServiceSettings::<Own>::default();
        assert_eq!((d.http.port, d.database.url.expose_secret(), d.own.max_limit), (8089, "data/t.db", 7));
        let s: ServiceSettings<Own> = load_from("T", &[], env(&[])).unwrap();
        assert_eq!((s.http.port, s.own.max_limit, s.own.hashing.iterations), (8089, 7, 2));

        let vars = [("T_MAX_LIMIT", "50"), ("T_HASHING__ITERATIONS", "3"), ("T_HTTP__PORT", "9000")];
        let s: ServiceSettings<Own> = load_from("T", &[], env(&vars)).unwrap();
        assert_eq!((s.http.port, s.own.max_limit, s.own.hashing.iterations), (9000, 50, 3));

        let dir = std::env::temp_dir().join(format!("kit-settings-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.toml");
        std::fs::write(&file, "max_limit = 60\n[hashing]\niterations = 4\n[http]\nport = 9001\n").unwrap();
        let s: ServiceSettings<Own> =
            load_from("T", &[], env(&[("T_CONFIG", file.to_str().unwrap()), ("T_MAX_LIMIT", "61")])).unwrap();
        assert_eq!((s.http.port, s.own.max_limit, s.own.hashing.iterations), (9001, 61, 4));
        std::fs::remove_dir_all(dir).unwrap();

        // A bad value names its setting, the service's own as kit's.
        for (var, key) in [("T_MAX_LIMIT", "`max_limit`"), ("T_HTTP__PORT", "http: invalid type")] {
            let e = load_from::<ServiceSettings<Own>>("T", &[], env(&[(var, "many")])).unwrap_err();
            assert!(format!("{e:#}").contains(key), "{e:#}");
        }
    }

    #[test]
    fn defaults_apply_without_environment() {
        let s: Sample = load_from("T", &[], env(&[])).unwrap();
        assert_eq!(s.http.body_limit_bytes, 64 * 1024);
        assert_eq!(s.database.url.expose_secret(), "data/minitwit.db");
    }

    #[test]
    fn environment_overrides_nested_keys_with_types() {
        let s: Sample = load_from(
            "T",
            &["allow"],
            env(&[("T_HTTP__PORT", "9000"), ("T_ALLOW", "10.0.0.1,10.0.0.2"), ("OTHER_HTTP__PORT", "1")]),
        )
        .unwrap();
        assert_eq!(s.http.port, 9000);
        assert_eq!(s.allow, vec!["10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    fn file_variables_read_secrets() {
        let dir = std::env::temp_dir().join(format!("kit-settings-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("url");
        std::fs::write(&secret, "postgres://u:p@db/users\n").unwrap();
        let s: Sample =
            load_from("T", &[], env(&[("T_DATABASE__URL_FILE", secret.to_str().unwrap())])).unwrap();
        assert_eq!(s.database.url.expose_secret(), "postgres://u:p@db/users");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_secret_file_is_an_error() {
        let r: anyhow::Result<Sample> =
            load_from("T", &[], env(&[("T_DATABASE__URL_FILE", "/nonexistent/secret")]));
        assert!(r.is_err());
    }

    #[test]
    fn database_urls_name_their_backend() {
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db"), Ok(DatabaseUrl::Postgres("postgres://u@h/db")));
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db"),
            Ok(DatabaseUrl::Postgres("postgresql://u@h/db"))
        );
        assert_eq!(DatabaseUrl::parse("data/users.db"), Ok(DatabaseUrl::Sqlite("data/users.db")));
        assert_eq!(DatabaseUrl::parse("sqlite://data/users"), Ok(DatabaseUrl::Sqlite("data/users")));
        assert_eq!(DatabaseUrl::parse("sqlite:///tmp/x.db"), Ok(DatabaseUrl::Sqlite("/tmp/x.db")));
    }

    #[test]
    fn other_database_urls_are_refused_without_their_password() {
        let e = DatabaseUrl::parse("mysql://root:hunter2@db/users").unwrap_err();
        assert!(e.contains("unknown scheme mysql://"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        for url in ["postgre://u@h/db", "data/users", "data/users.sqlite", "", "sqlite://"] {
            assert!(DatabaseUrl::parse(url).is_err(), "{url:?} accepted");
        }
    }

    #[test]
    fn a_bad_database_url_is_a_load_error_naming_the_variable() {
        let e = load_from::<Sample>("T", &[], env(&[("T_DATABASE__URL", "mysql://u:pw@h/db")])).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("T_DATABASE__URL") && e.contains("database.url"), "{e}");
        assert!(!e.contains("pw@"), "{e}");
    }

    #[test]
    fn bad_type_is_an_error() {
        let r: anyhow::Result<Sample> = load_from("T", &[], env(&[("T_HTTP__PORT", "eighty")]));
        assert!(r.is_err());
    }
}
