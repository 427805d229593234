use minitwit_kit::{both_backends, db::Db, metrics::Metrics, testing::Backend};

use crate::helpers::{settings, spawn_app};

both_backends!(migrations_go_down_and_up_again);

async fn migrations_go_down_and_up_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("before").await;
    let s = settings(&app.db);
    tokio::task::spawn_blocking(move || {
        let db = Db::connect(&s.database, &user_service::MIGRATIONS, &Metrics::new("t")).unwrap();
        db.revert_all(&user_service::MIGRATIONS).unwrap();
        db.migrate(&user_service::MIGRATIONS).unwrap();
    })
    .await
    .unwrap();
    assert_eq!(app.register("after", "a@b", "pw").await.status(), 201);
}
