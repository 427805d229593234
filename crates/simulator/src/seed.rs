//! Fills a deployment with a large data set: through the sim API (small sets), or
//! straight into the services' databases through each service's bulk functions
//! (`<service>::bulk`: `COPY FROM STDIN` on PostgreSQL; an operator tool: 10 million
//! messages take minutes).
//!
//! Both draw the same shape of data: unique "First Last" usernames, follows whose
//! followers and followees are Zipf-skewed (never oneself, no duplicates), messages whose
//! authors are Zipf-skewed. Every seeded user's password is [`SEED_PASSWORD`] (in
//! database mode one argon2id hash for all, computed once), so a benchmark can sign in.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use follow_service::bulk::BulkFollow;
use futures::StreamExt;
use indicatif::ProgressBar;
use message_service::bulk::BulkMessage;
use rand::prelude::*;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::json;
use user_service::bulk::BulkUser;

use crate::http::{self, Connections};
use crate::load::register_all;
use crate::names::{self, Zipf};
use crate::progress;
use crate::stats::{ErrorKind, Tally};

/// The password of every user seeded straight into the database.
pub const SEED_PASSWORD: &str = "minitwit-seed";

/// How much to seed, and with which seed.
#[derive(Debug, Clone)]
pub struct SeedSize {
    pub users: usize,
    pub messages: u64,
    pub follows: u64,
    pub seed: u64,
    /// When positive, the first seeded user follows exactly this many others (drawn
    /// uniformly, in place of that user's share of `follows`): the "my timeline" of a
    /// heavy reader, for benchmarks. At most `users - 1`.
    pub heavy_follower: usize,
}

impl SeedSize {
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.heavy_follower == 0 || self.heavy_follower < self.users,
            "--heavy-follower {} needs more than {} users",
            self.heavy_follower,
            self.heavy_follower
        );
        Ok(())
    }
}

/// The user seeded to follow exactly [`SeedSize::heavy_follower`] others.
#[derive(Debug, Clone, Serialize)]
pub struct HeavyFollower {
    pub username: String,
    pub follows: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub phase: &'static str,
    pub rows: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub rows_per_s: f64,
}

impl PhaseReport {
    fn new(phase: &'static str, rows: u64, errors: BTreeMap<String, u64>, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64();
        Self {
            phase,
            rows,
            errors: errors.values().sum(),
            errors_by_kind: errors,
            elapsed_s: secs,
            rows_per_s: if secs > 0.0 { rows as f64 / secs } else { 0.0 },
        }
    }

    fn of_tally(phase: &'static str, t: &Tally, elapsed: Duration) -> Self {
        let r = t.report();
        Self::new(phase, r.ok, r.errors_by_kind, elapsed)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedSummary {
    /// "http" or "database".
    pub mode: &'static str,
    pub errors: u64,
    pub phases: Vec<PhaseReport>,
    /// Present when `--heavy-follower` was given.
    pub heavy_follower: Option<HeavyFollower>,
}

impl SeedSummary {
    fn new(mode: &'static str, phases: Vec<PhaseReport>, heavy: Option<HeavyFollower>) -> Self {
        Self { mode, errors: phases.iter().map(|p| p.errors).sum(), phases, heavy_follower: heavy }
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "seed ({}):\n{:<10} {:>12} {:>8} {:>10} {:>12}\n",
            self.mode, "phase", "rows", "errors", "seconds", "rows/s"
        );
        for p in &self.phases {
            out.push_str(&format!(
                "{:<10} {:>12} {:>8} {:>10.1} {:>12.0}\n",
                p.phase, p.rows, p.errors, p.elapsed_s, p.rows_per_s
            ));
            if p.errors > 0 {
                let kinds: Vec<String> = p.errors_by_kind.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("errors {}: {}\n", p.phase, kinds.join(", ")));
            }
        }
        if let Some(h) = &self.heavy_follower {
            out.push_str(&format!("heavy follower: {} follows {} users\n", h.username, h.follows));
        }
        out
    }
}

