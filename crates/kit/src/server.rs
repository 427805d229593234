//! Serving one process: the shared middleware (request id, access log, metrics), the
//! JSON extractor errors, `/health`, `/ready`, `/metrics`, and graceful shutdown
//! ([`run_until_stopped`]: on SIGTERM it serves on for `drain_ms`, then finishes the
//! requests in flight within `shutdown_timeout_secs`).

use std::{
    future::{ready, Ready},
    net::TcpListener,
    sync::Arc,
    time::Instant,
};

use actix_web::{
    body::MessageBody,
    dev::{Server, ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::{from_fn, Next},
    web, App, FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpServer,
};
use futures::future::BoxFuture;
use slog::Logger;

use crate::{error::extract, metrics::Metrics, settings::HttpSettings, ApiError};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Answers `/ready`: whether what this process depends on answers.
pub trait Readiness: Send + Sync + 'static {
    fn check(&self) -> BoxFuture<'static, Result<(), String>>;
}

/// A process that is ready as long as it runs.
pub struct AlwaysReady;

impl Readiness for AlwaysReady {
    fn check(&self) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// What the shared middleware and routes need to know about the process.
#[derive(Clone)]
pub struct Service {
    pub name: &'static str,
    pub logger: Logger,
    pub metrics: Metrics,
    pub readiness: Arc<dyn Readiness>,
}

impl Service {
    pub fn new(name: &'static str, logger: Logger) -> Self {
        Self { name, metrics: Metrics::new(name), logger, readiness: Arc::new(AlwaysReady) }
    }

    pub fn with_readiness(mut self, readiness: impl Readiness) -> Self {
        self.readiness = Arc::new(readiness);
        self
    }
}

/// The id of the request being served: taken from `X-Request-Id` when it is sane,
/// made here otherwise. Echoed in the response and in every log line of the request.
/// Only made here (the field is private), so every id passed on is one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_header(value: Option<&HeaderValue>) -> Self {
        value
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
            .map(|v| RequestId(v.to_string()))
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().simple().to_string()))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_header(req.headers().get(REQUEST_ID)));
        ready(Ok(id))
    }
}

/// Put into a request's extensions by a handler that knows who is acting, so the
/// access line carries the user id.
#[derive(Debug, Clone, Copy)]
pub struct ActingUser(pub minitwit_api::domain::UserId);

/// A bound, not yet started server.
pub struct Running {
    pub port: u16,
    pub server: Server,
    /// How long `run_until_stopped` goes on serving after SIGTERM (`HTTP__DRAIN_MS`).
    pub drain: std::time::Duration,
}

/// Binds `http.host:http.port` (port 0 picks a free one) and builds the server with the
/// shared middleware and routes around the routes `configure` adds.
pub fn serve<F>(http: &HttpSettings, service: Service, configure: F) -> anyhow::Result<Running>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let tls = http.tls.server_config("")?;
    let listener = TcpListener::bind((http.host.as_str(), http.port))?;
    let port = listener.local_addr()?.port();
    let limit = http.body_limit_bytes;
    let scheme = if tls.is_some() { "https (mutual TLS)" } else { "http" };
    slog::info!(service.logger, "listening"; "address" => format!("{}:{port}", http.host), "scheme" => scheme);
    if tls.is_none() && !http.on_loopback() {
        slog::warn!(service.logger, "serving plain HTTP beyond loopback: calls cross the network in clear";
            "fix" => "set HTTP__TLS__IDENTITY_FILE and HTTP__TLS__CLIENT_CA_FILE (deploy/scripts/internal-tls.sh)");
    }
    // Bound before the server is built, so that a port in use fails here.
    let loopback = match (&tls, http.tls.loopback_port) {
        (Some(_), port) if port != 0 => Some(TcpListener::bind(("127.0.0.1", port))?),
        _ => None,
    };
    let logger = service.logger.clone();
    let service = web::Data::new(service);
    let token = ServiceToken::new(http.service_token.as_ref());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(service.clone())
            .app_data(token.clone())
            .app_data(web::JsonConfig::default().limit(limit).error_handler(extract::json))
            .app_data(web::PathConfig::default().error_handler(extract::path))
            .app_data(web::QueryConfig::default().error_handler(extract::query))
            .app_data(web::PayloadConfig::new(limit))
            .wrap(from_fn(require_token))
            .wrap(from_fn(observe))
            .route("/health", web::get().to(health))
            .route("/ready", web::get().to(readiness))
            .route("/metrics", web::get().to(metrics))
            .configure(configure.clone())
            .default_service(web::to(not_found))
    })
    // run_until_stopped handles SIGTERM and Ctrl-C itself, to drain first.
    .disable_signals()
    .shutdown_timeout(http.shutdown_timeout_secs)
    .keep_alive(std::time::Duration::from_secs(http.keep_alive_secs))
    .max_connections(http.max_connections.max(1));
    server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, Arc::unwrap_or_clone(config))?,
        None => server.listen(listener)?,
    };
    if let Some(loopback) = loopback {
        slog::info!(logger, "listening"; "address" => loopback.local_addr()?.to_string(), "scheme" => "http (loopback only)");
        server = server.listen(loopback)?;
    }
    if http.workers > 0 {
        server = server.workers(http.workers);
    }
    Ok(Running { port, server: server.run(), drain: std::time::Duration::from_millis(http.drain_ms) })
}

