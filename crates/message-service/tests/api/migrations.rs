//! Every migration goes down and up again on a database with data in it.

use minitwit_kit::{
    both_backends,
    testing::{revert_and_migrate, revert_last_and_migrate, Backend},
};
use serde_json::json;

use crate::helpers::{settings, spawn_app};

both_backends!(migrations_go_down_and_up_again, author_newest_is_filled_from_the_messages_already_there);

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

/// `author_newest` (2026-12-07) arrives on a database with messages: it is filled from
/// them (each author's newest unflagged one), so "my timeline" misses none.
async fn author_newest_is_filled_from_the_messages_already_there(backend: Backend) {
    let app = spawn_app(backend).await;
    app.insert_raw(&[
        (1, 100, "1 old"),
        (2, 300, "2 flagged"),
        (2, 200, "2 kept"),
        (1, 250, "1 new"),
        (3, 50, "3"),
    ])
    .await;
    let flagged = app.page("/messages/by-author/2").await.messages[0].id.get();
    assert_eq!(app.flag(flagged, true).await.status(), 204);
    revert_last_and_migrate(settings(&app.db).database, &message_service::MIGRATIONS).await;
    let page = app.authors_page(&json!({"author_ids": [1, 2, 3], "limit": 2})).await;
    assert_eq!(crate::helpers::texts(&page), ["1 new", "2 kept"]);
    let page = app.authors_page(&json!({"author_ids": [1, 2, 3]})).await;
    assert_eq!(crate::helpers::texts(&page), ["1 new", "2 kept", "1 old", "3"]);
}
