//! Starts the real service in-process on a free port with a fresh database.

use minitwit_kit::testing::{Backend, TestDatabase};
use serde_json::{json, Value};
use user_service::{Argon2Settings, Settings};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDatabase,
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
    let db = TestDatabase::new(backend);
    let running =
        user_service::build(&settings(&db), minitwit_kit::logging::discard()).expect("service starts");
    let address = format!("http://127.0.0.1:{}", running.port);
    tokio::spawn(running.server);
    TestApp { address, client: reqwest::Client::new(), db }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

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

/// Asserts the status and the JSON error code of an answer.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status, "status of {}", res.url());
    let body: Value = res.json().await.expect("error bodies are JSON");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}
