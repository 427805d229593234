//! Starts the real service in-process on a free port with a fresh database
//! ([`minitwit_kit::service_test_app!`]), and a helper per route.

pub use minitwit_kit::testing::assert_error;
use serde_json::Value;

minitwit_kit::service_test_app!(follow_service);

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
