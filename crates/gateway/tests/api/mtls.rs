//! The gateway and the services over mutual TLS: the simulator API works through it;
//! a caller without a certificate of the internal CA (none, another CA's, an expired
//! one), a caller in plain HTTP, and a caller that does not trust the internal CA or
//! calls the service by another name are all refused; what crosses the network is
//! ciphertext, and a captured call replayed without the client's key does nothing.

use std::sync::{Arc, Mutex};

use minitwit_kit::testing::pki::TestCa;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_api_works_with_the_services_behind_mutual_tls() {
    let pki = SystemPki::new();
    let sys = spawn_system_over_tls(&pki).await;
    register(&sys, "alice").await;
    register(&sys, "bob").await;
    no_content(post(&sys, "/msgs/alice", &json!({"content": "over TLS"})).await).await;
    no_content(post(&sys, "/fllws/bob", &json!({"follow": "alice"})).await).await;
    let msgs: Value = get(&sys, "/msgs/alice").await.json().await.unwrap();
    assert_eq!(msgs[0]["content"], "over TLS", "{msgs}");
    let follows: Value = get(&sys, "/fllws/bob").await.json().await.unwrap();
    assert_eq!(follows["follows"], json!(["alice"]), "{follows}");
    // The gateway's own calls went over TLS: the services count them.
    let users = pki.client(&pki.gateway);
    let count: Value =
        users.get(format!("{}/users/count", sys.users.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(count["count"], 2, "{count}");
}

/// Whether `client` gets an answer from `url` at all (a refused handshake is an error;
/// no answer within 20 s fails the test, which would otherwise wait forever: once in CI
/// this file's second test hung, nowhere to be seen).
async fn answered(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    let sent = tokio::time::timeout(std::time::Duration::from_secs(20), client.get(url).send()).await;
    match sent.unwrap_or_else(|_| panic!("{url}: no answer, no error within 20 s")) {
        Ok(res) => Ok(res.status().as_u16()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_answers_only_callers_with_a_valid_certificate_of_the_internal_ca() {
    let pki = SystemPki::new();
    let sys = spawn_system_over_tls(&pki).await;
    let health = format!("{}/health", sys.users.url());
    assert_eq!(answered(&pki.client(&pki.gateway), &health).await, Ok(200));

    let other = TestCa::new("another CA");
    // Each refused in the handshake (in TLS 1.2 with the alert that says why).
    let (another, expired) = (other.identity("gateway"), pki.ca.expired_identity("gateway"));
    let refused = [
        ("no certificate", None, "CertificateRequired"),
        ("another CA's certificate", Some(another.as_str()), "UnknownCA"),
        ("an expired certificate", Some(expired.as_str()), "CertificateExpired"),
    ];
    for (what, identity, alert) in refused {
        let got = answered(&tls_client(&pki.ca.pem(), identity), &health).await;
        assert!(got.is_err(), "a caller with {what} got {got:?}");
        let got = answered(&tls12_client(&pki.ca.pem(), identity), &health).await;
        assert!(got.as_ref().is_err_and(|e| e.contains(alert)), "a caller with {what} got {got:?}");
    }
    // Plain HTTP to the TLS port: no answer either.
    let plain = format!("http://127.0.0.1:{}/health", sys.users.port);
    let got = answered(&reqwest::Client::new(), &plain).await;
    assert!(got.is_err(), "plain HTTP got {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_refuses_a_service_it_cannot_verify() {
    let pki = SystemPki::new();
    let sys = spawn_system_over_tls(&pki).await;
    // A caller that trusts another CA only: the service's certificate is not proof.
    let other = TestCa::new("another CA");
    let got =
        answered(&tls_client(&other.pem(), Some(&pki.gateway)), &format!("{}/health", sys.users.url())).await;
    assert!(
        got.as_ref().is_err_and(|e| e.contains("UnknownIssuer")),
        "a service of an untrusted CA: {got:?}"
    );
    // The right CA, but another name than the certificate's (`localhost`).
    let by_address = format!("https://127.0.0.1:{}/health", sys.users.port);
    let got = answered(&pki.client(&pki.gateway), &by_address).await;
    assert!(
        got.as_ref().is_err_and(|e| e.contains("NotValidForName")),
        "called by a name its certificate lacks: {got:?}"
    );
}

/// Copies one connection from a local port to `upstream`, keeping what the client sent:
/// what someone capturing on the network sees of it.
async fn recording_proxy(upstream: u16) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = sent.clone();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_server, mut to_server) = server.into_split();
        let up = async move {
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = from_client.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    let _ = to_server.shutdown().await;
                    break;
                }
                record.lock().unwrap().extend_from_slice(&buf[..n]);
                if to_server.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        };
        let down = async move {
            let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
            let _ = to_client.shutdown().await;
        };
        tokio::join!(up, down);
    });
    (port, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_call_is_ciphertext_and_replaying_it_does_nothing() {
    let pki = SystemPki::new();
    let sys = spawn_system_over_tls(&pki).await;
    let gateway = pki.client(&pki.gateway);
    let latest = || async {
        let body: Value =
            gateway.get(format!("{}/latest", sys.messages.url())).send().await.unwrap().json().await.unwrap();
        body["latest"].as_i64().unwrap()
    };

    // A call through a proxy that records it, as a capture on the overlay network would.
    let (port, captured) = recording_proxy(sys.messages.port).await;
    let secret = "Bearer a-token-that-must-not-show";
    let res = gateway
        .put(format!("https://localhost:{port}/latest"))
        .header("Authorization", secret)
        .header("Connection", "close")
        .json(&json!({"latest": 777}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(latest().await, 777);
    let captured = captured.lock().unwrap().clone();
    assert!(captured.len() > 200, "{} bytes captured", captured.len());
    let contains = |needle: &[u8]| captured.windows(needle.len()).any(|w| w == needle);
    for clear in [secret.as_bytes(), b"/latest", b"777", b"HTTP/1.1"] {
        assert!(!contains(clear), "{:?} crossed the network in clear", String::from_utf8_lossy(clear));
    }

    // Another value, then the captured bytes sent again on a new connection.
    let res = gateway
        .put(format!("{}/latest", sys.messages.url()))
        .json(&json!({"latest": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let mut replay = TcpStream::connect(("127.0.0.1", sys.messages.port)).await.unwrap();
    let _ = replay.write_all(&captured).await;
    let mut answer = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(10), replay.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the service kept a replayed connection open");
    assert!(!String::from_utf8_lossy(&answer).contains("HTTP/1.1 204"), "the replay was answered");
    assert_eq!(latest().await, 1, "the replayed call took effect");
}
