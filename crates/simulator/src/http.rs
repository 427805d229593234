//! The simulator API as the course's simulator calls it: routes, bodies, headers, and
//! which answers count as a success.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_TYPE};
use serde_json::json;

use crate::scenario::{Action, Command, Kind};
use crate::stats::ErrorKind;

/// The course's `Authorization` header value (`simulator:super_safe!`).
pub const DEFAULT_AUTH: &str = minitwit_api::COURSE_SIM_AUTHORIZATION;

/// The course simulator's time-out.
pub const COURSE_TIMEOUT: Duration = Duration::from_millis(300);

pub use minitwit_api::encode_segment;

/// `url` without trailing slashes.
pub fn base_url(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// Whether the course's simulator counts this answer as a success: register may
/// answer 204 or 400 (the user exists), every other action exactly 204.
pub fn course_accepts(kind: Kind, status: u16) -> bool {
    match kind {
        Kind::Register => status == 204 || status == 400,
        Kind::Tweet | Kind::Follow | Kind::Unfollow => status == 204,
    }
}

/// How the client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// A fresh TCP connection per request, `Connection: close`: what the course does.
    FreshEach,
    /// Keep-alive connections, reused.
    KeepAlive,
}

/// An extra root certificate every client of this process trusts (`--ca-cert`).
static EXTRA_ROOT: OnceLock<reqwest::Certificate> = OnceLock::new();

/// Makes every client built afterwards trust the PEM certificate in `path`.
pub fn trust_certificate(path: &Path) -> anyhow::Result<()> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let cert = reqwest::Certificate::from_pem(&pem)
        // rustls reads the PEM only when a client is built: build one now, so a file
        // that holds no certificate is refused here, naming it.
        .and_then(|cert| reqwest::Client::builder().add_root_certificate(cert.clone()).build().map(|_| cert))
        .with_context(|| format!("parsing {}", path.display()))?;
    EXTRA_ROOT.set(cert).map_err(|_| anyhow::anyhow!("a CA certificate is already set"))
}

pub fn client(auth: &str, timeout: Duration, connections: Connections) -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(auth)?);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if connections == Connections::FreshEach {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let mut builder =
        reqwest::Client::builder().default_headers(headers).timeout(timeout).connect_timeout(timeout);
    if let Some(cert) = EXTRA_ROOT.get() {
        builder = builder.add_root_certificate(cert.clone());
    }
    let builder = match connections {
        Connections::FreshEach => builder.pool_max_idle_per_host(0).http1_only(),
        Connections::KeepAlive => builder.pool_max_idle_per_host(usize::MAX).tcp_nodelay(true),
    };
    Ok(builder.build()?)
}

/// The request the course's simulator sends for `action`.
pub fn action_request(
    client: &reqwest::Client,
    base: &str,
    action: &Action,
    fresh: bool,
) -> reqwest::RequestBuilder {
    let user = encode_segment(&action.username);
    let (path, body) = match &action.command {
        Command::Register { email, pwd } => {
            ("/register".to_string(), json!({"username": action.username, "email": email, "pwd": pwd}))
        }
        Command::Tweet { content } => (format!("/msgs/{user}"), json!({"content": content})),
        Command::Follow { target } => (format!("/fllws/{user}"), json!({"follow": target})),
        Command::Unfollow { target } => (format!("/fllws/{user}"), json!({"unfollow": target})),
    };
    let req = client.post(format!("{base}{path}?latest={}", action.id)).body(body.to_string());
    if fresh {
        req.header(CONNECTION, "close")
    } else {
        req
    }
}

/// Sends a request and reads the whole answer. Returns the status (or the transport
/// error's kind) and, when answered, the latency.
pub async fn send(req: reqwest::RequestBuilder) -> (Result<u16, ErrorKind>, Option<Duration>) {
    let start = Instant::now();
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.bytes().await {
                Ok(_) => (Ok(status), Some(start.elapsed())),
                Err(e) => (Err(ErrorKind::of(&e)), None),
            }
        }
        Err(e) => (Err(ErrorKind::of(&e)), None),
    }
}

/// `GET /latest`.
pub async fn get_latest(client: &reqwest::Client, base: &str) -> anyhow::Result<i64> {
    #[derive(serde::Deserialize)]
    struct Latest {
        latest: i64,
    }
    let resp = client.get(format!("{base}/latest")).send().await?;
    let status = resp.status();
    anyhow::ensure!(status.is_success(), "GET /latest answered {status}");
    Ok(resp.json::<Latest>().await?.latest)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_ca_certificate_that_is_missing_or_not_pem_is_refused() {
        let missing = std::env::temp_dir().join(format!("minitwit-no-ca-{}.pem", std::process::id()));
        let err = super::trust_certificate(&missing).unwrap_err();
        assert!(format!("{err:#}").contains("reading"), "{err:#}");

        let garbage = std::env::temp_dir().join(format!("minitwit-bad-ca-{}.pem", std::process::id()));
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
            .unwrap();
        let err = super::trust_certificate(&garbage).unwrap_err();
        std::fs::remove_file(&garbage).unwrap();
        assert!(format!("{err:#}").contains("parsing"), "{err:#}");
    }

    use super::*;

    #[test]
    fn error_counting_follows_the_course() {
        assert!(course_accepts(Kind::Register, 204));
        assert!(course_accepts(Kind::Register, 400), "the user exists: fine");
        for status in [200, 201, 403, 404, 409, 422, 500, 503] {
            assert!(!course_accepts(Kind::Register, status), "register {status}");
        }
        for kind in [Kind::Tweet, Kind::Follow, Kind::Unfollow] {
            assert!(course_accepts(kind, 204));
            for status in [200, 201, 400, 403, 404, 500] {
                assert!(!course_accepts(kind, status), "{kind} {status}");
            }
        }
    }

    #[test]
    fn builds_the_course_requests() {
        let client = client(DEFAULT_AUTH, COURSE_TIMEOUT, Connections::FreshEach).unwrap();
        let action =
            |command| Action {
                id: 7, delay_ms: 0, timestamp_ms: 0, username: "Zoë O'Brien".into(), command
            };
        let build = |a: &Action| action_request(&client, "http://h:1", a, true).build().unwrap();

        let r = build(&action(Command::Register { email: "z@x".into(), pwd: "pw".into() }));
        assert_eq!(r.method(), "POST");
        assert_eq!(r.url().as_str(), "http://h:1/register?latest=7");
        let body: serde_json::Value = serde_json::from_slice(r.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body, json!({"username": "Zoë O'Brien", "email": "z@x", "pwd": "pw"}));
        assert_eq!(r.headers()[CONNECTION], "close");

        let r = build(&action(Command::Tweet { content: "a <b> & \"c\"".into() }));
        assert_eq!(r.url().as_str(), "http://h:1/msgs/Zo%C3%AB%20O%27Brien?latest=7");
        let body: serde_json::Value = serde_json::from_slice(r.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body, json!({"content": "a <b> & \"c\""}));

        let r = build(&action(Command::Follow { target: "Mary Smith".into() }));
        assert_eq!(r.url().path(), "/fllws/Zo%C3%AB%20O%27Brien");
        let body: serde_json::Value = serde_json::from_slice(r.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body, json!({"follow": "Mary Smith"}));

        let r = build(&action(Command::Unfollow { target: "Mary Smith".into() }));
        let body: serde_json::Value = serde_json::from_slice(r.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body, json!({"unfollow": "Mary Smith"}));
        assert_eq!(base_url("http://h:1//"), "http://h:1");
    }
}
