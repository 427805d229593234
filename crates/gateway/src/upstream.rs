//! The three services as the gateway sees them: typed clients with a time-out and
//! metrics on every call, connections renewed every max age so calls follow each
//! service's replicas (see [`minitwit_api::connections`]), one retry of a call that
//! failed harmlessly (within a budget per service, see [`minitwit_api::retry`]), and
//! caches of what never changes (a user's id, name and email), so a simulator write
//! costs one internal call, not three.
//!
//! Handlers call the services through [`Upstream::for_request`]: a view that carries
//! the request's id into every call and keeps the user caches right by itself (a user
//! registered or signed in is remembered), so no handler has to remember either.

use std::{collections::HashMap, sync::Arc, time::Duration};

use minitwit_api::{
    client::{ClientError, FollowClient, MessageClient, Observer, UserClient},
    connections::Connections,
    domain::{DomainError, IdempotencyKey, MessageText, UserId, Username},
    follow::{Follow, FollowError},
    message::{Message, MessageError, MessagePage, PageQuery},
    retry::{outcome, Retries, RetryBudget, RetryObserver},
    user::{Credentials, NewUser, User, UserError},
};
use minitwit_kit::{metrics::Metrics, server::RequestId};
use prometheus::IntCounterVec;
use quick_cache::sync::Cache;
use secrecy::ExposeSecret;

use crate::settings::{CacheSettings, ServicesSettings};

#[derive(Clone)]
pub struct Upstream {
    users: UserClient,
    /// Also used by the `latest` recorder ([`crate::latest`]).
    pub messages: MessageClient,
    follows: FollowClient,
    by_name: Arc<Cache<String, Arc<User>>>,
    by_id: Arc<Cache<UserId, Arc<User>>>,
    cache_requests: IntCounterVec,
}

impl Upstream {
    /// Fails when the services' URLs or TLS settings are unusable
    /// ([`ServicesSettings::client_tls`]) or their token cannot be sent as a header.
    pub fn new(
        services: &ServicesSettings,
        cache: &CacheSettings,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let calls = metrics.counter_vec(
            "upstream_requests_total",
            "Calls to the services, by service and outcome",
            &["upstream", "outcome"],
        );
        let latency = metrics.histogram_vec(
            "upstream_request_duration_seconds",
            "Time a call to a service took",
            &["upstream"],
        );
        let observer: Observer = Arc::new(move |service, outcome, elapsed| {
            calls.with_label_values(&[service, outcome]).inc();
            latency.with_label_values(&[service]).observe(elapsed.as_secs_f64());
        });
        // `upstream`, not `service`: every series already has `service` (this process).
        let retried = metrics.counter_vec(
            "upstream_retries_total",
            "Calls to the services sent again after a harmless failure, by outcome of the retry \
             (ok, failed; budget_exhausted and no_time_left: due but not sent), and slow \
             idempotent calls sent twice (hedge_ok: the second answer was taken; hedge_unused)",
            &["upstream", "outcome"],
        );
        // Every series from the start, at 0: `rate()` and the alerts then see the first
        // retry too (a counter that appears at 1 has no increase).
        for service in [UserClient::SERVICE, MessageClient::SERVICE, FollowClient::SERVICE] {
            for outcome in outcome::ALL {
                retried.with_label_values(&[service, outcome]);
            }
        }
        let on_retry: RetryObserver =
            Arc::new(move |service, outcome| retried.with_label_values(&[service, outcome]).inc());
        let timeout = Duration::from_millis(services.timeout_ms);
        // One budget per service: retries to one cannot eat another's.
        let tls = services.client_tls()?;
        let retries = || {
            let budget = RetryBudget::new(services.retry_budget_percent, services.retry_min_per_second);
            let retries = Retries::new(timeout, budget)
                .with_hedge(Duration::from_millis(services.hedge_after_ms))
                .with_observer(on_retry.clone());
            match &tls {
                Some(tls) => retries.with_tls(tls),
                None => retries,
            }
        };
        // One pool per service, each renewed on its own.
        let max_age = Duration::from_millis(services.connection_max_age_ms);
        let connections = || Connections::to_service(timeout, max_age, tls.clone());
        let token = services.token.as_ref().map(|t| t.expose_secret());
        let bad_token = |e: String| anyhow::anyhow!("services.token: {e}");
        Ok(Self {
            users: UserClient::new(connections(), &services.user_url)
                .with_observer(observer.clone())
                .with_retries(retries())
                .with_max_in_flight(services.max_calls_in_flight, timeout)
                .with_hash_timeout(Duration::from_millis(services.hash_timeout_ms.max(services.timeout_ms)))
                .with_service_token(token)
                .map_err(bad_token)?,
            messages: MessageClient::new(connections(), &services.message_url)
                .with_observer(observer.clone())
                .with_retries(retries())
                .with_max_in_flight(services.max_calls_in_flight, timeout)
                .with_service_token(token)
                .map_err(bad_token)?,
            follows: FollowClient::new(connections(), &services.follow_url)
                .with_observer(observer)
                .with_retries(retries())
                .with_max_in_flight(services.max_calls_in_flight, timeout)
                .with_service_token(token)
                .map_err(bad_token)?,
            by_name: Arc::new(Cache::new(cache.users.max(1))),
            by_id: Arc::new(Cache::new(cache.users.max(1))),
            cache_requests: metrics.counter_vec(
                "gateway_cache_requests_total",
                "Lookups in the gateway's caches",
                &["cache", "result"],
            ),
        })
    }

