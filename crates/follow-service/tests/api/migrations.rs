//! Every migration goes down and up again on both backends, leaving the constraints.

use diesel::{connection::SimpleConnection, RunQueryDsl};
use minitwit_kit::{
    both_backends,
    db::Db,
    metrics::Metrics,
    testing::{revert_and_migrate, Backend},
    ApiError,
};

use crate::helpers::{settings, spawn_app};

both_backends!(migrations_go_down_and_up_again, the_database_refuses_self_follows_and_duplicates);

async fn migrations_go_down_and_up_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.follow(1, 2).await;
    revert_and_migrate(settings(&app.db).database, &follow_service::MIGRATIONS).await;
    assert_eq!(app.count().await, 0);
    app.follow(1, 2).await;
    app.follow(1, 2).await;
    assert_eq!(app.count().await, 1);
}

/// The table itself keeps the invariants, whoever writes to it.
async fn the_database_refuses_self_follows_and_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = settings(&app.db);
    let db = Db::connect(&s.database, &follow_service::MIGRATIONS, &Metrics::new("t")).unwrap();
    let run = |sql: &'static str| {
        let db = db.clone();
        async move { db.run(move |c| c.batch_execute(sql).map_err(ApiError::from)).await }
    };
    run("INSERT INTO follows (follower_id, followee_id) VALUES (1, 2)").await.unwrap();
    let duplicate = run("INSERT INTO follows (follower_id, followee_id) VALUES (1, 2)").await.unwrap_err();
    assert_eq!(duplicate.status.as_u16(), 409, "{duplicate}");
    let itself = run("INSERT INTO follows (follower_id, followee_id) VALUES (3, 3)").await.unwrap_err();
    assert_eq!(itself.code, "constraint", "{itself}");
    let created: i64 = db
        .run(|c| {
            diesel::sql_query("SELECT created_at AS n FROM follows")
                .get_result::<Row>(c)
                .map(|r| r.n)
                .map_err(ApiError::from)
        })
        .await
        .unwrap();
    assert!(created > 1_700_000_000, "created_at defaults to now: {created}");
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
