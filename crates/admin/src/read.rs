//! Reading the legacy database: where it is ([`Source`]), its rows as they are, and the
//! legacy app's `latest` file.

use anyhow::Context;
use diesel::{
    sql_types::{BigInt, Binary, Nullable},
    Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection,
};

/// Where the legacy data is.
#[derive(Debug, Clone)]
pub enum Source {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Source {
    /// A `postgres://` / `postgresql://` URL, or an existing SQLite file (never a new
    /// empty one by a typo).
    pub fn parse(from: &str) -> anyhow::Result<Source> {
        if from.starts_with("postgres://") || from.starts_with("postgresql://") {
            return Ok(Source::Postgres(from.to_string()));
        }
        let path = from.strip_prefix("sqlite://").unwrap_or(from);
        let path = std::fs::canonicalize(path)
            .with_context(|| format!("--from {path}: no such SQLite file (or give a postgres:// URL)"))?;
        anyhow::ensure!(path.is_file(), "--from {}: not a file", path.display());
        Ok(Source::Sqlite(path))
    }

    /// How the source is recorded in `legacy_imports`: the absolute file path, or the
    /// URL without its password.
    pub fn name(&self) -> String {
        match self {
            Source::Sqlite(path) => format!("sqlite://{}", path.display()),
            Source::Postgres(url) => {
                let Some((scheme, rest)) = url.split_once("://") else { return url.clone() };
                match rest.split_once('@') {
                    Some((userinfo, host)) => {
                        let user = userinfo.split(':').next().unwrap_or("");
                        format!("{scheme}://{user}@{host}")
                    }
                    None => url.clone(),
                }
            }
        }
    }
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LegacyUser {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub user_id: Option<i64>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub username: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub email: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub pw_hash: Option<Vec<u8>>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LegacyMessage {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub message_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub author_id: Option<i64>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub text: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub pub_date: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub flagged: Option<i64>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LegacyFollow {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub who_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub whom_id: Option<i64>,
}

/// The legacy database, read whole. Text is read as bytes: a legacy SQLite file may
/// hold invalid UTF-8 or NUL bytes, which are repaired and reported, not a crash.
pub struct Legacy {
    pub users: Vec<LegacyUser>,
    pub messages: Vec<LegacyMessage>,
    pub follows: Vec<LegacyFollow>,
}

impl Legacy {
    pub fn read(source: &Source) -> anyhow::Result<Legacy> {
        const SQLITE: [&str; 3] = [
            "SELECT user_id, CAST(username AS BLOB) AS username, CAST(email AS BLOB) AS email, \
             CAST(pw_hash AS BLOB) AS pw_hash FROM user ORDER BY user_id",
            "SELECT message_id, author_id, CAST(text AS BLOB) AS text, CAST(pub_date AS INTEGER) AS pub_date, \
             CAST(flagged AS INTEGER) AS flagged FROM message ORDER BY message_id",
            "SELECT who_id, whom_id FROM follower ORDER BY rowid",
        ];
        const POSTGRES: [&str; 3] = [
            "SELECT user_id::BIGINT AS user_id, convert_to(username::TEXT, 'UTF8') AS username, \
             convert_to(email::TEXT, 'UTF8') AS email, convert_to(pw_hash::TEXT, 'UTF8') AS pw_hash \
             FROM \"user\" ORDER BY user_id",
            "SELECT message_id::BIGINT AS message_id, author_id::BIGINT AS author_id, \
             convert_to(text::TEXT, 'UTF8') AS text, pub_date::BIGINT AS pub_date, flagged::BIGINT AS flagged \
             FROM message ORDER BY message_id",
            "SELECT who_id::BIGINT AS who_id, whom_id::BIGINT AS whom_id FROM follower ORDER BY who_id, whom_id",
        ];
        let context = |table: &str| format!("reading the legacy {table} table");
        match source {
            Source::Sqlite(path) => {
                let mut c = SqliteConnection::establish(&path.to_string_lossy())?;
                Ok(Legacy {
                    users: diesel::sql_query(SQLITE[0]).load(&mut c).with_context(|| context("user"))?,
                    messages: diesel::sql_query(SQLITE[1])
                        .load(&mut c)
                        .with_context(|| context("message"))?,
                    follows: diesel::sql_query(SQLITE[2])
                        .load(&mut c)
                        .with_context(|| context("follower"))?,
                })
            }
            Source::Postgres(url) => {
                let mut c = PgConnection::establish(url).context("connecting to the legacy database")?;
                Ok(Legacy {
                    users: diesel::sql_query(POSTGRES[0]).load(&mut c).with_context(|| context("user"))?,
                    messages: diesel::sql_query(POSTGRES[1])
                        .load(&mut c)
                        .with_context(|| context("message"))?,
                    follows: diesel::sql_query(POSTGRES[2])
                        .load(&mut c)
                        .with_context(|| context("follower"))?,
                })
            }
        }
    }
}

/// The value of a legacy `latest_processed_sim_action_id.txt`.
pub fn read_latest_file(path: &std::path::Path) -> anyhow::Result<i64> {
    let raw = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    raw.trim().parse().with_context(|| format!("{}: {:?} is not an integer", path.display(), raw.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_source_is_named_without_its_password() {
        let name = |url: &str| Source::parse(url).unwrap().name();
        assert_eq!(
            name("postgres://minitwit:s3cret@db:5432/minitwit"),
            "postgres://minitwit@db:5432/minitwit"
        );
        assert_eq!(name("postgresql://db/minitwit"), "postgresql://db/minitwit");
        assert_eq!(name("postgres://u@db/m"), "postgres://u@db/m");
    }

    #[test]
    fn a_missing_sqlite_file_is_refused_not_created() {
        let path = std::env::temp_dir().join(format!("no-such-legacy-{}.db", std::process::id()));
        let e = Source::parse(&path.to_string_lossy()).unwrap_err().to_string();
        assert!(e.contains("no such SQLite file"), "{e}");
        assert!(!path.exists());
    }

    #[test]
    fn latest_comes_from_the_legacy_apps_file() {
        let dir = std::env::temp_dir().join(format!("latest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latest_processed_sim_action_id.txt");
        std::fs::write(&file, "4711\n").unwrap();
        assert_eq!(read_latest_file(&file).unwrap(), 4711);
        std::fs::write(&file, "soon").unwrap();
        assert!(read_latest_file(&file).unwrap_err().to_string().contains("not an integer"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
