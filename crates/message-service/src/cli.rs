//! The binary's command line: serve (no arguments), or the operator's flag tool
//! (`flag <id>` / `unflag <id>`, the course's `flag_tool`), which opens the configured
//! database, sets the flag, prints the result and exits.

use minitwit_api::domain::MessageId;
use minitwit_kit::{db::Db, metrics::Metrics};

use crate::{messages, Settings, MIGRATIONS, NAME};

pub const USAGE: &str = "usage: message-service              serve the HTTP API
       message-service flag <id>    hide message <id> from every timeline
       message-service unflag <id>  show message <id> again
Settings come from MESSAGE_SERVICE_* variables (e.g. MESSAGE_SERVICE_DATABASE__URL).";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    Help,
    Flag { id: MessageId, flagged: bool },
}

impl Command {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let args: Vec<String> = args.into_iter().collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match args.as_slice() {
            [] => Ok(Command::Serve),
            ["help" | "-h" | "--help"] => Ok(Command::Help),
            [verb @ ("flag" | "unflag"), id] => {
                let bad = || format!("not a message id: {id:?}");
                let id = MessageId::parse(id.parse().map_err(|_| bad())?).map_err(|_| bad())?;
                Ok(Command::Flag { id, flagged: *verb == "flag" })
            }
            [verb @ ("flag" | "unflag"), ..] => Err(format!("{verb} takes exactly one message id")),
            [other, ..] => Err(format!("unknown command: {other:?}")),
        }
    }
}

/// Flags or unflags message `id` in the configured database; the line to print, or an
/// error when there is no such message.
pub async fn flag_tool(settings: &Settings, id: MessageId, flagged: bool) -> anyhow::Result<String> {
    let mut database = settings.database.clone();
    database.pool_size = 1;
    let db = tokio::task::spawn_blocking(move || Db::connect(&database, &MIGRATIONS, &Metrics::new(NAME)))
        .await??;
    let found = db.run(move |c| messages::set_flag(c, id, flagged)).await?;
    anyhow::ensure!(found, "no message with id {id}");
    Ok(format!("message {id} {}", if flagged { "flagged" } else { "unflagged" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        Command::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn no_arguments_serve() {
        assert_eq!(parse(&[]), Ok(Command::Serve));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
    }

    #[test]
    fn flag_and_unflag_take_one_id() {
        assert_eq!(parse(&["flag", "42"]), Ok(Command::Flag { id: MessageId::stored(42), flagged: true }));
        assert_eq!(parse(&["unflag", "7"]), Ok(Command::Flag { id: MessageId::stored(7), flagged: false }));
        assert!(parse(&["flag"]).is_err());
        assert!(parse(&["flag", "x"]).is_err());
        assert_eq!(parse(&["flag", "0"]), Err("not a message id: \"0\"".to_string()));
        assert!(parse(&["flag", "1", "2"]).is_err());
        assert!(parse(&["delete", "1"]).unwrap_err().contains("unknown command"));
    }
}
