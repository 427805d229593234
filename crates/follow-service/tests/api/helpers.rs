//! Starts the real service in-process on a free port with a fresh database.

use follow_service::Settings;
use minitwit_kit::testing::{Backend, TestDatabase};
use serde_json::Value;

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
    let running = follow_service::build(&s, minitwit_kit::logging::discard()).expect("service starts");
    let address = format!("http://127.0.0.1:{}", running.port);
    tokio::spawn(running.server);
    TestApp { address, client: reqwest::Client::new(), db }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn put(&self, path: &str) -> reqwest::Response {
        self.client.put(self.url(path)).send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.expect("request sent")
    }

    /// PUT /follows/{a}/{b}, asserting 204.
    pub async fn follow(&self, a: i64, b: i64) {
        let res = self.put(&format!("/follows/{a}/{b}")).await;
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

    /// The value of an unlabelled (but for `service`) counter in /metrics.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} exported"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
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
