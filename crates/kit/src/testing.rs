//! Fresh databases for black-box tests: a new PostgreSQL database per test (on the
//! server named by `MINITWIT_TEST_DATABASE_URL`, default the local one on
//! 127.0.0.1:5432), or a new SQLite file in a temporary directory. Both are removed
//! when the value is dropped.

use diesel::{connection::SimpleConnection, Connection, PgConnection};

pub use crate::db::Backend;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server the tests use.
pub fn admin_url() -> String {
    std::env::var("MINITWIT_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    name: String,
    dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    pub fn new(backend: Backend) -> Self {
        let name = format!("mt_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("tests need PostgreSQL at {admin}: {e}"));
                conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Self { url: format!("{base}/{name}"), backend, name, dir: None }
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("create test directory");
                let url = dir.join("test.db").to_string_lossy().into_owned();
                Self { url, backend, name, dir: Some(dir) }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self.backend {
            Backend::Postgres => {
                if let Ok(mut conn) = PgConnection::establish(&admin_url()) {
                    let _ =
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
                }
            }
            Backend::Sqlite => {
                if let Some(dir) = &self.dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
        }
    }
}

/// Declares each listed `async fn name(backend: Backend)` as two tests, one per backend:
/// `on_postgres::name` and `on_sqlite::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Postgres).await
                }
            )*
        }
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Sqlite).await
                }
            )*
        }
    };
}

/// An HTTP client bound to one running process, with a helper per verb.
pub struct TestClient {
    pub address: String,
    pub client: reqwest::Client,
}

impl TestClient {
    pub fn new(port: u16) -> Self {
        Self { address: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    pub async fn put(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.put(self.url(path)).json(body).send().await.expect("request sent")
    }

    pub async fn put_empty(&self, path: &str) -> reqwest::Response {
        self.client.put(self.url(path)).send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.expect("request sent")
    }

    /// `method path` with a body of the given content type, sent as it is.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.send_raw(reqwest::Method::POST, path, content_type, body).await
    }

    /// The value of a series in `/metrics` whose only label is `service`.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.expect("metrics text");
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} exported"));
        line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number")
    }
}

/// Asserts the status and the JSON error code of an answer; returns the body.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status(), status, "status of {}", res.url());
    let body: serde_json::Value = res.json().await.expect("error bodies are JSON");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// Reverts every migration of `migrations` on the database of `settings`, then runs
/// them all again (the services' migration tests).
pub async fn revert_and_migrate(
    settings: crate::settings::DatabaseSettings,
    migrations: &'static crate::db::Migrations,
) {
    tokio::task::spawn_blocking(move || {
        let db =
            crate::db::Db::connect(&settings, migrations, &crate::metrics::Metrics::new("migration-test"))
                .expect("connect");
        db.revert_all(migrations).expect("every migration goes down");
        db.migrate(migrations).expect("every migration comes up again");
    })
    .await
    .expect("migration task");
}
