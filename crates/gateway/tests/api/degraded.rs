//! A service down: what still works, and quick 503s for what cannot.

use std::time::{Duration, Instant};

use reqwest::header;

use crate::{helpers::*, web::Browser};

/// Far above the expected few milliseconds: only a guard against hanging.
const HANG_GUARD: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_service_down_then_back() {
    let mut sys = spawn_system().await;
    let bob = Browser::new(&sys);
    bob.sign_up("bob").await;
    bob.post_message("bob was here").await.status(200);
    let alice = Browser::new(&sys);
    alice.sign_up("alice").await;
    alice.post_message("alice was here").await.status(200);
    alice.page("/bob/follow").await.status(200).has("You are now following &#34;bob&#34;");

    sys.follows.stop().await;

    // Pages that do not need follow-service still render, signed in or not.
    alice.page("/public").await.status(200).has("bob was here").has("alice was here");
    Browser::new(&sys).page("/public").await.status(200).has("bob was here");
    alice.page("/alice").await.status(200).has("This is you!").has("alice was here");
    // A user's page shows the messages without the follow button.
    alice.page("/bob").await.status(200).has("bob was here").has("cannot be shown right now");
    assert_eq!(alice.post("/add_message", &[("text", "posted while degraded")]).await.status(), 303);
    alice.page("/public").await.status(200).has("Your message was recorded").has("posted while degraded");

    // "My timeline" needs follow-service: a friendly 503 page, quickly.
    let start = Instant::now();
    let res = alice.get("/").await;
    let took = start.elapsed();
    assert_eq!(res.status(), 503);
    assert!(took < HANG_GUARD, "took {took:?}");
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    assert!(res.text().await.unwrap().contains("Temporarily unavailable"));
    let start = Instant::now();
    assert_eq!(alice.get("/bob/unfollow").await.status(), 503);
    assert!(start.elapsed() < HANG_GUARD);

    // The simulator's route that needs it answers a JSON 503.
    let start = Instant::now();
    let res = sys.client.get(sys.url("/fllws/alice")).header("authorization", SIM_AUTH).send().await.unwrap();
    assert!(start.elapsed() < HANG_GUARD);
    assert_eq!(res.status(), 503);
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 503, "{body}");

    sys.follows.restart().await;

    // Everything works again.
    alice.page("/").await.status(200).has("bob was here").has("posted while degraded");
    alice.page("/bob/unfollow").await.status(200).has("You are no longer following &#34;bob&#34;");
    alice.page("/").await.status(200).lacks("bob was here").has("alice was here");
    alice.page("/bob").await.status(200).has("You are not yet following this user.");
    let res = sys.client.get(sys.url("/fllws/alice")).header("authorization", SIM_AUTH).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