/// What every binary's `main` does once it has its settings: log to stdout as
/// configured, build the server, serve until SIGTERM or Ctrl-C, go on serving for
/// `HTTP__DRAIN_MS` (a second signal cuts that short), then stop, finishing in-flight
/// requests; and log why it could not start if it could not.
pub async fn run_until_stopped(
    name: &'static str,
    log: &crate::settings::LogSettings,
    build: impl FnOnce(Logger) -> anyhow::Result<Running>,
) -> anyhow::Result<()> {
    // Dropped last, on every way out: writes out the queued log lines.
    let (logger, _log_writer) = crate::logging::init(name, log);
    let (mut signals, running) = StopSignals::listen()
        .and_then(|signals| Ok((signals, build(logger.clone())?)))
        .inspect_err(|e| slog::crit!(logger, "cannot start"; "error" => format!("{e:#}")))?;
    let handle = running.server.handle();
    let drain = running.drain;
    let on_signal = logger.clone();
    actix_web::rt::spawn(async move {
        let signal = signals.next().await;
        slog::info!(on_signal, "stopping"; "signal" => signal, "drain_ms" => drain.as_millis() as u64);
        // A second signal cuts the drain short.
        tokio::select! {
            () = tokio::time::sleep(drain) => {}
            _ = signals.next() => {}
        }
        handle.stop(true).await;
    });
    running.server.await?;
    slog::info!(logger, "stopped");
    Ok(())
}

/// SIGTERM (the swarm, `docker stop`) and SIGINT (Ctrl-C), listened for from start-up
/// on. A process that could not hear them would be killed mid-request instead of
/// stopping gracefully, so failing to listen is a start-up error.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind, name| signal(kind).map_err(|e| anyhow::anyhow!("cannot listen for {name}: {e}"));
        Ok(Self {
            term: listen(SignalKind::terminate(), "SIGTERM")?,
            int: listen(SignalKind::interrupt(), "SIGINT")?,
        })
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readiness(service: web::Data<Service>) -> HttpResponse {
    match service.readiness.check().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(why) => {
            slog::warn!(service.logger, "not ready"; "reason" => &why);
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "unavailable", "reason": why}))
        }
    }
}

async fn metrics(service: web::Data<Service>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(service.metrics.render())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::common(minitwit_api::error::Common::NoRoute, "no such route"))
}

/// The paths any caller may use: the swarm's health checks and Prometheus.
const OPEN_PATHS: [&str; 3] = ["/health", "/ready", "/metrics"];

/// `Authorization: Bearer <HTTP__SERVICE_TOKEN>` as sent, when the setting is there.
#[derive(Clone)]
struct ServiceToken(Option<std::sync::Arc<[u8]>>);

impl ServiceToken {
    fn new(token: Option<&secrecy::SecretString>) -> Self {
        use secrecy::ExposeSecret;
        Self(token.map(|t| format!("Bearer {}", t.expose_secret()).into_bytes().into()))
    }
}

/// Refuses (401) a call without the services' shared token, on every path but
/// [`OPEN_PATHS`], when the token is set. The comparison takes the same time whatever
/// the sent value, so it tells nothing about the token.
async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use subtle::ConstantTimeEq;
    let expected = req.app_data::<ServiceToken>().and_then(|t| t.0.clone());
    if let Some(expected) = expected {
        if !OPEN_PATHS.contains(&req.path()) {
            let sent = req.headers().get(actix_web::http::header::AUTHORIZATION).map(|v| v.as_bytes());
            let matches = sent.is_some_and(|sent| bool::from(sent.ct_eq(&expected)));
            if !matches {
                return Err(ApiError::common(
                    minitwit_api::error::Common::ServiceTokenRequired,
                    "this internal route needs the services' token",
                )
                .into());
            }
        }
    }
    next.call(req).await
}

/// Request id, access log line and HTTP metrics, for every request.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let service = req.app_data::<web::Data<Service>>().cloned().expect("service data is registered");
    let request_id = RequestId::from_header(req.headers().get(REQUEST_ID));
    req.extensions_mut().insert(request_id.clone());
    let method = crate::metrics::method_label(req.method());
    let path = req.path().to_string();
    let start = Instant::now();
    service.metrics.in_flight.inc();
    let result = next.call(req).await;
    service.metrics.in_flight.dec();
    let elapsed = start.elapsed();

    let (status, route, user, error) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request().match_pattern().unwrap_or_else(|| "unmatched".into()),
            res.request().extensions().get::<ActingUser>().map(|u| u.0.get()),
            res.response().error().map(describe),
        ),
        Err(e) => (e.as_response_error().status_code().as_u16(), "unmatched".into(), None, Some(describe(e))),
    };
    let status_label = status.to_string();
    let labels = [method, route.as_str(), status_label.as_str()];
    service.metrics.requests.with_label_values(&labels).inc();
    service.metrics.duration.with_label_values(&labels).observe(elapsed.as_secs_f64());

    let log = service.logger.new(slog::o!("req_id" => request_id.0.clone()));
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    match (status, error) {
        (500.., Some(error)) => slog::error!(log, "request failed";
            "method" => method, "route" => &route, "path" => &path, "status" => status,
            "duration_ms" => duration_ms, "user_id" => user, "error" => error),
        (_, error) => slog::info!(log, "request";
            "method" => method, "route" => &route, "path" => &path, "status" => status,
            "duration_ms" => duration_ms, "user_id" => user, "error" => error),
    }

    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// The error with its whole cause chain, for the log.
fn describe(e: &actix_web::Error) -> String {
    match e.as_error::<ApiError>() {
        Some(api) => api.to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        let sane = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(RequestId::from_header(Some(&sane)).0, "abc-123_x.y:z");
        let evil = HeaderValue::from_static("a b\"c");
        assert_ne!(RequestId::from_header(Some(&evil)).0, "a b\"c");
        assert_eq!(RequestId::from_header(None).0.len(), 32);
    }
}
