//! Scenarios in the course simulator's format, and a generator of realistic ones.
//!
//! # Format
//!
//! One action per line, fields separated by one tab (the course reads it with Python's
//! `csv.reader(delimiter="\t", quotechar=None)`):
//!
//! ```text
//! id  delay_ms  epoch_ms  register  username  email   password
//! id  delay_ms  epoch_ms  tweet     username  text
//! id  delay_ms  epoch_ms  follow    username  target
//! id  delay_ms  epoch_ms  unfollow  username  target
//! ```
//!
//! `id` is sent as `?latest=<id>`; `delay_ms` is how long to wait before sending the
//! action. Blank lines are skipped; a trailing `\r` (CRLF files) is dropped.
//!
//! # Escaping
//!
//! The course's format has no quoting, so a tab or a newline cannot appear in a field.
//! We write, inside a field: `\` as `\\`, tab as `\t`, line feed as `\n`, carriage
//! return as `\r`, and read those four sequences back; any other backslash is kept as
//! it is. Generated scenarios contain none of these characters, so their lines are
//! byte for byte what the course's own tools read. (The one ambiguity: a course file
//! whose text holds a literal backslash followed by `t`, `n`, `r` or `\` reads back as
//! the escaped character.)

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use rand::prelude::*;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::names::{self, GrowingWeights};

/// The four kinds of simulator action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Register,
    Tweet,
    Follow,
    Unfollow,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Register, Kind::Tweet, Kind::Follow, Kind::Unfollow];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::Tweet => "tweet",
            Kind::Follow => "follow",
            Kind::Unfollow => "unfollow",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action does, with its command-specific fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Register { email: String, pwd: String },
    Tweet { content: String },
    Follow { target: String },
    Unfollow { target: String },
}

impl Command {
    pub fn kind(&self) -> Kind {
        match self {
            Command::Register { .. } => Kind::Register,
            Command::Tweet { .. } => Kind::Tweet,
            Command::Follow { .. } => Kind::Follow,
            Command::Unfollow { .. } => Kind::Unfollow,
        }
    }

    /// The other user this action names, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            Command::Follow { target } | Command::Unfollow { target } => Some(target),
            _ => None,
        }
    }
}

/// One line of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Sent as `?latest=<id>`.
    pub id: i64,
    /// Milliseconds to wait before sending this action.
    pub delay_ms: u64,
    /// When the action happened, epoch milliseconds (informative only).
    pub timestamp_ms: i64,
    /// The acting user (registering, tweeting, following).
    pub username: String,
    pub command: Command,
}

impl Action {
    pub fn kind(&self) -> Kind {
        self.command.kind()
    }

    /// The line without its line terminator.
    pub fn to_line(&self) -> String {
        let head = format!(
            "{}\t{}\t{}\t{}\t{}",
            self.id,
            self.delay_ms,
            self.timestamp_ms,
            self.kind(),
            escape(&self.username)
        );
        match &self.command {
            Command::Register { email, pwd } => format!("{head}\t{}\t{}", escape(email), escape(pwd)),
            Command::Tweet { content } => format!("{head}\t{}", escape(content)),
            Command::Follow { target } | Command::Unfollow { target } => {
                format!("{head}\t{}", escape(target))
            }
        }
    }

    /// Parses one line (without its terminator; a trailing `\r` is ignored).
    pub fn parse_line(line: &str) -> Result<Action, String> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 6 {
            return Err(format!("expected at least 6 tab-separated fields, found {}", fields.len()));
        }
        let id = fields[0].trim().parse::<i64>().map_err(|e| format!("id {:?}: {e}", fields[0]))?;
        let delay_ms = fields[1].trim().parse::<u64>().map_err(|e| format!("delay {:?}: {e}", fields[1]))?;
        let timestamp_ms =
            fields[2].trim().parse::<i64>().map_err(|e| format!("timestamp {:?}: {e}", fields[2]))?;
        let username = unescape(fields[4]);
        let expect = |n: usize| {
            if fields.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "{} needs {n} fields, found {} (a tab inside a field must be written \\t)",
                    fields[3],
                    fields.len()
                ))
            }
        };
        let command = match fields[3] {
            "register" => {
                expect(7)?;
                Command::Register { email: unescape(fields[5]), pwd: unescape(fields[6]) }
            }
            "tweet" => {
                expect(6)?;
                Command::Tweet { content: unescape(fields[5]) }
            }
            "follow" => {
                expect(6)?;
                Command::Follow { target: unescape(fields[5]) }
            }
            "unfollow" => {
                expect(6)?;
                Command::Unfollow { target: unescape(fields[5]) }
            }
            other => return Err(format!("unknown command {other:?}")),
        };
        Ok(Action { id, delay_ms, timestamp_ms, username, command })
    }
}

