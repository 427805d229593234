//! One import from end to end: reads the legacy database, checks the target, plans,
//! writes through the services' bulk functions, and sums it up.

use std::collections::HashSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use minitwit_kit::db::DbConnection;

use crate::plan::{Existing, Plan};
use crate::progress::with_progress;
use crate::read::{Legacy, Source};
use crate::report::{reasons, Summary};

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

    Ok(Summary {
        source,
        counts: plan.counts,
        reasons: reasons(&plan.issues),
        flagged,
        unflagged,
        latest: options.latest,
        seconds: started.elapsed().as_secs_f64(),
        writes,
        issues: plan.issues,
    })
}
