//! The simulator's `latest` value: default, overwrite, late writes, durability, bad bodies.

use minitwit_kit::{both_backends, testing::Backend};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, settings, spawn_app, start, TestApp};

both_backends!(
    latest_starts_at_minus_one_and_is_overwritten,
    latest_refuses_bad_bodies,
    latest_ignores_a_write_received_before_the_stored_one,
    latest_survives_a_restart,
);

async fn set(app: &TestApp, value: i64) {
    assert_eq!(app.put("/latest", &json!({ "latest": value })).await.status(), 204);
}

async fn latest_starts_at_minus_one_and_is_overwritten(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.latest().await, -1);
    set(&app, 1337).await;
    assert_eq!(app.latest().await, 1337);
    set(&app, 1).await;
    assert_eq!(app.latest().await, 1, "overwritten, not maxed");
    set(&app, 1).await;
    set(&app, 0).await;
    assert_eq!(app.latest().await, 0);
}

async fn put_at(app: &TestApp, value: i64, recorded_at_us: i64) {
    let body = json!({ "latest": value, "recorded_at_us": recorded_at_us });
    assert_eq!(app.put("/latest", &body).await.status(), 204);
}

/// A hedged copy, or a call the gateway gave up on, that lands after a newer value.
async fn latest_ignores_a_write_received_before_the_stored_one(backend: Backend) {
    let app = spawn_app(backend).await;
    put_at(&app, 10, 2_000).await;
    assert_eq!(app.latest().await, 10);
    put_at(&app, 7, 1_000).await;
    assert_eq!(app.latest().await, 10, "received earlier: ignored");
    put_at(&app, 8, 2_000).await;
    assert_eq!(app.latest().await, 8, "received at the same time: the last to arrive wins");
    // Without a time (a gateway from before the field): the service's own clock.
    set(&app, 3).await;
    assert_eq!(app.latest().await, 3);
    put_at(&app, 99, 5_000).await;
    assert_eq!(app.latest().await, 3, "older than the service's clock at the last write");
    for bad in [json!("soon"), json!(1.5), json!({})] {
        let body = json!({ "latest": 4, "recorded_at_us": bad });
        assert_error(app.put("/latest", &body).await, 400, "invalid_field").await;
    }
    assert_eq!(app.latest().await, 3, "unchanged");
}

async fn latest_refuses_bad_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    set(&app, 5).await;
    for body in [json!({}), json!({"latest": "7"}), json!({"latest": 1.5}), json!({"latest": null}), json!(7)]
    {
        assert_error(app.put("/latest", &body).await, 400, "invalid_field").await;
    }
    let raw = app.send_raw(Method::PUT, "/latest", "application/json", "{\"latest\":");
    assert_error(raw.await, 400, "malformed_json").await;
    let plain = app.send_raw(Method::PUT, "/latest", "text/plain", "{\"latest\": 9}");
    assert_error(plain.await, 415, "unsupported_media_type").await;
    let huge = json!({"latest": 9, "padding": "x".repeat(200_000)});
    assert_error(app.put("/latest", &huge).await, 413, "payload_too_large").await;
    assert_eq!(app.latest().await, 5, "unchanged");
}

async fn latest_survives_a_restart(backend: Backend) {
    let app = spawn_app(backend).await;
    set(&app, 4242).await;
    let again = start(&settings(&app.db));
    again.wait_ready().await;
    let res = again.get("/latest").await;
    assert_eq!(res.json::<serde_json::Value>().await.unwrap(), json!({"latest": 4242}));
}
