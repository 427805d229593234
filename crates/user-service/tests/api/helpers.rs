//! Starts the real service in-process on a free port with a fresh database
//! ([`minitwit_kit::service_test_app!`]), and a helper per route.

pub use minitwit_kit::testing::assert_error;
use minitwit_kit::testing::{TestClient, TestDatabase};
use serde_json::{json, Value};
use user_service::Argon2Settings;

// Password hashing as cheap as argon2 allows: tests register many users.
minitwit_kit::service_test_app!(user_service, |s| {
    s.own.argon2 = Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 }
});

/// Starts one more instance on `db`, without waiting for it to be ready.
pub fn start_on(db: &TestDatabase) -> TestClient {
    start(&settings(db))
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
