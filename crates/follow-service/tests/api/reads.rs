//! Reads: whom a user follows (order, limits), whether X follows Y, the count; the
//! typed client against the real service; health, readiness and metrics.

use std::time::Duration;

use minitwit_api::{
    client::{http_client, FollowClient},
    domain::{DomainError, UserId},
    follow::{Follow, FollowError, DEFAULT_LIMIT},
};
use minitwit_kit::{both_backends, testing::Backend};

use crate::helpers::{spawn_app, spawn_app_with};

both_backends!(
    followees_come_in_followee_id_order,
    limits_default_cap_and_zero,
    count_is_exact,
    the_typed_client_agrees_with_the_service,
    health_ready_and_metrics_answer,
);

async fn followees_come_in_followee_id_order(backend: Backend) {
    let app = spawn_app(backend).await;
    for b in [30, 10, 20, 5_000_000_000] {
        app.follow(1, b).await;
    }
    app.follow(2, 1).await;
    assert_eq!(app.followees(1, "").await, [10, 20, 30, 5_000_000_000]);
    assert_eq!(app.followees(2, "").await, [1]);
    assert!(app.followees(3, "").await.is_empty());
}

async fn limits_default_cap_and_zero(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.own.max_limit = 150).await;
    let many = DEFAULT_LIMIT as i64 + 20;
    for b in 2..2 + many {
        app.follow(1, b).await;
    }
    assert_eq!(app.followees(1, "").await.len(), DEFAULT_LIMIT as usize);
    assert_eq!(app.followees(1, "?limit=3").await, [2, 3, 4]);
    assert_eq!(app.followees(1, &format!("?limit={many}")).await.len(), many as usize);
    assert!(app.followees(1, "?limit=0").await.is_empty());

    let capped = spawn_app_with(backend, |s| s.own.max_limit = 2).await;
    for b in [7, 8, 9] {
        capped.follow(1, b).await;
    }
    assert_eq!(capped.followees(1, "?limit=1000").await, [7, 8]);
    assert_eq!(capped.followees(1, "").await, [7, 8]);
    assert_eq!(capped.followees(1, &format!("?limit={}", u32::MAX)).await, [7, 8]);
}

async fn count_is_exact(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.count().await, 0);
    for (a, b) in [(1, 2), (1, 3), (2, 1), (3, 1), (1, 2)] {
        app.follow(a, b).await;
    }
    assert_eq!(app.count().await, 4);
    app.unfollow(3, 1).await;
    assert_eq!(app.count().await, 3);
}

async fn the_typed_client_agrees_with_the_service(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = FollowClient::new(http_client(Duration::from_secs(5)), &app.address);
    client.ready("t").await.unwrap();
    client.follow("t", pair(1, 3)).await.unwrap();
    client.follow("t", pair(1, 2)).await.unwrap();
    client.follow("t", pair(1, 2)).await.unwrap();
    assert!(client.is_following("t", pair(1, 2)).await.unwrap());
    assert!(!client.is_following("t", pair(2, 1)).await.unwrap());
    assert_eq!(
        client.followees("t", UserId::stored(1), 10).await.unwrap(),
        [UserId::stored(2), UserId::stored(3)]
    );
    assert_eq!(client.count("t").await.unwrap(), 2);
    client.unfollow("t", pair(1, 2)).await.unwrap();
    client.unfollow("t", pair(1, 2)).await.unwrap();
    assert_eq!(client.followees("t", UserId::stored(1), 10).await.unwrap(), [UserId::stored(3)]);
    let err = client.follow("t", pair(4, 4)).await.unwrap_err();
    assert_eq!(err.refusal(), Some(FollowError::SelfFollow));
    // An id that is not positive cannot be put in a `Follow`: the raw route's
    // `invalid_id` is tested in bad_input.rs.
    assert_eq!(UserId::parse(0), Err(DomainError::IdInvalid));
}

fn pair(follower: i64, followee: i64) -> Follow {
    Follow { follower: UserId::stored(follower), followee: UserId::stored(followee) }
}

async fn health_ready_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/ready").await.status(), 200);
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("db_pool_max_connections"));
    assert!(text.contains("minitwit_follows_total"));
}
