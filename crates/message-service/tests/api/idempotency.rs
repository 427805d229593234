//! A new message under an idempotency key is stored once per author and key, however
//! often (and however concurrently) it is posted: what makes retrying a post safe.

use futures::future::join_all;
use minitwit_kit::{both_backends, testing::Backend};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

both_backends!(
    a_repeated_key_answers_the_stored_message,
    concurrent_posts_with_one_key_store_one_message,
    a_key_reused_for_another_text_is_refused,
    bad_keys_are_refused_and_nothing_is_written,
);

async fn a_repeated_key_answers_the_stored_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({"author_id": 1, "text": "once", "idempotency_key": "k-1"});
    let first = app.post("/messages", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = app.post("/messages", &body).await;
    assert_eq!(again.status(), 200, "a repeat is not a new message");
    assert_eq!(again.json::<Value>().await.unwrap(), first, "the stored message, as it was");
    assert_eq!(app.count().await, 1);
    // Keys are per author; messages without a key are never merged.
    app.post("/messages", &json!({"author_id": 2, "text": "once", "idempotency_key": "k-1"})).await;
    app.post("/messages", &json!({"author_id": 1, "text": "once"})).await;
    app.post("/messages", &json!({"author_id": 1, "text": "once"})).await;
    assert_eq!(app.count().await, 4);
}

async fn concurrent_posts_with_one_key_store_one_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({"author_id": 7, "text": "raced", "idempotency_key": "race"});
    let answers = join_all((0..8).map(|_| app.post("/messages", &body))).await;
    let mut ids = Vec::new();
    for res in answers {
        assert!([200, 201].contains(&res.status().as_u16()), "{}", res.status());
        ids.push(res.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every post answers the one stored message");
    assert_eq!(app.count().await, 1);
}

async fn a_key_reused_for_another_text_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post("/messages", &json!({"author_id": 1, "text": "first", "idempotency_key": "k"})).await;
    let res = app.post("/messages", &json!({"author_id": 1, "text": "second", "idempotency_key": "k"})).await;
    assert_error(res, 422, "idempotency_key_reused").await;
    assert_eq!(app.count().await, 1);
}

async fn bad_keys_are_refused_and_nothing_is_written(backend: Backend) {
    let app = spawn_app(backend).await;
    for key in ["", "a b", "ø", &"k".repeat(129)] {
        let res = app.post("/messages", &json!({"author_id": 1, "text": "hi", "idempotency_key": key})).await;
        assert_error(res, 400, "invalid_idempotency_key").await;
    }
    assert_eq!(app.count().await, 0);
}
