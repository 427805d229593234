//! The database connection: a broken pooled connection costs at most one request, and a
//! URL that names no database we know stops the binary at start-up.

use std::{process::Command, time::Duration};

use diesel::{
    connection::SimpleConnection, sql_types::BigInt, Connection, PgConnection, QueryableByName, RunQueryDsl,
};
use minitwit_kit::testing::{admin_url, assert_error, Backend, TestClient, TestDatabase};

use crate::helpers::settings;

#[derive(QueryableByName)]
struct Terminated {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Ends, from another connection, every server process serving database `name`.
fn terminate_backends_of(name: &str) -> i64 {
    let mut admin = PgConnection::establish(&admin_url()).expect("admin connection");
    diesel::sql_query(format!(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .get_result::<Terminated>(&mut admin)
    .expect("pg_terminate_backend")
    .n
}

/// The service on a fresh PostgreSQL database with a pool of `size`, ready and
/// having answered once (so its pool holds a connection).
async fn start_on_postgres_with_pool(size: u32) -> (TestDatabase, TestClient) {
    let db = TestDatabase::new(Backend::Postgres);
    let mut s = settings(&db);
    s.database.pool_size = size;
    let running = user_service::build(&s, minitwit_kit::logging::discard()).expect("service starts");
    let app = TestClient::new(running.port);
    tokio::spawn(running.server);
    app.wait_ready().await;
    assert_eq!(app.get("/users/count").await.status(), 200);
    (db, app)
}

/// Kills every server process of database `name` and gives the kills time to land;
/// how many there were.
async fn kill_pool(name: &str) -> i64 {
    let name = name.to_string();
    let killed = tokio::task::spawn_blocking(move || terminate_backends_of(&name)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    killed
}

/// No check before each query: the connection whose server process was killed fails at
/// most the one request that uses it (503, never 500; a read is even retried, see the
/// next test), the pool drops it, and the next request gets a fresh connection. Once
/// for a statement the connection had not prepared yet, once for one it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_fails_one_request_and_is_replaced() {
    let (db, app) = start_on_postgres_with_pool(1).await;
    let name = db.url.rsplit('/').next().expect("a database name").to_string();
    for (path, ok) in [("/users/by-name/nobody", 404), ("/users/count", 200)] {
        let killed = kill_pool(&name).await;
        assert_eq!(killed, 1, "the pool holds one connection");
        for i in 0..10 {
            let res = app.get(path).await;
            if res.status() == ok {
                continue;
            }
            assert_eq!(i, 0, "{path}: only the first request after the kill may fail");
            assert_error(res, 503, "database_unavailable").await;
        }
    }
}

/// A read is answered on a fresh connection when its pooled one turns out to be dead:
/// after a database restart (here, every server process of the pool killed) not even
/// the first read fails, for a statement not yet prepared and for one already prepared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_on_a_killed_connection_is_answered_on_a_fresh_one() {
    let (db, app) = start_on_postgres_with_pool(2).await;
    let name = db.url.rsplit('/').next().expect("a database name").to_string();
    for (path, ok) in [("/users/by-name/nobody", 404), ("/users/count", 200), ("/users/7", 404)] {
        let killed = kill_pool(&name).await;
        assert!(killed >= 1, "the pool holds a connection");
        assert_eq!(app.get(path).await.status(), ok, "{path}: the first read after the kill");
    }
}

/// Holds `LOCK TABLE users` in a transaction of its own connection until `release`
/// is sent (or dropped), so every query on that table waits; `locked` says when it holds.
fn lock_users_table(url: &str, locked: std::sync::mpsc::Sender<()>, release: std::sync::mpsc::Receiver<()>) {
    let mut conn = PgConnection::establish(url).expect("lock connection");
    conn.batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE").expect("lock");
    locked.send(()).expect("the test waits");
    let _ = release.recv();
    conn.batch_execute("COMMIT").expect("unlock");
}

/// Load shedding: with its one pooled connection held by a request that waits on a
/// lock, the next request gets no connection and answers `503 overloaded` with
/// `Retry-After: 1` after the default pool time-out (100 ms), not after seconds in a
/// queue; `db_pool_shed_total` counts it; the held request then completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_finding_every_connection_busy_is_shed_at_once() {
    let db = TestDatabase::new(Backend::Postgres);
    let mut s = settings(&db);
    s.database.pool_size = 1;
    s.database.pool_timeout_ms = minitwit_kit::settings::DatabaseSettings::default().pool_timeout_ms;
    assert_eq!(s.database.pool_timeout_ms, 100, "the default");
    let running = user_service::build(&s, minitwit_kit::logging::discard()).expect("service starts");
    let port = running.port;
    let app = TestClient::new(port);
    tokio::spawn(running.server);
    app.wait_ready().await;
    assert_eq!(app.get("/users/count").await.status(), 200);
    assert_eq!(app.metric("db_pool_shed_total").await, 0.0);

    let url = db.url.clone();
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let locker = std::thread::spawn(move || lock_users_table(&url, locked_tx, release_rx));
    locked.recv().expect("the table is locked");
    let held = tokio::spawn({
        let app = TestClient::new(port);
        async move { app.get("/users/count").await.status() }
    });
    // The held request takes the one connection and waits on the lock.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let since = std::time::Instant::now();
    let res = app.get("/users/by-name/nobody").await;
    let took = since.elapsed();
    assert!(took < Duration::from_millis(600), "shed after {took:?}");
    assert!(took >= Duration::from_millis(100), "answered before the pool time-out: {took:?}");
    let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap_or("?").to_string());
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_error(res, 503, "overloaded").await;
    assert_eq!(app.metric("db_pool_shed_total").await, 1.0);

    release.send(()).expect("the locker waits");
    locker.join().expect("unlocked");
    assert_eq!(held.await.unwrap(), 200, "the held request completes once the lock is gone");
    assert_eq!(app.get("/users/by-name/nobody").await.status(), 404, "served again");
    assert_eq!(app.metric("db_pool_shed_total").await, 1.0);
}

/// Runs the user-service binary with `url` as its database URL; its exit status and
/// standard error.
fn start_binary_with_database_url(url: &str) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_user-service"))
        .env("USER_SERVICE_DATABASE__URL", url)
        .env("USER_SERVICE_HTTP__PORT", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("user-service started with the database URL {url:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_unknown_database_url_stops_the_binary_naming_the_setting() {
    for url in ["mysql://root:hunter2@db/users", "data/users", "postgre://u@h/db"] {
        let (status, stderr) = start_binary_with_database_url(url);
        assert!(!status.success(), "{url}: {status}");
        assert!(stderr.contains("USER_SERVICE_DATABASE__URL"), "{url}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{url}: {stderr}");
    }
}
