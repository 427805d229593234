//! Starts the whole system in-process: the three services on fresh PostgreSQL
//! databases (or SQLite), and the gateway in front of them, each on a free port.

#![allow(dead_code)]

use actix_web::dev::ServerHandle;
use gateway::Settings;
use std::sync::Arc;

use minitwit_kit::{
    logging,
    server::Running,
    settings::HttpSettings,
    testing::{
        pki::{self, TestCa},
        use_test_database, wait_ready, Backend, TestDatabase,
    },
    tls::ServerTlsSettings,
};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// The course's simulator credentials.
pub const SIM_AUTH: &str = minitwit_api::COURSE_SIM_AUTHORIZATION;

// The simulator API's requests, as the course's simulator sends them.

/// A username as one path segment.
pub fn enc(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

/// GET with the simulator's credentials.
pub async fn get(sys: &TestSystem, path: &str) -> Response {
    sys.client.get(sys.url(path)).header("Authorization", SIM_AUTH).send().await.unwrap()
}

/// POST of a JSON body with the simulator's credentials, on a fresh connection.
pub async fn post(sys: &TestSystem, path: &str, body: &Value) -> Response {
    sys.client
        .post(sys.url(path))
        .header("Authorization", SIM_AUTH)
        .header("Connection", "close")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Asserts a 204 with an empty body.
pub async fn no_content(res: Response) {
    let status = res.status();
    let url = res.url().to_string();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT, "{url}: {body}");
    assert_eq!(body, "");
}

/// Registers `name` through the simulator API (204).
pub async fn register(sys: &TestSystem, name: &str) {
    let body = json!({"username": name, "email": format!("{}@example.com", name.len()), "pwd": "secret"});
    no_content(post(sys, "/register", &body).await).await;
}

/// How a test service is started on its database and port.
type Start = Arc<dyn Fn(&TestDatabase, u16) -> Running + Send + Sync>;

/// One running service: its address, its database and the handle that stops it.
pub struct ServiceUnderTest {
    pub port: u16,
    pub db: TestDatabase,
    handle: ServerHandle,
    start: Start,
    /// `http://127.0.0.1`, or `https://localhost` over mutual TLS.
    base: &'static str,
    /// A client it answers: a plain one, or the gateway's TLS client.
    client: reqwest::Client,
}

impl ServiceUnderTest {
    fn launch(db: TestDatabase, start: Start, tls: Option<&SystemPki>) -> Self {
        let running = start(&db, 0);
        let (port, handle) = (running.port, running.server.handle());
        tokio::spawn(running.server);
        let (base, client) = match tls {
            None => ("http://127.0.0.1", reqwest::Client::new()),
            Some(pki) => ("https://localhost", pki.client(&pki.gateway)),
        };
        Self { port, db, handle, start, base, client }
    }

    pub fn url(&self) -> String {
        format!("{}:{}", self.base, self.port)
    }

    /// Stops the service (it no longer accepts connections).
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    /// Starts the service again on the same port and database, and waits until it is
    /// ready.
    pub async fn restart(&mut self) {
        let running = (self.start)(&self.db, self.port);
        self.handle = running.server.handle();
        tokio::spawn(running.server);
        self.wait_ready().await;
    }

    /// Waits until the service has connected to its database.
    pub async fn wait_ready(&self) {
        wait_ready(&self.client, &self.url()).await;
    }
}

/// The internal CA of a system over mutual TLS, and the identities it signed: one for
/// the services (`localhost`, as they are called here) and the gateway's.
pub struct SystemPki {
    pub ca: TestCa,
    pub service: String,
    pub gateway: String,
}

impl SystemPki {
    pub fn new() -> Self {
        let ca = TestCa::new("MiniTwit internal CA (test)");
        Self { service: ca.identity("localhost"), gateway: ca.identity("gateway"), ca }
    }

    /// The services' TLS settings: this identity, callers of this CA only.
    pub fn server(&self) -> ServerTlsSettings {
        ServerTlsSettings {
            identity: Some(self.service.clone().into()),
            client_ca: Some(self.ca.pem()),
            loopback_port: 0,
        }
    }

    /// A client that trusts this CA only and presents `identity` (key and certificate
    /// PEM).
    pub fn client(&self, identity: &str) -> reqwest::Client {
        tls_client(&self.ca.pem(), Some(identity))
    }
}

/// A client trusting only `ca` (PEM) and presenting `identity` if given.
pub fn tls_client(ca: &str, identity: Option<&str>) -> reqwest::Client {
    pki::client_builder(ca, identity).build().unwrap()
}

/// The same client speaking TLS 1.2 at most. In TLS 1.3 a server refuses a client's
/// certificate after the client thinks the handshake done, so the client sees either
/// the server's alert or only a closed connection; in TLS 1.2 it always sees the alert,
/// which says why.
pub fn tls12_client(ca: &str, identity: Option<&str>) -> reqwest::Client {
    pki::client_builder(ca, identity).max_tls_version(reqwest::tls::Version::TLS_1_2).build().unwrap()
}

fn start_user(http: HttpSettings) -> Start {
    Arc::new(move |db, port| {
        let mut s = user_service::Settings { http: http.clone(), ..Default::default() };
        use_test_database(&mut s.http, &mut s.database, db, port);
        // As in user-service's tests/api/helpers.rs (which the gateway's tests cannot use).
        s.own.argon2 = user_service::Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 };
        user_service::build(&s, logging::discard()).expect("user-service starts")
    })
}

