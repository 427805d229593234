//! `minitwit-admin import`: takes over a legacy MiniTwit's data (the course's
//! `schema.sql`: `user`, `follower`, `message`, in a SQLite file or PostgreSQL) into
//! the three services' databases, through each service's own bulk functions.
//!
//! - Ids, `pub_date`, `flagged` and follow pairs are kept; legacy password hashes are
//!   stored with their scheme (user-service verifies them and upgrades at login).
//! - Dirty rows are imported as well as they can be, or skipped, and every row not
//!   imported as it was is reported ([`Issue`]): never silently dropped.
//! - The target must be empty or hold only earlier imports of the same source (each
//!   service's `legacy_imports` table); anything else is refused before writing.
//! - Idempotent and incremental: a re-run imports only users not there yet, messages
//!   above the largest imported id, new follow pairs, and changed `flagged` values.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use diesel::{
    sql_types::{BigInt, Binary, Nullable},
    Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection,
};
use follow_service::bulk::BulkFollow;
use message_service::bulk::BulkMessage;
use minitwit_api::domain::{Email, Username, TEXT_MAX_CHARS};
use minitwit_kit::db::DbConnection;
use serde::Serialize;
use user_service::bulk::{BulkUser, Scheme};

/// Where the legacy data is.
#[derive(Debug, Clone)]
pub enum Source {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Source {
    /// A `postgres://` / `postgresql://` URL, or an existing SQLite file (never a new
    /// empty one by a typo).
    pub fn parse(from: &str) -> anyhow::Result<Source> {
        if from.starts_with("postgres://") || from.starts_with("postgresql://") {
            return Ok(Source::Postgres(from.to_string()));
        }
        let path = from.strip_prefix("sqlite://").unwrap_or(from);
        let path = std::fs::canonicalize(path)
            .with_context(|| format!("--from {path}: no such SQLite file (or give a postgres:// URL)"))?;
        anyhow::ensure!(path.is_file(), "--from {}: not a file", path.display());
        Ok(Source::Sqlite(path))
    }