    fn remember(&self, user: Arc<User>) {
        self.by_name.insert(user.username.clone(), user.clone());
        self.by_id.insert(user.id, user);
    }

    fn count(&self, cache: &str, hit: bool) {
        self.cache_requests.with_label_values(&[cache, if hit { "hit" } else { "miss" }]).inc();
    }

    /// The user called `username`, or `None` if there is none. Only found users are
    /// cached: a name may be registered later.
    async fn user_by_name(
        &self,
        rid: &str,
        username: &Username,
    ) -> Result<Option<Arc<User>>, ClientError<UserError>> {
        if let Some(user) = self.by_name.get(username.as_str()) {
            self.count("user_by_name", true);
            return Ok(Some(user));
        }
        self.count("user_by_name", false);
        match self.users.by_name(rid, username).await {
            Ok(user) => {
                let user = Arc::new(user);
                self.remember(user.clone());
                Ok(Some(user))
            }
            Err(e) if e.refusal() == Some(UserError::NoSuchUser) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The users among `ids`, from the cache where possible and one batch call for the rest.
    async fn users_by_ids(
        &self,
        rid: &str,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, Arc<User>>, ClientError<UserError>> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            if found.contains_key(&id) || missing.contains(&id) {
                continue;
            }
            match self.by_id.get(&id) {
                Some(user) => {
                    found.insert(id, user);
                }
                None => missing.push(id),
            }
        }
        self.count("user_by_id", missing.is_empty());
        if !missing.is_empty() {
            for user in self.users.batch(rid, &missing).await? {
                let user = Arc::new(user);
                self.remember(user.clone());
                found.insert(user.id, user);
            }
        }
        Ok(found)
    }

    /// Remembers a user the gateway just registered or logged in.
    fn learn(&self, user: User) -> Arc<User> {
        let user = Arc::new(user);
        self.remember(user.clone());
        user
    }

    /// Whether all three services answer `/ready`, for the gateway's own `/ready`.
    pub async fn ready(&self) -> Result<(), String> {
        let rid = "readiness";
        let (u, m, f) =
            tokio::join!(self.users.ready(rid), self.messages.ready(rid), self.follows.ready(rid));
        let down: Vec<String> =
            [u.err().map(|e| e.to_string()), m.err().map(|e| e.to_string()), f.err().map(|e| e.to_string())]
                .into_iter()
                .flatten()
                .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(down.join("; "))
        }
    }
}

impl Upstream {
    /// The services as one request sees them: every call carries its id.
    pub fn for_request<'a>(&'a self, rid: &'a RequestId) -> Calls<'a> {
        Calls { upstream: self, rid: rid.as_str() }
    }
}

/// The services for one request ([`Upstream::for_request`]).
#[derive(Clone, Copy)]
pub struct Calls<'a> {
    upstream: &'a Upstream,
    rid: &'a str,
}

