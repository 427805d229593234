//! Starting before the database: alive at once, quick 503s while the database does not
//! answer, then ready and serving once it does (no restart needed).

use minitwit_kit::{
    both_backends,
    testing::{
        assert_alive_not_ready, assert_database_unavailable, assert_ready_once_database_created, Backend,
        TestDatabase,
    },
};

use crate::helpers::spawn_app_on;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_database_it_is_alive_but_not_ready() {
    let app = spawn_app_on(TestDatabase::unreachable());
    assert_alive_not_ready(&app).await;
    assert_database_unavailable(app.put_empty("/follows/1/2")).await;
    assert_database_unavailable(app.get("/follows/1")).await;
}

both_backends!(starts_before_its_database_and_serves_once_it_answers);

async fn starts_before_its_database_and_serves_once_it_answers(backend: Backend) {
    let app = spawn_app_on(TestDatabase::pending(backend));
    assert_ready_once_database_created(&app, &app.db, app.get("/follows/1/2")).await;
    app.follow(1, 2).await;
    assert!(app.is_following(1, 2).await);
}
