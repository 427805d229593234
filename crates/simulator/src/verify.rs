//! Proves that no acknowledged tweet or follow was lost or stored twice: reads the log
//! that `load --ack-log` wrote and looks every one up through the simulator API.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::http::{self, Connections};

/// Largest page the message-service serves by default (`MESSAGE_SERVICE_MAX_LIMIT`); a
/// user with more acknowledged tweets than the page cannot be checked in one read
/// (`verify --page` for a deployment whose operators allow more).
pub const PAGE: usize = 1000;

/// One line of the log: a tweet (`content`) or a follow (`follow`) of `user`.
#[derive(Debug, Deserialize)]
struct Ack {
    user: String,
    content: Option<String>,
    follow: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Follows {
    follows: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    content: String,
}

#[derive(Debug, Default, Serialize)]
pub struct VerifySummary {
    pub users: usize,
    pub acknowledged: u64,
    /// Found exactly once.
    pub kept: u64,
    pub lost: u64,
    /// Found more than once.
    pub duplicated: u64,
    /// Acknowledged follows (each pair counted once) and how many of them are listed
    /// exactly once, not at all, or more than once among the user's followees.
    pub follows_acknowledged: u64,
    pub follows_kept: u64,
    pub follows_lost: u64,
    pub follows_duplicated: u64,
    /// Users whose tweets did not fit in one page, so were not checked.
    pub unchecked_users: Vec<String>,
    /// Up to ten lost or duplicated tweets or follows, as `user: content (times found)`.
    pub examples: Vec<String>,
}

impl VerifySummary {
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.follows_lost == 0
            && self.follows_duplicated == 0
            && self.unchecked_users.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "verify: {} acknowledged tweets of {} users: {} kept once, {} lost, {} duplicated\n",
            self.acknowledged, self.users, self.kept, self.lost, self.duplicated
        );
        if self.follows_acknowledged > 0 {
            out.push_str(&format!(
                "verify: {} acknowledged follows: {} listed once, {} lost, {} duplicated\n",
                self.follows_acknowledged, self.follows_kept, self.follows_lost, self.follows_duplicated
            ));
        }
        if !self.unchecked_users.is_empty() {
            out.push_str(&format!(
                "not checked (a full page of tweets or follows): {:?}\n",
                self.unchecked_users
            ));
        }
        for e in &self.examples {
            out.push_str(&format!("  {e}\n"));
        }
        out
    }
}

