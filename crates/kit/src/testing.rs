//! Fresh databases for black-box tests: a new PostgreSQL database per test (on the
//! server named by `MINITWIT_TEST_DATABASE_URL`, default the local one on
//! 127.0.0.1:5432), or a new SQLite file in a temporary directory. Both are removed
//! when the value is dropped. [`TestDatabase::pending`] names one that cannot be opened
//! until the test calls [`TestDatabase::create`] (services starting without theirs).
//!
//! Also what the services' black-box tests share beyond the database: the settings they
//! start a service with, [`service_test_app!`](crate::service_test_app) (a service's `TestApp` and `spawn_app`),
//! the HTTP client and the assertions on answers.

pub mod pki;

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

/// Sends `request` and asserts `503 database_unavailable` with `Retry-After: 1`, answered
/// within a second (at once, not after the pool's time-out).
pub async fn assert_database_unavailable(request: impl std::future::Future<Output = reqwest::Response>) {
    let since = std::time::Instant::now();
    let res = request.await;
    let took = since.elapsed();
    assert!(took < std::time::Duration::from_secs(1), "{} took {took:?}", res.url());
    let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap_or("?").to_string());
    assert_eq!(retry_after.as_deref(), Some("1"), "Retry-After of {}", res.url());
    assert_error(res, 503, "database_unavailable").await;
}

/// Asserts that the process is alive (`/health` 200) but not ready (`/ready` 503);
/// returns the reason `/ready` gives.
pub async fn assert_alive_not_ready(app: &TestClient) -> String {
    assert_eq!(app.get("/health").await.status(), 200, "/health");
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 503, "/ready");
    let body: serde_json::Value = res.json().await.expect("a JSON body");
    assert_eq!(body["status"], "unavailable", "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not ready"), "{body}");
    reason.to_string()
}

/// A service started on `db` before it could be opened ([`TestDatabase::pending`]): alive
/// but not ready, and `needs_database` (a request to a route that needs it) a quick 503;
/// then, once `db` is created, ready without a restart, with every connection of its
/// pool open (its first calls wait for none). The caller checks that it serves.
pub async fn assert_ready_once_database_created(
    app: &TestClient,
    db: &TestDatabase,
    needs_database: impl std::future::Future<Output = reqwest::Response>,
) {
    assert_alive_not_ready(app).await;
    assert_database_unavailable(needs_database).await;
    db.create();
    app.wait_ready().await;
    // (one scrape: a connection taken between two would move from idle to in use)
    let metrics = app.metrics().await;
    let open = metric_in(&metrics, "db_pool_connections{state=\"idle\"")
        + metric_in(&metrics, "db_pool_connections{state=\"in_use\"");
    assert_eq!(open, metric_in(&metrics, "db_pool_max_connections"), "ready before the pool was full");
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

/// Starts the binary `exe` with only the environment given (after
/// `<prefix>_HTTP__HOST=127.0.0.1` and a free `<prefix>_HTTP__PORT`, which `env` may
/// override), for tests of how a process starts: `(Some(code), its output)` when it
/// exits, `(None, "running")` once it answers `/health` on 127.0.0.1 (then it is killed).
pub async fn start_binary(exe: &str, prefix: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    start_binary_on(exe, prefix, free_port(), env).await
}

/// A port free on 127.0.0.1 just now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// [`start_binary`] with `/health` asked on `port` (plain HTTP).
pub async fn start_binary_on(
    exe: &str,
    prefix: &str,
    port: u16,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(exe)
        .env_clear()
        .env(format!("{prefix}_HTTP__HOST"), "127.0.0.1")
        .env(format!("{prefix}_HTTP__PORT"), port.to_string())
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/health");
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().await.unwrap();
            let text =
                String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
            return (status.code(), text);
        }
        if reqwest::get(&health).await.is_ok_and(|r| r.status() == 200) {
            child.kill().await.unwrap();
            return (None, "running".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{exe} neither stopped nor answered /health");
}

/// The start-up checks every internal service's binary passes, as two tests of the
/// calling test crate: [`assert_token_required_beyond_loopback`] and
/// [`assert_tls_settings_checked`] on the binary named `$bin` (this crate's
/// `CARGO_BIN_EXE_$bin`) with environment prefix `$prefix`.
#[macro_export]
macro_rules! start_up_checks {
    ($bin:literal, $prefix:expr) => {
        /// Secure by default: listening beyond loopback without a service token is refused.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn listening_beyond_loopback_it_refuses_to_start_without_a_token() {
            $crate::testing::assert_token_required_beyond_loopback(
                env!(concat!("CARGO_BIN_EXE_", $bin)),
                $prefix,
            )
            .await;
        }

        /// Mutual TLS settings that cannot work are refused at start, naming the setting.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn it_refuses_tls_settings_that_cannot_work_and_serves_with_ones_that_do() {
            $crate::testing::assert_tls_settings_checked(env!(concat!("CARGO_BIN_EXE_", $bin)), $prefix)
                .await;
        }
    };
}

