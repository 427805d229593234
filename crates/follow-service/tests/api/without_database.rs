//! Starting before the database: alive at once, quick 503s while the database does not
//! answer, then ready and serving once it does (no restart needed). And losing it later.

use minitwit_kit::{
    both_backends,
    testing::{start_up, Backend, TestDatabase},
};

use crate::helpers::{spawn_app_on, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_database_it_is_alive_but_not_ready() {
    let app = spawn_app_on(TestDatabase::unreachable());
    start_up::assert_alive_not_ready(&app).await;
    start_up::assert_database_unavailable(app.put_empty("/follows/1/2")).await;
    start_up::assert_database_unavailable(app.get("/follows/1")).await;
}

both_backends!(starts_before_its_database_and_serves_once_it_answers);

async fn starts_before_its_database_and_serves_once_it_answers(backend: Backend) {
    let app = spawn_app_on(TestDatabase::pending(backend));
    start_up::assert_ready_once_database_created(&app, &app.db, app.get("/follows/1/2")).await;
    app.follow(1, 2).await;
    assert!(app.is_following(1, 2).await);
}

/// Losing the database once ready: a request waits at most the pool's time-out for a
/// connection, then answers `503 database_unavailable` with `Retry-After: 1`, not a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_its_database_is_a_503_after_the_pool_time_out() {
    let app = spawn_app_with(Backend::Postgres, |s| s.database.pool_timeout_ms = 300).await;
    app.follow(1, 2).await;
    app.db.remove();
    start_up::assert_database_unavailable(app.get("/follows/1/2")).await;
    start_up::assert_database_unavailable(app.put_empty("/follows/2/1")).await;
}

minitwit_kit::start_up_checks!("follow-service", follow_service::ENV_PREFIX);
