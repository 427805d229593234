//! A client's connections to one service: how long they live and which replica each
//! one goes to.
//!
//! Behind DNS round robin (a swarm service with `endpoint_mode: dnsrr`) a service is the
//! set of addresses its name resolves to, and scaling or updating it changes that set. A
//! keep-alive pool under steady load never lets a connection go idle, so it would keep
//! calling the replicas it reached first: a new replica would get no call, and a replica
//! taken out of DNS would keep its connections until it closed them itself. Two small
//! things make the calls follow the name:
//!
//! - [`Connections::renewed`] replaces the client, and with it its pool, by a freshly
//!   built one once it is older than a max age (each thread has pools of its own, see
//!   [`Connections`]). The first call after that builds it. The new pool takes the calls over gradually, a
//!   share growing from none to all over a quarter of the max age (the ramp), and the
//!   old one is dropped at the end of the ramp; calls in flight on it finish, and its
//!   connections close when its last call ends. So a connection lives at most the max
//!   age and a quarter plus one call. Handing every call to an empty pool at once
//!   made every call in flight open a connection in the same millisecond: over mutual
//!   TLS a few hundred handshakes, which slowed the calls, which then needed more
//!   connections (`make bench` held 2,000 requests/s with TLS against 3,000 without;
//!   BENCHMARKS.md). Over the ramp the new pool opens its connections as the load
//!   needs them.
//! - [`RoundRobin`] gives each new connection the next of the name's addresses. glibc's
//!   `getaddrinfo` sorts the addresses of the caller's own subnet by how long a prefix
//!   they share with the caller's address (RFC 3484 rule 9), so on a swarm's overlay
//!   network the system resolver alone would send every new connection of a gateway to
//!   the same replica, whatever order the DNS server gave.

use std::{
    cell::RefCell,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use thread_local::ThreadLocal;

/// An HTTP client for service clients: a time-out on every call, new connections
/// taking a name's addresses in turn ([`RoundRobin`]).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    http_client_builder(timeout, Arc::new(RoundRobin::system()), None)
        .build()
        .expect("a plain HTTP client always builds")
}

/// Longest wait for a TCP connection to a service.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// What a client needs to call services over mutual TLS: the internal CA, the only one
/// it trusts (a service must show a certificate it signed, for the name called), and
/// the client's own key and certificate, which the services ask for.
///
/// One rustls configuration for every client built with it (each renewal of a pool,
/// the retries' client): they share its cache of TLS sessions, so a new connection to
/// a service resumes a session instead of a full handshake (no certificate sent or
/// checked again, no signature), which a renewal every few seconds and hedged calls on
/// new connections would otherwise pay each time.
#[derive(Clone)]
pub struct ClientTls {
    config: rustls::ClientConfig,
}

impl ClientTls {
    /// Sessions kept for resumption: a few per connection of a busy pool.
    const SESSIONS: usize = 1024;

    /// From PEM texts: `ca` one or more CA certificates (two during a rotation of the
    /// CA), `identity` the client's private key and certificate chain. The error says
    /// which of them is unusable.
    pub fn from_pem(ca: &str, identity: &str) -> Result<Self, String> {
        let roots = crate::pem::roots(ca).map_err(|e| format!("the CA {e}"))?;
        let not_identity = |e: &dyn std::fmt::Display| {
            format!("the identity is not a private key and a certificate chain in PEM: {e}")
        };
        let (chain, key) = crate::pem::identity(identity).map_err(|e| not_identity(&e))?;
        let mut config = rustls::ClientConfig::builder_with_provider(crate::pem::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| not_identity(&e))?;
        config.resumption = rustls::client::Resumption::in_memory_sessions(Self::SESSIONS);
        Ok(Self { config })
    }
}

