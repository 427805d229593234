//! Starting before the database: alive at once, quick 503s while the database does not
//! answer, then ready and serving once it does (no restart needed).

use minitwit_kit::{
    both_backends,
    testing::{start_up, Backend, TestDatabase},
};
use serde_json::json;

use crate::helpers::spawn_app_on;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_database_it_is_alive_but_not_ready() {
    let app = spawn_app_on(TestDatabase::unreachable());
    start_up::assert_alive_not_ready(&app).await;
    start_up::assert_database_unavailable(app.get("/users/1")).await;
    let body = json!({"username": "a", "email": "a@b", "password": "pw"});
    start_up::assert_database_unavailable(app.post("/users", &body)).await;
    // Still so after several attempts (100 + 200 + 400 ms of backoff), saying why.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let reason = start_up::assert_alive_not_ready(&app).await;
    assert!(reason.contains("failed attempts, the last:"), "{reason}");
    start_up::assert_database_unavailable(app.get("/users/count")).await;
}

both_backends!(starts_before_its_database_and_serves_once_it_answers);

async fn starts_before_its_database_and_serves_once_it_answers(backend: Backend) {
    let app = spawn_app_on(TestDatabase::pending(backend));
    start_up::assert_ready_once_database_created(&app, &app.db, app.get("/users/by-name/alice")).await;
    let id = app.user("alice").await;
    let res = app.get("/users/by-name/alice").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["id"], id);
}

/// Two replicas waiting for the same new PostgreSQL database: both become ready, the
/// migrations having run once (under the advisory lock), and both serve the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_waiting_for_one_database_both_become_ready() {
    let first = spawn_app_on(TestDatabase::pending(Backend::Postgres));
    let second = crate::helpers::start_on(&first.db);
    start_up::assert_alive_not_ready(&first).await;
    start_up::assert_alive_not_ready(&second).await;
    first.db.create();
    first.wait_ready().await;
    second.wait_ready().await;
    let id = first.user("bob").await;
    let res = second.get(&format!("/users/{id}")).await;
    assert_eq!(res.status(), 200);
}