/// The service binary `exe` (environment prefix `prefix`) refuses to listen on every
/// address without a service token, naming the setting, and starts with one.
pub async fn assert_token_required_beyond_loopback(exe: &str, prefix: &str) {
    let db = std::env::temp_dir().join(format!("{prefix}-token-{}.db", std::process::id()));
    let db_var = format!("{prefix}_DATABASE__URL");
    let host_var = format!("{prefix}_HTTP__HOST");
    let token_var = format!("{prefix}_HTTP__SERVICE_TOKEN");
    let base = [(db_var.as_str(), db.to_str().unwrap()), (host_var.as_str(), "0.0.0.0")];
    let (code, out) = start_binary(exe, prefix, &base).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("{host_var} is 0.0.0.0")) && out.contains(&token_var), "{out}");
    let with_token = [base[0], base[1], (token_var.as_str(), "a-long-random-service-token")];
    assert_eq!(start_binary(exe, prefix, &with_token).await, (None, "running".into()));
    // The database and the files SQLite's WAL mode keeps beside it.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// The service binary `exe` (environment prefix `prefix`) refuses TLS settings that do
/// not make a working mutual TLS, naming the setting, and starts with ones that do:
/// TLS on its port, plain HTTP on the loopback port for the health check.
pub async fn assert_tls_settings_checked(exe: &str, prefix: &str) {
    let ca = pki::TestCa::new("internal CA");
    let dir = std::env::temp_dir().join(format!("{prefix}-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (identity, ca_file) = (file("identity.pem", &ca.identity("localhost")), file("ca.pem", &ca.pem()));
    let db = dir.join("service.db").to_string_lossy().into_owned();
    let var = |key: &str| format!("{prefix}_{key}");
    let (db_var, identity_var, ca_var, loopback_var, port_var) = (
        var("DATABASE__URL"),
        var("HTTP__TLS__IDENTITY_FILE"),
        var("HTTP__TLS__CLIENT_CA_FILE"),
        var("HTTP__TLS__LOOPBACK_PORT"),
        var("HTTP__PORT"),
    );
    async fn refused(exe: &str, prefix: &str, env: &[(&str, &str)], names: &str) {
        let (code, out) = start_binary(exe, prefix, env).await;
        assert_eq!(code, Some(1), "{env:?}: {out}");
        assert!(out.contains(names), "{env:?} should name {names}: {out}");
    }
    let db_env = (db_var.as_str(), db.as_str());
    let (needs_ca, needs_identity) = (var("HTTP__TLS__CLIENT_CA"), var("HTTP__TLS__IDENTITY"));
    refused(exe, prefix, &[db_env, (&identity_var, &identity)], &needs_ca).await;
    refused(exe, prefix, &[db_env, (&ca_var, &ca_file)], &needs_identity).await;
    // A certificate without its key; a CA file that holds no certificate.
    let no_key = file("no-key.pem", &ca.pem());
    refused(exe, prefix, &[db_env, (&identity_var, &no_key), (&ca_var, &ca_file)], "holds no private key")
        .await;
    let garbage = file("garbage.pem", "not a certificate");
    refused(exe, prefix, &[db_env, (&identity_var, &identity), (&ca_var, &garbage)], "holds no certificate")
        .await;
    refused(exe, prefix, &[db_env, (&loopback_var, "9")], "LOOPBACK_PORT is set but TLS is off").await;

    let (health, tls_port) = (free_port(), free_port().to_string());
    let health_port = health.to_string();
    let env = [
        (db_var.as_str(), db.as_str()),
        (&identity_var, &identity),
        (&ca_var, &ca_file),
        (&loopback_var, &health_port),
        (&port_var, &tls_port),
    ];
    assert_eq!(start_binary_on(exe, prefix, health, &env).await, (None, "running".into()));
    let _ = std::fs::remove_dir_all(dir);
}
