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
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
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
    let client = MessageClient::new(http_client(Duration::from_secs(5)), &url).with_retries(message_retries);
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

const SHED: (&str, &str) =
    ("503 Service Unavailable", r#"{"error": "overloaded", "message": "every database connection is busy"}"#);

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
    let client = UserClient::new(http_client(Duration::from_secs(5)), &unanswered.url).with_retries(retries);
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
    let client = UserClient::new(http_client(Duration::from_secs(5)), &unanswered.url).with_retries(retries);
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
    let client = UserClient::new(http_client(Duration::from_secs(2)), &url).with_max_in_flight(1, timeout);
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
async fn the_wait_for_a_slot_counts_in_the_call_time_out() {
    // Budget 400 ms, one slot. The first call holds it 250 ms; the second waits for it,
    // then its service takes 300 ms: within a fresh 400 ms, but not within the 150 ms
    // the wait left, so it times out.
    let delays = vec![Duration::from_millis(250), Duration::from_millis(300)];
    let (url, connections) = delayed_server(delays, "200 OK", USER);
    let timeout = Duration::from_millis(400);
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(timeout).build().unwrap();
    let client = UserClient::new(http, &url).with_max_in_flight(1, timeout);
    let first = {
        let client = client.clone();
        tokio::spawn(async move { client.by_id("t", UserId::stored(7)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    let err = client.by_id("t", UserId::stored(7)).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_millis(550), "gave up within its budget: {:?}", start.elapsed());
    first.await.unwrap().unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 2, "the second call was sent once it had a slot");
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
