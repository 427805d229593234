//! Layered settings: built-in defaults, then an optional file (`<PREFIX>_CONFIG`), then
//! environment variables (`<PREFIX>_SECTION__KEY`), then `*_FILE` variables whose value
//! is read from a file (Docker secrets: `USER_SERVICE_DATABASE__URL_FILE=/run/secrets/x`).

use std::path::Path;

use config::{Config, Environment, File};
use secrecy::SecretString;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

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
}

impl HttpSettings {
    pub fn on_port(port: u16) -> Self {
        Self { port, ..Self::default() }
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
    /// `postgres://user:password@host:5432/db`, or a SQLite file path
    /// (`data/users.db`, `sqlite://data/users.db`).
    #[serde(serialize_with = "expose")]
    pub url: SecretString,
    pub pool_size: u32,
    /// How long a request waits for a free connection before answering 503.
    pub pool_timeout_ms: u64,
    /// PostgreSQL `statement_timeout`; SQLite's busy timeout.
    pub statement_timeout_ms: u64,
}

impl DatabaseSettings {
    pub fn at(url: &str) -> Self {
        Self { url: url.into(), ..Self::default() }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "data/minitwit.db".into(),
            pool_size: 10,
            pool_timeout_ms: 2_000,
            statement_timeout_ms: 5_000,
        }
    }
}

/// Serialises a secret in clear: only used to seed the defaults layer.
pub fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

/// Loads `T` for the process whose environment variables start with `<prefix>_`.
/// `list_keys` are keys (dotted, lower case) whose env value is a comma-separated list.
pub fn load<T>(prefix: &str, list_keys: &[&str]) -> anyhow::Result<T>
where
    T: Default + Serialize + DeserializeOwned,
{
    load_from(prefix, list_keys, std::env::vars())
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

    Ok(builder.build()?.try_deserialize()?)
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
    fn bad_type_is_an_error() {
        let r: anyhow::Result<Sample> = load_from("T", &[], env(&[("T_HTTP__PORT", "eighty")]));
        assert!(r.is_err());
    }
}
