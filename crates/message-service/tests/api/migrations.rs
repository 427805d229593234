//! Every migration goes down and up again on a database with data in it.

use minitwit_kit::{
    both_backends,
    testing::{revert_and_migrate, Backend},
};
use serde_json::json;

use crate::helpers::{settings, spawn_app};

both_backends!(migrations_go_down_and_up_again);

async fn migrations_go_down_and_up_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.message(1, "before").await;
    assert_eq!(app.put("/latest", &json!({"latest": 3})).await.status(), 204);
    revert_and_migrate(settings(&app.db).database, &message_service::MIGRATIONS).await;
    assert_eq!(app.count().await, 0);
    assert_eq!(app.latest().await, -1);
    app.message(1, "after").await;
    assert_eq!(app.put("/latest", &json!({"latest": 4})).await.status(), 204);
    assert_eq!(app.latest().await, 4);
}
