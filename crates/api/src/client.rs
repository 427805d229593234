//! Typed HTTP clients for the three services: a keep-alive connection pool (renewed
//! every max age where the gateway asks, see [`crate::connections`]), a time-out on
//! every call, the caller's request id passed on, an optional observer that sees each
//! call's service, outcome and duration (for metrics), and optional retries of calls
//! that failed harmlessly ([`crate::retry`]).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    connections::Connections,
    domain::{IdempotencyKey, MessageId, MessageText, UserId, Username},
    error::{Common, ServiceError},
    follow::{Follow, FollowError, Followees, Following},
    message::{AuthorsQuery, Latest, Message, MessageError, MessagePage, NewMessage, PageQuery, SetLatest},
    retry::{causes, Idempotent, Retries},
    user::{Credentials, NewUser, SessionGeneration, User, UserError, UserIds},
    Count, ErrorBody,
};

/// What went wrong with a call to a service whose refusals are `E`
/// ([`UserError`], [`MessageError`], [`FollowError`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError<E: ServiceError> {
    /// The service refused the call with one of its own errors.
    #[error("{service} refused: {error}")]
    Refused { service: &'static str, error: E },
    #[error("{service} did not answer within the time-out")]
    Timeout { service: &'static str },
    #[error("{service} is unavailable: {reason}")]
    Unavailable { service: &'static str, reason: String },
    /// The service shed the call ([`Common::Overloaded`]): every database connection of
    /// the replica that answered was busy. It never reached the database.
    #[error("{service} is overloaded: {}", body.message)]
    Overloaded { service: &'static str, body: ErrorBody },
    /// Any other error answer: a [common one](crate::error::Common) (a
    /// body it could not read, a database that does not answer) or an unknown one.
    #[error("{service} answered {status}: {} ({})", body.error, body.message)]
    Api { service: &'static str, status: u16, body: ErrorBody },
    #[error("{service} gave an unexpected answer: {reason}")]
    Protocol { service: &'static str, reason: String },
}

impl<E: ServiceError> ClientError<E> {
    /// The service's own refusal, if that is what this is.
    pub fn refusal(&self) -> Option<E> {
        match self {
            ClientError::Refused { error, .. } => Some(*error),
            _ => None,
        }
    }

    pub fn service(&self) -> &'static str {
        match self {
            ClientError::Refused { service, .. }
            | ClientError::Timeout { service }
            | ClientError::Unavailable { service, .. }
            | ClientError::Overloaded { service, .. }
            | ClientError::Api { service, .. }
            | ClientError::Protocol { service, .. } => service,
        }
    }

    /// The service could not be reached or did not answer in time (or answered 5xx).
    pub fn is_unavailable(&self) -> bool {
        match self {
            ClientError::Timeout { .. }
            | ClientError::Unavailable { .. }
            | ClientError::Overloaded { .. } => true,
            ClientError::Api { status, .. } => *status >= 500,
            ClientError::Refused { .. } | ClientError::Protocol { .. } => false,
        }
    }

    /// The label of the call's outcome in metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            ClientError::Timeout { .. } => "timeout",
            ClientError::Unavailable { .. } => "unavailable",
            ClientError::Overloaded { .. } => "overloaded",
            ClientError::Api { status, .. } if *status >= 500 => "server_error",
            ClientError::Api { .. } | ClientError::Refused { .. } => "client_error",
            ClientError::Protocol { .. } => "server_error",
        }
    }
}

/// Sees every call: service name, outcome (`ok` or [`ClientError::outcome`]), duration.
pub type Observer = Arc<dyn Fn(&'static str, &'static str, Duration) + Send + Sync>;

pub use crate::connections::{http_client, CONNECT_TIMEOUT};

#[derive(Clone)]
struct Base {
    service: &'static str,
    http: Arc<Connections>,
    url: String,
    observer: Option<Observer>,
    retries: Option<Retries>,
    /// `Authorization: Bearer <the services' shared token>`, when there is one.
    token: Option<reqwest::header::HeaderValue>,
    /// The time-out of the calls that hash a password (user-service's register and
    /// login), when longer than the client's: they may queue for a hasher in a burst.
    hash_timeout: Option<Duration>,
    /// At most so many calls in flight, when set ([`InFlight`]).
    in_flight: Option<InFlight>,
}

/// A bound on the calls in flight to a service, and so on the connections to it (one
/// per call over HTTP/1.1): a call beyond it waits for one to end, within the call's
/// time-out. Without it, a service that stalled for a moment (a lock, a full database
/// pool) had every new call open a new connection, hundreds at once, and over mutual
/// TLS each a handshake that both sides paid in CPU just as the service came back; the
/// bound makes a stall queue calls in the gateway, on connections that stay.
/// What bounds a call: the client's calls in flight ([`InFlight`]), or, for the calls
/// that hash a password, user-service's own queue for its hashers: a burst of
/// registrations, each waiting there for hundreds of milliseconds, would otherwise
/// hold every slot and queue the lookups of everyone else behind it.
#[derive(Clone, Copy)]
enum Bound {
    InFlight,
    Hasher,
}

#[derive(Clone)]
struct InFlight {
    slots: Arc<Semaphore>,
    /// The client's call time-out: the longest wait for a slot, and what a call has
    /// left after waiting is its time-out.
    timeout: Duration,
}

impl Base {
    fn new(service: &'static str, http: Connections, url: &str) -> Self {
        Self {
            service,
            http: Arc::new(http),
            url: url.trim_end_matches('/').to_string(),
            observer: None,
            retries: None,
            token: None,
            hash_timeout: None,
            in_flight: None,
        }
    }

    /// `req` with the time-out of a call that hashes a password, when one is set.
    fn hashing(&self, req: RequestBuilder) -> RequestBuilder {
        match self.hash_timeout {
            Some(timeout) => req.timeout(timeout),
            None => req,
        }
    }

    fn request(&self, method: Method, path: &str, rid: &str) -> RequestBuilder {
        let req =
            self.http.client().request(method, format!("{}{path}", self.url)).header("x-request-id", rid);
        match &self.token {
            Some(token) => req.header(reqwest::header::AUTHORIZATION, token.clone()),
            None => req,
        }
    }

    /// Sends the call (once a slot is free, when calls in flight are bounded), and the
    /// answer with the slot, to hold until its body is read.
    async fn call<E: ServiceError>(
        &self,
        req: RequestBuilder,
        idempotent: Idempotent,
        bound: Bound,
    ) -> Result<(reqwest::Response, Option<OwnedSemaphorePermit>), ClientError<E>> {
        let start = Instant::now();
        let slot = match bound {
            Bound::InFlight => self.slot(req).await,
            Bound::Hasher => Ok((req, None)),
        };
        let result = match slot {
            Ok((req, slot)) => self.exchange(req, idempotent, start).await.map(|res| (res, slot)),
            Err(e) => Err(e),
        };
        if let Some(observe) = &self.observer {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.outcome(),
            };
            observe(self.service, outcome, start.elapsed());
        }
        result
    }

    /// A slot for one call in flight, when they are bounded, and `req` with the time it
    /// waited for it taken off its time-out; a time-out when none came free within it.
    async fn slot<E: ServiceError>(
        &self,
        req: RequestBuilder,
    ) -> Result<(RequestBuilder, Option<OwnedSemaphorePermit>), ClientError<E>> {
        let service = self.service;
        let Some(limit) = &self.in_flight else { return Ok((req, None)) };
        if let Ok(slot) = limit.slots.clone().try_acquire_owned() {
            return Ok((req, Some(slot)));
        }
        let waiting = Instant::now();
        let slot = tokio::time::timeout(limit.timeout, limit.slots.clone().acquire_owned())
            .await
            .map_err(|_| ClientError::Timeout { service })?
            .expect("the slots are never closed");
        let (http, request) = req.build_split();
        let mut request =
            request.map_err(|e| ClientError::Unavailable { service, reason: error_chain(&e) })?;
        let budget = request.timeout().copied().unwrap_or(limit.timeout);
        *request.timeout_mut() = Some(budget.saturating_sub(waiting.elapsed()).max(Duration::from_millis(1)));
        Ok((RequestBuilder::from_parts(http, request), Some(slot)))
    }

    /// Sends the request, once more if it failed harmlessly and retries are on; the
    /// answer, or the error answer as a [`ClientError`].
    async fn exchange<E: ServiceError>(
        &self,
        req: RequestBuilder,
        idempotent: Idempotent,
        start: Instant,
    ) -> Result<reqwest::Response, ClientError<E>> {
        let service = self.service;
        let (sent, again) = match &self.retries {
            None => (req.send().await, None),
            Some(retries) => {
                let again = req.try_clone();
                (retries.send(service, req, idempotent, start).await, again)
            }
        };
        let answer = self.answer(sent).await;
        // A shed call never reached the database: sent again whatever it is, on a new
        // connection (likely another replica), within the same time-out and budget.
        // A replica whose database does not answer (not reached yet since it started,
        // or a connection lost under the query) may have done the work or not: an
        // idempotent call is sent again the same way, to a replica that may be ready.
        match (answer, &self.retries, again) {
            (Err(ClientError::Overloaded { .. }), Some(retries), Some(again)) => {
                match retries.send_shed_again(service, again, idempotent, start).await {
                    Some(sent) => self.answer(Ok(sent)).await,
                    None => Err(ClientError::Overloaded { service, body: shed_body() }),
                }
            }
            (Err(e), Some(retries), Some(again))
                if idempotent == Idempotent::Yes && database_unavailable(&e) =>
            {
                match retries.send_shed_again(service, again, idempotent, start).await {
                    Some(sent) => self.answer(Ok(sent)).await,
                    None => Err(e),
                }
            }
            (answer, ..) => answer,
        }
    }

    /// A sent call's answer, or its error answer as a [`ClientError`].
    async fn answer<E: ServiceError>(
        &self,
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<reqwest::Response, ClientError<E>> {
        let service = self.service;
        let res = sent.map_err(|e| {
            if e.is_timeout() {
                ClientError::Timeout { service }
            } else {
                ClientError::Unavailable { service, reason: error_chain(&e) }
            }
        })?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let body = res.json::<ErrorBody>().await.unwrap_or_else(|e| {
            let error = if status >= 500 { Common::Unavailable.code() } else { "unknown" };
            ErrorBody::new(error, format!("no JSON error body: {e}"))
        });
        Err(match E::decode(status, &body) {
            Some(error) => ClientError::Refused { service, error },
            None if status == Common::Overloaded.status()
                && Common::from_code(&body.error) == Some(Common::Overloaded) =>
            {
                ClientError::Overloaded { service, body }
            }
            None => ClientError::Api { service, status, body },
        })
    }

    async fn json<T: DeserializeOwned, E: ServiceError>(
        &self,
        req: RequestBuilder,
        idempotent: Idempotent,
    ) -> Result<T, ClientError<E>> {
        self.json_within(req, idempotent, Bound::InFlight).await
    }

    async fn json_within<T: DeserializeOwned, E: ServiceError>(
        &self,
        req: RequestBuilder,
        idempotent: Idempotent,
        bound: Bound,
    ) -> Result<T, ClientError<E>> {
        let service = self.service;
        let (res, _slot) = self.call(req, idempotent, bound).await?;
        res.json::<T>().await.map_err(|e| {
            if e.is_timeout() {
                ClientError::Timeout { service }
            } else {
                ClientError::Protocol { service, reason: e.to_string() }
            }
        })
    }

    async fn empty<E: ServiceError>(
        &self,
        req: RequestBuilder,
        idempotent: Idempotent,
    ) -> Result<(), ClientError<E>> {
        let (res, _slot) = self.call(req, idempotent, Bound::InFlight).await?;
        if res.status() != StatusCode::NO_CONTENT && res.status() != StatusCode::OK {
            return Err(ClientError::Protocol {
                service: self.service,
                reason: format!("expected 204, got {}", res.status()),
            });
        }
        Ok(())
    }

    async fn health<E: ServiceError>(&self, rid: &str) -> Result<(), ClientError<E>> {
        self.empty(self.request(Method::GET, "/ready", rid), Idempotent::Yes).await
    }
}

/// Generates the constructor and common methods of a client.
macro_rules! client {
    ($name:ident, $service:literal, $error:ty) => {
        #[derive(Clone)]
        pub struct $name(Base);

        impl $name {
            pub const SERVICE: &'static str = $service;

            /// Calls the service at `base_url` with `http`: a `reqwest::Client`, or
            /// [`Connections`] renewed every max age.
            pub fn new(http: impl Into<Connections>, base_url: &str) -> Self {
                Self(Base::new($service, http.into(), base_url))
            }

            pub fn with_observer(mut self, observer: Observer) -> Self {
                self.0.observer = Some(observer);
                self
            }

            /// Retries calls that failed harmlessly, once each ([`crate::retry`]).
            pub fn with_retries(mut self, retries: Retries) -> Self {
                self.0.retries = Some(retries);
                self
            }

            /// At most `calls` calls in flight at once (0: no bound), each waiting for a
            /// slot at most `timeout`, the client's call time-out, which the wait
            /// counts in ([`InFlight`]).
            pub fn with_max_in_flight(mut self, calls: usize, timeout: Duration) -> Self {
                self.0.in_flight =
                    (calls > 0).then(|| InFlight { slots: Arc::new(Semaphore::new(calls)), timeout });
                self
            }

            /// Sends the services' shared token with every call (the services'
            /// `HTTP__SERVICE_TOKEN`); `None` sends none. A token that cannot be a
            /// header value is an error that does not show it.
            pub fn with_service_token(mut self, token: Option<&str>) -> Result<Self, String> {
                self.0.token = match token {
                    None => None,
                    Some(token) => {
                        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                            .map_err(|_| {
                                "the service token holds characters a header cannot carry".to_string()
                            })?;
                        value.set_sensitive(true);
                        Some(value)
                    }
                };
                Ok(self)
            }

            /// Whether the service answers `/ready`.
            pub async fn ready(&self, rid: &str) -> Result<(), ClientError<$error>> {
                self.0.health(rid).await
            }
        }
    };
}

client!(UserClient, "user-service", UserError);
client!(MessageClient, "message-service", MessageError);
client!(FollowClient, "follow-service", FollowError);

impl UserClient {
    /// Gives the calls that hash a password ([`UserClient::register`],
    /// [`UserClient::login`]) `timeout` instead of the client's: in a burst they queue
    /// for one of user-service's hashers (one per core), which a short budget would
    /// turn into 503s of work that was about to be done.
    pub fn with_hash_timeout(mut self, timeout: Duration) -> Self {
        self.0.hash_timeout = Some(timeout);
        self
    }

    /// Not sent again after an ambiguous failure: a retry of a registration that went
    /// through would answer `username_taken`.
    pub async fn register(&self, rid: &str, new: &NewUser) -> Result<User, ClientError<UserError>> {
        let req = self.0.hashing(self.0.request(Method::POST, "/users", rid).json(new));
        self.0.json_within(req, Idempotent::No, Bound::Hasher).await
    }

    pub async fn login(&self, rid: &str, credentials: &Credentials) -> Result<User, ClientError<UserError>> {
        let req = self.0.hashing(self.0.request(Method::POST, "/users/login", rid).json(credentials));
        self.0.json_within(req, Idempotent::Yes, Bound::Hasher).await
    }

    pub async fn by_name(&self, rid: &str, username: &Username) -> Result<User, ClientError<UserError>> {
        let path = format!("/users/by-name/{}", crate::encode_segment(username.as_str()));
        self.0.json(self.0.request(Method::GET, &path, rid), Idempotent::Yes).await
    }

    pub async fn by_id(&self, rid: &str, id: UserId) -> Result<User, ClientError<UserError>> {
        self.0.json(self.0.request(Method::GET, &format!("/users/{id}"), rid), Idempotent::Yes).await
    }

    pub async fn batch(&self, rid: &str, ids: &[UserId]) -> Result<Vec<User>, ClientError<UserError>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let body = UserIds { ids: ids.to_vec() };
        self.0.json(self.0.request(Method::POST, "/users/batch", rid).json(&body), Idempotent::Yes).await
    }

    /// The current generation of the user's web sessions.
    pub async fn session(&self, rid: &str, id: UserId) -> Result<i64, ClientError<UserError>> {
        let path = format!("/users/{id}/session");
        let s: SessionGeneration =
            self.0.json(self.0.request(Method::GET, &path, rid), Idempotent::Yes).await?;
        Ok(s.generation)
    }

    /// Ends every web session of the user; returns the new generation. Safe to send
    /// again: one more generation ends the same sessions.
    pub async fn end_session(&self, rid: &str, id: UserId) -> Result<i64, ClientError<UserError>> {
        let path = format!("/users/{id}/session/end");
        let s: SessionGeneration =
            self.0.json(self.0.request(Method::POST, &path, rid), Idempotent::Yes).await?;
        Ok(s.generation)
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError<UserError>> {
        let c: Count = self.0.json(self.0.request(Method::GET, "/users/count", rid), Idempotent::Yes).await?;
        Ok(c.count)
    }
}

impl MessageClient {
    /// Posts under `key`: sent again after an ambiguous failure, the service answers
    /// the message the first send stored instead of storing it twice.
    pub async fn post(
        &self,
        rid: &str,
        author_id: UserId,
        text: &MessageText,
        key: &IdempotencyKey,
    ) -> Result<Message, ClientError<MessageError>> {
        let body = NewMessage { author_id, text: text.clone(), idempotency_key: Some(key.clone()) };
        self.0.json(self.0.request(Method::POST, "/messages", rid).json(&body), Idempotent::Yes).await
    }

    pub async fn public(
        &self,
        rid: &str,
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        self.0.json(self.0.request(Method::GET, "/messages", rid).query(&query(page)), Idempotent::Yes).await
    }

    pub async fn by_author(
        &self,
        rid: &str,
        author_id: UserId,
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        let path = format!("/messages/by-author/{author_id}");
        self.0.json(self.0.request(Method::GET, &path, rid).query(&query(page)), Idempotent::Yes).await
    }

    pub async fn by_authors(
        &self,
        rid: &str,
        author_ids: &[UserId],
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        let body = AuthorsQuery { author_ids: author_ids.to_vec(), limit: page.limit, before: page.before };
        self.0
            .json(self.0.request(Method::POST, "/messages/by-authors", rid).json(&body), Idempotent::Yes)
            .await
    }

    pub async fn set_flag(
        &self,
        rid: &str,
        id: MessageId,
        flagged: bool,
    ) -> Result<(), ClientError<MessageError>> {
        let method = if flagged { Method::PUT } else { Method::DELETE };
        self.0.empty(self.0.request(method, &format!("/messages/{id}/flag"), rid), Idempotent::Yes).await
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError<MessageError>> {
        let c: Count =
            self.0.json(self.0.request(Method::GET, "/messages/count", rid), Idempotent::Yes).await?;
        Ok(c.count)
    }

    pub async fn latest(&self, rid: &str) -> Result<i64, ClientError<MessageError>> {
        let l: Latest = self.0.json(self.0.request(Method::GET, "/latest", rid), Idempotent::Yes).await?;
        Ok(l.latest)
    }

    /// Idempotent: storing the same value twice stores it once, and a copy that lands
    /// after a newer value changes nothing ([`SetLatest::recorded_at_us`]).
    pub async fn set_latest(&self, rid: &str, latest: SetLatest) -> Result<(), ClientError<MessageError>> {
        self.0.empty(self.0.request(Method::PUT, "/latest", rid).json(&latest), Idempotent::Yes).await
    }
}

/// An error and its causes, e.g. `error sending request: client error (SendRequest):
/// connection closed before message completed`.
/// Whether a service answered `503 database_unavailable`.
fn database_unavailable<E: ServiceError>(e: &ClientError<E>) -> bool {
    let common = Common::DatabaseUnavailable;
    matches!(e, ClientError::Api { status, body, .. } if *status == common.status() && body.error == common.code())
}

/// What a shed call answers when its retry was not sent (budget, time) or failed.
fn shed_body() -> ErrorBody {
    ErrorBody::new(Common::Overloaded.code(), "shed, and not sent again")
}

fn error_chain(e: &reqwest::Error) -> String {
    causes(e).map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

fn pair_path(Follow { follower, followee }: Follow) -> String {
    format!("/follows/{follower}/{followee}")
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
    pub async fn follow(&self, rid: &str, pair: Follow) -> Result<(), ClientError<FollowError>> {
        self.0.empty(self.0.request(Method::PUT, &pair_path(pair), rid), Idempotent::Yes).await
    }

    pub async fn unfollow(&self, rid: &str, pair: Follow) -> Result<(), ClientError<FollowError>> {
        self.0.empty(self.0.request(Method::DELETE, &pair_path(pair), rid), Idempotent::Yes).await
    }

    pub async fn followees(
        &self,
        rid: &str,
        follower: UserId,
        limit: u32,
    ) -> Result<Vec<UserId>, ClientError<FollowError>> {
        let req =
            self.0.request(Method::GET, &format!("/follows/{follower}"), rid).query(&[("limit", limit)]);
        let f: Followees = self.0.json(req, Idempotent::Yes).await?;
        Ok(f.followees)
    }

    pub async fn is_following(&self, rid: &str, pair: Follow) -> Result<bool, ClientError<FollowError>> {
        let req = self.0.request(Method::GET, &pair_path(pair), rid);
        let f: Following = self.0.json(req, Idempotent::Yes).await?;
        Ok(f.following)
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError<FollowError>> {
        let c: Count =
            self.0.json(self.0.request(Method::GET, "/follows/count", rid), Idempotent::Yes).await?;
        Ok(c.count)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Read, Write},
        net::TcpListener,
        sync::{
            atomic::{AtomicUsize, Ordering},
            Mutex,
        },
    };

    use super::*;
    use crate::retry::RetryBudget;

    #[test]
    fn usernames_become_one_path_segment() {
        let enc = crate::encode_segment("Roger Histand/x?y#z%");
        assert_eq!(enc, "Roger%20Histand%2Fx%3Fy%23z%25");
    }

    /// A server on one address that takes each connection's request and then, per
    /// `script` (one entry per connection, in order), closes the connection without an
    /// answer (`None`) or answers `200` with the JSON body. Counts connections.
    fn scripted_server(script: Vec<Option<&'static str>>) -> (String, Arc<AtomicUsize>) {
        scripted_answers(script.into_iter().map(|a| a.map(|body| ("200 OK", body))).collect())
    }

    /// [`scripted_server`] with each answer's status line (`"503 Service Unavailable"`).
    fn scripted_answers(script: Vec<Option<(&'static str, &'static str)>>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        std::thread::spawn(move || {
            for (mut stream, answer) in listener.incoming().map(Result::unwrap).zip(script) {
                seen.fetch_add(1, Ordering::SeqCst);
                read_request(&mut stream);
                if let Some((status, body)) = answer {
                    respond(&mut stream, status, body).unwrap();
                }
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        });
        (url, connections)
    }

    /// Writes an HTTP/1.1 answer with `status` (`"200 OK"`) and the JSON `body`.
    fn respond(stream: &mut std::net::TcpStream, status: &str, body: &str) -> std::io::Result<()> {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())
    }

    /// Reads one HTTP/1.1 request with a `content-length` body (or none).
    fn read_request(stream: &mut std::net::TcpStream) {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "the request head ends");
            buf.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        stream.read_exact(&mut vec![0; length]).unwrap();
    }

    /// Retries as the gateway configures them, and what they did.
    fn retries(percent: u32, min_per_second: u32) -> (Retries, Arc<Mutex<Vec<&'static str>>>) {
        retries_within(Duration::from_secs(5), percent, min_per_second)
    }

    /// Retries of calls whose time-out is `timeout`, and what they did.
    fn retries_within(
        timeout: Duration,
        percent: u32,
        min_per_second: u32,
    ) -> (Retries, Arc<Mutex<Vec<&'static str>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let retries = Retries::new(timeout, RetryBudget::new(percent, min_per_second))
            .with_observer(Arc::new(move |_, outcome| log.lock().unwrap().push(outcome)));
        (retries, seen)
    }

    /// An address whose connects time out, as to a task that is gone: a listener that
    /// never accepts, its backlog full, so the kernel drops further connection attempts.
    struct Unanswered {
        url: String,
        _listener: tokio::net::TcpListener,
        _held: Vec<tokio::net::TcpStream>,
    }

    impl Unanswered {
        async fn start() -> Self {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(0).unwrap();
            let addr = listener.local_addr().unwrap();
            let mut held = Vec::new();
            for _ in 0..4 {
                let connect = tokio::net::TcpStream::connect(addr);
                if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(100), connect).await {
                    held.push(stream);
                }
            }
            Self { url: format!("http://{addr}"), _listener: listener, _held: held }
        }
    }

    fn text(raw: &str) -> MessageText {
        MessageText::parse(raw).unwrap()
    }

    fn ann() -> NewUser {
        NewUser {
            username: crate::domain::Username::parse("ann").unwrap(),
            email: crate::domain::Email::parse("ann@example.com").unwrap(),
            password: crate::domain::Password::parse("pw").unwrap(),
        }
    }

    const MESSAGE: &str = r#"{"id": 1, "author_id": 7, "text": "once", "pub_date": 1, "flagged": false}"#;

    const USER: &str = r#"{"id": 7, "username": "ann", "email": "ann@example.com"}"#;

    #[tokio::test]
    async fn calls_that_hash_a_password_get_their_own_budget() {
        // A registration and a sign-in that wait 400 ms for a hasher, under a 150 ms
        // budget: with the hash budget they complete, without it they time out; other
        // calls keep the short one.
        let (url, _) = delayed_server(vec![Duration::from_millis(400); 8], "200 OK", USER);
        let budget = Duration::from_millis(150);
        let client = |hash: Option<Duration>| {
            let (retries, _) = retries_within(budget, 10, 3);
            let client = UserClient::new(http_client(budget), &url).with_retries(retries);
            match hash {
                Some(t) => client.with_hash_timeout(t),
                None => client,
            }
        };
        let credentials = Credentials {
            username: crate::domain::Username::parse("ann").unwrap(),
            password: crate::domain::Password::parse("pw").unwrap(),
        };
        let patient = client(Some(Duration::from_secs(3)));
        assert_eq!(patient.register("t", &ann()).await.unwrap().username, "ann");
        assert_eq!(patient.login("t", &credentials).await.unwrap().username, "ann");
        let err = patient.by_id("t", UserId::stored(7)).await.unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
        let err = client(None).register("t", &ann()).await.unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_read_cut_off_before_its_answer_is_sent_again_on_a_new_connection() {
        let (url, connections) = scripted_server(vec![None, Some(USER)]);
        let (retries, seen) = retries(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let user = client.by_id("t", UserId::stored(7)).await.unwrap();
        assert_eq!(user.username, "ann");
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), ["ok"]);
    }

    #[tokio::test]
    async fn a_new_user_cut_off_before_its_answer_is_not_sent_again() {
        let (url, connections) = scripted_server(vec![None, Some(USER)]);
        let (retries, seen) = retries(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let err = client.register("t", &ann()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(err.to_string().contains("connection closed before message completed"), "{err}");
        assert_eq!(connections.load(Ordering::SeqCst), 1, "sent once");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_keyed_message_cut_off_before_its_answer_is_sent_again_with_its_key() {
        let (url, connections) = scripted_server(vec![None, Some(MESSAGE)]);
        let (retries, seen) = retries(10, 3);
        let client = MessageClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let key = IdempotencyKey::parse("k-1").unwrap();
        let message = client.post("t", UserId::stored(7), &text("once"), &key).await.unwrap();
        assert_eq!(message.id, MessageId::stored(1));
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), ["ok"]);
    }

    #[tokio::test]
    async fn a_retry_cut_off_too_is_sent_a_last_time_after_a_pause() {
        // Both the call and its retry land on a replica being killed.
        let (url, connections) = scripted_server(vec![None, None, Some(MESSAGE), Some(MESSAGE)]);
        let (retries, seen) = retries(10, 5);
        let client = MessageClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let key = IdempotencyKey::parse("k-1").unwrap();
        let message = client.post("t", UserId::stored(7), &text("once"), &key).await.unwrap();
        assert_eq!(message.id, MessageId::stored(1));
        assert_eq!(connections.load(Ordering::SeqCst), 3, "the call, its retry and the last try");
        assert_eq!(*seen.lock().unwrap(), ["failed", "ok"]);
    }

    #[tokio::test]
    async fn a_call_cut_off_three_times_fails_and_a_new_user_is_not_retried_at_all() {
        let (url, connections) = scripted_server(vec![None, None, None, Some(MESSAGE)]);
        let (message_retries, seen) = retries(10, 5);
        let client =
            MessageClient::new(http_client(Duration::from_secs(5)), &url).with_retries(message_retries);
        let key = IdempotencyKey::parse("k-1").unwrap();
        let err = client.post("t", UserId::stored(7), &text("once"), &key).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(connections.load(Ordering::SeqCst), 3, "never a fourth time");
        assert_eq!(*seen.lock().unwrap(), ["failed", "failed"]);

        let (url, connections) = scripted_server(vec![None, None, Some(USER)]);
        let (user_retries, seen) = retries(10, 5);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(user_retries);
        client.register("t", &ann()).await.unwrap_err();
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert!(seen.lock().unwrap().is_empty());
    }

    const SHED: (&str, &str) = (
        "503 Service Unavailable",
        r#"{"error": "overloaded", "message": "every database connection is busy"}"#,
    );

    #[tokio::test]
    async fn a_shed_call_is_sent_again_even_a_new_user() {
        let (url, connections) = scripted_answers(vec![Some(SHED), Some(("201 Created", USER))]);
        let (retries, seen) = retries(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let user = client.register("t", &ann()).await.unwrap();
        assert_eq!(user.username, "ann");
        assert_eq!(connections.load(Ordering::SeqCst), 2, "sent again on a new connection");
        assert_eq!(*seen.lock().unwrap(), ["ok"]);
    }

    #[tokio::test]
    async fn a_call_shed_twice_is_overloaded_and_retried_once_only() {
        let (url, connections) = scripted_answers(vec![Some(SHED), Some(SHED), Some(("200 OK", USER))]);
        let (retries, seen) = retries(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let err = client.by_id("t", UserId::stored(7)).await.unwrap_err();
        assert!(matches!(err, ClientError::Overloaded { .. }), "{err}");
        assert!(err.is_unavailable());
        assert_eq!(err.outcome(), "overloaded");
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), ["failed"]);
    }

    const NOT_READY: (&str, &str) = (
        "503 Service Unavailable",
        r#"{"error": "database_unavailable", "message": "the database is not reachable yet"}"#,
    );

    #[tokio::test]
    async fn a_read_whose_database_does_not_answer_is_sent_again() {
        let (url, connections) = scripted_answers(vec![Some(NOT_READY), Some(("200 OK", USER))]);
        let (retries, seen) = retries(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        assert_eq!(client.by_id("t", UserId::stored(7)).await.unwrap().username, "ann");
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), ["ok"]);
    }

    #[tokio::test]
    async fn a_new_user_whose_database_does_not_answer_is_not_sent_again() {
        let (url, connections) = scripted_answers(vec![Some(NOT_READY), Some(("201 Created", USER))]);
        let (retries, seen) = retries(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let err = client.register("t", &ann()).await.unwrap_err();
        assert!(matches!(err, ClientError::Api { status: 503, .. }), "{err}");
        assert_eq!(connections.load(Ordering::SeqCst), 1, "sent once");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_shed_call_is_not_sent_again_beyond_the_budget() {
        let (url, connections) = scripted_answers(vec![Some(SHED), Some(("200 OK", USER))]);
        let (retries, seen) = retries(0, 0);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let err = client.by_id("t", UserId::stored(7)).await.unwrap_err();
        assert!(matches!(err, ClientError::Overloaded { .. }), "{err}");
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.lock().unwrap(), ["budget_exhausted"]);
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_once_even_for_a_new_user() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (retries, seen) = retries(10, 3);
        let url = format!("http://127.0.0.1:{port}");
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        let err = client.register("t", &ann()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(*seen.lock().unwrap(), ["failed"]);
    }

    #[tokio::test]
    async fn a_connect_that_times_out_is_retried_even_for_a_new_user() {
        let unanswered = Unanswered::start().await;
        let (retries, seen) = retries(10, 3);
        let client =
            UserClient::new(http_client(Duration::from_secs(5)), &unanswered.url).with_retries(retries);
        let start = Instant::now();
        let err = client.register("t", &ann()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(*seen.lock().unwrap(), ["failed"], "retried once: {err}");
        assert!(start.elapsed() < Duration::from_secs(2), "two connect time-outs, not the call's");
    }

    #[tokio::test]
    async fn no_retry_once_the_call_has_no_time_left() {
        let unanswered = Unanswered::start().await;
        // The call's 200 ms are spent when its connect times out (CONNECT_TIMEOUT).
        let (retries, seen) = retries_within(Duration::from_millis(200), 10, 3);
        let client =
            UserClient::new(http_client(Duration::from_secs(5)), &unanswered.url).with_retries(retries);
        let err = client.register("t", &ann()).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert_eq!(*seen.lock().unwrap(), ["no_time_left"], "{err}");
    }

    #[tokio::test]
    async fn no_retry_beyond_the_budget() {
        let (url, connections) = scripted_server(vec![None, Some(USER)]);
        let (retries, seen) = retries(0, 0);
        let client = UserClient::new(http_client(Duration::from_secs(5)), &url).with_retries(retries);
        assert!(client.by_id("t", UserId::stored(7)).await.unwrap_err().is_unavailable());
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert_eq!(*seen.lock().unwrap(), ["budget_exhausted"]);
    }

    /// A server that answers each connection's request in a thread of its own, after
    /// the delay `delays` gives for that connection (in order; 0 once they run out),
    /// `status` with `body`. Counts connections.
    fn delayed_server(
        delays: Vec<Duration>,
        status: &'static str,
        body: &'static str,
    ) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let mut stream = stream.unwrap();
                seen.fetch_add(1, Ordering::SeqCst);
                let delay = delays.get(n).copied().unwrap_or_default();
                std::thread::spawn(move || {
                    read_request(&mut stream);
                    std::thread::sleep(delay);
                    let _ = respond(&mut stream, status, body);
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        (url, connections)
    }

    /// Retries whose calls have 2 s, hedged after 50 ms.
    fn hedged(percent: u32, min_per_second: u32) -> (Retries, Arc<Mutex<Vec<&'static str>>>) {
        let (retries, seen) = retries_within(Duration::from_secs(2), percent, min_per_second);
        (retries.with_hedge(Duration::from_millis(50)), seen)
    }

    /// `calls` calls of `call` at once; the answers, and how long they took together.
    async fn at_once<T: Send + 'static>(
        calls: usize,
        call: impl Fn() -> tokio::task::JoinHandle<T>,
    ) -> (Vec<T>, Duration) {
        let start = Instant::now();
        let handles: Vec<_> = (0..calls).map(|_| call()).collect();
        let mut answers = Vec::new();
        for handle in handles {
            answers.push(handle.await.unwrap());
        }
        (answers, start.elapsed())
    }

    #[tokio::test]
    async fn calls_beyond_the_bound_wait_for_a_slot_and_then_go() {
        // 6 calls of 150 ms each, 2 in flight at most: three rounds, every call answered.
        let (url, connections) = delayed_server(vec![Duration::from_millis(150); 6], "200 OK", USER);
        let timeout = Duration::from_secs(2);
        // No connection kept: this server closes each after its answer.
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(timeout).build().unwrap();
        let client = UserClient::new(http, &url).with_max_in_flight(2, timeout);
        let (answers, took) = at_once(6, || {
            let client = client.clone();
            tokio::spawn(async move { client.by_id("t", UserId::stored(7)).await })
        })
        .await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert!(took >= Duration::from_millis(440), "6 calls of 150 ms, 2 at a time, took {took:?}");
        assert_eq!(connections.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn a_call_that_finds_no_slot_within_its_time_out_times_out_unsent() {
        let (url, connections) = delayed_server(vec![Duration::from_millis(600); 2], "200 OK", USER);
        let timeout = Duration::from_millis(300);
        let client =
            UserClient::new(http_client(Duration::from_secs(2)), &url).with_max_in_flight(1, timeout);
        let (answers, _) = at_once(2, || {
            let client = client.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                (client.by_id("t", UserId::stored(7)).await, start.elapsed())
            })
        })
        .await;
        let (timed_out, waited): (Vec<_>, Vec<_>) =
            answers.into_iter().filter(|(r, _)| r.is_err()).map(|(r, took)| (r.unwrap_err(), took)).unzip();
        assert_eq!(timed_out.len(), 1, "one call had the slot, the other none: {timed_out:?}");
        assert!(matches!(timed_out[0], ClientError::Timeout { .. }), "{}", timed_out[0]);
        assert!(waited[0] < Duration::from_millis(550), "gave up after its time-out: {:?}", waited[0]);
        assert_eq!(connections.load(Ordering::SeqCst), 1, "the second call was never sent");
    }

    #[tokio::test]
    async fn calls_that_hash_a_password_take_no_slot() {
        // 4 registrations of 200 ms at once, bound 1: they go together, not one by one.
        let (url, connections) = delayed_server(vec![Duration::from_millis(200); 4], "201 Created", USER);
        let timeout = Duration::from_secs(2);
        let client = UserClient::new(http_client(timeout), &url).with_max_in_flight(1, timeout);
        let (answers, took) = at_once(4, || {
            let client = client.clone();
            tokio::spawn(async move { client.register("t", &ann()).await })
        })
        .await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert!(took < Duration::from_millis(700), "{took:?}");
        assert_eq!(connections.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_stalled_replica_costs_a_read_the_hedge_delay_not_the_time_out() {
        let (url, connections) = delayed_server(vec![Duration::from_secs(5)], "200 OK", USER);
        let (retries, seen) = hedged(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_retries(retries);
        let start = Instant::now();
        let user = client.by_id("t", UserId::stored(7)).await.unwrap();
        assert_eq!(user.username, "ann");
        assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), ["hedge_ok"]);
    }

    #[tokio::test]
    async fn the_answer_a_hedge_made_unneeded_is_still_read_and_its_connection_kept() {
        // A keep-alive server whose first connection answers its first call after
        // 300 ms, everything else at once. The call is hedged after 50 ms, the hedge
        // (a second connection) answers first; the first call is read to its end, so
        // its connection stays open, and the next calls go on the two there are.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (seen, ended) = (accepted.clone(), closed.clone());
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let mut stream = stream.unwrap();
                seen.fetch_add(1, Ordering::SeqCst);
                let ended = ended.clone();
                std::thread::spawn(move || {
                    for call in 0.. {
                        let mut byte = [0u8; 1];
                        if stream.peek(&mut byte).map_or(true, |read| read == 0) {
                            break;
                        }
                        read_request(&mut stream);
                        if n == 0 && call == 0 {
                            std::thread::sleep(Duration::from_millis(300));
                        }
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{USER}",
                            USER.len()
                        );
                        if std::io::Write::write_all(&mut stream, answer.as_bytes()).is_err() {
                            break;
                        }
                    }
                    ended.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        let (retries, seen) = hedged(100, 100);
        let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_retries(retries);
        client.by_id("t", UserId::stored(7)).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["hedge_ok"]);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(closed.load(Ordering::SeqCst), 0, "the unneeded call's connection was not closed");
        for _ in 0..3 {
            client.by_id("t", UserId::stored(7)).await.unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "no connection opened after the hedge");
    }

    #[tokio::test]
    async fn a_fast_answer_is_not_hedged() {
        let (url, connections) = delayed_server(vec![], "200 OK", USER);
        let (retries, seen) = hedged(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_retries(retries);
        client.by_id("t", UserId::stored(7)).await.unwrap();
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_slow_first_answer_that_comes_first_is_taken() {
        // The hedge's replica is slower still: the first answer wins, the hedge is unused.
        let (url, connections) =
            delayed_server(vec![Duration::from_millis(150), Duration::from_secs(5)], "200 OK", USER);
        let (retries, seen) = hedged(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_retries(retries);
        let start = Instant::now();
        client.by_id("t", UserId::stored(7)).await.unwrap();
        assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), ["hedge_unused"]);
    }

    #[tokio::test]
    async fn a_new_user_is_never_sent_twice_however_slow() {
        let (url, connections) = delayed_server(vec![Duration::from_millis(300)], "201 Created", USER);
        let (retries, seen) = hedged(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_retries(retries);
        client.register("t", &ann()).await.unwrap();
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn no_hedge_beyond_the_budget() {
        let (url, connections) = delayed_server(vec![Duration::from_millis(300)], "200 OK", USER);
        let (retries, seen) = hedged(0, 0);
        let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_retries(retries);
        client.by_id("t", UserId::stored(7)).await.unwrap();
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_hedge_answered_503_is_not_taken() {
        // Both replicas answer 503 (the second at once): the first's answer stands.
        let (url, connections) =
            delayed_server(vec![Duration::from_millis(200)], "503 Service Unavailable", NOT_READY.1);
        let (retries, seen) = hedged(10, 3);
        let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_retries(retries);
        let err = client.by_id("t", UserId::stored(7)).await.unwrap_err();
        assert!(matches!(err, ClientError::Api { status: 503, .. }), "{err}");
        assert!(connections.load(Ordering::SeqCst) >= 2);
        assert_eq!(seen.lock().unwrap().first(), Some(&"hedge_unused"));
    }

    #[tokio::test]
    async fn an_unreachable_service_is_unavailable_quickly() {
        let client = UserClient::new(http_client(Duration::from_millis(300)), "http://127.0.0.1:1");
        let start = Instant::now();
        let err = client.by_id("t", UserId::stored(1)).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