/// Draws `count` distinct (follower, followee) pairs over `n` users, no self-follows,
/// both sides Zipf-skewed (uniform once the skewed draws keep colliding). Capped at
/// `n * (n - 1)`.
pub fn follow_pairs(rng: &mut StdRng, n: usize, count: u64) -> Vec<(usize, usize)> {
    if n < 2 {
        return Vec::new();
    }
    let count = count.min((n as u64) * (n as u64 - 1)) as usize;
    let followers = Zipf::new(rng, n, 0.8);
    let followees = Zipf::new(rng, n, 1.0);
    let mut seen = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    let mut misses = 0u32;
    while out.len() < count {
        let (a, b) = if misses < 50 {
            (followers.sample(rng), followees.sample(rng))
        } else {
            (rng.gen_range(0..n), rng.gen_range(0..n))
        };
        if a != b && seen.insert((a, b)) {
            out.push((a, b));
            misses = 0;
        } else {
            misses += 1;
        }
    }
    out
}

/// Makes user 0 follow exactly `count` others, drawn uniformly from users 1..n: drops
/// user 0's pairs from `pairs` and appends the new ones. `count` is capped at `n - 1`.
pub fn make_heavy_follower(rng: &mut StdRng, n: usize, count: usize, pairs: &mut Vec<(usize, usize)>) {
    if n < 2 || count == 0 {
        return;
    }
    pairs.retain(|&(a, _)| a != 0);
    let count = count.min(n - 1);
    pairs.extend(rand::seq::index::sample(rng, n - 1, count).into_iter().map(|j| (0, j + 1)));
}

/// The heavy follower's report, when there is one.
fn heavy(names: &[String], size: &SeedSize) -> Option<HeavyFollower> {
    (size.heavy_follower > 0 && !names.is_empty()).then(|| HeavyFollower {
        username: names[0].clone(),
        follows: size.heavy_follower.min(names.len() - 1),
    })
}

/// Seeds through the sim API (`POST /register`, `/fllws/<user>`, `/msgs/<user>`),
/// `concurrency` requests in flight, keep-alive connections.
pub async fn seed_http(
    url: &str,
    size: &SeedSize,
    auth: &str,
    concurrency: usize,
    show_progress: bool,
) -> anyhow::Result<SeedSummary> {
    size.check()?;
    let base = http::base_url(url);
    let client = http::client(auth, Duration::from_secs(10), Connections::KeepAlive)?;
    let mut rng = StdRng::seed_from_u64(size.seed);
    let users = names::unique_usernames(&mut rng, size.users, &mut HashSet::new());
    let mut phases = Vec::new();

    let started = Instant::now();
    let pb = progress::bar(users.len() as u64, "users", show_progress);
    let tally = register_all(&client, &base, &users, concurrency, &pb, &mut rng, Some(SEED_PASSWORD)).await;
    pb.finish_and_clear();
    phases.push(PhaseReport::of_tally("users", &tally, started.elapsed()));

    let mut pairs = follow_pairs(&mut rng, users.len(), size.follows);
    make_heavy_follower(&mut rng, users.len(), size.heavy_follower, &mut pairs);
    let requests: Vec<(String, String)> = pairs
        .iter()
        .map(|&(a, b)| {
            (
                format!("{base}/fllws/{}", http::encode_segment(&users[a])),
                json!({"follow": users[b]}).to_string(),
            )
        })
        .collect();
    phases.push(post_all(&client, "follows", requests, concurrency, show_progress).await);

    let requests: Vec<(String, String)> = if users.is_empty() {
        Vec::new()
    } else {
        let authors = Zipf::new(&mut rng, users.len(), 0.8);
        (0..size.messages)
            .map(|_| {
                let a = authors.sample(&mut rng);
                (
                    format!("{base}/msgs/{}", http::encode_segment(&users[a])),
                    json!({"content": names::message(&mut rng)}).to_string(),
                )
            })
            .collect()
    };
    phases.push(post_all(&client, "messages", requests, concurrency, show_progress).await);
    Ok(SeedSummary::new("http", phases, heavy(&users, size)))
}