    /// How the source is recorded in `legacy_imports`: the absolute file path, or the
    /// URL without its password.
    pub fn name(&self) -> String {
        match self {
            Source::Sqlite(path) => format!("sqlite://{}", path.display()),
            Source::Postgres(url) => {
                let Some((scheme, rest)) = url.split_once("://") else { return url.clone() };
                match rest.split_once('@') {
                    Some((userinfo, host)) => {
                        let user = userinfo.split(':').next().unwrap_or("");
                        format!("{scheme}://{user}@{host}")
                    }
                    None => url.clone(),
                }
            }
        }
    }
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LegacyUser {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub user_id: Option<i64>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub username: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub email: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub pw_hash: Option<Vec<u8>>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LegacyMessage {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub message_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub author_id: Option<i64>,
    #[diesel(sql_type = Nullable<Binary>)]
    pub text: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub pub_date: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub flagged: Option<i64>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LegacyFollow {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub who_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub whom_id: Option<i64>,
}

/// The legacy database, read whole. Text is read as bytes: a legacy SQLite file may
/// hold invalid UTF-8 or NUL bytes, which are repaired and reported, not a crash.
pub struct Legacy {
    pub users: Vec<LegacyUser>,
    pub messages: Vec<LegacyMessage>,
    pub follows: Vec<LegacyFollow>,
}

impl Legacy {
    pub fn read(source: &Source) -> anyhow::Result<Legacy> {
        const SQLITE: [&str; 3] = [
            "SELECT user_id, CAST(username AS BLOB) AS username, CAST(email AS BLOB) AS email, \
             CAST(pw_hash AS BLOB) AS pw_hash FROM user ORDER BY user_id",
            "SELECT message_id, author_id, CAST(text AS BLOB) AS text, CAST(pub_date AS INTEGER) AS pub_date, \
             CAST(flagged AS INTEGER) AS flagged FROM message ORDER BY message_id",
            "SELECT who_id, whom_id FROM follower ORDER BY rowid",
        ];
        const POSTGRES: [&str; 3] = [
            "SELECT user_id::BIGINT AS user_id, convert_to(username::TEXT, 'UTF8') AS username, \
             convert_to(email::TEXT, 'UTF8') AS email, convert_to(pw_hash::TEXT, 'UTF8') AS pw_hash \
             FROM \"user\" ORDER BY user_id",
            "SELECT message_id::BIGINT AS message_id, author_id::BIGINT AS author_id, \
             convert_to(text::TEXT, 'UTF8') AS text, pub_date::BIGINT AS pub_date, flagged::BIGINT AS flagged \
             FROM message ORDER BY message_id",
            "SELECT who_id::BIGINT AS who_id, whom_id::BIGINT AS whom_id FROM follower ORDER BY who_id, whom_id",
        ];
        let context = |table: &str| format!("reading the legacy {table} table");
        match source {
            Source::Sqlite(path) => {
                let mut c = SqliteConnection::establish(&path.to_string_lossy())?;
                Ok(Legacy {
                    users: diesel::sql_query(SQLITE[0]).load(&mut c).with_context(|| context("user"))?,
                    messages: diesel::sql_query(SQLITE[1])
                        .load(&mut c)
                        .with_context(|| context("message"))?,
                    follows: diesel::sql_query(SQLITE[2])
                        .load(&mut c)
                        .with_context(|| context("follower"))?,
                })
            }
            Source::Postgres(url) => {
                let mut c = PgConnection::establish(url).context("connecting to the legacy database")?;
                Ok(Legacy {
                    users: diesel::sql_query(POSTGRES[0]).load(&mut c).with_context(|| context("user"))?,
                    messages: diesel::sql_query(POSTGRES[1])
                        .load(&mut c)
                        .with_context(|| context("message"))?,
                    follows: diesel::sql_query(POSTGRES[2])
                        .load(&mut c)
                        .with_context(|| context("follower"))?,
                })
            }
        }
    }
}

/// A row not imported as it was.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Issue {
    /// The legacy table: `user`, `message` or `follower`.
    pub table: &'static str,
    /// `skipped` (not imported), `merged` (imported into another user) or `modified`
    /// (imported with a value repaired).
    pub action: &'static str,
    pub reason: String,
    /// The legacy row as read (text lossily decoded).
    pub row: serde_json::Value,
}

/// Counts of one table.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TableCounts {
    pub read: u64,
    /// Written by this run.
    pub imported: u64,
    /// There from an earlier import of the same source.
    pub already: u64,
    pub merged: u64,
    pub modified: u64,
    pub skipped: u64,
}

/// What is in the target already.
#[derive(Debug, Default)]
pub struct Existing {
    pub user_ids: HashSet<i64>,
    pub max_message_id: i64,
    /// Flagged message ids among `1..=max_message_id`.
    pub flagged: HashSet<i64>,
    pub pairs: HashSet<(i64, i64)>,
}

/// What to write, and what to report.
#[derive(Debug, Default)]
pub struct Plan {
    pub users: Vec<BulkUser>,
    pub messages: Vec<BulkMessage>,
    pub follows: Vec<BulkFollow>,
    pub flag: Vec<i64>,
    pub unflag: Vec<i64>,
    pub issues: Vec<Issue>,
    pub counts: BTreeMap<&'static str, TableCounts>,
}

/// Text from legacy bytes: invalid UTF-8 replaced, NUL removed (no database takes it);
/// with what was repaired.
fn text(bytes: &[u8]) -> (String, Vec<&'static str>) {
    let mut repairs = Vec::new();
    let mut s = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            repairs.push("invalid UTF-8 replaced");
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    if s.contains('\0') {
        repairs.push("NUL bytes removed");
        s.retain(|c| c != '\0');
    }
    (s, repairs)
}

fn lossy(bytes: &Option<Vec<u8>>) -> serde_json::Value {
    bytes.as_ref().map_or(serde_json::Value::Null, |b| String::from_utf8_lossy(b).into())
}

impl Plan {
    fn issue(&mut self, table: &'static str, action: &'static str, reason: String, row: serde_json::Value) {
        let counts = self.counts.entry(table).or_default();
        match action {
            "skipped" => counts.skipped += 1,
            "merged" => counts.merged += 1,
            _ => counts.modified += 1,
        }
        self.issues.push(Issue { table, action, reason, row });
    }