/// Why `url` cannot name a service a client with (`tls`) or without mutual TLS calls,
/// if it cannot: it must be `https://` with TLS and `http://` without (never calls in
/// clear by mistake, never `https://` without the internal CA); the URL parser already
/// refuses either without a host. `tls_settings` names the TLS settings in the error.
pub fn check_service_url(url: &str, tls: bool, tls_settings: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match (parsed.scheme(), tls) {
        ("https", true) | ("http", false) => Ok(()),
        ("https", false) => Err(format!("{url:?} is https:// but {tls_settings} are not set")),
        ("http", true) => Err(format!(
            "{url:?} is http:// while mutual TLS is configured ({tls_settings}): calls would cross \
             the network in clear; use https://"
        )),
        (scheme, _) => Err(format!("{url:?}: {scheme}:// is neither http:// nor https://")),
    }
}

pub(crate) fn http_client_builder(
    timeout: Duration,
    resolver: Arc<RoundRobin>,
    tls: Option<&ClientTls>,
) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    let builder = match tls {
        None => builder,
        // (a clone shares the session cache)
        Some(tls) => builder.use_preconfigured_tls(tls.config.clone()).https_only(true),
    };
    builder
        // One request per connection at a time, as over plain HTTP: HTTP/2 (which TLS
        // would negotiate) puts every call on one connection, so on one replica.
        .http1_only()
        .dns_resolver(resolver)
        .timeout(timeout)
        // Services are on the same network: a connect takes well under a millisecond
        // unless the address is gone (a stopped task), and then it never answers.
        // Divided among a name's addresses, so the next one is tried in time.
        .connect_timeout(timeout.min(CONNECT_TIMEOUT))
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
}

/// The HTTP client a typed client sends its calls with: one for ever
/// ([`Connections::fixed`], or any `reqwest::Client` through `From`), or one per thread,
/// each renewed every max age ([`Connections::renewed`]).
///
/// Why one per thread: the gateway serves on several single-threaded runtimes (actix's
/// workers), and a connection's task runs on the runtime of the call that opened it.
/// With one pool for all of them, a call took whichever idle connection came first, so
/// about half the calls went through another worker's thread: the call woke that thread
/// to write the request, and its answer woke the calling thread back, two thread
/// switches per call on top of the call's own. A pool per thread keeps each call and
/// its connection on one thread.
pub struct Connections {
    /// How each thread's client is made, or the one client of every thread.
    source: Source,
    /// Each thread's own pools, made on its first call.
    threads: ThreadLocal<RefCell<Pools>>,
}

enum Source {
    Fixed(reqwest::Client),
    Renewed(Renewal),
}

struct Pools {
    current: reqwest::Client,
    built: Instant,
    /// The client `current` replaced, during the ramp that follows a renewal.
    previous: Option<reqwest::Client>,
    /// Counts the calls of a ramp, to spread them between the pools.
    turn: u32,
}

struct Renewal {
    max_age: Duration,
    /// How long after a renewal the old pool still takes a (shrinking) share of calls.
    ramp: Duration,
    build: Box<dyn Fn() -> reqwest::Client + Send + Sync>,
}

impl Renewal {
    /// Whether the next call, `age` into a ramp, goes to the new pool: the share of
    /// calls that do grows with `age`, spread evenly over the calls (a Weyl sequence,
    /// so neither pool gets a run of calls).
    fn to_new(&self, age: Duration, turn: &mut u32) -> bool {
        let share = age.as_secs_f64() / self.ramp.as_secs_f64();
        *turn = turn.wrapping_add(1);
        f64::from(turn.wrapping_mul(0x9E37_79B9)) / 4_294_967_296.0 < share
    }
}

impl Connections {
    /// Always `http`, on every thread: its pool keeps a connection as long as calls keep
    /// it busy.
    pub fn fixed(http: reqwest::Client) -> Self {
        Self { source: Source::Fixed(http), threads: ThreadLocal::new() }
    }

