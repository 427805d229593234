//! Open-loop load at a constant arrival rate.
//!
//! Request `i` is due at `start + i / rate`, whatever happened to the requests before
//! it: each one is sent from its own task, and its latency is measured from when it was
//! *due*, not from when it was sent. If the system (or this tool) falls behind, the
//! queueing shows in the percentiles instead of silently lowering the rate (no
//! coordinated omission). `max_schedule_lag_ms` tells how late this tool itself sent
//! the worst request; if it is large, the load generator was the bottleneck.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use rand::distributions::WeightedIndex;
use rand::prelude::*;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::json;

use crate::http::{self, Connections};
use crate::names::{self, Zipf};
use crate::progress;
use crate::stats::{self, ErrorKind, Tally, TallyReport};

/// The kinds of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `POST /msgs/<user>`, expects 204.
    Tweet,
    /// `POST /fllws/<user>` `{"follow"}`, expects 204.
    Follow,
    /// `POST /fllws/<user>` `{"unfollow"}`, expects 204 (also when not followed).
    Unfollow,
    /// `GET /msgs?no=N`, the public timeline, expects 200.
    Public,
    /// `GET /msgs/<user>?no=N`, one user's messages, expects 200.
    User,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Tweet, Op::Follow, Op::Unfollow, Op::Public, Op::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Tweet => "tweet",
            Op::Follow => "follow",
            Op::Unfollow => "unfollow",
            Op::Public => "public",
            Op::User => "user",
        }
    }

    fn expected_status(self) -> u16 {
        match self {
            Op::Tweet | Op::Follow | Op::Unfollow => 204,
            Op::Public | Op::User => 200,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Relative weights of the request kinds, e.g. `tweet=40,follow=20,unfollow=10,public=15,user=15`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix(pub BTreeMap<Op, u32>);

impl Default for Mix {
    fn default() -> Self {
        "tweet=40,follow=20,unfollow=10,public=15,user=15".parse().expect("valid default mix")
    }
}

impl FromStr for Mix {
    type Err = String;

    /// Kinds left out weigh 0; weights are relative (they need not sum to 100).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut mix = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) =
                part.split_once('=').ok_or_else(|| format!("{part:?}: expected kind=weight"))?;
            let op = Op::ALL.into_iter().find(|op| op.as_str() == name.trim()).ok_or_else(|| {
                format!("unknown request kind {name:?} (tweet, follow, unfollow, public, user)")
            })?;
            let weight: u32 = weight.trim().parse().map_err(|e| format!("{part:?}: {e}"))?;
            if mix.insert(op, weight).is_some() {
                return Err(format!("{name} given twice"));
            }
        }
        if mix.values().all(|w| *w == 0) {
            return Err("the mix needs at least one positive weight".into());
        }
        Ok(Mix(mix))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(op, w)| format!("{op}={w}")).collect();
        f.write_str(&parts.join(","))
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub url: String,
    /// Requests per second.
    pub rate: f64,
    pub duration: Duration,
    pub mix: Mix,
    /// Users registered before the load starts (204 or 400 both accepted).
    pub users: usize,
    /// Seeds the usernames and the choices of the mix.
    pub seed: u64,
    pub timeout: Duration,
    pub auth: String,
    /// `no=` of the timeline reads.
    pub page_size: u32,
    /// Send `latest=<n>` with every request (as the simulator does); off to measure
    /// what recording it costs.
    pub latest: bool,
    /// Registrations in flight at once during set-up.
    pub setup_concurrency: usize,
    pub progress: bool,
    /// Write every acknowledged tweet here, one JSON line `{"user", "content"}`, and
    /// make each tweet's text unique, so `minitwit-sim verify` can prove none was lost
    /// or stored twice. Acknowledged follows too (`{"user", "follow"}`) when the mix
    /// has no unfollows (an unfollow could undo one).
    pub ack_log: Option<std::path::PathBuf>,
    /// Write every failed request here, one JSON line `{"at", "op", "error"}` (`at`:
    /// its due time in seconds since the Unix epoch), so a test that injects faults at
    /// known times can tell which failures each fault caused.
    pub error_log: Option<std::path::PathBuf>,
}

