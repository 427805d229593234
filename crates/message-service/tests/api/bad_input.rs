//! Every way to ask wrongly: a 4xx with the JSON error, and nothing written.

use minitwit_api::message::AUTHORS_MAX;
use minitwit_kit::{both_backends, testing::Backend};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

both_backends!(
    post_refuses_bad_messages,
    ids_that_are_not_positive_are_invalid_everywhere,
    post_refuses_bad_bodies,
    list_routes_refuse_bad_queries,
    by_authors_refuses_bad_bodies,
    unknown_routes_and_methods_answer_json,
);

async fn post_refuses_bad_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    for text in ["", " \n\t", &"x".repeat(1001), &"ø".repeat(1001)] {
        let res = app.post("/messages", &json!({"author_id": 1, "text": text})).await;
        assert_error(res, 400, "invalid_text").await;
    }
    for author_id in [0, -5] {
        let res = app.post("/messages", &json!({"author_id": author_id, "text": "hi"})).await;
        assert_error(res, 400, "invalid_id").await;
    }
    assert_eq!(app.count().await, 0, "nothing half-written");
}

/// One rule for every id of every route: paths, bodies and lists alike.
async fn ids_that_are_not_positive_are_invalid_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.message(1, "hi").await;
    for id in [0, -1] {
        assert_error(app.get(&format!("/messages/by-author/{id}")).await, 400, "invalid_id").await;
        assert_error(app.flag(id, true).await, 400, "invalid_id").await;
        assert_error(app.flag(id, false).await, 400, "invalid_id").await;
        let body = json!({"author_ids": [1, id]});
        assert_error(app.post("/messages/by-authors", &body).await, 400, "invalid_id").await;
    }
    assert_eq!(app.page("/messages").await.messages, [m], "nothing flagged, nothing written");
}

async fn post_refuses_bad_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let raw = |body: &'static str| app.send_raw(Method::POST, "/messages", "application/json", body);
    assert_error(raw("{not json").await, 400, "malformed_json").await;
    assert_error(raw("").await, 400, "malformed_json").await;
    for body in [
        json!({"author_id": 1}),
        json!({"text": "hi"}),
        json!({"author_id": "1", "text": "hi"}),
        json!({"author_id": 1.5, "text": "hi"}),
        json!({"author_id": 1, "text": 5}),
        json!({"author_id": 1, "text": null}),
    ] {
        assert_error(app.post("/messages", &body).await, 400, "invalid_field").await;
    }
    let text_plain = app.send_raw(Method::POST, "/messages", "text/plain", r#"{"author_id":1,"text":"x"}"#);
    assert_error(text_plain.await, 415, "unsupported_media_type").await;
    let huge = json!({"author_id": 1, "text": "x".repeat(200_000)});
    assert_error(app.post("/messages", &huge).await, 413, "payload_too_large").await;
    assert_eq!(app.count().await, 0, "nothing half-written");
}

async fn list_routes_refuse_bad_queries(backend: Backend) {
    let app = spawn_app(backend).await;
    app.message(1, "hi").await;
    for path in ["/messages", "/messages/by-author/1"] {
        for query in [
            "before=garbage",
            "before=12",
            "before=",
            "before=1_x",
            "limit=-1",
            "limit=abc",
            "limit=1.5",
            "limit=99999999999",
        ] {
            assert_error(app.get(&format!("{path}?{query}")).await, 400, "invalid_query").await;
        }
    }
    assert_error(app.get("/messages/by-author/abc").await, 404, "invalid_path").await;
    assert_error(app.get("/messages/by-author/99999999999999999999").await, 404, "invalid_path").await;
    // Unknown parameters are ignored.
    assert_eq!(app.get("/messages?foo=bar").await.status(), 200);
}

async fn by_authors_refuses_bad_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let too_many: Vec<i64> = (1..=AUTHORS_MAX as i64 + 1).collect();
    let res = app.post("/messages/by-authors", &json!({ "author_ids": too_many })).await;
    assert_error(res, 400, "too_many_authors").await;
    let most: Vec<i64> = (1..=AUTHORS_MAX as i64).collect();
    assert_eq!(app.post("/messages/by-authors", &json!({ "author_ids": most })).await.status(), 200);
    for body in [
        json!({}),
        json!({"author_ids": "1,2"}),
        json!({"author_ids": ["x"]}),
        json!({"author_ids": [1], "limit": -1}),
        json!({"author_ids": [1], "limit": "ten"}),
        json!({"author_ids": [1], "before": "garbage"}),
        json!({"author_ids": [1], "before": 12}),
    ] {
        assert_error(app.post("/messages/by-authors", &body).await, 400, "invalid_field").await;
    }
    let raw = app.send_raw(Method::POST, "/messages/by-authors", "application/json", "{\"author_ids\": [1,");
    assert_error(raw.await, 400, "malformed_json").await;
    // The body limit leaves room for AUTHORS_MAX of the longest ids, and no more.
    let ids: Vec<i64> = (0..AUTHORS_MAX as i64).map(|i| i64::MAX - i).collect();
    assert_eq!(app.post("/messages/by-authors", &json!({ "author_ids": ids })).await.status(), 200);
    let huge = json!({ "author_ids": ids, "padding": "x".repeat(100_000) });
    assert_error(app.post("/messages/by-authors", &huge).await, 413, "payload_too_large").await;
}

async fn unknown_routes_and_methods_answer_json(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.get("/nope").await, 404, "no_route").await;
    assert_error(app.get("/messages/by-authors").await, 404, "no_route").await;
    assert_error(app.get("/messages/1/flag").await, 404, "no_route").await;
    let delete_latest = app.client.delete(app.url("/latest")).send().await.unwrap();
    assert_error(delete_latest, 404, "no_route").await;
}
