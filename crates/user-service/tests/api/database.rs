//! The database connection: a broken pooled connection costs at most one request, and a
//! URL that names no database we know stops the binary at start-up.

use std::{process::Command, time::Duration};

use diesel::{sql_types::BigInt, Connection, PgConnection, QueryableByName, RunQueryDsl};
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