/// Reads the acknowledgement log at `path` and checks it against `url`, reading each
/// user's tweets and follows as one page of `page` (`no=`).
pub async fn verify(url: &str, path: &Path, auth: &str, page: usize) -> anyhow::Result<VerifySummary> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut follows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let not_ack = || format!("{}:{}: not an ack line", path.display(), n + 1);
        let ack: Ack = serde_json::from_str(line).with_context(not_ack)?;
        match (ack.content, ack.follow) {
            (Some(content), None) => by_user.entry(ack.user).or_default().push(content),
            (None, Some(followee)) => {
                follows.entry(ack.user).or_default().insert(followee);
            }
            _ => anyhow::bail!("{}: neither a tweet nor a follow", not_ack()),
        }
    }
    let base = http::base_url(url);
    let client = http::client(auth, std::time::Duration::from_secs(10), Connections::KeepAlive)?;
    let mut summary = VerifySummary { users: by_user.len(), ..Default::default() };
    for (user, followees) in follows {
        summary.follows_acknowledged += followees.len() as u64;
        let url = format!("{base}/fllws/{}?no={page}", http::encode_segment(&user));
        let resp = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        anyhow::ensure!(status.is_success(), "GET {url}: {status}");
        let listed: Follows = resp.json().await.with_context(|| format!("GET {url}: body"))?;
        if listed.follows.len() >= page {
            summary.unchecked_users.push(user);
            continue;
        }
        for followee in &followees {
            match listed.follows.iter().filter(|f| *f == followee).count() {
                1 => summary.follows_kept += 1,
                times => {
                    if times == 0 {
                        summary.follows_lost += 1;
                    } else {
                        summary.follows_duplicated += 1;
                    }
                    if summary.examples.len() < 10 {
                        summary.examples.push(format!("{user} follows {followee} (listed {times} times)"));
                    }
                }
            }
        }
    }
    for (user, tweets) in by_user {
        summary.acknowledged += tweets.len() as u64;
        let url = format!("{base}/msgs/{}?no={page}", http::encode_segment(&user));
        let resp = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        anyhow::ensure!(status.is_success(), "GET {url}: {status}");
        let messages: Vec<Message> = resp.json().await.with_context(|| format!("GET {url}: body"))?;
        if messages.len() >= page {
            summary.unchecked_users.push(user);
            continue;
        }
        let mut found: HashMap<&str, usize> = HashMap::new();
        for m in &messages {
            *found.entry(m.content.as_str()).or_default() += 1;
        }
        for t in &tweets {
            match found.get(t.as_str()).copied().unwrap_or(0) {
                1 => summary.kept += 1,
                times => {
                    if times == 0 {
                        summary.lost += 1;
                    } else {
                        summary.duplicated += 1;
                    }
                    if summary.examples.len() < 10 {
                        summary.examples.push(format!("{user}: {t:?} (found {times} times)"));
                    }
                }
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers every request with `body` (a JSON message list).
    async fn serve(body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn counts_kept_lost_and_duplicated_tweets() {
        let url = serve(r#"[{"content":"a #0-1","user":"u"},{"content":"b #0-2","user":"u"},{"content":"b #0-2","user":"u"}]"#).await;
        let log = std::env::temp_dir().join(format!("minitwit-verify-{}.jsonl", std::process::id()));
        std::fs::write(
            &log,
            "{\"user\":\"u\",\"content\":\"a #0-1\"}\n{\"user\":\"u\",\"content\":\"b #0-2\"}\n{\"user\":\"u\",\"content\":\"c #0-3\"}\n",
        )
        .unwrap();
        let s = verify(&url, &log, "Basic x", PAGE).await.unwrap();
        std::fs::remove_file(&log).unwrap();
        assert_eq!((s.acknowledged, s.kept, s.lost, s.duplicated), (3, 1, 1, 1));
        assert!(!s.ok());
        assert_eq!(s.examples.len(), 2);
    }

    #[tokio::test]
    async fn counts_kept_lost_and_duplicated_follows() {
        let url = serve(r#"{"follows": ["b", "c", "c"]}"#).await;
        let log = std::env::temp_dir().join(format!("minitwit-verify-follows-{}.jsonl", std::process::id()));
        std::fs::write(
            &log,
            "{\"user\":\"a\",\"follow\":\"b\"}\n{\"user\":\"a\",\"follow\":\"b\"}\n\
             {\"user\":\"a\",\"follow\":\"c\"}\n{\"user\":\"a\",\"follow\":\"d\"}\n",
        )
        .unwrap();
        let s = verify(&url, &log, "Basic x", PAGE).await.unwrap();
        std::fs::remove_file(&log).unwrap();
        // b was acknowledged twice: one pair, listed once.
        assert_eq!(
            (s.follows_acknowledged, s.follows_kept, s.follows_lost, s.follows_duplicated),
            (3, 1, 1, 1)
        );
        assert_eq!(s.acknowledged, 0);
        assert!(!s.ok());
    }

    #[tokio::test]
    async fn a_user_with_a_full_page_is_not_checked_and_not_ok() {
        let url = serve(r#"[{"content":"a #0-1","user":"u"},{"content":"b #0-2","user":"u"}]"#).await;
        let log = std::env::temp_dir().join(format!("minitwit-verify-page-{}.jsonl", std::process::id()));
        std::fs::write(&log, "{\"user\":\"u\",\"content\":\"a #0-1\"}\n").unwrap();
        let full = verify(&url, &log, "Basic x", 2).await.unwrap();
        let larger = verify(&url, &log, "Basic x", 3).await.unwrap();
        std::fs::remove_file(&log).unwrap();
        assert_eq!(full.unchecked_users, ["u"]);
        assert!(!full.ok(), "a user that could not be read whole is no proof");
        assert!(larger.unchecked_users.is_empty());
        assert_eq!((larger.kept, larger.lost), (1, 0));
        assert!(larger.ok());
    }

    #[tokio::test]
    async fn refuses_a_log_that_is_not_json_lines() {
        let log = std::env::temp_dir().join(format!("minitwit-verify-bad-{}.jsonl", std::process::id()));
        std::fs::write(&log, "not json\n").unwrap();
        let err = verify("http://127.0.0.1:9", &log, "Basic x", PAGE).await.unwrap_err();
        std::fs::remove_file(&log).unwrap();
        assert!(format!("{err:#}").contains("not an ack line"), "{err:#}");
    }
}