async fn post_all(
    client: &reqwest::Client,
    phase: &'static str,
    requests: Vec<(String, String)>,
    concurrency: usize,
    show_progress: bool,
) -> PhaseReport {
    let started = Instant::now();
    let pb = progress::bar(requests.len() as u64, phase, show_progress);
    let mut tally = Tally::default();
    let mut answers = futures::stream::iter(requests.into_iter().map(|(url, body)| {
        let req = client.post(url).body(body);
        async move { http::send(req).await }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some((status, latency)) = answers.next().await {
        let outcome = match status {
            Ok(204) => Ok(()),
            Ok(s) => Err(ErrorKind::Status(s)),
            Err(e) => Err(e),
        };
        tally.record(outcome, latency);
        pb.inc(1);
    }
    pb.finish_and_clear();
    PhaseReport::of_tally(phase, &tally, started.elapsed())
}

/// Where the three services keep their data.
#[derive(Debug, Clone)]
pub struct DatabaseUrls {
    pub users: String,
    pub messages: String,
    pub follows: String,
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

const YEAR_SECS: i64 = 365 * 24 * 3600;
/// Rows between progress bar updates.
const TICK: u64 = 10_000;

/// Passes `rows` through, ticking `pb` every [`TICK`] rows.
fn ticking<'a, I: Iterator + 'a>(rows: I, pb: &'a ProgressBar) -> impl Iterator<Item = I::Item> + 'a {
    rows.enumerate().map(move |(i, row)| {
        if (i as u64 + 1).is_multiple_of(TICK) {
            pb.inc(TICK);
        }
        row
    })
}

/// Seeds straight into the services' databases (PostgreSQL or SQLite, as their
/// settings name them), through each service's bulk functions (`COPY` on PostgreSQL).
/// Blocking: call it from a blocking thread. New users get ids after the current
/// largest; their names avoid every name already there; the id sequences are moved
/// past the new ids.
pub fn seed_database(
    urls: &DatabaseUrls,
    size: &SeedSize,
    show_progress: bool,
) -> anyhow::Result<SeedSummary> {
    size.check()?;
    let mut rng = StdRng::seed_from_u64(size.seed);
    let now = now_secs();
    let mut phases = Vec::new();

    // Users.
    let started = Instant::now();
    let mut conn = user_service::bulk::open(&urls.users).context("the users database")?;
    let mut taken: HashSet<String> =
        user_service::bulk::usernames(&mut conn).context("reading usernames")?.into_iter().collect();
    let first_id = user_service::bulk::next_id(&mut conn)?;
    let names = names::unique_usernames(&mut rng, size.users, &mut taken);
    drop(taken);
    let pw_hash = hash_password(SEED_PASSWORD)?;
    let users: Vec<BulkUser> = names
        .iter()
        .enumerate()
        .map(|(i, name)| BulkUser {
            id: first_id + i as i64,
            username: name.clone(),
            email: names::email_for(&mut rng, name),
            pw_hash: pw_hash.clone(),
            pw_scheme: None,
            created_at: now - YEAR_SECS - rng.gen_range(0..YEAR_SECS),
        })
        .collect();
    let pb = progress::bar(names.len() as u64, "users", show_progress);
    let rows = user_service::bulk::insert_users(&mut conn, ticking(users.into_iter(), &pb))
        .context("inserting users")?;
    pb.finish_and_clear();
    drop(conn);
    anyhow::ensure!(rows == names.len() as u64, "inserted {rows} users, expected {}", names.len());
    phases.push(PhaseReport::new("users", rows, BTreeMap::new(), started.elapsed()));
    let id_of = |i: usize| first_id + i as i64;

    // Follows.
    let started = Instant::now();
    let mut pairs = follow_pairs(&mut rng, names.len(), size.follows);
    make_heavy_follower(&mut rng, names.len(), size.heavy_follower, &mut pairs);
    let mut conn = follow_service::bulk::open(&urls.follows).context("the follows database")?;
    let pb = progress::bar(pairs.len() as u64, "follows", show_progress);
    let follows: Vec<BulkFollow> = pairs
        .iter()
        .map(|&(a, b)| BulkFollow {
            follower_id: id_of(a),
            followee_id: id_of(b),
            created_at: now - rng.gen_range(0..YEAR_SECS),
        })
        .collect();
    let rows = follow_service::bulk::insert_follows(&mut conn, ticking(follows.into_iter(), &pb))
        .context("inserting follows")?;
    pb.finish_and_clear();
    drop(conn);
    phases.push(PhaseReport::new("follows", rows, BTreeMap::new(), started.elapsed()));

    // Messages: generated while streaming, oldest first, spread over the last year.
    let started = Instant::now();
    let mut conn = message_service::bulk::open(&urls.messages).context("the messages database")?;
    let first_message = message_service::bulk::next_id(&mut conn)?;
    let total = if names.is_empty() { 0 } else { size.messages };
    let pb = progress::bar(total, "messages", show_progress);
    let authors = (!names.is_empty()).then(|| Zipf::new(&mut rng, names.len(), 0.8));
    let start = now - YEAR_SECS;
    let rng = &mut rng;
    let messages = (0..total).filter_map(move |i| {
        let authors = authors.as_ref()?;
        Some(BulkMessage {
            id: first_message + i as i64,
            author_id: id_of(authors.sample(rng)),
            text: names::message(rng),
            pub_date: start + (i as i128 * YEAR_SECS as i128 / total.max(1) as i128) as i64,
            flagged: false,
        })
    });
    let rows = message_service::bulk::insert_messages(&mut conn, ticking(messages, &pb))
        .context("inserting messages")?;
    pb.finish_and_clear();
    phases.push(PhaseReport::new("messages", rows, BTreeMap::new(), started.elapsed()));
    anyhow::ensure!(rows == total, "inserted {rows} messages, expected {total}");
    Ok(SeedSummary::new("database", phases, heavy(&names, size)))
}

/// One argon2id PHC string (the user-service's default cost) for every seeded user.
fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the seed password: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_pairs_are_distinct_and_never_self() {
        let mut rng = StdRng::seed_from_u64(1);
        let pairs = follow_pairs(&mut rng, 100, 3_000);
        assert_eq!(pairs.len(), 3_000);
        assert!(pairs.iter().all(|(a, b)| a != b && *a < 100 && *b < 100));
        assert_eq!(pairs.iter().collect::<HashSet<_>>().len(), 3_000);
        // A complete graph is the most there can be.
        assert_eq!(follow_pairs(&mut rng, 5, 1_000).len(), 20);
        assert!(follow_pairs(&mut rng, 1, 10).is_empty());
    }

    #[test]
    fn the_heavy_follower_follows_exactly_that_many() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut pairs = follow_pairs(&mut rng, 1_000, 5_000);
        let others = pairs.iter().filter(|(a, _)| *a != 0).count();
        make_heavy_follower(&mut rng, 1_000, 500, &mut pairs);
        let mine: HashSet<usize> = pairs.iter().filter(|(a, _)| *a == 0).map(|(_, b)| *b).collect();
        assert_eq!(mine.len(), 500);
        assert!(!mine.contains(&0));
        assert_eq!(pairs.len(), others + 500, "only user 0's follows changed, no duplicates");
        assert_eq!(pairs.iter().collect::<HashSet<_>>().len(), pairs.len());
        // Capped at everyone else; nothing to do with fewer than two users or a zero count.
        make_heavy_follower(&mut rng, 10, 50, &mut pairs);
        assert_eq!(pairs.iter().filter(|(a, _)| *a == 0).count(), 9);
        let mut none = vec![(1, 2)];
        make_heavy_follower(&mut rng, 1, 5, &mut none);
        make_heavy_follower(&mut rng, 10, 0, &mut none);
        assert_eq!(none, vec![(1, 2)]);
    }

    #[test]
    fn a_heavy_follower_needs_enough_users() {
        let size =
            |users, heavy_follower| SeedSize { users, messages: 0, follows: 0, seed: 0, heavy_follower };
        assert!(size(501, 500).check().is_ok());
        assert!(size(500, 500).check().is_err());
        assert!(size(0, 0).check().is_ok());
    }

    #[test]
    fn the_seed_password_hash_verifies() {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let phc = hash_password(SEED_PASSWORD).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(argon2::Argon2::default().verify_password(SEED_PASSWORD.as_bytes(), &parsed).is_ok());
    }
}