/// Escapes one field (see the module docs): the escaping of PostgreSQL's `COPY` text
/// format, which the services' bulk loads write with the same function.
pub fn escape(field: &str) -> String {
    minitwit_kit::bulk::field(field).into_owned()
}

/// Reverses [`escape`]; a backslash before any other character is kept as it is.
pub fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// A parse error, with its 1-based line number.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole scenario.
pub fn parse(text: &str) -> Result<Vec<Action>, ParseError> {
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Action::parse_line(l).map_err(|message| ParseError { line: i + 1, message }))
        .collect()
}

pub fn read_file(path: &Path) -> anyhow::Result<Vec<Action>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Writes a scenario, one line per action, each ending in `\n`.
pub fn write(actions: &[Action], mut out: impl Write) -> io::Result<()> {
    for a in actions {
        out.write_all(a.to_line().as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// How to generate a scenario.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Users registered over the scenario (capped at `actions`).
    pub users: usize,
    /// Lines in total, registrations included.
    pub actions: usize,
    pub seed: u64,
    /// Mean of the exponentially distributed delay between actions.
    pub mean_delay_ms: f64,
    /// Timestamp of the first action.
    pub start_ms: i64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self { users: 100, actions: 1_000, seed: 0, mean_delay_ms: 10.0, start_ms: 1_700_000_000_000 }
    }
}

/// Share of non-register actions that try to follow / unfollow; the rest tweet.
const FOLLOW_SHARE: f64 = 0.25;
const UNFOLLOW_SHARE: f64 = 0.10;
/// Share of unfollows that name a user who is not followed (the course's scenario has
/// 1,179 of those; the API answers 204).
const UNFOLLOW_NOT_FOLLOWED: f64 = 0.15;
/// Zipf exponents: how skewed acting (tweeting, following) and being followed are.
const ACTIVITY_SKEW: f64 = 0.8;
const POPULARITY_SKEW: f64 = 1.0;

/// Generates a realistic scenario, the same for the same options:
/// - ids 1..=actions, in order; the first action is a registration;
/// - registrations spread uniformly over the scenario (the population grows), every
///   user registers exactly once, and no user acts or is named before registering;
/// - who acts and who gets followed both follow Zipf-like skews (a few users are very
///   active or very popular, most are neither), independently;
/// - about 65 % tweets, 25 % follows (never oneself, never someone already followed),
///   10 % unfollows, of which some name a user who is not followed;
/// - messages of 1 to 150 characters, some with HTML specials, quotes and Unicode.
pub fn generate(opts: &GenerateOptions) -> Vec<Action> {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let n_users = opts.users.min(opts.actions);
    let names = names::unique_usernames(&mut rng, n_users, &mut HashSet::new());
    let activity = names::zipf_weights(&mut rng, n_users, ACTIVITY_SKEW);
    let popularity = names::zipf_weights(&mut rng, n_users, POPULARITY_SKEW);
    let mut actors = GrowingWeights::with_capacity(n_users);
    let mut popular = GrowingWeights::with_capacity(n_users);
    let mut followees: Vec<Vec<usize>> = vec![Vec::new(); n_users];
    let mut follows: HashSet<(usize, usize)> = HashSet::new();
    let mut registered = 0usize;
    let mut ts = opts.start_ms;
    let mut out = Vec::with_capacity(opts.actions);

    for i in 0..opts.actions {
        let delay_ms =
            if i == 0 { 0 } else { (-opts.mean_delay_ms * (1.0 - rng.gen::<f64>()).ln()).round() as u64 };
        ts += delay_ms as i64;
        let remaining = opts.actions - i;
        let unregistered = n_users - registered;
        let register = unregistered > 0 && (registered == 0 || rng.gen_range(0..remaining) < unregistered);
        let (actor, command) = if register {
            let u = registered;
            registered += 1;
            actors.push(activity[u]);
            popular.push(popularity[u]);
            let email = names::email_for(&mut rng, &names[u]);
            (u, Command::Register { email, pwd: names::password(&mut rng) })
        } else {
            let actor = actors.sample(&mut rng);
            let roll = rng.gen::<f64>();
            let command = if roll < FOLLOW_SHARE {
                pick_follow(&mut rng, actor, &popular, &follows).map(|t| {
                    follows.insert((actor, t));
                    followees[actor].push(t);
                    Command::Follow { target: names[t].clone() }
                })
            } else if roll < FOLLOW_SHARE + UNFOLLOW_SHARE {
                let mine = &mut followees[actor];
                if !mine.is_empty() && !rng.gen_bool(UNFOLLOW_NOT_FOLLOWED) {
                    let t = mine.swap_remove(rng.gen_range(0..mine.len()));
                    follows.remove(&(actor, t));
                    Some(Command::Unfollow { target: names[t].clone() })
                } else {
                    pick_not_followed(&mut rng, actor, registered, &follows)
                        .map(|t| Command::Unfollow { target: names[t].clone() })
                }
            } else {
                None
            };
            (actor, command.unwrap_or_else(|| Command::Tweet { content: names::message(&mut rng) }))
        };
        out.push(Action {
            id: i as i64 + 1,
            delay_ms,
            timestamp_ms: ts,
            username: names[actor].clone(),
            command,
        });
    }
    out
}

fn pick_follow(
    rng: &mut impl Rng,
    actor: usize,
    popular: &GrowingWeights,
    follows: &HashSet<(usize, usize)>,
) -> Option<usize> {
    (0..8).map(|_| popular.sample(rng)).find(|&t| t != actor && !follows.contains(&(actor, t)))
}

fn pick_not_followed(
    rng: &mut impl Rng,
    actor: usize,
    registered: usize,
    follows: &HashSet<(usize, usize)>,
) -> Option<usize> {
    (0..8).map(|_| rng.gen_range(0..registered)).find(|&t| t != actor && !follows.contains(&(actor, t)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn opts(users: usize, actions: usize, seed: u64) -> GenerateOptions {
        GenerateOptions { users, actions, seed, ..Default::default() }
    }

    #[test]
    fn parses_course_lines() {
        let text = "1\t0\t1580732946180\tregister\tRoger Histand\tRoger+Histand@hotmail.com\tN@R9`u\r\n\
                    2\t11\t1580732946191\ttweet\tRoger Histand\tCall me Ishmael. <b>&</b> \"hi\"\n\
                    \n\
                    3\t5\t1580732946196\tfollow\tRoger Histand\tMary Smith\n\
                    4\t5\t1580732946201\tunfollow\tRoger Histand\tMary Smith\n";
        let actions = parse(text).unwrap();
        assert_eq!(actions.len(), 4);
        assert_eq!(actions[0].username, "Roger Histand");
        assert_eq!(
            actions[0].command,
            Command::Register { email: "Roger+Histand@hotmail.com".into(), pwd: "N@R9`u".into() }
        );
        assert_eq!(actions[1].delay_ms, 11);
        assert_eq!(actions[1].timestamp_ms, 1580732946191);
        assert_eq!(actions[1].command, Command::Tweet { content: "Call me Ishmael. <b>&</b> \"hi\"".into() });
        assert_eq!(actions[2].command, Command::Follow { target: "Mary Smith".into() });
        assert_eq!(actions[3].command, Command::Unfollow { target: "Mary Smith".into() });
        assert_eq!(actions[3].id, 4);
    }

    #[test]
    fn round_trips_through_text_including_tabs_newlines_and_backslashes() {
        let awkward = "tab\there\nnewline\r\nback\\slash \\t literal, 日本語 😀 <&>\"'";
        let actions = vec![
            Action {
                id: 1,
                delay_ms: 0,
                timestamp_ms: 10,
                username: "Zoë O'Brien".into(),
                command: Command::Register { email: "z\t@x".into(), pwd: "p\\w\nd".into() },
            },
            Action {
                id: 2,
                delay_ms: 3,
                timestamp_ms: 13,
                username: "Zoë O'Brien".into(),
                command: Command::Tweet { content: awkward.into() },
            },
            Action {
                id: 3,
                delay_ms: 4,
                timestamp_ms: 17,
                username: "a\\".into(),
                command: Command::Follow { target: "\\".into() },
            },
        ];
        let mut buf = Vec::new();
        write(&actions, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 3, "escaped fields keep one action per line");
        assert!(text.lines().all(|l| l.split('\t').count() <= 7));
        assert_eq!(parse(&text).unwrap(), actions);
    }

    #[test]
    fn unknown_backslash_sequences_are_kept() {
        assert_eq!(unescape(r"C:\path\x"), r"C:\path\x");
        assert_eq!(unescape("end\\"), "end\\");
        assert_eq!(unescape(r"a\\tb"), r"a\tb");
    }

    #[test]
    fn reports_bad_lines_with_their_number() {
        let err = parse("1\t0\t0\tregister\tA B\ta@b\tpw\n2\t0\t0\ttweet\tA B\tx\ty\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse("1\t0\t0\tdance\tA B\tx\n").unwrap_err().message.contains("unknown command"));
        assert!(parse("x\t0\t0\ttweet\tA B\tx\n").is_err());
        assert!(parse("1\t0\t0\ttweet\tA B\n").is_err());
        assert!(parse("1\t0\t0\tregister\tA B\ta@b\n").is_err());
    }

    #[test]
    fn generated_scenarios_round_trip() {
        let actions = generate(&opts(50, 2_000, 9));
        let mut buf = Vec::new();
        write(&actions, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.contains('\\'), "generated text needs no escaping");
        assert_eq!(parse(&text).unwrap(), actions);
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        assert_eq!(generate(&opts(40, 1_000, 42)), generate(&opts(40, 1_000, 42)));
        assert_ne!(generate(&opts(40, 1_000, 42)), generate(&opts(40, 1_000, 43)));
    }

    #[test]
    fn no_action_before_register_and_usernames_are_unique_with_spaces() {
        for seed in 0..5 {
            let actions = generate(&opts(300, 10_000, seed));
            assert_eq!(actions.len(), 10_000);
            assert_eq!(actions[0].kind(), Kind::Register);
            let mut registered = HashSet::new();
            let mut follows = HashSet::new();
            let mut unfollow_not_followed = 0;
            let mut ts = actions[0].timestamp_ms;
            for (i, a) in actions.iter().enumerate() {
                assert_eq!(a.id, i as i64 + 1);
                assert_eq!(a.timestamp_ms, ts + a.delay_ms as i64);
                ts = a.timestamp_ms;
                match &a.command {
                    Command::Register { email, pwd } => {
                        assert!(registered.insert(a.username.clone()), "registered twice: {}", a.username);
                        assert!(a.username.contains(' '));
                        assert!(email.contains('@'));
                        assert!((5..=10).contains(&pwd.len()));
                    }
                    cmd => {
                        assert!(registered.contains(&a.username), "{} acts before registering", a.username);
                        if let Some(t) = cmd.target() {
                            assert!(registered.contains(t), "{t} is named before registering");
                            assert_ne!(t, a.username);
                        }
                        match cmd {
                            Command::Follow { target } => {
                                assert!(
                                    follows.insert((a.username.clone(), target.clone())),
                                    "follows twice"
                                );
                            }
                            Command::Unfollow { target } => {
                                if !follows.remove(&(a.username.clone(), target.clone())) {
                                    unfollow_not_followed += 1;
                                }
                            }
                            Command::Tweet { content } => {
                                assert!(content.chars().count() <= names::MESSAGE_MAX_CHARS);
                            }
                            Command::Register { .. } => unreachable!(),
                        }
                    }
                }
            }
            assert_eq!(registered.len(), 300, "every user registers");
            assert!(unfollow_not_followed > 0, "some unfollows name users not followed");
        }
    }

    #[test]
    fn activity_and_popularity_are_skewed() {
        let actions = generate(&opts(1_000, 50_000, 5));
        let mut tweets: HashMap<&str, usize> = HashMap::new();
        let mut followed: HashMap<&str, usize> = HashMap::new();
        for a in &actions {
            match &a.command {
                Command::Tweet { .. } => *tweets.entry(&a.username).or_default() += 1,
                Command::Follow { target } => *followed.entry(target).or_default() += 1,
                _ => {}
            }
        }
        let top_share = |m: &HashMap<&str, usize>| {
            let mut v: Vec<usize> = m.values().copied().collect();
            v.sort_unstable_by(|a, b| b.cmp(a));
            v.iter().take(10).sum::<usize>() as f64 / v.iter().sum::<usize>() as f64
        };
        // Uniform would give the top 10 of 1,000 users about 1 %.
        assert!(top_share(&tweets) > 0.05, "{}", top_share(&tweets));
        assert!(top_share(&followed) > 0.05, "{}", top_share(&followed));
        let kinds: HashSet<Kind> = actions.iter().map(Action::kind).collect();
        assert_eq!(kinds.len(), 4);
    }

    #[test]
    fn generated_data_passes_the_systems_domain_rules() {
        use minitwit_api::domain::{Email, MessageText, Password, Username};
        for a in generate(&opts(500, 5_000, 11)) {
            Username::parse(&a.username).unwrap();
            match &a.command {
                Command::Register { email, pwd } => {
                    Email::parse(email).unwrap();
                    Password::parse(pwd).unwrap();
                }
                Command::Tweet { content } => {
                    MessageText::parse(content).unwrap();
                }
                Command::Follow { target } | Command::Unfollow { target } => {
                    Username::parse(target).unwrap();
                }
            }
        }
    }

    #[test]
    fn fewer_actions_than_users_registers_only_that_many() {
        let actions = generate(&opts(100, 10, 1));
        assert_eq!(actions.len(), 10);
        assert!(actions.iter().all(|a| a.kind() == Kind::Register));
        assert!(generate(&opts(10, 0, 1)).is_empty());
    }
}