impl LoadOptions {
    pub fn new(url: impl Into<String>, rate: f64, duration: Duration) -> Self {
        Self {
            url: url.into(),
            rate,
            duration,
            mix: Mix::default(),
            users: 1_000,
            seed: 0,
            timeout: Duration::from_secs(2),
            auth: http::DEFAULT_AUTH.to_string(),
            page_size: 30,
            latest: true,
            setup_concurrency: 32,
            progress: false,
            ack_log: None,
            error_log: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    pub rate: f64,
    /// Whether the requests carried `latest`.
    pub latest: bool,
    pub duration_s: f64,
    pub mix: String,
    pub users: usize,
    pub setup: TallyReport,
    /// Requests planned: rate x duration (`total.sent` is fewer when a signal
    /// stopped the run early).
    pub scheduled: u64,
    /// From the first due time to the last answer.
    pub elapsed_s: f64,
    /// Successful answers per second.
    pub throughput_rps: f64,
    /// How late this tool sent its latest request (0 when it kept up).
    pub max_schedule_lag_ms: f64,
    pub errors: u64,
    /// Due times (seconds after the first) of the first and the last failed request:
    /// the span between them is how long a fault was visible to clients.
    pub first_error_s: Option<f64>,
    pub last_error_s: Option<f64>,
    /// Tweets written to the acknowledgement log.
    pub acknowledged_tweets: u64,
    /// Follows written to the acknowledgement log (only with a mix without unfollows).
    pub acknowledged_follows: u64,
    pub total: TallyReport,
    pub by_request: BTreeMap<Op, TallyReport>,
}

impl LoadSummary {
    pub fn render(&self) -> String {
        let mut out = format!(
            "load: {:.0} req/s offered for {:.1} s ({} requests, mix {}{}), {} users\n\
             throughput {:.1} ok/s, {} errors, schedule lag max {:.1} ms\n",
            self.rate,
            self.duration_s,
            self.total.sent,
            self.mix,
            if self.latest { "" } else { ", without latest" },
            self.users,
            self.throughput_rps,
            self.errors,
            self.max_schedule_lag_ms
        );
        if let (Some(first), Some(last)) = (self.first_error_s, self.last_error_s) {
            out.push_str(&format!(
                "errors from {first:.1} s to {last:.1} s: an error window of {:.1} s\n",
                last - first
            ));
        }
        if self.setup.errors > 0 {
            out.push_str(&stats::error_lines([("setup", &self.setup)]));
        }
        let mut rows: Vec<(&str, &TallyReport)> =
            self.by_request.iter().map(|(k, r)| (k.as_str(), r)).collect();
        rows.push(("total", &self.total));
        out.push_str(&stats::table(rows.iter().copied()));
        out.push_str(&stats::error_lines(rows.iter().copied()));
        out.push_str("latency is measured from each request's due time (open loop)\n");
        out
    }
}

/// Registers `names` through the sim API, `concurrency` at a time; 204 and 400 (exists)
/// both count as success. Each gets a random password, or `password` when given.
pub(crate) async fn register_all(
    client: &reqwest::Client,
    base: &str,
    names: &[String],
    concurrency: usize,
    pb: &indicatif::ProgressBar,
    rng: &mut StdRng,
    password: Option<&str>,
) -> Tally {
    let bodies: Vec<_> = names
        .iter()
        .map(|u| {
            let email = names::email_for(rng, u);
            let random = names::password(rng);
            json!({"username": u, "email": email, "pwd": password.unwrap_or(&random)}).to_string()
        })
        .collect();
    let mut tally = Tally::default();
    let mut answers = futures::stream::iter(bodies.into_iter().map(|body| {
        let req = client.post(format!("{base}/register")).body(body);
        async move { http::send(req).await }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some((status, latency)) = answers.next().await {
        let outcome = match status {
            Ok(204 | 400) => Ok(()),
            Ok(s) => Err(ErrorKind::Status(s)),
            Err(e) => Err(e),
        };
        tally.record(outcome, latency);
        pb.inc(1);
    }
    tally
}

/// Resolves on SIGINT or SIGTERM.
async fn stopped() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// One answered (or failed) request, as the collector sees it.
struct Outcome {
    op: Op,
    result: Result<(), ErrorKind>,
    latency: Option<Duration>,
    /// When it was due, in seconds after the first request was due.
    due_s: f64,
    /// The acknowledgement-log line to write if it succeeded.
    ack: Option<String>,
}

pub async fn load(opts: &LoadOptions) -> anyhow::Result<LoadSummary> {
    anyhow::ensure!(opts.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(opts.users >= 2, "--users must be at least 2 (follows need two users)");
    let base = http::base_url(&opts.url);
    let client = http::client(&opts.auth, opts.timeout, Connections::KeepAlive)?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let users: Arc<Vec<String>> =
        Arc::new(names::unique_usernames(&mut rng, opts.users, &mut HashSet::new()));

    let pb = progress::bar(users.len() as u64, "register", opts.progress);
    let setup = register_all(&client, &base, &users, opts.setup_concurrency, &pb, &mut rng, None).await;
    pb.finish_and_clear();

    let actors = Zipf::new(&mut rng, users.len(), 0.8);
    let popular = Zipf::new(&mut rng, users.len(), 1.0);
    let ops: Vec<(Op, u32)> = opts.mix.0.iter().map(|(o, w)| (*o, *w)).collect();
    let choose = WeightedIndex::new(ops.iter().map(|(_, w)| *w))?;

    let scheduled = (opts.rate * opts.duration.as_secs_f64()).round() as u64;
    let pb = progress::bar(scheduled, "load", opts.progress);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let mut acks = match &opts.ack_log {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let mut errors_out = match &opts.error_log {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    // Follows are acknowledged only when nothing in the run can undo one.
    let ack_follows = opts.ack_log.is_some() && opts.mix.0.get(&Op::Unfollow).copied().unwrap_or(0) == 0;
    let start = Instant::now() + Duration::from_millis(20);
    let start_unix =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
            + 0.020;
    let collector = {
        let pb = pb.clone();
        tokio::spawn(async move {
            let mut tallies: BTreeMap<Op, Tally> = BTreeMap::new();
            let mut window: Option<(f64, f64)> = None;
            let (mut tweets, mut follows) = (0u64, 0u64);
            while let Some(o) = rx.recv().await {
                if let Err(e) = &o.result {
                    let (first, last) = window.get_or_insert((o.due_s, o.due_s));
                    *first = first.min(o.due_s);
                    *last = last.max(o.due_s);
                    if let Some(out) = errors_out.as_mut() {
                        let line = json!({"at": start_unix + o.due_s, "op": o.op, "error": e.to_string()});
                        writeln!(out, "{line}")?;
                    }
                }
                if let (Ok(()), Some(line), Some(out)) = (&o.result, &o.ack, acks.as_mut()) {
                    writeln!(out, "{line}")?;
                    match o.op {
                        Op::Follow => follows += 1,
                        _ => tweets += 1,
                    }
                }
                tallies.entry(o.op).or_default().record(o.result, o.latency);
                pb.inc(1);
            }
            for out in [acks.as_mut(), errors_out.as_mut()].into_iter().flatten() {
                out.flush()?;
            }
            anyhow::Ok((tallies, window, tweets, follows))
        })
    };

    let mut max_lag = Duration::ZERO;
    let mut latest = opts.users as u64;
    // SIGINT or SIGTERM ends the run early: what was sent is still answered and
    // summarised (a test can stop the load when its fault is over).
    let stop = stopped();
    tokio::pin!(stop);
    for i in 0..scheduled {
        let due = start + Duration::from_secs_f64(i as f64 / opts.rate);
        let now = Instant::now();
        if due > now {
            tokio::select! {
                () = tokio::time::sleep_until(due.into()) => {}
                () = &mut stop => break,
            }
        } else {
            max_lag = max_lag.max(now - due);
        }
        latest += 1;
        let op = ops[choose.sample(&mut rng)].0;
        let actor = &users[actors.sample(&mut rng)];
        let mut target = popular.sample(&mut rng);
        if users[target] == *actor {
            target = (target + 1) % users.len();
        }
        let target = &users[target];
        let n = opts.page_size;
        let write = if opts.latest { format!("?latest={latest}") } else { String::new() };
        let read = if opts.latest { format!("&latest={latest}") } else { String::new() };
        let mut ack = None;
        let due_s = (due - start).as_secs_f64();
        let req = match op {
            Op::Tweet => {
                let mut content = names::message(&mut rng);
                if opts.ack_log.is_some() {
                    content = format!("{content} #{}-{i}", opts.seed);
                    ack = Some(json!({"user": actor, "content": content}).to_string());
                }
                client
                    .post(format!("{base}/msgs/{}{write}", http::encode_segment(actor)))
                    .body(json!({"content": content}).to_string())
            }
            Op::Follow => {
                if ack_follows {
                    ack = Some(json!({"user": actor, "follow": target}).to_string());
                }
                client
                    .post(format!("{base}/fllws/{}{write}", http::encode_segment(actor)))
                    .body(json!({"follow": target}).to_string())
            }
            Op::Unfollow => client
                .post(format!("{base}/fllws/{}{write}", http::encode_segment(actor)))
                .body(json!({"unfollow": target}).to_string()),
            Op::Public => client.get(format!("{base}/msgs?no={n}{read}")),
            Op::User => client.get(format!("{base}/msgs/{}?no={n}{read}", http::encode_segment(target))),
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let answer = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    resp.bytes().await.map(|_| status).map_err(|e| ErrorKind::of(&e))
                }
                Err(e) => Err(ErrorKind::of(&e)),
            };
            // From when the request was due, not when it was sent.
            let latency = due.elapsed();
            let (outcome, latency) = match answer {
                Ok(s) if s == op.expected_status() => (Ok(()), Some(latency)),
                Ok(s) => (Err(ErrorKind::Status(s)), Some(latency)),
                Err(e) => (Err(e), None),
            };
            let _ = tx.send(Outcome { op, result: outcome, latency, due_s, ack });
        });
    }
    drop(tx);
    let (tallies, window, acknowledged_tweets, acknowledged_follows) = collector.await??;
    pb.finish_and_clear();
    let elapsed = start.elapsed();

    let mut total = Tally::default();
    for t in tallies.values() {
        total.merge(t);
    }
    let total = total.report();
    Ok(LoadSummary {
        rate: opts.rate,
        latest: opts.latest,
        duration_s: opts.duration.as_secs_f64(),
        mix: opts.mix.to_string(),
        users: opts.users,
        setup: setup.report(),
        scheduled,
        elapsed_s: elapsed.as_secs_f64(),
        throughput_rps: if elapsed.is_zero() { 0.0 } else { total.ok as f64 / elapsed.as_secs_f64() },
        max_schedule_lag_ms: max_lag.as_secs_f64() * 1000.0,
        errors: total.errors,
        first_error_s: window.map(|w| w.0),
        last_error_s: window.map(|w| w.1),
        acknowledged_tweets,
        acknowledged_follows,
        total,
        by_request: tallies.iter().map(|(k, t)| (*k, t.report())).collect(),
    })
}

/// Parses `90`, `90s`, `1500ms`, `2m`, `1h` (plain numbers are seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let n: f64 =
        num.parse().map_err(|_| format!("{s:?}: expected a number with an optional unit (ms, s, m, h)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("{s:?}: unknown unit {other:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mixes() {
        let m = Mix::default();
        assert_eq!(m.0[&Op::Tweet], 40);
        assert_eq!(m.0[&Op::User], 15);
        assert_eq!(m.0.values().sum::<u32>(), 100);
        assert_eq!(m.to_string(), "tweet=40,follow=20,unfollow=10,public=15,user=15");
        let only: Mix = "public=1".parse().unwrap();
        assert_eq!(only.0.len(), 1);
        assert!("tweet=40,dance=3".parse::<Mix>().is_err());
        assert!("tweet".parse::<Mix>().is_err());
        assert!("tweet=x".parse::<Mix>().is_err());
        assert!("tweet=0".parse::<Mix>().is_err());
        assert!("tweet=1,tweet=2".parse::<Mix>().is_err());
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