    fn count(&mut self, table: &'static str) -> &mut TableCounts {
        self.counts.entry(table).or_default()
    }

    /// Decides, for every legacy row, what to write. `now` stamps `created_at`.
    pub fn make(legacy: &Legacy, existing: &Existing, now: i64) -> Plan {
        let mut plan = Plan::default();
        for t in ["user", "message", "follower"] {
            plan.count(t);
        }
        // Messages per legacy author, for the report of merged duplicates.
        let mut messages_of: HashMap<i64, u64> = HashMap::new();
        for m in &legacy.messages {
            if let Some(a) = m.author_id {
                *messages_of.entry(a).or_default() += 1;
            }
        }

        // Users: the first of each name (by id) is kept; a later one is merged into it.
        let mut by_name: HashMap<String, i64> = HashMap::new();
        // Legacy user id -> the id it is imported as.
        let mut id_map: HashMap<i64, i64> = HashMap::new();
        for u in &legacy.users {
            plan.count("user").read += 1;
            let row = || {
                serde_json::json!({
                    "user_id": u.user_id, "username": lossy(&u.username), "email": lossy(&u.email),
                })
            };
            let Some(id) = u.user_id.filter(|id| *id > 0) else {
                plan.issue("user", "skipped", "user_id is NULL or not positive".into(), row());
                continue;
            };
            let Some(raw_name) = &u.username else {
                plan.issue("user", "skipped", "username is NULL".into(), row());
                continue;
            };
            let (name, mut repairs) = text(raw_name);
            if let Err(e) = Username::parse(&name) {
                plan.issue("user", "skipped", format!("username not usable: {e}"), row());
                continue;
            }
            if let Some(&first) = by_name.get(&name) {
                id_map.insert(id, first);
                let n = messages_of.get(&id).copied().unwrap_or(0);
                plan.issue(
                    "user",
                    "merged",
                    format!("duplicate username of user {first}: its {n} messages and its follows go to {first}"),
                    serde_json::json!({"user_id": id, "username": name, "messages": n, "kept_user_id": first}),
                );
                continue;
            }
            by_name.insert(name.clone(), id);
            id_map.insert(id, id);
            let email = match u.email.as_deref().map(text) {
                Some((e, r)) if Email::parse(&e).is_ok() => {
                    repairs.extend(r);
                    e
                }
                _ => {
                    repairs.push("email NULL or invalid: replaced by user<id>@invalid.invalid");
                    format!("user{id}@invalid.invalid")
                }
            };
            let hash = u.pw_hash.as_deref().map(text).map(|(h, _)| h).unwrap_or_default();
            let scheme = Scheme::detect(&hash).unwrap_or_else(|| {
                repairs.push("password hash NULL or of no known scheme: the account needs a password reset");
                Scheme::Disabled
            });
            if !repairs.is_empty() {
                plan.issue("user", "modified", repairs.join("; "), row());
            }
            if existing.user_ids.contains(&id) {
                plan.count("user").already += 1;
                continue;
            }
            plan.count("user").imported += 1;
            plan.users.push(BulkUser {
                id,
                username: name,
                email,
                pw_hash: hash,
                pw_scheme: Some(scheme),
                created_at: now,
            });
        }

        // Messages.
        let mut flagged_legacy = Vec::new();
        for m in &legacy.messages {
            plan.count("message").read += 1;
            let row = || {
                serde_json::json!({
                    "message_id": m.message_id, "author_id": m.author_id, "text": lossy(&m.text),
                    "pub_date": m.pub_date, "flagged": m.flagged,
                })
            };
            let Some(id) = m.message_id.filter(|id| *id > 0) else {
                plan.issue("message", "skipped", "message_id is NULL or not positive".into(), row());
                continue;
            };
            let Some(author) = m.author_id else {
                plan.issue("message", "skipped", "author_id is NULL".into(), row());
                continue;
            };
            let Some(&kept) = id_map.get(&author) else {
                plan.issue("message", "skipped", format!("author {author} is not an imported user"), row());
                continue;
            };
            let Some(raw) = &m.text else {
                plan.issue("message", "skipped", "text is NULL".into(), row());
                continue;
            };
            let (body, mut repairs) = text(raw);
            if body.trim().is_empty() {
                plan.issue("message", "skipped", "empty text".into(), row());
                continue;
            }
            if body.chars().count() > TEXT_MAX_CHARS {
                plan.issue("message", "skipped", format!("text over {TEXT_MAX_CHARS} characters"), row());
                continue;
            }
            let pub_date = m.pub_date.unwrap_or_else(|| {
                repairs.push("pub_date NULL: set to 0");
                0
            });
            let flagged = m.flagged.map(|f| f != 0).unwrap_or_else(|| {
                repairs.push("flagged NULL: set to 0");
                false
            });
            if kept != author {
                repairs.push("author merged into the first user of the same name");
            }
            if !repairs.is_empty() {
                let action = if kept != author { "merged" } else { "modified" };
                plan.issue("message", action, repairs.join("; "), row());
            }
            if id <= existing.max_message_id {
                plan.count("message").already += 1;
                if flagged {
                    flagged_legacy.push(id);
                }
                continue;
            }
            plan.count("message").imported += 1;
            plan.messages.push(BulkMessage { id, author_id: kept, text: body, pub_date, flagged });
        }
        // Flags changed in the legacy system since the earlier import.
        let legacy_flagged: HashSet<i64> = flagged_legacy.iter().copied().collect();
        plan.flag = flagged_legacy.into_iter().filter(|id| !existing.flagged.contains(id)).collect();
        let mut unflag: Vec<i64> =
            existing.flagged.iter().copied().filter(|id| !legacy_flagged.contains(id)).collect();
        // Only messages that came from the legacy system and are unflagged there.
        let legacy_ids: HashSet<i64> = legacy.messages.iter().filter_map(|m| m.message_id).collect();
        unflag.retain(|id| legacy_ids.contains(id));
        unflag.sort_unstable();
        plan.unflag = unflag;

        // Follows.
        let mut seen = HashSet::new();
        for f in &legacy.follows {
            plan.count("follower").read += 1;
            let row = || serde_json::json!({"who_id": f.who_id, "whom_id": f.whom_id});
            let (Some(who), Some(whom)) = (f.who_id, f.whom_id) else {
                plan.issue("follower", "skipped", "who_id or whom_id is NULL".into(), row());
                continue;
            };
            let (Some(&a), Some(&b)) = (id_map.get(&who), id_map.get(&whom)) else {
                plan.issue(
                    "follower",
                    "skipped",
                    "follows or is followed by a user not imported".into(),
                    row(),
                );
                continue;
            };
            if a == b {
                plan.issue("follower", "skipped", "a user following themselves".into(), row());
                continue;
            }
            if !seen.insert((a, b)) {
                plan.issue("follower", "skipped", "repeated pair".into(), row());
                continue;
            }
            if (a, b) != (who, whom) {
                plan.issue(
                    "follower",
                    "merged",
                    "a user merged into the first of the same name".into(),
                    row(),
                );
            }
            if existing.pairs.contains(&(a, b)) {
                plan.count("follower").already += 1;
                continue;
            }
            plan.count("follower").imported += 1;
            plan.follows.push(BulkFollow { follower_id: a, followee_id: b, created_at: now });
        }
        plan
    }
}

/// The three services' databases (URLs as in their settings).
#[derive(Debug, Clone)]
pub struct Targets {
    pub users: String,
    pub messages: String,
    pub follows: String,
}

impl Targets {
    /// What each service's own settings say: `make run`'s SQLite files by default, the
    /// deployment's databases with its `*_SERVICE_DATABASE__URL` environment.
    pub fn from_settings() -> anyhow::Result<Targets> {
        use secrecy::ExposeSecret;
        let expose = |d: &minitwit_kit::settings::DatabaseSettings| d.url.expose_secret().to_string();
        Ok(Targets {
            users: expose(&user_service::Settings::load()?.database),
            messages: expose(&message_service::Settings::load()?.database),
            follows: expose(&follow_service::Settings::load()?.database),
        })
    }
}

/// The options of one import.
pub struct Options {
    pub source: Source,
    pub targets: Targets,
    /// The simulator's `latest` to carry over.
    pub latest: Option<i64>,
    pub progress: bool,
}

/// The result of one import.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub source: String,
    pub counts: BTreeMap<&'static str, TableCounts>,
    /// Issues by table, action and reason.
    pub reasons: BTreeMap<String, u64>,
    pub flagged: u64,
    pub unflagged: u64,
    pub latest: Option<i64>,
    pub seconds: f64,
    /// Rows written and seconds taken, per target table.
    pub writes: Vec<Write>,
    pub issues: Vec<Issue>,
}

/// One table's write.
#[derive(Debug, Serialize)]
pub struct Write {
    pub table: &'static str,
    pub rows: u64,
    pub seconds: f64,
}

impl Summary {
    pub fn render(&self) -> String {
        let mut out = format!(
            "import of {} ({:.1} s)\n{:<10} {:>10} {:>10} {:>10} {:>8} {:>9} {:>8}\n",
            self.source,
            self.seconds,
            "table",
            "read",
            "imported",
            "already",
            "merged",
            "modified",
            "skipped"
        );
        for (table, c) in &self.counts {
            out.push_str(&format!(
                "{table:<10} {:>10} {:>10} {:>10} {:>8} {:>9} {:>8}\n",
                c.read, c.imported, c.already, c.merged, c.modified, c.skipped
            ));
        }
        if self.flagged + self.unflagged > 0 {
            out.push_str(&format!(
                "flagged changed: {} flagged, {} unflagged\n",
                self.flagged, self.unflagged
            ));
        }
        if let Some(l) = self.latest {
            out.push_str(&format!("latest set to {l}\n"));
        }
        for w in &self.writes {
            let rate = if w.seconds > 0.0 { w.rows as f64 / w.seconds } else { 0.0 };
            out.push_str(&format!("wrote {} {}: {:.1} s, {rate:.0} rows/s\n", w.rows, w.table, w.seconds));
        }
        for (reason, n) in &self.reasons {
            out.push_str(&format!("  {n:>8}  {reason}\n"));
        }
        out
    }
}

/// Why the target cannot take this import, if it cannot: per service, rows that are
/// not from an earlier import of `source`.
fn refusal(
    service: &str,
    conn: &mut DbConnection,
    rows: u64,
    source: &str,
) -> anyhow::Result<Option<String>> {
    let sources = minitwit_kit::bulk::import_sources(conn)?;
    if let Some(other) = sources.iter().find(|s| *s != source) {
        return Ok(Some(format!(
            "the {service} database holds an import of another legacy database ({other})"
        )));
    }
    if rows > 0 && sources.is_empty() {
        return Ok(Some(format!(
            "the {service} database holds {rows} rows that no import of {source} wrote: import only into an empty system"
        )));
    }
    Ok(None)
}

/// A progress bar on a terminal, plain lines every tenth otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: &'static str,
    total: u64,
    done: u64,
    shown: bool,
}

