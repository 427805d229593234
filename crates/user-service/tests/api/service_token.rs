//! The services' shared token (`HTTP__SERVICE_TOKEN`): on the internal network, only a
//! caller that holds it reaches a route; health, readiness and metrics stay open for
//! the swarm and Prometheus. Without the setting (`make run`, tests) nothing changes.

use minitwit_api::client::{ClientError, UserClient};
use minitwit_kit::{both_backends, testing::Backend};
use serde_json::json;

use crate::helpers::{assert_error, spawn_app_with};

both_backends!(
    with_a_token_set_only_callers_that_send_it_reach_the_routes,
    the_typed_client_sends_the_token_it_is_given,
);

const TOKEN: &str = "a-long-random-service-token";

async fn with_a_token_set_only_callers_that_send_it_reach_the_routes(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.http.service_token = Some(TOKEN.into())).await;
    let login = json!({"username": "alice", "password": "pw"});
    let register = json!({"username": "alice", "email": "a@example.com", "password": "pw"});
    let refused = [
        None,
        Some(String::new()),
        Some(TOKEN.to_string()),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[1..])),
        Some(format!("bearer {TOKEN}")),
        Some(format!("Basic {TOKEN}")),
    ];
    for auth in &refused {
        for (path, body) in [("/users", &register), ("/users/login", &login)] {
            let mut req = app.client.post(app.url(path)).json(body);
            if let Some(auth) = auth {
                req = req.header("authorization", auth);
            }
            assert_error(req.send().await.unwrap(), 401, "service_token_required").await;
        }
        // Not even which routes exist.
        let mut req = app.client.get(app.url("/no/such/route"));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        assert_error(req.send().await.unwrap(), 401, "service_token_required").await;
    }
    // Nothing was written by the refused calls.
    let bearer = format!("Bearer {TOKEN}");
    let count =
        app.client.get(app.url("/users/count")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(count.json::<serde_json::Value>().await.unwrap(), json!({"count": 0}));
    let created =
        app.client.post(app.url("/users")).header("authorization", &bearer).json(&register).send().await;
    assert_eq!(created.unwrap().status(), 201);
    let ok =
        app.client.post(app.url("/users/login")).header("authorization", &bearer).json(&login).send().await;
    assert_eq!(ok.unwrap().status(), 200);
    for open in ["/health", "/ready", "/metrics"] {
        assert_eq!(app.get(open).await.status(), 200, "{open} needs no token");
    }
    // The refusals are counted like any answer.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("http_requests_total{") && l.contains("status=\"401\"")));
}

async fn the_typed_client_sends_the_token_it_is_given(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.http.service_token = Some(TOKEN.into())).await;
    let without = UserClient::new(reqwest::Client::new(), &app.address);
    match without.count("t").await {
        Err(ClientError::Api { status: 401, body, .. }) => assert_eq!(body.error, "service_token_required"),
        other => panic!("without the token: {other:?}"),
    }
    let with = UserClient::new(reqwest::Client::new(), &app.address).with_service_token(Some(TOKEN)).unwrap();
    assert_eq!(with.count("t").await.unwrap(), 0);
    // A value no header can carry is refused when the client is built, without showing it.
    let bad = UserClient::new(reqwest::Client::new(), &app.address).with_service_token(Some("line\nbreak"));
    let error = bad.err().expect("refused");
    assert!(!error.contains("line"), "{error}");
}

minitwit_kit::start_up_checks!("user-service", user_service::ENV_PREFIX);
