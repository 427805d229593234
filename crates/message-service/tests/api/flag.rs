//! Flagging and unflagging, by route and by the operator's flag tool.

use minitwit_api::{domain::MessageId, message::Message};
use minitwit_kit::{both_backends, testing::Backend};
use serde_json::json;

use crate::helpers::{assert_error, settings, spawn_app, TestApp};

both_backends!(
    flagged_messages_are_hidden_everywhere_until_unflagged,
    flagging_is_idempotent_and_unknown_ids_are_404,
    the_operator_flag_tool_flags_and_unflags,
);

/// Whether `m` shows in the public timeline, its author's, and "my timeline".
async fn visible(app: &TestApp, m: &Message) -> [bool; 3] {
    let public = app.page("/messages").await;
    let author = app.page(&format!("/messages/by-author/{}", m.author_id)).await;
    let mine = app.authors_page(&json!({"author_ids": [m.author_id, 99]})).await;
    [public, author, mine].map(|page| page.messages.iter().any(|x| x.id == m.id))
}

async fn flagged_messages_are_hidden_everywhere_until_unflagged(backend: Backend) {
    let app = spawn_app(backend).await;
    let keep = app.message(1, "keep").await;
    let bad = app.message(1, "bad").await;
    assert_eq!(app.flag(bad.id.get(), true).await.status(), 204);
    assert_eq!(visible(&app, &bad).await, [false; 3]);
    assert_eq!(visible(&app, &keep).await, [true; 3]);
    // A page that would have ended on the flagged message skips it.
    let page = app.page("/messages?limit=1").await;
    assert_eq!(page.messages, vec![keep.clone()]);
    assert_eq!(app.count().await, 2, "flagged messages are still stored");

    assert_eq!(app.flag(bad.id.get(), false).await.status(), 204);
    assert_eq!(visible(&app, &bad).await, [true; 3]);
    assert_eq!(app.page("/messages").await.messages, vec![bad, keep]);
}

async fn flagging_is_idempotent_and_unknown_ids_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.message(1, "twice").await;
    for flagged in [true, true, false, false] {
        assert_eq!(app.flag(m.id.get(), flagged).await.status(), 204, "flagged={flagged}");
    }
    assert_eq!(visible(&app, &m).await, [true; 3]);
    for flagged in [true, false] {
        assert_error(app.flag(m.id.get() + 1000, flagged).await, 404, "no_such_message").await;
    }
    let bad_id = app.client.put(app.url("/messages/abc/flag")).send().await.unwrap();
    assert_error(bad_id, 404, "invalid_path").await;
}

async fn the_operator_flag_tool_flags_and_unflags(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.message(1, "spam").await;
    let s = settings(&app.db);
    let out = message_service::flag_tool(&s, m.id, true).await.unwrap();
    assert_eq!(out, format!("message {} flagged", m.id));
    assert_eq!(visible(&app, &m).await, [false; 3]);
    let out = message_service::flag_tool(&s, m.id, false).await.unwrap();
    assert_eq!(out, format!("message {} unflagged", m.id));
    assert_eq!(visible(&app, &m).await, [true; 3]);
    let err = message_service::flag_tool(&s, MessageId::stored(m.id.get() + 1000), true).await.unwrap_err();
    assert!(err.to_string().contains("no message"), "{err}");
}
