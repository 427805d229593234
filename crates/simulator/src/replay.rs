//! Replays a scenario against a deployment, as the course's simulator does.
//!
//! Faithful mode (`concurrency == 1`): one action at a time in file order, waiting each
//! action's delay first, a fresh connection per request (`Connection: close`), the
//! course's headers and 0.3 s time-out. Fast mode (`concurrency > 1`): actions are
//! sharded by acting user over N workers, so each user's actions keep their order; an
//! action naming another user waits until that user's registration (in another shard)
//! has been answered, so no action reaches an unregistered user. Delays then become an
//! absolute schedule (each action starts no earlier than the sum of the delays before
//! it). In both modes the last action is sent alone after all others, and `GET /latest`
//! must then equal its id.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Notify;

use crate::http::{self, Connections};
use crate::progress;
use crate::scenario::{Action, Kind};
use crate::stats::{self, ErrorKind, Tally, TallyReport};

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Base URL of the deployment, e.g. `http://localhost:8080`.
    pub url: String,
    /// 1 = faithful (the course's way); more = fast mode, sharded by user.
    pub concurrency: usize,
    /// Ignore the scenario's delays.
    pub no_delay: bool,
    /// The full `Authorization` header value.
    pub auth: String,
    /// Per-request time-out; an answer later than this is an error.
    pub timeout: Duration,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl ReplayOptions {
    /// The course's settings: faithful, delays honoured, 0.3 s, the default credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            concurrency: 1,
            no_delay: false,
            auth: http::DEFAULT_AUTH.to_string(),
            timeout: http::COURSE_TIMEOUT,
            progress: false,
        }
    }
}

/// What a replay found. `errors` is what the course would count, plus one if
/// `GET /latest` did not answer the last id.
#[derive(Debug, Clone, Serialize)]
pub struct ReplaySummary {
    pub actions: usize,
    pub concurrency: usize,
    pub delays: bool,
    pub elapsed_s: f64,
    /// Actions per second over the whole run (delays included).
    pub throughput_rps: f64,
    pub errors: u64,
    pub total: TallyReport,
    pub by_command: BTreeMap<Kind, TallyReport>,
    pub latest_expected: Option<i64>,
    pub latest_actual: Option<i64>,
    /// Set when `GET /latest` failed or did not equal the last id.
    pub latest_error: Option<String>,
}

impl ReplaySummary {
    /// A human-readable table.
    pub fn render(&self) -> String {
        let mut out = format!(
            "replay: {} actions in {:.1} s ({:.1} actions/s), concurrency {}, delays {}\n",
            self.actions,
            self.elapsed_s,
            self.throughput_rps,
            self.concurrency,
            if self.delays { "honoured" } else { "skipped" }
        );
        let mut rows: Vec<(&str, &TallyReport)> =
            self.by_command.iter().map(|(k, r)| (k.as_str(), r)).collect();
        rows.push(("total", &self.total));
        out.push_str(&stats::table(rows.iter().copied()));
        out.push_str(&stats::error_lines(rows.iter().copied()));
        match (&self.latest_error, self.latest_expected) {
            (Some(e), _) => out.push_str(&format!("latest: ERROR {e}\n")),
            (None, Some(n)) => out.push_str(&format!("latest: {n} as expected\n")),
            (None, None) => {}
        }
        out.push_str(&format!("errors (as the course counts them): {}\n", self.errors));
        out
    }
}

