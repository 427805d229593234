//! Starts the real service in-process on a free port with a fresh database.

use diesel::connection::SimpleConnection;
use message_service::Settings;
use minitwit_api::message::{Message, MessagePage};
use std::ops::Deref;

pub use minitwit_kit::testing::assert_error;
use minitwit_kit::{
    db::Db,
    metrics::Metrics,
    testing::{Backend, TestClient, TestDatabase},
    ApiError,
};
use serde_json::{json, Value};

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

/// Builds and starts one more instance with `settings` (not waiting for it to be ready).
pub fn start(settings: &Settings) -> TestClient {
    let running = message_service::build(settings, minitwit_kit::logging::discard()).expect("service starts");
    let http = TestClient::new(running.port);
    tokio::spawn(running.server);
    http
}

impl TestApp {
    pub async fn flag(&self, id: i64, flagged: bool) -> reqwest::Response {
        let url = self.url(&format!("/messages/{id}/flag"));
        let req = if flagged { self.client.put(url) } else { self.client.delete(url) };
        req.send().await.expect("request sent")
    }

    /// Posts a message and returns it.
    pub async fn message(&self, author_id: i64, text: &str) -> Message {
        let res = self.post("/messages", &json!({"author_id": author_id, "text": text})).await;
        assert_eq!(res.status(), 201, "posting {text:?}");
        res.json().await.unwrap()
    }

    /// A page of a GET list route.
    pub async fn page(&self, path: &str) -> MessagePage {
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// A page of "my timeline".
    pub async fn authors_page(&self, body: &Value) -> MessagePage {
        let res = self.post("/messages/by-authors", body).await;
        assert_eq!(res.status(), 200, "by-authors {body}");
        res.json().await.unwrap()
    }

    pub async fn count(&self) -> i64 {
        self.get("/messages/count").await.json::<Value>().await.unwrap()["count"].as_i64().unwrap()
    }

    pub async fn latest(&self) -> i64 {
        let res = self.get("/latest").await;
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["latest"].as_i64().unwrap()
    }

    /// Inserts rows straight into the database, to choose their `pub_date`:
    /// `(author_id, pub_date, text)`, in this order (so with increasing ids).
    pub async fn insert_raw(&self, rows: &[(i64, i64, &str)]) {
        let values: Vec<String> =
            rows.iter().map(|(a, d, t)| format!("({a}, '{}', {d})", t.replace('\'', "''"))).collect();
        let sql = format!("INSERT INTO messages (author_id, text, pub_date) VALUES {}", values.join(", "));
        let s = settings(&self.db);
        let db = tokio::task::spawn_blocking(move || {
            Db::connect(&s.database, &message_service::MIGRATIONS, &Metrics::new("t")).unwrap()
        })
        .await
        .unwrap();
        db.run(move |c| c.batch_execute(&sql).map_err(ApiError::from)).await.unwrap();
    }
}

/// The texts of a page, in order.
pub fn texts(page: &MessagePage) -> Vec<&str> {
    page.messages.iter().map(|m| m.text.as_str()).collect()
}
