//! Typed HTTP clients for the three services: one shared keep-alive connection pool,
//! a time-out on every call, the caller's request id passed on, and an optional
//! observer that sees each call's service, outcome and duration (for metrics).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::{
    follow::{Followees, Following},
    message::{AuthorsQuery, Latest, Message, MessagePage, NewMessage, PageQuery},
    user::{Credentials, NewUser, User, UserIds},
    Count, ErrorBody,
};

/// Everything but unreserved characters is escaped, so a username is one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{service} did not answer within the time-out")]
    Timeout { service: &'static str },
    #[error("{service} is unavailable: {reason}")]
    Unavailable { service: &'static str, reason: String },
    /// The service answered with an error status and its JSON error body.
    #[error("{service} answered {status}: {} ({})", body.error, body.message)]
    Api { service: &'static str, status: u16, body: ErrorBody },
    #[error("{service} gave an unexpected answer: {reason}")]
    Protocol { service: &'static str, reason: String },
}

impl ClientError {
    /// The machine code of an error answer, if the service gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service could not be reached or did not answer in time (or answered 5xx).
    pub fn is_unavailable(&self) -> bool {
        match self {
            ClientError::Timeout { .. } | ClientError::Unavailable { .. } => true,
            ClientError::Api { status, .. } => *status >= 500,
            ClientError::Protocol { .. } => false,
        }
    }

    /// The label of the call's outcome in metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            ClientError::Timeout { .. } => "timeout",
            ClientError::Unavailable { .. } => "unavailable",
            ClientError::Api { status, .. } if *status >= 500 => "server_error",
            ClientError::Api { .. } => "client_error",
            ClientError::Protocol { .. } => "server_error",
        }
    }
}

/// Sees every call: service name, outcome (`ok` or [`ClientError::outcome`]), duration.
pub type Observer = Arc<dyn Fn(&'static str, &'static str, Duration) + Send + Sync>;

/// Builds the HTTP client shared by all service clients of a process.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .pool_max_idle_per_host(64)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .expect("a plain HTTP client always builds")
}

#[derive(Clone)]
struct Base {
    service: &'static str,
    http: reqwest::Client,
    url: String,
    observer: Option<Observer>,
}

impl Base {
    fn new(service: &'static str, http: reqwest::Client, url: &str) -> Self {
        Self { service, http, url: url.trim_end_matches('/').to_string(), observer: None }
    }

    fn request(&self, method: Method, path: &str, rid: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url)).header("x-request-id", rid)
    }

    async fn call(&self, req: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let start = Instant::now();
        let result = self.exchange(req).await;
        if let Some(observe) = &self.observer {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.outcome(),
            };
            observe(self.service, outcome, start.elapsed());
        }
        result
    }

    async fn exchange(&self, req: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let service = self.service;
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                ClientError::Timeout { service }
            } else {
                ClientError::Unavailable { service, reason: e.to_string() }
            }
        })?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let body = res.json::<ErrorBody>().await.unwrap_or_else(|e| ErrorBody {
            error: if status >= 500 { "unavailable".into() } else { "unknown".into() },
            message: format!("no JSON error body: {e}"),
        });
        Err(ClientError::Api { service, status, body })
    }

    async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ClientError> {
        let service = self.service;
        let res = self.call(req).await?;
        res.json::<T>().await.map_err(|e| {
            if e.is_timeout() {
                ClientError::Timeout { service }
            } else {
                ClientError::Protocol { service, reason: e.to_string() }
            }
        })
    }

    async fn empty(&self, req: RequestBuilder) -> Result<(), ClientError> {
        let res = self.call(req).await?;
        if res.status() != StatusCode::NO_CONTENT && res.status() != StatusCode::OK {
            return Err(ClientError::Protocol {
                service: self.service,
                reason: format!("expected 204, got {}", res.status()),
            });
        }
        Ok(())
    }

    async fn health(&self, rid: &str) -> Result<(), ClientError> {
        self.empty(self.request(Method::GET, "/ready", rid)).await
    }
}

/// Generates the constructor and common methods of a client.
macro_rules! client {
    ($name:ident, $service:literal) => {
        #[derive(Clone)]
        pub struct $name(Base);

        impl $name {
            pub const SERVICE: &'static str = $service;

            pub fn new(http: reqwest::Client, base_url: &str) -> Self {
                Self(Base::new($service, http, base_url))
            }

            pub fn with_observer(mut self, observer: Observer) -> Self {
                self.0.observer = Some(observer);
                self
            }

            /// Whether the service answers `/ready`.
            pub async fn ready(&self, rid: &str) -> Result<(), ClientError> {
                self.0.health(rid).await
            }
        }
    };
}

client!(UserClient, "user-service");
client!(MessageClient, "message-service");
client!(FollowClient, "follow-service");

impl UserClient {
    pub async fn register(&self, rid: &str, new: &NewUser) -> Result<User, ClientError> {
        self.0.json(self.0.request(Method::POST, "/users", rid).json(new)).await
    }

