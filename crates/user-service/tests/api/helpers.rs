//! Starts the real service in-process on a free port with a fresh database.

use std::ops::Deref;

pub use minitwit_kit::testing::assert_error;
use minitwit_kit::testing::{Backend, TestClient, TestDatabase};
use serde_json::{json, Value};
use user_service::{Argon2Settings, Settings};

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
    s.argon2 = Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 };
    s
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let app = spawn_app_on(TestDatabase::new(backend));
    app.wait_ready().await;
    app
}

/// Starts the service on `db` without waiting for it to be ready.
pub fn spawn_app_on(db: TestDatabase) -> TestApp {
    TestApp { http: start_on(&db), db }
}

/// Starts one more instance on `db`, without waiting for it to be ready.
pub fn start_on(db: &TestDatabase) -> TestClient {
    let running =
        user_service::build(&settings(db), minitwit_kit::logging::discard()).expect("service starts");
    let http = TestClient::new(running.port);
    tokio::spawn(running.server);
    http
}

impl TestApp {
    pub async fn register(&self, username: &str, email: &str, password: &str) -> reqwest::Response {
        self.post("/users", &json!({"username": username, "email": email, "password": password})).await
    }

    /// Registers and returns the new user's id.
    pub async fn user(&self, username: &str) -> i64 {
        let res = self.register(username, &format!("{}@example.com", username.replace(' ', ".")), "pw").await;
        assert_eq!(res.status(), 201, "registering {username}");
        res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }
}