    /// On each thread, a client made by `build` on the thread's first call, replaced by
    /// a new one from `build` when it is older than `max_age` (the new one taking the
    /// calls over during a ramp of a quarter of `max_age`); a zero `max_age` never
    /// replaces it.
    pub fn renewed(max_age: Duration, build: impl Fn() -> reqwest::Client + Send + Sync + 'static) -> Self {
        let renewal = Renewal { max_age, ramp: max_age / 4, build: Box::new(build) };
        Self { source: Source::Renewed(renewal), threads: ThreadLocal::new() }
    }

    /// How the gateway reaches one service: calls with `timeout`, new connections take
    /// the name's addresses in turn ([`RoundRobin`]), the pool renewed every `max_age`
    /// (zero: never), over mutual TLS if `tls` is given (then only `https://` URLs).
    pub fn to_service(timeout: Duration, max_age: Duration, tls: Option<ClientTls>) -> Self {
        let resolver = Arc::new(RoundRobin::system());
        Self::renewed(max_age, move || {
            http_client_builder(timeout, resolver.clone(), tls.as_ref())
                .build()
                .expect("a client of parsed certificates always builds")
        })
    }

    /// The client to send the next call with from this thread (cheap: a
    /// `reqwest::Client` is a handle).
    pub fn client(&self) -> reqwest::Client {
        let renewal = match &self.source {
            Source::Fixed(http) => return http.clone(),
            Source::Renewed(renewal) => renewal,
        };
        let pools = self.threads.get_or(|| {
            RefCell::new(Pools { current: (renewal.build)(), built: Instant::now(), previous: None, turn: 0 })
        });
        let mut pools = pools.borrow_mut();
        if renewal.max_age.is_zero() {
            return pools.current.clone();
        }
        let age = pools.built.elapsed();
        if age >= renewal.max_age {
            // (No lock: only this thread uses these pools.)
            let old = std::mem::replace(&mut pools.current, (renewal.build)());
            pools.built = Instant::now();
            pools.turn = 0;
            // A pool older than one max age and a ramp, if calls were too rare to end
            // its ramp, goes once its calls in flight end.
            pools.previous = Some(old);
            return pools.current.clone();
        }
        if age >= renewal.ramp {
            // The old pool goes once its calls in flight end.
            pools.previous = None;
            return pools.current.clone();
        }
        let Pools { current, previous, turn, .. } = &mut *pools;
        match previous {
            Some(previous) if !renewal.to_new(age, turn) => previous.clone(),
            _ => current.clone(),
        }
    }
}

impl From<reqwest::Client> for Connections {
    fn from(http: reqwest::Client) -> Self {
        Self::fixed(http)
    }
}

type Lookup =
    Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>> + Send + Sync>;

/// A resolver that gives each new connection the next of a name's addresses: it sorts
/// them (so the turn does not depend on the order of the answer) and starts at the
/// next one each time. Addresses of the family of the first answer come first, as
/// with the system resolver.
pub struct RoundRobin {
    turn: AtomicUsize,
    lookup: Lookup,
}

impl RoundRobin {
    /// The system resolver's addresses (`getaddrinfo`: `/etc/hosts`, then DNS).
    pub fn system() -> Self {
        Self::with_lookup(|host| {
            Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
        })
    }

    /// The addresses `lookup` gives for a host name, e.g. a test's changing set.
    pub fn with_lookup(
        lookup: impl Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        Self { turn: AtomicUsize::new(0), lookup: Arc::new(lookup) }
    }
}

