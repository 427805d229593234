//! Starting before the database: alive at once, quick 503s while the database does not
//! answer, then ready and serving once it does (no restart needed).

use minitwit_kit::{
    both_backends,
    testing::{start_up, Backend, TestDatabase},
};
use serde_json::json;

use crate::helpers::{spawn_app_on, texts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_database_it_is_alive_but_not_ready() {
    let app = spawn_app_on(TestDatabase::unreachable());
    start_up::assert_alive_not_ready(&app).await;
    start_up::assert_database_unavailable(app.get("/messages")).await;
    start_up::assert_database_unavailable(app.post("/messages", &json!({"author_id": 1, "text": "hi"})))
        .await;
    start_up::assert_database_unavailable(app.put("/latest", &json!({"latest": 3}))).await;
    // Bad input is still refused as such: only what needs the database is a 503.
    let res = app.post("/messages", &json!({"author_id": 0, "text": "hi"})).await;
    assert_eq!(res.status(), 400);
}

both_backends!(starts_before_its_database_and_serves_once_it_answers);

async fn starts_before_its_database_and_serves_once_it_answers(backend: Backend) {
    let app = spawn_app_on(TestDatabase::pending(backend));
    start_up::assert_ready_once_database_created(&app, &app.db, app.get("/latest")).await;
    assert_eq!(app.latest().await, -1);
    app.message(1, "after the database came").await;
    assert_eq!(texts(&app.page("/messages").await), ["after the database came"]);
}

minitwit_kit::start_up_checks!("message-service", message_service::ENV_PREFIX);
