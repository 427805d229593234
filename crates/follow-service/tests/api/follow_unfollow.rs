//! Follow and unfollow: idempotence, concurrency, self follows, business counters.

use minitwit_kit::{both_backends, testing::Backend};

use crate::helpers::{assert_error, spawn_app};

both_backends!(
    follow_then_unfollow_then_follow_again,
    following_twice_leaves_one_row,
    concurrent_double_follows_leave_one_row,
    unfollowing_someone_not_followed_is_204,
    following_is_one_way,
    following_yourself_is_refused,
    counters_count_rows_actually_changed,
);

async fn follow_then_unfollow_then_follow_again(backend: Backend) {
    let app = spawn_app(backend).await;
    assert!(!app.is_following(1, 2).await);
    app.follow(1, 2).await;
    assert!(app.is_following(1, 2).await);
    app.unfollow(1, 2).await;
    assert!(!app.is_following(1, 2).await);
    assert_eq!(app.count().await, 0);
    app.follow(1, 2).await;
    assert!(app.is_following(1, 2).await);
    assert_eq!(app.followees(1, "").await, [2]);
    assert_eq!(app.count().await, 1);
}

async fn following_twice_leaves_one_row(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..3 {
        app.follow(5, 7).await;
    }
    assert_eq!(app.count().await, 1);
    assert_eq!(app.followees(5, "").await, [7]);
}

async fn concurrent_double_follows_leave_one_row(backend: Backend) {
    let app = spawn_app(backend).await;
    let attempts = (0..10).map(|_| app.put_empty("/follows/3/4"));
    let statuses: Vec<u16> =
        futures::future::join_all(attempts).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(app.count().await, 1);
    assert_eq!(app.followees(3, "").await, [4]);
    assert_eq!(app.metric("minitwit_follows_total").await, 1.0);

    // Concurrent writes of different pairs all land (SQLite waits for its write lock).
    let paths: Vec<String> = (10..30).map(|b| format!("/follows/3/{b}")).collect();
    let statuses: Vec<u16> = futures::future::join_all(paths.iter().map(|p| app.put_empty(p)))
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(app.count().await, 21);
}

async fn unfollowing_someone_not_followed_is_204(backend: Backend) {
    let app = spawn_app(backend).await;
    app.unfollow(1, 2).await;
    app.follow(1, 2).await;
    app.unfollow(1, 2).await;
    app.unfollow(1, 2).await;
    // Unfollowing yourself removes nothing and is no error either.
    app.unfollow(1, 1).await;
    assert_eq!(app.count().await, 0);
}

async fn following_is_one_way(backend: Backend) {
    let app = spawn_app(backend).await;
    app.follow(1, 2).await;
    assert!(app.is_following(1, 2).await);
    assert!(!app.is_following(2, 1).await);
    assert!(app.followees(2, "").await.is_empty());
    app.follow(2, 1).await;
    app.unfollow(1, 2).await;
    assert!(app.is_following(2, 1).await);
    assert!(!app.is_following(1, 2).await);
}

async fn following_yourself_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_error(app.put_empty("/follows/9/9").await, 400, "self_follow").await;
    assert!(!app.is_following(9, 9).await);
    assert_eq!(app.count().await, 0);
}

async fn counters_count_rows_actually_changed(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.metric("minitwit_follows_total").await, 0.0);
    assert_eq!(app.metric("minitwit_unfollows_total").await, 0.0);
    app.follow(1, 2).await;
    app.follow(1, 2).await;
    app.follow(1, 3).await;
    app.unfollow(1, 2).await;
    app.unfollow(1, 2).await;
    app.unfollow(1, 4).await;
    let _ = app.put_empty("/follows/1/1").await;
    assert_eq!(app.metric("minitwit_follows_total").await, 2.0);
    assert_eq!(app.metric("minitwit_unfollows_total").await, 1.0);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(text.lines().any(|l| l.starts_with("http_requests_total")
        && l.contains(r#"route="/follows/{follower}/{followee}""#)
        && l.contains(r#"method="PUT""#)
        && l.contains(r#"status="204""#)
        && l.contains(r#"service="follow-service""#)));
}
