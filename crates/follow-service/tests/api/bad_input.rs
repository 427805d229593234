//! Bad input: ids, path segments, queries, bodies and routes, all answered with the
//! kit's JSON error and never a 500 or a written row.

use minitwit_kit::{both_backends, testing::Backend};

use crate::helpers::{assert_error, spawn_app};

both_backends!(
    non_positive_ids_are_invalid,
    non_numeric_segments_are_invalid_paths,
    bad_limits_are_invalid_queries,
    bodies_are_ignored,
    unknown_routes_and_methods_answer_json,
);

async fn non_positive_ids_are_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/follows/0/1", "/follows/1/0", "/follows/-1/2", "/follows/2/-1", "/follows/0/0"] {
        assert_error(app.put_empty(path).await, 400, "invalid_id").await;
        assert_error(app.delete(path).await, 400, "invalid_id").await;
        assert_error(app.get(path).await, 400, "invalid_id").await;
    }
    assert_error(app.get("/follows/0").await, 400, "invalid_id").await;
    assert_error(app.get("/follows/-5?limit=3").await, 400, "invalid_id").await;
    assert_eq!(app.count().await, 0);
}

async fn non_numeric_segments_are_invalid_paths(backend: Backend) {
    let app = spawn_app(backend).await;
    let too_big = "99999999999999999999";
    for path in [
        "/follows/a/1".to_string(),
        "/follows/1/b".into(),
        "/follows/1.5/2".into(),
        format!("/follows/{too_big}/1"),
    ] {
        assert_error(app.put_empty(&path).await, 404, "invalid_path").await;
        assert_error(app.delete(&path).await, 404, "invalid_path").await;
        assert_error(app.get(&path).await, 404, "invalid_path").await;
    }
    assert_error(app.get("/follows/abc").await, 404, "invalid_path").await;
    assert_error(app.get(&format!("/follows/{too_big}")).await, 404, "invalid_path").await;
    assert_error(app.put_empty("/follows/count/1").await, 404, "invalid_path").await;
    assert_eq!(app.count().await, 0);
}

async fn bad_limits_are_invalid_queries(backend: Backend) {
    let app = spawn_app(backend).await;
    app.follow(1, 2).await;
    for query in ["?limit=-1", "?limit=abc", "?limit=1.5", "?limit=", "?limit=4294967296"] {
        assert_error(app.get(&format!("/follows/1{query}")).await, 400, "invalid_query").await;
    }
    // Unknown query parameters are ignored, like everywhere else.
    assert_eq!(app.followees(1, "?other=x").await, [2]);
}

async fn bodies_are_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .client
        .put(app.url("/follows/1/2"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.client.delete(app.url("/follows/1/2")).body("x".repeat(1000)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.count().await, 0);
}

async fn unknown_routes_and_methods_answer_json(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.get("/nope").await, 404, "no_route").await;
    assert_error(app.get("/follows").await, 404, "no_route").await;
    assert_error(app.get("/follows/1/2/3").await, 404, "no_route").await;
    assert_error(app.client.post(app.url("/follows/1/2")).send().await.unwrap(), 404, "no_route").await;
    assert_error(app.put_empty("/follows/1").await, 404, "no_route").await;
    assert_error(app.delete("/follows/count").await, 404, "no_route").await;
    let echoed =
        app.client.get(app.url("/follows/count")).header("x-request-id", "trace-me-2").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-2");
}
