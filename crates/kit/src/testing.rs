//! Fresh databases for black-box tests: a new PostgreSQL database per test (on the
//! server named by `MINITWIT_TEST_DATABASE_URL`, default the local one on
//! 127.0.0.1:5432), or a new SQLite file in a temporary directory. Both are removed
//! when the value is dropped. [`TestDatabase::pending`] names one that cannot be opened
//! until the test calls [`TestDatabase::create`] (services starting without theirs).
//!
//! Also what the services' black-box tests share beyond the database: the settings they
//! start a service with, [`service_test_app!`](crate::service_test_app) (a service's `TestApp` and `spawn_app`),
//! the HTTP client and the assertions on answers; how a service starts, in
//! [`start_up`].

pub mod pki;
pub mod start_up;

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
        let db = Self::pending(backend);
        db.create();
        db
    }

    /// A database that cannot be opened yet: on PostgreSQL a database name not created
    /// yet; on SQLite a file whose directory cannot be made because a plain file has
    /// its name. [`TestDatabase::create`] makes it openable.
    pub fn pending(backend: Backend) -> Self {
        let name = format!("mt_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Postgres => {
                let admin = admin_url();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Self { url: format!("{base}/{name}"), backend, name, dir: None }
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("create test directory");
                let blocker = dir.join("db");
                std::fs::write(&blocker, "a file where the database directory belongs")
                    .expect("create the blocking file");
                let url = blocker.join("test.db").to_string_lossy().into_owned();
                Self { url, backend, name, dir: Some(dir) }
            }
        }
    }

    /// A PostgreSQL database on a port where nothing listens (1, tcpmux, never served
    /// here).
    pub fn unreachable() -> Self {
        let name = format!("mt_test_{}", uuid::Uuid::new_v4().simple());
        let url = format!("postgres://postgres@127.0.0.1:1/{name}");
        Self { url, backend: Backend::Postgres, name, dir: None }
    }

    /// Makes the database openable: creates the PostgreSQL database, or removes the
    /// file in the way of the SQLite file's directory.
    pub fn create(&self) {
        match self.backend {
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("tests need PostgreSQL at {admin}: {e}"));
                conn.batch_execute(&format!("CREATE DATABASE {}", self.name)).expect("create test database");
            }
            Backend::Sqlite => {
                let dir = self.dir.as_ref().expect("SQLite test databases have a directory");
                std::fs::remove_file(dir.join("db")).expect("remove the blocking file");
            }
        }
    }

    /// Removes the database (also done on drop). On PostgreSQL this ends every
    /// connection to it: a running service loses its database.
    pub fn remove(&self) {
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

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.remove();
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

/// The settings every service's black-box tests start it with (the services' own
/// tests and the gateway's): listen on `port` (0: any free one), use `db`, and keep the
/// pool small, since many services run at once in one test binary, and patient.
pub fn use_test_database(
    http: &mut crate::settings::HttpSettings,
    database: &mut crate::settings::DatabaseSettings,
    db: &TestDatabase,
    port: u16,
) {
    http.port = port;
    database.url = db.url.clone().into();
    database.pool_size = 4;
    // The concurrency tests queue more requests than connections on a machine busy
    // with other test binaries: they test what is stored, not load shedding, which
    // the tests that hold every connection set up with the default time-out.
    database.pool_timeout_ms = 2_000;
}

/// Runs a service that its `build` returned on the test's runtime; a client for it.
pub fn run_service(running: anyhow::Result<crate::server::Running>) -> TestClient {
    let running = running.expect("service starts");
    let http = TestClient::new(running.port);
    tokio::spawn(running.server);
    http
}

/// Declares, in a service's `tests/api/helpers.rs`, what the three services' black-box
/// tests share, for the service crate `$service` (its `Settings` and `build`):
///
/// - `TestApp`: the service started in-process and its [`TestDatabase`]; it derefs to
///   its [`TestClient`], and the helper module adds the service's own route helpers;
/// - `settings(db)`: the service's defaults with [`use_test_database`] on any free
///   port, then `$adjust` if given (user-service makes password hashing cheap);
/// - `spawn_app(backend)`, `spawn_app_with(backend, adjust)`: started on a fresh
///   database, and ready; `spawn_app_on(db)`: started on `db` without waiting for it to
///   be ready; `start(&settings)`: one more instance, not waited for.
///
/// A macro rather than a generic type: each service adds its methods to its `TestApp`,
/// and Rust allows that only on a type its own crate declares.
#[macro_export]
macro_rules! service_test_app {
    ($service:ident) => {
        $crate::service_test_app!($service, |_| {});
    };
    ($service:ident, $adjust:expr) => {
        pub struct TestApp {
            pub http: $crate::testing::TestClient,
            pub db: $crate::testing::TestDatabase,
        }

        impl ::std::ops::Deref for TestApp {
            type Target = $crate::testing::TestClient;

            fn deref(&self) -> &$crate::testing::TestClient {
                &self.http
            }
        }

        #[allow(dead_code)]
        pub fn settings(db: &$crate::testing::TestDatabase) -> $service::Settings {
            let mut s = $service::Settings::default();
            $crate::testing::use_test_database(&mut s.http, &mut s.database, db, 0);
            let adjust: fn(&mut $service::Settings) = $adjust;
            adjust(&mut s);
            s
        }

        #[allow(dead_code)]
        pub async fn spawn_app(backend: $crate::testing::Backend) -> TestApp {
            spawn_app_with(backend, |_| {}).await
        }

        /// Starts the service with settings adjusted by `adjust`, and waits until it
        /// is ready.
        #[allow(dead_code)]
        pub async fn spawn_app_with(
            backend: $crate::testing::Backend,
            adjust: impl FnOnce(&mut $service::Settings),
        ) -> TestApp {
            let db = $crate::testing::TestDatabase::new(backend);
            let mut s = settings(&db);
            adjust(&mut s);
            let http = start(&s);
            http.wait_ready().await;
            TestApp { http, db }
        }

        /// Starts the service on `db` without waiting for it to be ready.
        #[allow(dead_code)]
        pub fn spawn_app_on(db: $crate::testing::TestDatabase) -> TestApp {
            TestApp { http: start(&settings(&db)), db }
        }

        /// Builds and starts one more instance with `settings` (not waiting for it to
        /// be ready).
        #[allow(dead_code)]
        pub fn start(settings: &$service::Settings) -> $crate::testing::TestClient {
            $crate::testing::run_service($service::build(settings, $crate::logging::discard()))
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

    /// Waits until `/ready` answers 200 (a service connects to its database and
    /// migrates it in the background after it starts); panics after 30 s.
    pub async fn wait_ready(&self) {
        wait_ready(&self.client, &self.address).await;
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
        metric_in(&self.metrics().await, name)
    }

    /// The text of `/metrics`, for several values read from one scrape ([`metric_in`]).
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.expect("metrics text")
    }
}

/// The value of a series in the text of `/metrics`: `name` alone (its only label
/// `service`), or `name{label="value"` for one of several series (the labels that come
/// before `service`).
pub fn metric_in(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| {
            if series.contains('{') {
                l.starts_with(series)
            } else {
                l.starts_with(&format!("{series}{{")) || l.starts_with(&format!("{series} "))
            }
        })
        .unwrap_or_else(|| panic!("{series} exported"));
    line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number")
}

/// Waits until `{address}/ready` answers 200; panics after 30 s, also when a request
/// gets no answer at all (`client` may have no time-out: each request has 5 s).
pub async fn wait_ready(client: &reqwest::Client, address: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let send = client.get(format!("{address}/ready")).send();
        let res = tokio::time::timeout(std::time::Duration::from_secs(5), send).await;
        if res.as_ref().is_ok_and(|r| r.as_ref().is_ok_and(|r| r.status() == 200)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{address} not ready within 30 s: {res:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
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
    remigrate(settings, migrations, |db| db.revert_all(migrations).expect("every migration goes down")).await
}

/// Reverts the newest migration of `migrations` on the database of `settings`, then
/// runs it again: the newest migration applied to a database that holds data.
pub async fn revert_last_and_migrate(
    settings: crate::settings::DatabaseSettings,
    migrations: &'static crate::db::Migrations,
) {
    remigrate(settings, migrations, |db| db.revert_last(migrations).expect("the last migration goes down"))
        .await
}

async fn remigrate(
    settings: crate::settings::DatabaseSettings,
    migrations: &'static crate::db::Migrations,
    revert: impl FnOnce(&crate::db::Db) + Send + 'static,
) {
    tokio::task::spawn_blocking(move || {
        let db =
            crate::db::Db::connect(&settings, migrations, &crate::metrics::Metrics::new("migration-test"))
                .expect("connect");
        revert(&db);
        db.migrate(migrations).expect("every migration comes up again");
    })
    .await
    .expect("migration task");
}

/// A port free on 127.0.0.1 just now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
