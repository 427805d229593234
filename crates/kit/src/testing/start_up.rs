//! How a service starts, as its black-box tests check it: alive before its database
//! answers and a quick 503 on what needs it ([`assert_alive_not_ready`],
//! [`assert_database_unavailable`]), ready without a restart once the database comes
//! ([`assert_ready_once_database_created`]), and its binary refusing settings it cannot
//! serve safely with ([`start_up_checks!`](crate::start_up_checks), [`start_binary`]).
//!
//! The three services' `tests/api/without_database.rs` call these steps qualified
//! (`start_up::assert_alive_not_ready`): the steps are here, each service's routes are
//! the test.

use super::{assert_error, free_port, metric_in, pki, TestClient, TestDatabase};

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

/// Starts the binary `exe` with only the environment given (after
/// `<prefix>_HTTP__HOST=127.0.0.1` and a free `<prefix>_HTTP__PORT`, which `env` may
/// override), for tests of how a process starts: `(Some(code), its output)` when it
/// exits, `(None, "running")` once it answers `/health` on 127.0.0.1 (then it is killed).
pub async fn start_binary(exe: &str, prefix: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    start_binary_on(exe, prefix, free_port(), env).await
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
            $crate::testing::start_up::assert_token_required_beyond_loopback(
                env!(concat!("CARGO_BIN_EXE_", $bin)),
                $prefix,
            )
            .await;
        }

        /// Mutual TLS settings that cannot work are refused at start, naming the setting.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn it_refuses_tls_settings_that_cannot_work_and_serves_with_ones_that_do() {
            $crate::testing::start_up::assert_tls_settings_checked(
                env!(concat!("CARGO_BIN_EXE_", $bin)),
                $prefix,
            )
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
