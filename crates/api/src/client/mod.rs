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
    retry::{causes, Answered, Idempotent, Retries},
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

/// What bounds a call: the client's calls in flight ([`InFlight`]), or, for the calls
/// that hash a password, user-service's own queue for its hashers: a burst of
/// registrations, each waiting there for hundreds of milliseconds, would otherwise
/// hold every slot and queue the lookups of everyone else behind it.
#[derive(Clone, Copy)]
enum Bound {
    InFlight,
    Hasher,
}

/// A bound on the calls in flight to a service, and so on the connections to it (one
/// per call over HTTP/1.1): a call beyond it waits for one to end, within the call's
/// time-out. Without it, a service that stalled for a moment (a lock, a full database
/// pool) had every new call open a new connection, hundreds at once, and over mutual
/// TLS each a handshake that both sides paid in CPU just as the service came back; the
/// bound makes a stall queue calls in the gateway, on connections that stay.
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
        let (Some(retries), Some(again)) = (&self.retries, again) else { return answer };
        let answered = match &answer {
            Err(ClientError::Overloaded { .. }) => Answered::Shed,
            Err(e) if database_unavailable(e) => Answered::DatabaseUnavailable,
            _ => return answer,
        };
        if !answered.sent_again(idempotent) {
            return answer;
        }
        match retries.send_shed_again(service, again, idempotent, start).await {
            Some(sent) => self.answer(Ok(sent)).await,
            None if answered == Answered::Shed => Err(ClientError::Overloaded { service, body: shed_body() }),
            None => answer,
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
            /// counts in (a semaphore: a stall of the service queues calls here instead of
            /// opening a connection per call).
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

/// Whether a service answered `503 database_unavailable`.
fn database_unavailable<E: ServiceError>(e: &ClientError<E>) -> bool {
    let common = Common::DatabaseUnavailable;
    matches!(e, ClientError::Api { status, body, .. } if *status == common.status() && body.error == common.code())
}

/// What a shed call answers when its retry was not sent (budget, time) or failed.
fn shed_body() -> ErrorBody {
    ErrorBody::new(Common::Overloaded.code(), "shed, and not sent again")
}

/// An error and its causes, e.g. `error sending request: client error (SendRequest):
/// connection closed before message completed`.
fn error_chain(e: &reqwest::Error) -> String {
    causes(e).map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

mod follow;
mod message;
mod user;

#[cfg(test)]
mod tests;