    pub async fn login(&self, rid: &str, credentials: &Credentials) -> Result<User, ClientError> {
        self.0.json(self.0.request(Method::POST, "/users/login", rid).json(credentials)).await
    }

    pub async fn by_name(&self, rid: &str, username: &str) -> Result<User, ClientError> {
        let path = format!("/users/by-name/{}", utf8_percent_encode(username, SEGMENT));
        self.0.json(self.0.request(Method::GET, &path, rid)).await
    }

    pub async fn by_id(&self, rid: &str, id: i64) -> Result<User, ClientError> {
        self.0.json(self.0.request(Method::GET, &format!("/users/{id}"), rid)).await
    }

    pub async fn batch(&self, rid: &str, ids: &[i64]) -> Result<Vec<User>, ClientError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let body = UserIds { ids: ids.to_vec() };
        self.0.json(self.0.request(Method::POST, "/users/batch", rid).json(&body)).await
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError> {
        let c: Count = self.0.json(self.0.request(Method::GET, "/users/count", rid)).await?;
        Ok(c.count)
    }
}

impl MessageClient {
    pub async fn post(&self, rid: &str, author_id: i64, text: &str) -> Result<Message, ClientError> {
        let body = NewMessage { author_id, text: text.to_string() };
        self.0.json(self.0.request(Method::POST, "/messages", rid).json(&body)).await
    }

    pub async fn public(&self, rid: &str, page: &PageQuery) -> Result<MessagePage, ClientError> {
        self.0.json(self.0.request(Method::GET, "/messages", rid).query(&query(page))).await
    }

    pub async fn by_author(
        &self,
        rid: &str,
        author_id: i64,
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError> {
        let path = format!("/messages/by-author/{author_id}");
        self.0.json(self.0.request(Method::GET, &path, rid).query(&query(page))).await
    }

    pub async fn by_authors(
        &self,
        rid: &str,
        author_ids: &[i64],
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError> {
        let body = AuthorsQuery { author_ids: author_ids.to_vec(), limit: page.limit, before: page.before };
        self.0.json(self.0.request(Method::POST, "/messages/by-authors", rid).json(&body)).await
    }

    pub async fn set_flag(&self, rid: &str, id: i64, flagged: bool) -> Result<(), ClientError> {
        let method = if flagged { Method::PUT } else { Method::DELETE };
        self.0.empty(self.0.request(method, &format!("/messages/{id}/flag"), rid)).await
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError> {
        let c: Count = self.0.json(self.0.request(Method::GET, "/messages/count", rid)).await?;
        Ok(c.count)
    }

    pub async fn latest(&self, rid: &str) -> Result<i64, ClientError> {
        let l: Latest = self.0.json(self.0.request(Method::GET, "/latest", rid)).await?;
        Ok(l.latest)
    }

    pub async fn set_latest(&self, rid: &str, latest: i64) -> Result<(), ClientError> {
        self.0.empty(self.0.request(Method::PUT, "/latest", rid).json(&Latest { latest })).await
    }
}

fn query(page: &PageQuery) -> Vec<(&'static str, String)> {
    let mut q = Vec::with_capacity(2);
    if let Some(limit) = page.limit {
        q.push(("limit", limit.to_string()));
    }
    if let Some(before) = page.before {
        q.push(("before", before.to_string()));
    }
    q
}

impl FollowClient {
    pub async fn follow(&self, rid: &str, follower: i64, followee: i64) -> Result<(), ClientError> {
        self.0.empty(self.0.request(Method::PUT, &format!("/follows/{follower}/{followee}"), rid)).await
    }

    pub async fn unfollow(&self, rid: &str, follower: i64, followee: i64) -> Result<(), ClientError> {
        self.0.empty(self.0.request(Method::DELETE, &format!("/follows/{follower}/{followee}"), rid)).await
    }

    pub async fn followees(&self, rid: &str, follower: i64, limit: u32) -> Result<Vec<i64>, ClientError> {
        let req =
            self.0.request(Method::GET, &format!("/follows/{follower}"), rid).query(&[("limit", limit)]);
        let f: Followees = self.0.json(req).await?;
        Ok(f.followees)
    }

    pub async fn is_following(&self, rid: &str, follower: i64, followee: i64) -> Result<bool, ClientError> {
        let path = format!("/follows/{follower}/{followee}");
        let f: Following = self.0.json(self.0.request(Method::GET, &path, rid)).await?;
        Ok(f.following)
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError> {
        let c: Count = self.0.json(self.0.request(Method::GET, "/follows/count", rid)).await?;
        Ok(c.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_become_one_path_segment() {
        let enc = utf8_percent_encode("Roger Histand/x?y#z%", SEGMENT).to_string();
        assert_eq!(enc, "Roger%20Histand%2Fx%3Fy%23z%25");
    }

    #[tokio::test]
    async fn an_unreachable_service_is_unavailable_quickly() {
        let client = UserClient::new(http_client(Duration::from_millis(300)), "http://127.0.0.1:1");
        let start = Instant::now();
        let err = client.by_id("t", 1).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