impl Resolve for RoundRobin {
    fn resolve(&self, name: Name) -> Resolving {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let addrs = (self.lookup)(name.as_str().to_string());
        Box::pin(async move {
            let addrs = in_turn(addrs.await?, turn);
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// `addrs` sorted and rotated by `turn`, each family on its own, the first answer's
/// family first.
fn in_turn(addrs: Vec<SocketAddr>, turn: usize) -> Vec<SocketAddr> {
    let first_v4 = addrs.first().is_none_or(SocketAddr::is_ipv4);
    let (mut first, mut other): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|a| a.is_ipv4() == first_v4);
    for family in [&mut first, &mut other] {
        family.sort_unstable();
        family.dedup();
        if !family.is_empty() {
            let start = turn % family.len();
            family.rotate_left(start);
        }
    }
    first.append(&mut other);
    first
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        sync::{atomic::AtomicU32, Mutex},
    };

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    use super::*;
    use crate::client::MessageClient;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_turn_starts_at_the_next_address() {
        let answer = vec![addr("10.0.1.9:0"), addr("10.0.1.3:0"), addr("10.0.1.12:0")];
        let firsts: Vec<SocketAddr> = (0..4).map(|turn| in_turn(answer.clone(), turn)[0]).collect();
        assert_eq!(firsts, [addr("10.0.1.3:0"), addr("10.0.1.9:0"), addr("10.0.1.12:0"), addr("10.0.1.3:0")]);
        assert_eq!(in_turn(answer, 1), [addr("10.0.1.9:0"), addr("10.0.1.12:0"), addr("10.0.1.3:0")]);
    }

    #[test]
    fn the_first_family_of_the_answer_stays_first() {
        let answer = vec![addr("[::1]:0"), addr("10.0.1.3:0"), addr("[::2]:0"), addr("10.0.1.4:0")];
        assert_eq!(
            in_turn(answer, 1),
            [addr("[::2]:0"), addr("[::1]:0"), addr("10.0.1.4:0"), addr("10.0.1.3:0")]
        );
        assert!(in_turn(Vec::new(), 3).is_empty());
    }

    #[test]
    fn each_thread_builds_its_pools_on_its_first_call_and_renews_them_once_per_max_age() {
        let builds = Arc::new(Mutex::new(HashMap::<std::thread::ThreadId, u32>::new()));
        let counted = builds.clone();
        let connections = Arc::new(Connections::renewed(Duration::from_millis(50), move || {
            *counted.lock().unwrap().entry(std::thread::current().id()).or_default() += 1;
            reqwest::Client::new()
        }));
        assert!(builds.lock().unwrap().is_empty(), "nothing built before a call");
        let start = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let connections = connections.clone();
                std::thread::spawn(move || {
                    while start.elapsed() < Duration::from_millis(175) {
                        connections.client();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // 175 ms of calls on each thread: its first client, renewed at most at 50, 100 and
        // 150 ms (later on a loaded machine).
        let builds = builds.lock().unwrap();
        assert_eq!(builds.len(), 4, "each thread its own: {builds:?}");
        assert!(builds.values().all(|n| (2..=4).contains(n)), "{builds:?}");
    }

    #[test]
    fn a_zero_max_age_never_renews() {
        let builds = Arc::new(AtomicU32::new(0));
        let counted = builds.clone();
        let connections = Connections::renewed(Duration::ZERO, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            reqwest::Client::new()
        });
        connections.client();
        std::thread::sleep(Duration::from_millis(20));
        connections.client();
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    /// As the gateway's actix workers: two threads, each with a single-threaded runtime,
    /// calling in turn while the other one is busy (here: blocked, waiting for its turn).
    /// A call that went over a connection opened by the other thread would need that
    /// thread to write it and read its answer, and would time out; each thread's own
    /// connection needs nobody.
    #[test]
    fn a_call_goes_through_on_its_own_thread_while_another_worker_is_busy() {
        let servers = tokio::runtime::Runtime::new().unwrap();
        let replicas = servers.block_on(Replicas::start(1));
        let dns = Arc::new(Mutex::new(replicas.addrs.clone()));
        let client = client_of(&dns, Duration::ZERO);
        // The turn goes back and forth: each worker waits for it, calls, hands it over.
        let (to_0, turn_of_0) = std::sync::mpsc::channel();
        let (to_1, turn_of_1) = std::sync::mpsc::channel();
        to_0.send(()).unwrap();
        let workers: Vec<_> = [(turn_of_0, to_1), (turn_of_1, to_0)]
            .into_iter()
            .map(|(my_turn, hand_over)| {
                let client = client.clone();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    for _ in 0..3 {
                        // (A worker that failed hands nothing over, nor stays to take it.)
                        my_turn.recv_timeout(Duration::from_secs(10)).expect("the other worker's turn ended");
                        let call =
                            async { tokio::time::timeout(Duration::from_secs(2), client.latest("t")).await };
                        assert_eq!(runtime.block_on(call).expect("answered in time").unwrap(), 0);
                        let _ = hand_over.send(());
                    }
                })
            })
            .collect();
        let failed = workers.into_iter().map(std::thread::JoinHandle::join).filter(Result::is_err).count();
        assert_eq!(failed, 0, "every call answered in time");
        assert_eq!(replicas.accepted(0), 2, "one connection per worker, kept for its calls");
    }

    /// Fake replicas of message-service, each on its own port: they answer `GET
    /// /latest` with their number, keep connections alive, and count the connections
    /// they accepted and those the client closed.
    struct Replicas {
        addrs: Vec<SocketAddr>,
        accepted: Vec<Arc<AtomicU32>>,
        closed: Vec<Arc<AtomicU32>>,
    }

    impl Replicas {
        async fn start(n: usize) -> Self {
            let mut replicas = Replicas { addrs: Vec::new(), accepted: Vec::new(), closed: Vec::new() };
            for number in 0..n {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let (accepted, closed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
                replicas.addrs.push(listener.local_addr().unwrap());
                replicas.accepted.push(accepted.clone());
                replicas.closed.push(closed.clone());
                tokio::spawn(async move {
                    loop {
                        let (stream, _) = listener.accept().await.unwrap();
                        accepted.fetch_add(1, Ordering::SeqCst);
                        let closed = closed.clone();
                        tokio::spawn(async move {
                            serve(stream, number).await;
                            closed.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
            }
            replicas
        }

        fn accepted(&self, replica: usize) -> u32 {
            self.accepted[replica].load(Ordering::SeqCst)
        }

        fn closed(&self, replica: usize) -> u32 {
            self.closed[replica].load(Ordering::SeqCst)
        }
    }

    /// Answers each request on `stream` (bodiless GETs) until the client closes it.
    async fn serve(mut stream: TcpStream, number: usize) {
        let body = format!(r#"{{"latest": {number}}}"#);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.drain(..end + 4);
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }

    /// A client of `message-service.test`, a name that resolves to `dns` (which a test
    /// changes, as scaling a swarm service does), renewed every `max_age`.
    fn client_of(dns: &Arc<Mutex<Vec<SocketAddr>>>, max_age: Duration) -> MessageClient {
        let dns = dns.clone();
        let resolver = Arc::new(RoundRobin::with_lookup(move |host| {
            assert_eq!(host, "message-service.test");
            let addrs = dns.lock().unwrap().clone();
            Box::pin(async move { Ok(addrs) })
        }));
        let connections = Connections::renewed(max_age, move || {
            http_client_builder(Duration::from_secs(5), resolver.clone(), None).build().unwrap()
        });
        MessageClient::new(connections, "http://message-service.test")
    }

    /// `calls` calls, `concurrency` at a time, one every `pause`; how many each replica
    /// answered.
    async fn load(
        client: &MessageClient,
        calls: usize,
        concurrency: usize,
        pause: Duration,
    ) -> HashMap<i64, usize> {
        let mut answered = HashMap::new();
        for _ in 0..calls / concurrency {
            let round: Vec<_> = (0..concurrency)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move { client.latest("t").await.unwrap() })
                })
                .collect();
            for call in round {
                *answered.entry(call.await.unwrap()).or_default() += 1;
            }
            tokio::time::sleep(pause).await;
        }
        answered
    }

    // (Single-threaded, as an actix worker: one thread's pools.)
    #[tokio::test]
    async fn a_new_replica_gets_calls_after_one_max_age_and_a_removed_one_loses_its_connections() {
        let replicas = Replicas::start(3).await;
        let dns = Arc::new(Mutex::new(replicas.addrs[..2].to_vec()));
        let client = client_of(&dns, Duration::from_millis(200));

        let before = load(&client, 40, 4, Duration::from_millis(10)).await;
        assert!(before[&0] > 0 && before[&1] > 0, "both replicas answer: {before:?}");

        // Scaled from 2 to 3 replicas: within one max age the third gets calls. (Not a
        // third of them at once: the renewed pool takes the calls over during its ramp,
        // and opens a connection to the new replica only when it needs one more; a tenth
        // at least, on a loaded machine.)
        dns.lock().unwrap().push(replicas.addrs[2]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = load(&client, 90, 3, Duration::from_millis(10)).await;
        assert!(after.get(&2).copied().unwrap_or(0) >= 9, "the new replica answers its share: {after:?}");

        // Replica 0 leaves DNS: after one max age it gets no call and has no connection.
        dns.lock().unwrap().retain(|a| *a != replicas.addrs[0]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        load(&client, 3, 3, Duration::ZERO).await; // the first calls after the max age renew
        tokio::time::sleep(Duration::from_millis(100)).await; // the ramp (50 ms) is over
        let later = load(&client, 30, 3, Duration::from_millis(10)).await;
        assert_eq!(later.get(&0), None, "{later:?}");
        assert_eq!(replicas.closed(0), replicas.accepted(0), "every connection to replica 0 closed");
    }

    #[tokio::test]
    async fn a_renewed_pool_takes_the_calls_over_gradually_and_then_alone() {
        let replicas = Replicas::start(2).await;
        let dns = Arc::new(Mutex::new(vec![replicas.addrs[0]]));
        // A max age of 2 s: a ramp of 500 ms.
        let client = client_of(&dns, Duration::from_secs(2));
        load(&client, 8, 4, Duration::ZERO).await;
        // The name now means replica 1 only: the old pool's connections all go to 0,
        // the new pool's to 1.
        dns.lock().unwrap().clear();
        dns.lock().unwrap().push(replicas.addrs[1]);
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Just after the renewal, most calls still go to the old pool, some (the first,
        // which renewed it, and a growing share) to the new.
        let early = load(&client, 40, 4, Duration::ZERO).await;
        assert!(
            early.get(&0).copied().unwrap_or(0) >= 20,
            "the old pool keeps most calls at first: {early:?}"
        );
        assert!(early.get(&1).copied().unwrap_or(0) > 0, "the new pool takes some: {early:?}");
        assert!(
            replicas.accepted(1) < 4,
            "the new pool opened fewer connections than calls in flight: {}",
            replicas.accepted(1)
        );
        // After the ramp, the new pool alone; the old one's connections are closed.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let later = load(&client, 20, 4, Duration::ZERO).await;
        assert_eq!(later.get(&0), None, "{later:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(replicas.closed(0), replicas.accepted(0), "every connection to replica 0 closed");
    }

    #[tokio::test]
    async fn without_a_max_age_the_pool_keeps_its_replicas() {
        let replicas = Replicas::start(3).await;
        let dns = Arc::new(Mutex::new(replicas.addrs[..2].to_vec()));
        let client = client_of(&dns, Duration::ZERO);
        load(&client, 40, 4, Duration::from_millis(10)).await;
        dns.lock().unwrap().push(replicas.addrs[2]);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let after = load(&client, 60, 3, Duration::from_millis(10)).await;
        assert_eq!(after.get(&2), None, "pinned to the first two: {after:?}");
        assert_eq!(replicas.accepted(2), 0);
    }
}
