use minitwit_kit::{
    both_backends,
    testing::{revert_and_migrate, Backend},
};

use crate::helpers::{settings, spawn_app};

both_backends!(migrations_go_down_and_up_again);

async fn migrations_go_down_and_up_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user("before").await;
    revert_and_migrate(settings(&app.db).database, &user_service::MIGRATIONS).await;
    assert_eq!(app.register("after", "a@b", "pw").await.status(), 201);
}