impl Calls<'_> {
    /// Registers and remembers the new user.
    pub async fn register(&self, new: &NewUser) -> Result<Arc<User>, ClientError<UserError>> {
        let user = self.upstream.users.register(self.rid, new).await?;
        Ok(self.upstream.learn(user))
    }

    /// Checks the credentials and remembers the user.
    pub async fn login(&self, credentials: &Credentials) -> Result<Arc<User>, ClientError<UserError>> {
        let user = self.upstream.users.login(self.rid, credentials).await?;
        Ok(self.upstream.learn(user))
    }

    /// The user called `username`, or `None` if there is none (cached once found).
    pub async fn user_by_name(
        &self,
        username: &Username,
    ) -> Result<Option<Arc<User>>, ClientError<UserError>> {
        self.upstream.user_by_name(self.rid, username).await
    }

    /// The current generation of the user's web sessions; `None` for a user that is gone.
    pub async fn session_generation(&self, id: UserId) -> Result<Option<i64>, ClientError<UserError>> {
        match self.upstream.users.session(self.rid, id).await {
            Ok(generation) => Ok(Some(generation)),
            Err(e) if e.refusal() == Some(UserError::NoSuchUser) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ends every web session of the user (logging out).
    pub async fn end_sessions(&self, id: UserId) -> Result<(), ClientError<UserError>> {
        match self.upstream.users.end_session(self.rid, id).await {
            Ok(_) => Ok(()),
            Err(e) if e.refusal() == Some(UserError::NoSuchUser) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The users among `ids` (cached where possible, one batch call for the rest).
    pub async fn users_by_ids(
        &self,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, Arc<User>>, ClientError<UserError>> {
        self.upstream.users_by_ids(self.rid, ids).await
    }

    /// Posts under `key` ([`idempotency_key`]): a retry cannot post it twice.
    pub async fn post(
        &self,
        author_id: UserId,
        text: &MessageText,
        key: &IdempotencyKey,
    ) -> Result<Message, ClientError<MessageError>> {
        self.upstream.messages.post(self.rid, author_id, text, key).await
    }

    pub async fn public(&self, page: &PageQuery) -> Result<MessagePage, ClientError<MessageError>> {
        self.upstream.messages.public(self.rid, page).await
    }

    pub async fn by_author(
        &self,
        author_id: UserId,
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        self.upstream.messages.by_author(self.rid, author_id, page).await
    }

    pub async fn by_authors(
        &self,
        author_ids: &[UserId],
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        self.upstream.messages.by_authors(self.rid, author_ids, page).await
    }

    pub async fn follow(&self, pair: Follow) -> Result<(), ClientError<FollowError>> {
        self.upstream.follows.follow(self.rid, pair).await
    }

    pub async fn unfollow(&self, pair: Follow) -> Result<(), ClientError<FollowError>> {
        self.upstream.follows.unfollow(self.rid, pair).await
    }

    pub async fn is_following(&self, pair: Follow) -> Result<bool, ClientError<FollowError>> {
        self.upstream.follows.is_following(self.rid, pair).await
    }

    pub async fn followees(
        &self,
        follower: UserId,
        limit: u32,
    ) -> Result<Vec<UserId>, ClientError<FollowError>> {
        self.upstream.follows.followees(self.rid, follower, limit).await
    }
}

/// The key a new message is posted under: the client's `Idempotency-Key` header, so
/// its own retries post once, or else one made for this request, so the gateway's
/// retries to message-service do. A header that is no key is the client's error.
pub fn idempotency_key(req: &actix_web::HttpRequest) -> Result<IdempotencyKey, DomainError> {
    match req.headers().get("idempotency-key") {
        Some(value) => IdempotencyKey::parse(value.to_str().map_err(|_| DomainError::KeyInvalid)?),
        None => IdempotencyKey::parse(&uuid::Uuid::new_v4().simple().to_string()),
    }
}

impl minitwit_kit::server::Readiness for Upstream {
    fn check(&self) -> futures::future::BoxFuture<'static, Result<(), String>> {
        let upstream = self.clone();
        Box::pin(async move { upstream.ready().await })
    }
}
