//! Counting, concurrency, health, readiness and metrics.

use minitwit_kit::{both_backends, testing::Backend};

use crate::helpers::spawn_app;

both_backends!(count_counts_every_message, concurrent_posts_all_land, health_ready_and_metrics_answer);

async fn count_counts_every_message(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.count().await, 0);
    let m = app.message(1, "a").await;
    app.message(2, "b").await;
    app.flag(m.id.get(), true).await;
    assert_eq!(app.count().await, 2);
}

async fn concurrent_posts_all_land(backend: Backend) {
    let app = spawn_app(backend).await;
    let posts = (0..20).map(|i| app.message(1 + i % 3, "concurrent"));
    let mut ids: Vec<i64> = futures::future::join_all(posts).await.iter().map(|m| m.id.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(app.count().await, 20);
}

async fn health_ready_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/ready").await.status(), 200);
    app.message(1, "one").await;
    app.message(1, "two").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let posted = text
        .lines()
        .find(|l| l.starts_with("minitwit_messages_posted_total"))
        .expect("business counter exported");
    assert!(posted.contains(r#"service="message-service""#) && posted.ends_with(" 2"), "{posted}");
    assert!(text.lines().any(|l| l.starts_with("minitwit_messages{")), "gauge exported");
    assert!(text.lines().any(|l| l.starts_with("http_requests_total")
        && l.contains(r#"route="/messages""#)
        && l.contains(r#"status="201""#)));
    assert!(text.contains("db_pool_max_connections"));
}