fn start_message(http: HttpSettings) -> Start {
    Arc::new(move |db, port| {
        let mut s = message_service::Settings { http: http.clone(), ..Default::default() };
        use_test_database(&mut s.http, &mut s.database, db, port);
        message_service::build(&s, logging::discard()).expect("message-service starts")
    })
}

fn start_follow(http: HttpSettings) -> Start {
    Arc::new(move |db, port| {
        let mut s = follow_service::Settings { http: http.clone(), ..Default::default() };
        use_test_database(&mut s.http, &mut s.database, db, port);
        follow_service::build(&s, logging::discard()).expect("follow-service starts")
    })
}

pub struct TestSystem {
    pub address: String,
    pub users: ServiceUnderTest,
    pub messages: ServiceUnderTest,
    pub follows: ServiceUnderTest,
    /// A client that keeps cookies (a browser's session).
    pub browser: reqwest::Client,
    /// A client without cookies (the simulator, scripts).
    pub client: reqwest::Client,
}

/// The whole system on PostgreSQL with default gateway settings.
pub async fn spawn_system() -> TestSystem {
    spawn_system_with(Backend::Postgres, |_| {}).await
}

/// The whole system on `backend`, with the gateway's settings adjusted by `adjust`.
pub async fn spawn_system_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestSystem {
    spawn_system_on(backend, None, adjust).await
}

/// The whole system on PostgreSQL, the gateway calling the services over mutual TLS
/// with `pki`'s certificates.
pub async fn spawn_system_over_tls(pki: &SystemPki) -> TestSystem {
    spawn_system_on(Backend::Postgres, Some(pki), |_| {}).await
}

async fn spawn_system_on(
    backend: Backend,
    tls: Option<&SystemPki>,
    adjust: impl FnOnce(&mut Settings),
) -> TestSystem {
    let http = HttpSettings { tls: tls.map(SystemPki::server).unwrap_or_default(), ..Default::default() };
    let launch = |start| ServiceUnderTest::launch(TestDatabase::new(backend), start, tls);
    let users = launch(start_user(http.clone()));
    let messages = launch(start_message(http.clone()));
    let follows = launch(start_follow(http));
    for service in [&users, &messages, &follows] {
        service.wait_ready().await;
    }
    let mut settings = Settings::default();
    settings.http.port = 0;
    settings.services.user_url = users.url();
    settings.services.message_url = messages.url();
    settings.services.follow_url = follows.url();
    if let Some(pki) = tls {
        settings.services.tls.ca = Some(pki.ca.pem());
        settings.services.tls.identity = Some(pki.gateway.clone().into());
    }
    // Debug builds on a loaded 2-core CI machine can take longer than the production
    // budget (500 ms); a stopped service still fails at once (connection refused).
    settings.services.timeout_ms = 5_000;
    adjust(&mut settings);
    let running = gateway::build(&settings, logging::discard()).expect("gateway starts");
    let address = format!("http://127.0.0.1:{}", running.port);
    tokio::spawn(running.server);
    let no_redirects = || reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    TestSystem {
        address,
        users,
        messages,
        follows,
        browser: no_redirects().cookie_store(true).build().unwrap(),
        client: no_redirects().build().unwrap(),
    }
}

impl TestSystem {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}
