use minitwit_kit::{both_backends, testing::Backend};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

both_backends!(
    users_are_found_by_name_with_spaces_and_by_id,
    unknown_users_are_404_and_bad_ids_400,
    a_batch_is_one_call_and_skips_unknown_ids,
    batches_are_bounded,
    count_counts,
    health_ready_and_metrics_answer,
    unknown_routes_answer_json,
    ending_sessions_makes_a_new_generation_per_user,
    names_no_user_can_have_are_404_never_a_database_error,
);

async fn users_are_found_by_name_with_spaces_and_by_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.user("Roger Histand").await;
    let by_name: Value = app.get("/users/by-name/Roger%20Histand").await.json().await.unwrap();
    assert_eq!(by_name["id"], id);
    let by_id: Value = app.get(&format!("/users/{id}")).await.json().await.unwrap();
    assert_eq!(by_id["username"], "Roger Histand");
    let odd = app.user("100% ?#&").await;
    let found: Value = app.get("/users/by-name/100%25%20%3F%23%26").await.json().await.unwrap();
    assert_eq!(found["id"], odd);
}

async fn ending_sessions_makes_a_new_generation_per_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let (a, b) = (app.user("a").await, app.user("b").await);
    let generation = |id: i64| {
        let app = &app;
        async move {
            let res = app.get(&format!("/users/{id}/session")).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()["generation"].as_i64().unwrap()
        }
    };
    assert_eq!((generation(a).await, generation(b).await), (0, 0));
    let res = app.post(&format!("/users/{a}/session/end"), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"generation": 1}));
    app.post(&format!("/users/{a}/session/end"), &json!({})).await;
    assert_eq!((generation(a).await, generation(b).await), (2, 0));
    assert_error(app.get("/users/999/session").await, 404, "no_such_user").await;
    assert_error(app.post("/users/999/session/end", &json!({})).await, 404, "no_such_user").await;
    assert_error(app.get("/users/0/session").await, 400, "invalid_id").await;
}

async fn names_no_user_can_have_are_404_never_a_database_error(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("Jos\u{E9}").await;
    for path in ["/users/by-name/a%00b", "/users/by-name/a%E2%80%AEb", "/users/by-name/%20a"] {
        assert_error(app.get(path).await, 404, "no_such_user").await;
    }
    // The other spelling of the name finds it (normal form C).
    assert_eq!(app.get("/users/by-name/Jose%CC%81").await.status(), 200);
    let res = app.register("a\u{0}b", "a@b", "pw").await;
    assert_eq!(res.status(), 400);
}

async fn unknown_users_are_404_and_bad_ids_400(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.get("/users/by-name/nobody").await, 404, "no_such_user").await;
    assert_error(app.get("/users/999").await, 404, "no_such_user").await;
    assert_error(app.get("/users/not-a-number").await, 404, "invalid_path").await;
    // Ids are positive: one rule, the same code in a path and in a body.
    for id in [0, -3] {
        assert_error(app.get(&format!("/users/{id}")).await, 400, "invalid_id").await;
        assert_error(app.post("/users/batch", &json!({"ids": [1, id]})).await, 400, "invalid_id").await;
    }
}

async fn a_batch_is_one_call_and_skips_unknown_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.user("a").await;
    let b = app.user("b").await;
    let res = app.post("/users/batch", &json!({"ids": [b, 12345, a, a]})).await;
    assert_eq!(res.status(), 200);
    let mut names: Vec<String> = res
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    let empty: Vec<Value> = app.post("/users/batch", &json!({"ids": []})).await.json().await.unwrap();
    assert!(empty.is_empty());
}

async fn batches_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let ids: Vec<i64> = (1..=1001).collect();
    assert_error(app.post("/users/batch", &json!({ "ids": ids })).await, 400, "too_many_ids").await;
    assert_error(app.post("/users/batch", &json!({"ids": ["x"]})).await, 400, "invalid_field").await;
}

async fn count_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    for name in ["x", "y", "z"] {
        app.user(name).await;
    }
    assert_eq!(app.get("/users/count").await.json::<Value>().await.unwrap()["count"], 3);
}

async fn health_ready_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/ready").await.status(), 200);
    app.user("m").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let registered = text
        .lines()
        .find(|l| l.starts_with("minitwit_users_registered_total"))
        .expect("business counter exported");
    assert!(registered.ends_with(" 1"), "{registered}");
    assert!(text.lines().any(|l| l.starts_with("http_requests_total")
        && l.contains(r#"route="/users""#)
        && l.contains(r#"status="201""#)));
    assert!(text.contains("db_pool_max_connections"));
}

async fn unknown_routes_answer_json(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.get("/nope").await, 404, "no_route").await;
    let res = app.get("/health").await;
    assert!(res.headers().contains_key("x-request-id"));
    let echoed =
        app.client.get(app.url("/health")).header("x-request-id", "trace-me-1").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-1");
}