/// Replays `actions` against `opts.url`.
pub async fn replay(actions: &[Action], opts: &ReplayOptions) -> anyhow::Result<ReplaySummary> {
    let base = http::base_url(&opts.url);
    let client = http::client(&opts.auth, opts.timeout, Connections::FreshEach)?;
    let workers = opts.concurrency.max(1);
    let n = actions.len();
    let pb = progress::bar(n as u64, "replay", opts.progress);

    let mut offsets = Vec::with_capacity(n);
    let mut sum = 0u64;
    for a in actions {
        sum += a.delay_ms;
        offsets.push(Duration::from_millis(sum));
    }
    let Plan { shards, deps } = plan(actions, workers);

    let ctx = Ctx {
        actions,
        offsets: &offsets,
        deps: &deps,
        done: (0..n).map(|_| AtomicBool::new(false)).collect(),
        notify: Arc::new(Notify::new()),
        client: &client,
        base: &base,
        pb: &pb,
        pacing: if opts.no_delay {
            Pacing::None
        } else if workers == 1 {
            Pacing::Relative
        } else {
            Pacing::Absolute
        },
        start: Instant::now(),
    };
    let mut tallies: BTreeMap<Kind, Tally> = Kind::ALL.iter().map(|k| (*k, Tally::default())).collect();
    let results = futures::future::join_all(shards.iter().map(|s| ctx.run(s))).await;
    if n > 0 {
        let last = ctx.run(&[n - 1]).await;
        for (k, t) in results.iter().flatten().chain(last.iter()) {
            tallies.get_mut(k).expect("every kind").merge(t);
        }
    }
    pb.finish_and_clear();
    let elapsed = ctx.start.elapsed();

    let latest_expected = actions.last().map(|a| a.id);
    let (latest_actual, latest_error) = match latest_expected {
        None => (None, None),
        Some(expected) => {
            let checker = http::client(&opts.auth, Duration::from_secs(5), Connections::FreshEach)?;
            match http::get_latest(&checker, &base).await {
                Ok(v) if v == expected => (Some(v), None),
                Ok(v) => (Some(v), Some(format!("GET /latest answered {v}, expected {expected}"))),
                Err(e) => (None, Some(format!("GET /latest failed: {e:#}"))),
            }
        }
    };

    let mut total = Tally::default();
    for t in tallies.values() {
        total.merge(t);
    }
    let total = total.report();
    let errors = total.errors + u64::from(latest_error.is_some());
    Ok(ReplaySummary {
        actions: n,
        concurrency: workers,
        delays: !opts.no_delay,
        elapsed_s: elapsed.as_secs_f64(),
        throughput_rps: if elapsed.is_zero() { 0.0 } else { n as f64 / elapsed.as_secs_f64() },
        errors,
        total,
        by_command: tallies.iter().filter(|(_, t)| t.sent > 0).map(|(k, t)| (*k, t.report())).collect(),
        latest_expected,
        latest_actual,
        latest_error,
    })
}

/// How fast mode splits a scenario: `shards[w]` are the indices worker `w` sends, in
/// file order (every action of one user lands in one shard; the last action is in none:
/// it is sent alone at the end). `deps[i]` is the index of the registration that action
/// `i` must wait for: its target's, when that is in another shard.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub shards: Vec<Vec<usize>>,
    pub deps: Vec<Option<usize>>,
}

pub fn plan(actions: &[Action], workers: usize) -> Plan {
    let workers = workers.max(1);
    let shard_of = |name: &str| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        (h.finish() % workers as u64) as usize
    };
    let n = actions.len();
    let mut shards: Vec<Vec<usize>> = vec![Vec::new(); workers];
    let mut registered_at: HashMap<&str, usize> = HashMap::new();
    let mut deps: Vec<Option<usize>> = vec![None; n];
    for (i, a) in actions.iter().enumerate() {
        if i + 1 < n {
            shards[shard_of(&a.username)].push(i);
        }
        if a.kind() == Kind::Register {
            registered_at.entry(&a.username).or_insert(i);
        }
        if let Some(t) = a.command.target() {
            if let Some(&r) = registered_at.get(t) {
                if shard_of(t) != shard_of(&a.username) {
                    deps[i] = Some(r);
                }
            }
        }
    }
    Plan { shards, deps }
}

