use minitwit_kit::{both_backends, testing::Backend};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};

both_backends!(
    register_returns_the_new_user,
    register_refuses_each_invalid_field,
    register_refuses_bad_bodies,
    a_taken_username_is_a_conflict,
    concurrent_registrations_of_one_name_have_one_winner,
    login_tells_unknown_users_from_wrong_passwords,
    login_refuses_bad_bodies,
    the_password_hash_is_never_returned,
);

async fn register_returns_the_new_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.register("Roger Histand", "roger@histand", "a").await;
    assert_eq!(res.status(), 201);
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["username"], "Roger Histand");
    assert_eq!(user["email"], "roger@histand");
    assert!(user["id"].as_i64().unwrap() > 0);
    let unicode = app.register("Søren 李", "s@x", "pw").await;
    assert_eq!(unicode.status(), 201);
}

async fn register_refuses_each_invalid_field(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.register("", "a@b", "pw").await, 400, "invalid_username").await;
    assert_error(app.register("   ", "a@b", "pw").await, 400, "invalid_username").await;
    assert_error(app.register(&"x".repeat(65), "a@b", "pw").await, 400, "invalid_username").await;
    assert_error(app.register("a/b", "a@b", "pw").await, 400, "invalid_username").await;
    // The rules that share a code are told apart by the body's reason (what the typed
    // client decodes), not by the message's text.
    let invisible =
        assert_error(app.register("ad\u{200B}min", "a@b", "pw").await, 400, "invalid_username").await;
    assert_eq!(invisible["reason"], "username_invisible", "{invisible}");
    let too_long =
        assert_error(app.register(&"x".repeat(65), "a@b", "pw").await, 400, "invalid_username").await;
    assert_eq!(too_long["reason"], "username_too_long", "{too_long}");
    let taken = assert_error(app.register("public", "a@b", "pw").await, 409, "username_taken").await;
    assert_eq!(taken["reason"], "username_taken", "{taken}");
    assert_error(app.register("bob", "bob", "pw").await, 400, "invalid_email").await;
    assert_error(app.register("bob", "@b", "pw").await, 400, "invalid_email").await;
    assert_error(app.register("bob", &format!("{}@b", "x".repeat(300)), "pw").await, 400, "invalid_email")
        .await;
    assert_error(app.register("bob", "a@b", "").await, 400, "invalid_password").await;
    assert_error(app.register("bob", "a@b", &"x".repeat(2000)).await, 400, "invalid_password").await;
    // Nothing was half-written: the name is still free.
    assert_eq!(app.register("bob", "a@b", "pw").await.status(), 201);
    assert_eq!(app.get("/users/count").await.json::<Value>().await.unwrap()["count"], 1);
}

async fn register_refuses_bad_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.post_raw("/users", "application/json", "{not json").await, 400, "malformed_json").await;
    assert_error(app.post("/users", &json!({"username": "bob", "email": "a@b"})).await, 400, "invalid_field")
        .await;
    assert_error(
        app.post("/users", &json!({"username": 5, "email": "a@b", "password": "x"})).await,
        400,
        "invalid_field",
    )
    .await;
    assert_error(
        app.post_raw("/users", "text/plain", r#"{"username":"a"}"#).await,
        415,
        "unsupported_media_type",
    )
    .await;
    let huge = json!({"username": "bob", "email": "a@b", "password": "x".repeat(200_000)});
    assert_error(app.post("/users", &huge).await, 413, "payload_too_large").await;
    assert_eq!(app.get("/users/count").await.json::<Value>().await.unwrap()["count"], 0);
}

async fn a_taken_username_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.register("alice", "a@a", "pw").await.status(), 201);
    assert_error(app.register("alice", "other@a", "pw2").await, 409, "username_taken").await;
    // Names are exact: another case is another user.
    assert_eq!(app.register("Alice", "a@a", "pw").await.status(), 201);
}

async fn concurrent_registrations_of_one_name_have_one_winner(backend: Backend) {
    let app = spawn_app(backend).await;
    let emails: Vec<String> = (0..8).map(|i| format!("{i}@x")).collect();
    let attempts = emails.iter().map(|email| app.register("contested", email, "pw"));
    let statuses: Vec<u16> =
        futures::future::join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 7, "{statuses:?}");
    assert_eq!(app.get("/users/count").await.json::<Value>().await.unwrap()["count"], 1);
}

async fn login_tells_unknown_users_from_wrong_passwords(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("carol", "c@c", "secret").await;
    let ok = app.post("/users/login", &json!({"username": "carol", "password": "secret"})).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["username"], "carol");
    let wrong = app.post("/users/login", &json!({"username": "carol", "password": "Secret"})).await;
    assert_error(wrong, 401, "wrong_password").await;
    let unknown = app.post("/users/login", &json!({"username": "dave", "password": "secret"})).await;
    assert_error(unknown, 404, "no_such_user").await;
}

async fn login_refuses_bad_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.post("/users/login", &json!({"username": "carol"})).await, 400, "invalid_field").await;
    assert_error(app.post_raw("/users/login", "application/json", "[").await, 400, "malformed_json").await;
}

async fn the_password_hash_is_never_returned(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.user("erin").await;
    for path in [format!("/users/{id}"), "/users/by-name/erin".to_string()] {
        let body = app.get(&path).await.text().await.unwrap();
        assert!(!body.contains("argon2") && !body.contains("pw_hash"), "{body}");
    }
}
