//! Calls whose answer was lost: the gateway sends a read, a follow or a new message
//! (under its idempotency key) once more, on a new connection, and never a new user
//! (a second registration would answer "taken").
//!
//! A [`CuttingProxy`] in front of one service passes the first connection's request on,
//! waits until the service starts answering (so the request took effect) and then
//! closes the connection without passing the answer back: the ambiguous failure of a
//! replica killed mid-request. Later connections pass through.

use gateway::settings::ServicesSettings;
use serde_json::{json, Value};

use crate::{
    helpers::*,
    proxy::{spawn_system_behind_proxy, CuttingProxy},
};

/// The whole system with one service behind a proxy that cuts its first connection.
async fn system_with_cut(service: fn(&mut ServicesSettings) -> &mut String) -> (TestSystem, CuttingProxy) {
    spawn_system_behind_proxy(service, 1, |_| {}).await
}

impl TestSystem {
    /// `upstream_retries_total` of `upstream` with `outcome`, 0 when absent.
    async fn retries(&self, upstream: &str, outcome: &str) -> f64 {
        let text = self.client.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with("upstream_retries_total{"))
            .filter(|l| l.contains(&format!("upstream=\"{upstream}\"")))
            .filter(|l| l.contains(&format!("outcome=\"{outcome}\"")))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_answer_was_cut_off_is_sent_again() {
    let (sys, proxy) = system_with_cut(|s| &mut s.user_url).await;
    // Registered behind the gateway's back: its first call to user-service is the read.
    let res = reqwest::Client::new()
        .post(format!("{}/users", sys.users.url()))
        .json(&json!({"username": "alice", "email": "alice@example.com", "password": "pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let res = get(&sys, "/msgs/alice").await;
    assert_eq!(res.status(), 200, "answered after one retry");
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
    assert_eq!(proxy.connections(), 2, "the cut connection and the retry's");
    assert_eq!(sys.retries("user-service", "ok").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_message_whose_answer_was_cut_off_is_sent_again_and_posted_once() {
    let (sys, proxy) = system_with_cut(|s| &mut s.message_url).await;
    register(&sys, "alice").await;

    // The first send took effect; the retry carries the same idempotency key, so
    // message-service answers the stored message instead of posting it again.
    no_content(post(&sys, "/msgs/alice", &json!({"content": "exactly once"})).await).await;
    assert_eq!(proxy.connections(), 2, "the cut connection and the retry's");
    assert_eq!(sys.retries("message-service", "ok").await, 1.0);

    let res = get(&sys, "/msgs/alice").await;
    assert_eq!(res.status(), 200);
    let messages = res.json::<Value>().await.unwrap();
    let texts: Vec<&str> =
        messages.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(texts, ["exactly once"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_whose_answer_was_cut_off_is_not_sent_again() {
    let (sys, proxy) = system_with_cut(|s| &mut s.user_url).await;
    let body = json!({"username": "alice", "email": "alice@example.com", "pwd": "pw"});
    let res = post(&sys, "/register", &body).await;
    assert_eq!(res.status(), 503, "the gateway cannot know whether alice was registered");
    assert_eq!(proxy.connections(), 1, "not sent again");
    for outcome in ["ok", "failed", "budget_exhausted", "no_time_left"] {
        assert_eq!(sys.retries("user-service", outcome).await, 0.0, "{outcome}");
    }
    // She was registered (the service answered), once.
    assert_eq!(get(&sys, "/msgs/alice").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_whose_answer_was_cut_off_is_sent_again() {
    let (sys, proxy) = system_with_cut(|s| &mut s.follow_url).await;
    register(&sys, "alice").await;
    register(&sys, "bob").await;

    let res = post(&sys, "/fllws/alice", &json!({"follow": "bob"})).await;
    assert_eq!(res.status(), 204, "answered after one retry");
    assert_eq!(proxy.connections(), 2);
    assert_eq!(sys.retries("follow-service", "ok").await, 1.0);

    let res = get(&sys, "/fllws/alice").await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"follows": ["bob"]}));
    let count: Value =
        reqwest::get(format!("{}/follows/count", sys.follows.url())).await.unwrap().json().await.unwrap();
    assert_eq!(count["count"], 1, "followed once");
}
