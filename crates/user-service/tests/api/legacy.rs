//! Accounts imported with a legacy password hash (`user_service::bulk`, as
//! `minitwit-admin import` writes them) log in over HTTP with their old password, and
//! that first login replaces the hash with argon2id. The hashes are Werkzeug's and
//! hashlib's own: tests/fixtures/make_legacy_hashes.sh.

use diesel::{
    prelude::*,
    sql_types::{Nullable, Text},
};
use minitwit_kit::{
    both_backends,
    db::DbConnection,
    testing::{Backend, TestDatabase},
};
use serde_json::{json, Value};
use user_service::bulk::{self, BulkUser, Scheme};

use crate::helpers::{assert_error, spawn_app_on};

both_backends!(
    legacy_users_log_in_with_their_old_password_and_become_argon2id,
    an_unknown_scheme_logs_nobody_in
);

struct Fixture {
    method: String,
    password: String,
    hash: String,
}

fn fixtures() -> Vec<Fixture> {
    let all: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/legacy_hashes.json")).expect("fixture JSON");
    all.iter()
        .map(|f| Fixture {
            method: f["method"].as_str().unwrap().to_string(),
            password: f["password"].as_str().unwrap().to_string(),
            hash: f["hash"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    pw_hash: String,
    #[diesel(sql_type = Nullable<Text>)]
    pw_scheme: Option<String>,
}

/// The stored hash and scheme of user `id`, read straight from the database.
fn stored(url: &str, id: i64) -> (String, Option<String>) {
    let sql = format!("SELECT pw_hash, pw_scheme FROM users WHERE id = {id}");
    let row: Stored = match bulk::open(url).unwrap() {
        DbConnection::Pg(mut c) => diesel::sql_query(sql).get_result(&mut c),
        DbConnection::Sqlite(mut c) => diesel::sql_query(sql).get_result(&mut c),
    }
    .unwrap();
    (row.pw_hash, row.pw_scheme)
}

fn legacy_user(id: i64, pw_hash: &str, pw_scheme: Option<Scheme>) -> BulkUser {
    BulkUser {
        id,
        username: format!("legacy {id}"),
        email: format!("legacy{id}@example.com"),
        pw_hash: pw_hash.to_string(),
        pw_scheme,
        created_at: 1_300_000_000,
    }
}

async fn login(app: &crate::helpers::TestApp, id: i64, password: &str) -> reqwest::Response {
    app.post("/users/login", &json!({"username": format!("legacy {id}"), "password": password})).await
}

async fn legacy_users_log_in_with_their_old_password_and_become_argon2id(backend: Backend) {
    let db = TestDatabase::new(backend);
    let fixtures = fixtures();
    let users: Vec<BulkUser> = fixtures
        .iter()
        .enumerate()
        .map(|(i, f)| legacy_user(i as i64 + 1, &f.hash, Scheme::detect(&f.hash)))
        .collect();
    assert!(users.iter().all(|u| u.pw_scheme.is_some()), "every fixture is a known scheme");
    let url = db.url.clone();
    assert_eq!(bulk::insert_users(&mut bulk::open(&url).unwrap(), users).unwrap(), fixtures.len() as u64);
    let app = spawn_app_on(db);
    app.wait_ready().await;
    // The start-up count (retried each second until the database is ready) sees them all.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.metric("minitwit_users_legacy_password").await != fixtures.len() as f64 {
        assert!(std::time::Instant::now() < deadline, "the legacy accounts are never counted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    for (i, f) in fixtures.iter().enumerate() {
        let id = i as i64 + 1;
        assert_error(login(&app, id, &format!("{}!", f.password)).await, 401, "wrong_password").await;
        assert_eq!(stored(&url, id).0, f.hash, "{}: a wrong password changes nothing", f.method);

        let ok = login(&app, id, &f.password).await;
        assert_eq!(ok.status(), 200, "{}: {}", f.method, f.hash);
        let user: Value = ok.json().await.unwrap();
        assert_eq!(
            (user["id"].as_i64(), user["username"].as_str()),
            (Some(id), Some(&*format!("legacy {id}")))
        );

        let (hash, scheme) = stored(&url, id);
        assert!(hash.starts_with("$argon2id$"), "{}: re-hashed, got {hash}", f.method);
        assert_eq!(scheme, None, "{}: the legacy scheme is cleared", f.method);
        // The new hash takes over: same password in, another out.
        assert_eq!(login(&app, id, &f.password).await.status(), 200);
        assert_error(login(&app, id, "nope").await, 401, "wrong_password").await;
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!(
            "minitwit_users_legacy_password_upgrades_total{{service=\"user-service\"}} {}",
            fixtures.len()
        )),
        "{metrics}"
    );
    // Counted at start-up (10), then one fewer at each upgrade.
    assert!(metrics.contains("minitwit_users_legacy_password{service=\"user-service\"} 0"), "{metrics}");
}

async fn an_unknown_scheme_logs_nobody_in(backend: Backend) {
    // What a newer build wrote, or a value edited by hand: no login, no 500.
    let db = TestDatabase::new(backend);
    let url = db.url.clone();
    let mut conn = bulk::open(&url).unwrap();
    bulk::insert_users(&mut conn, [legacy_user(1, "63027ba5c5f152debe1a5847db0a9d59", Some(Scheme::HexMd5))])
        .unwrap();
    let sql = "UPDATE users SET pw_scheme = 'rot13' WHERE id = 1";
    match &mut conn {
        DbConnection::Pg(c) => diesel::sql_query(sql).execute(c),
        DbConnection::Sqlite(c) => diesel::sql_query(sql).execute(c),
    }
    .unwrap();
    let app = spawn_app_on(db);
    app.wait_ready().await;
    assert_error(login(&app, 1, "plain md5").await, 401, "wrong_password").await;
    // A legacy hash that does not parse as its scheme matches nothing either.
    drop(conn);
    let mut conn = bulk::open(&url).unwrap();
    bulk::insert_users(
        &mut conn,
        [legacy_user(2, "pbkdf2:sha256:1000$salt$zz", Some(Scheme::WerkzeugPbkdf2))],
    )
    .unwrap();
    assert_error(login(&app, 2, "anything").await, 401, "wrong_password").await;
    assert_eq!(stored(&url, 2).1.as_deref(), Some("werkzeug-pbkdf2"));
}
