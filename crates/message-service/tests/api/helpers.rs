//! Starts the real service in-process on a free port with a fresh database
//! ([`minitwit_kit::service_test_app!`]), and a helper per route.

use diesel::connection::SimpleConnection;
use minitwit_api::message::{Message, MessagePage};
pub use minitwit_kit::testing::assert_error;
use minitwit_kit::{db::Db, metrics::Metrics, ApiError};
use serde_json::{json, Value};

minitwit_kit::service_test_app!(message_service);

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
