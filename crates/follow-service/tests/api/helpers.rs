//! Starts the real service in-process on a free port with a fresh database.

use std::ops::Deref;

use follow_service::Settings;
pub use minitwit_kit::testing::assert_error;
use minitwit_kit::testing::{Backend, TestClient, TestDatabase};
use serde_json::Value;

pub struct TestApp {
    pub http: TestClient,
    pub db: TestDatabase,
}

impl Deref for TestApp {
    type Target = TestClient;

    fn deref(&self) -> &TestClient {
        &self.http
    }
}

pub fn settings(db: &TestDatabase) -> Settings {
    let mut s = Settings::default();
    s.http.port = 0;
    s.database.url = db.url.clone().into();
    s.database.pool_size = 4;
    s
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the service with settings adjusted by `adjust`.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDatabase::new(backend);
    let mut s = settings(&db);
    adjust(&mut s);
    let http = start(&s);
    http.wait_ready().await;
    TestApp { http, db }
}

/// Starts the service on `db` without waiting for it to be ready.
pub fn spawn_app_on(db: TestDatabase) -> TestApp {
    TestApp { http: start(&settings(&db)), db }
}

fn start(settings: &Settings) -> TestClient {
    let running = follow_service::build(settings, minitwit_kit::logging::discard()).expect("service starts");
    let http = TestClient::new(running.port);
    tokio::spawn(running.server);
    http
}

impl TestApp {
    /// PUT /follows/{a}/{b}, asserting 204.
    pub async fn follow(&self, a: i64, b: i64) {
        let res = self.put_empty(&format!("/follows/{a}/{b}")).await;
        assert_eq!(res.status(), 204, "{a} follows {b}");
    }

    /// DELETE /follows/{a}/{b}, asserting 204.
    pub async fn unfollow(&self, a: i64, b: i64) {
        let res = self.delete(&format!("/follows/{a}/{b}")).await;
        assert_eq!(res.status(), 204, "{a} unfollows {b}");
    }

    pub async fn is_following(&self, a: i64, b: i64) -> bool {
        let res = self.get(&format!("/follows/{a}/{b}")).await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["following"].as_bool().expect("a boolean")
    }

    /// GET /follows/{a}{query}, asserting 200.
    pub async fn followees(&self, a: i64, query: &str) -> Vec<i64> {
        let res = self.get(&format!("/follows/{a}{query}")).await;
        assert_eq!(res.status(), 200, "followees of {a}{query}");
        let body: Value = res.json().await.unwrap();
        body["followees"].as_array().expect("a list").iter().map(|v| v.as_i64().unwrap()).collect()
    }

    pub async fn count(&self) -> i64 {
        self.get("/follows/count").await.json::<Value>().await.unwrap()["count"].as_i64().unwrap()
    }
}