#[derive(Clone, Copy)]
enum Pacing {
    None,
    /// Wait each action's delay before sending it (the course's way).
    Relative,
    /// Start each action no earlier than the sum of the delays up to it.
    Absolute,
}

struct Ctx<'a> {
    actions: &'a [Action],
    offsets: &'a [Duration],
    deps: &'a [Option<usize>],
    done: Vec<AtomicBool>,
    notify: Arc<Notify>,
    client: &'a reqwest::Client,
    base: &'a str,
    pb: &'a indicatif::ProgressBar,
    pacing: Pacing,
    start: Instant,
}

impl Ctx<'_> {
    /// Sends the actions at `indices`, in order, one at a time.
    async fn run(&self, indices: &[usize]) -> BTreeMap<Kind, Tally> {
        let mut tallies: BTreeMap<Kind, Tally> = BTreeMap::new();
        for &i in indices {
            let action = &self.actions[i];
            match self.pacing {
                Pacing::None => {}
                Pacing::Relative => tokio::time::sleep(Duration::from_millis(action.delay_ms)).await,
                Pacing::Absolute => tokio::time::sleep_until((self.start + self.offsets[i]).into()).await,
            }
            if let Some(r) = self.deps[i] {
                loop {
                    let notified = self.notify.notified();
                    if self.done[r].load(Ordering::Acquire) {
                        break;
                    }
                    notified.await;
                }
            }
            let (status, latency) =
                http::send(http::action_request(self.client, self.base, action, true)).await;
            let kind = action.kind();
            let outcome = match status {
                Ok(s) if http::course_accepts(kind, s) => Ok(()),
                Ok(s) => Err(ErrorKind::Status(s)),
                Err(e) => Err(e),
            };
            tallies.entry(kind).or_default().record(outcome, latency);
            if kind == Kind::Register {
                self.done[i].store(true, Ordering::Release);
                self.notify.notify_waiters();
            }
            self.pb.inc(1);
        }
        tallies
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{generate, GenerateOptions};

    #[test]
    fn one_worker_sends_everything_in_order_but_the_last() {
        let actions = generate(&GenerateOptions { users: 20, actions: 300, ..Default::default() });
        let p = plan(&actions, 1);
        assert_eq!(p.shards, vec![(0..299).collect::<Vec<_>>()]);
        assert!(p.deps.iter().all(Option::is_none));
    }

    #[test]
    fn shards_keep_each_users_order_and_wait_for_registrations_elsewhere() {
        let actions =
            generate(&GenerateOptions { users: 200, actions: 5_000, seed: 3, ..Default::default() });
        let p = plan(&actions, 8);
        let mut seen = vec![false; actions.len()];
        let mut shard_of_user: HashMap<&str, usize> = HashMap::new();
        for (w, shard) in p.shards.iter().enumerate() {
            assert!(shard.windows(2).all(|x| x[0] < x[1]), "file order within a shard");
            for &i in shard {
                assert!(!seen[i]);
                seen[i] = true;
                let u = actions[i].username.as_str();
                assert_eq!(*shard_of_user.entry(u).or_insert(w), w, "{u} in two shards");
            }
        }
        assert_eq!(seen.iter().filter(|s| !**s).count(), 1, "only the last action is left out");
        assert!(!seen[actions.len() - 1]);
        let mut waits = 0;
        for (i, a) in actions.iter().enumerate() {
            match (a.command.target(), p.deps[i]) {
                (Some(t), Some(r)) => {
                    waits += 1;
                    assert!(r < i);
                    assert_eq!(actions[r].kind(), Kind::Register);
                    assert_eq!(actions[r].username, t);
                    assert_ne!(shard_of_user[t], shard_of_user[a.username.as_str()]);
                }
                (Some(t), None) => assert_eq!(shard_of_user[t], shard_of_user[a.username.as_str()]),
                (None, dep) => assert_eq!(dep, None),
            }
        }
        assert!(waits > 0);
    }
}
