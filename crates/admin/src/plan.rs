//! Deciding, for every legacy row, what to write and what to report: pure, no database.

use std::collections::{BTreeMap, HashMap, HashSet};

use follow_service::bulk::BulkFollow;
use message_service::bulk::BulkMessage;
use minitwit_api::domain::{Email, Username, TEXT_MAX_CHARS};
use serde::Serialize;
use user_service::bulk::{BulkUser, Scheme};

use crate::read::Legacy;

// The legacy tables, as the counts and issues name them: one spelling each.
const USER: &str = "user";
const MESSAGE: &str = "message";
const FOLLOWER: &str = "follower";

/// A row not imported as it was.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Issue {
    /// The legacy table: `user`, `message` or `follower`.
    pub table: &'static str,
    /// What became of the row: `skipped`, `merged` or `modified` in the report.
    pub action: Action,
    pub reason: String,
    /// The legacy row as read (text lossily decoded).
    pub row: serde_json::Value,
}

/// What became of a row not imported as it was; serialized and shown in lowercase.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Not imported.
    Skipped,
    /// Imported into another user.
    Merged,
    /// Imported with a value repaired.
    Modified,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Skipped => "skipped",
            Action::Merged => "merged",
            Action::Modified => "modified",
        })
    }
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

/// Legacy user id -> the id it is imported as (its own, or the kept user's of the
/// same name); a user not imported is not in it.
type IdMap = HashMap<i64, i64>;

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
    /// Decides, for every legacy row, what to write. `now` stamps `created_at`.
    pub fn make(legacy: &Legacy, existing: &Existing, now: i64) -> Plan {
        let mut plan = Plan::default();
        for t in [USER, MESSAGE, FOLLOWER] {
            plan.count(t);
        }
        // Users first: messages and follows go to the ids the users are imported as.
        let id_map = plan.users(legacy, existing, now);
        plan.messages(legacy, existing, &id_map);
        plan.follows(legacy, existing, &id_map, now);
        plan
    }

    fn issue(&mut self, table: &'static str, action: Action, reason: String, row: serde_json::Value) {
        let counts = self.counts.entry(table).or_default();
        match action {
            Action::Skipped => counts.skipped += 1,
            Action::Merged => counts.merged += 1,
            Action::Modified => counts.modified += 1,
        }
        self.issues.push(Issue { table, action, reason, row });
    }

    fn count(&mut self, table: &'static str) -> &mut TableCounts {
        self.counts.entry(table).or_default()
    }

    /// Users: the first of each name (by id) is kept; a later one is merged into it.
    fn users(&mut self, legacy: &Legacy, existing: &Existing, now: i64) -> IdMap {
        // Messages per legacy author, for the report of merged duplicates.
        let mut messages_of: HashMap<i64, u64> = HashMap::new();
        for m in &legacy.messages {
            if let Some(a) = m.author_id {
                *messages_of.entry(a).or_default() += 1;
            }
        }

        let mut by_name: HashMap<String, i64> = HashMap::new();
        let mut id_map = IdMap::new();
        for u in &legacy.users {
            self.count(USER).read += 1;
            let row = || {
                serde_json::json!({
                    "user_id": u.user_id, "username": lossy(&u.username), "email": lossy(&u.email),
                })
            };
            let Some(id) = u.user_id.filter(|id| *id > 0) else {
                self.issue(USER, Action::Skipped, "user_id is NULL or not positive".into(), row());
                continue;
            };
            let Some(raw_name) = &u.username else {
                self.issue(USER, Action::Skipped, "username is NULL".into(), row());
                continue;
            };
            let (name, mut repairs) = text(raw_name);
            if let Err(e) = Username::parse(&name) {
                self.issue(USER, Action::Skipped, format!("username not usable: {e}"), row());
                continue;
            }
            if let Some(&first) = by_name.get(&name) {
                id_map.insert(id, first);
                let n = messages_of.get(&id).copied().unwrap_or(0);
                self.issue(
                    USER,
                    Action::Merged,
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
                self.issue(USER, Action::Modified, repairs.join("; "), row());
            }
            if existing.user_ids.contains(&id) {
                self.count(USER).already += 1;
                continue;
            }
            self.count(USER).imported += 1;
            self.users.push(BulkUser {
                id,
                username: name,
                email,
                pw_hash: hash,
                pw_scheme: Some(scheme),
                created_at: now,
            });
        }
        id_map
    }

    /// Messages, by authors imported; and the flags changed since an earlier import.
    fn messages(&mut self, legacy: &Legacy, existing: &Existing, id_map: &IdMap) {
        // Legacy-flagged messages already in the target.
        let mut flagged_legacy = Vec::new();
        for m in &legacy.messages {
            self.count(MESSAGE).read += 1;
            let row = || {
                serde_json::json!({
                    "message_id": m.message_id, "author_id": m.author_id, "text": lossy(&m.text),
                    "pub_date": m.pub_date, "flagged": m.flagged,
                })
            };
            let Some(id) = m.message_id.filter(|id| *id > 0) else {
                self.issue(MESSAGE, Action::Skipped, "message_id is NULL or not positive".into(), row());
                continue;
            };
            let Some(author) = m.author_id else {
                self.issue(MESSAGE, Action::Skipped, "author_id is NULL".into(), row());
                continue;
            };
            let Some(&kept) = id_map.get(&author) else {
                self.issue(
                    MESSAGE,
                    Action::Skipped,
                    format!("author {author} is not an imported user"),
                    row(),
                );
                continue;
            };
            let Some(raw) = &m.text else {
                self.issue(MESSAGE, Action::Skipped, "text is NULL".into(), row());
                continue;
            };
            let (body, mut repairs) = text(raw);
            if body.trim().is_empty() {
                self.issue(MESSAGE, Action::Skipped, "empty text".into(), row());
                continue;
            }
            if body.chars().count() > TEXT_MAX_CHARS {
                self.issue(MESSAGE, Action::Skipped, format!("text over {TEXT_MAX_CHARS} characters"), row());
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
                let action = if kept != author { Action::Merged } else { Action::Modified };
                self.issue(MESSAGE, action, repairs.join("; "), row());
            }
            if id <= existing.max_message_id {
                self.count(MESSAGE).already += 1;
                if flagged {
                    flagged_legacy.push(id);
                }
                continue;
            }
            self.count(MESSAGE).imported += 1;
            self.messages.push(BulkMessage { id, author_id: kept, text: body, pub_date, flagged });
        }
        // Flags changed in the legacy system since the earlier import.
        let legacy_flagged: HashSet<i64> = flagged_legacy.iter().copied().collect();
        self.flag = flagged_legacy.into_iter().filter(|id| !existing.flagged.contains(id)).collect();
        let mut unflag: Vec<i64> =
            existing.flagged.iter().copied().filter(|id| !legacy_flagged.contains(id)).collect();
        // Only messages that came from the legacy system and are unflagged there.
        let legacy_ids: HashSet<i64> = legacy.messages.iter().filter_map(|m| m.message_id).collect();
        unflag.retain(|id| legacy_ids.contains(id));
        unflag.sort_unstable();
        self.unflag = unflag;
    }

    /// Follows, between users imported, each pair once.
    fn follows(&mut self, legacy: &Legacy, existing: &Existing, id_map: &IdMap, now: i64) {
        let mut seen = HashSet::new();
        for f in &legacy.follows {
            self.count(FOLLOWER).read += 1;
            let row = || serde_json::json!({"who_id": f.who_id, "whom_id": f.whom_id});
            let (Some(who), Some(whom)) = (f.who_id, f.whom_id) else {
                self.issue(FOLLOWER, Action::Skipped, "who_id or whom_id is NULL".into(), row());
                continue;
            };
            let (Some(&a), Some(&b)) = (id_map.get(&who), id_map.get(&whom)) else {
                self.issue(
                    FOLLOWER,
                    Action::Skipped,
                    "follows or is followed by a user not imported".into(),
                    row(),
                );
                continue;
            };
            if a == b {
                self.issue(FOLLOWER, Action::Skipped, "a user following themselves".into(), row());
                continue;
            }
            if !seen.insert((a, b)) {
                self.issue(FOLLOWER, Action::Skipped, "repeated pair".into(), row());
                continue;
            }
            if (a, b) != (who, whom) {
                self.issue(
                    FOLLOWER,
                    Action::Merged,
                    "a user merged into the first of the same name".into(),
                    row(),
                );
            }
            if existing.pairs.contains(&(a, b)) {
                self.count(FOLLOWER).already += 1;
                continue;
            }
            self.count(FOLLOWER).imported += 1;
            self.follows.push(BulkFollow { follower_id: a, followee_id: b, created_at: now });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issues_action_is_reported_in_lowercase_and_counted_by_its_kind() {
        let mut plan = Plan::default();
        for (action, name) in
            [(Action::Skipped, "skipped"), (Action::Merged, "merged"), (Action::Modified, "modified")]
        {
            plan.issue(MESSAGE, action, "why".into(), serde_json::Value::Null);
            assert_eq!(action.to_string(), name, "the summary's reasons show it so");
        }
        plan.issue(MESSAGE, Action::Skipped, "why".into(), serde_json::Value::Null);

        let report = serde_json::to_value(&plan.issues).unwrap();
        let actions: Vec<&str> =
            report.as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["skipped", "merged", "modified", "skipped"]);
        let c = &plan.counts[MESSAGE];
        assert_eq!((c.skipped, c.merged, c.modified), (2, 1, 1));
    }
}