impl Progress {
    fn new(label: &'static str, total: u64, enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>9} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(label);
            bar
        });
        Progress { bar, label, total, done: 0, shown: enabled }
    }

    fn inc(&mut self) {
        self.done += 1;
        let step = (self.total / 10).max(1);
        match &self.bar {
            Some(bar) if self.done.is_multiple_of(1000) || self.done == self.total => {
                bar.set_position(self.done)
            }
            None if self.shown && (self.done.is_multiple_of(step) || self.done == self.total) => {
                eprintln!("{}: {}/{}", self.label, self.done, self.total);
            }
            _ => {}
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Streams `rows` into `insert`, counting them on a progress display; the rows
/// written and the time taken.
fn with_progress<T>(
    rows: Vec<T>,
    table: &'static str,
    enabled: bool,
    insert: impl FnOnce(&mut dyn Iterator<Item = T>) -> anyhow::Result<u64>,
) -> anyhow::Result<Write> {
    let started = Instant::now();
    let mut progress = Progress::new(table, rows.len() as u64, enabled);
    let mut iter = rows.into_iter().inspect(|_| progress.inc());
    let rows = insert(&mut iter)?;
    drop(iter);
    progress.finish();
    Ok(Write { table, rows, seconds: started.elapsed().as_secs_f64() })
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Runs one import: reads the legacy database, checks the target, writes the delta.
pub fn import(options: &Options) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let source = options.source.name();
    let legacy = Legacy::read(&options.source)?;

    let mut users = user_service::bulk::open(&options.targets.users).context("the users database")?;
    let mut messages =
        message_service::bulk::open(&options.targets.messages).context("the messages database")?;
    let mut follows = follow_service::bulk::open(&options.targets.follows).context("the follows database")?;

    let user_ids: HashSet<i64> = user_service::bulk::ids(&mut users)?.into_iter().collect();
    let max_message_id = message_service::bulk::next_id(&mut messages)? - 1;
    let pairs: HashSet<(i64, i64)> = follow_service::bulk::pairs(&mut follows)?.into_iter().collect();
    let refusals: Vec<String> = [
        refusal("users", &mut users, user_ids.len() as u64, &source)?,
        refusal("messages", &mut messages, max_message_id.max(0) as u64, &source)?,
        refusal("follows", &mut follows, pairs.len() as u64, &source)?,
    ]
    .into_iter()
    .flatten()
    .collect();
    anyhow::ensure!(refusals.is_empty(), "nothing imported: {}", refusals.join("; "));

    let flagged = message_service::bulk::flagged_ids(&mut messages, 1, max_message_id)?.into_iter().collect();
    let existing = Existing { user_ids, max_message_id, flagged, pairs };
    let now = now_secs();
    let plan = Plan::make(&legacy, &existing, now);
    drop(legacy);

    // Recorded first: a run stopped half-way is finished by the next one.
    for conn in [&mut users, &mut messages, &mut follows] {
        minitwit_kit::bulk::record_import(conn, &source, now)?;
    }
    let p = options.progress;
    let writes = vec![
        with_progress(plan.users, "users", p, |rows| user_service::bulk::insert_users(&mut users, rows))?,
        with_progress(plan.follows, "follows", p, |rows| {
            follow_service::bulk::insert_follows(&mut follows, rows)
        })?,
        with_progress(plan.messages, "messages", p, |rows| {
            message_service::bulk::insert_messages(&mut messages, rows)
        })?,
    ];
    let flagged = message_service::bulk::set_flagged(&mut messages, &plan.flag, true)? as u64;
    let unflagged = message_service::bulk::set_flagged(&mut messages, &plan.unflag, false)? as u64;
    if let Some(latest) = options.latest {
        message_service::bulk::set_latest(&mut messages, latest)?;
    }

    let mut reasons = BTreeMap::new();
    for i in &plan.issues {
        *reasons.entry(format!("{} {}: {}", i.table, i.action, i.reason)).or_default() += 1;
    }
    Ok(Summary {
        source,
        counts: plan.counts,
        reasons,
        flagged,
        unflagged,
        latest: options.latest,
        seconds: started.elapsed().as_secs_f64(),
        writes,
        issues: plan.issues,
    })
}

/// The value of a legacy `latest_processed_sim_action_id.txt`.
pub fn read_latest_file(path: &std::path::Path) -> anyhow::Result<i64> {
    let raw = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    raw.trim().parse().with_context(|| format!("{}: {:?} is not an integer", path.display(), raw.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_source_is_named_without_its_password() {
        let name = |url: &str| Source::parse(url).unwrap().name();
        assert_eq!(
            name("postgres://minitwit:s3cret@db:5432/minitwit"),
            "postgres://minitwit@db:5432/minitwit"
        );
        assert_eq!(name("postgresql://db/minitwit"), "postgresql://db/minitwit");
        assert_eq!(name("postgres://u@db/m"), "postgres://u@db/m");
    }

    #[test]
    fn a_missing_sqlite_file_is_refused_not_created() {
        let path = std::env::temp_dir().join(format!("no-such-legacy-{}.db", std::process::id()));
        let e = Source::parse(&path.to_string_lossy()).unwrap_err().to_string();
        assert!(e.contains("no such SQLite file"), "{e}");
        assert!(!path.exists());
    }

    #[test]
    fn latest_comes_from_the_legacy_apps_file() {
        let dir = std::env::temp_dir().join(format!("latest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("latest_processed_sim_action_id.txt");
        std::fs::write(&file, "4711\n").unwrap();
        assert_eq!(read_latest_file(&file).unwrap(), 4711);
        std::fs::write(&file, "soon").unwrap();
        assert!(read_latest_file(&file).unwrap_err().to_string().contains("not an integer"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
