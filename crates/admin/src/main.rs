//! `minitwit-admin`: operator tasks on a MiniTwit system. See the crate docs and
//! deploy/README.md ("Take over a legacy MiniTwit").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use minitwit_admin::{import, read_latest_file, Options, Source, Targets};

#[derive(Parser)]
#[command(name = "minitwit-admin", version, about = "Operator tasks on a MiniTwit system")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Imports a legacy MiniTwit database (the course's schema.sql) into the three
    /// services' databases, as their settings name them (make run's SQLite files by
    /// default; USER_SERVICE_DATABASE__URL, MESSAGE_SERVICE_DATABASE__URL,
    /// FOLLOW_SERVICE_DATABASE__URL otherwise). Idempotent: a re-run imports the delta.
    Import(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
    /// The legacy database: a SQLite file, or a postgres:// URL.
    #[arg(long)]
    from: String,
    /// Carry the simulator's `latest` value over.
    #[arg(long, conflicts_with = "latest_file")]
    latest: Option<i64>,
    /// Carry `latest` over from the legacy app's latest_processed_sim_action_id.txt.
    #[arg(long)]
    latest_file: Option<PathBuf>,
    /// Where to write the JSON report of every row not imported as it was.
    #[arg(long, default_value = "import-report.json")]
    report: PathBuf,
    /// The user-service's database (instead of its settings).
    #[arg(long)]
    users_db: Option<String>,
    /// The message-service's database (instead of its settings).
    #[arg(long)]
    messages_db: Option<String>,
    /// The follow-service's database (instead of its settings).
    #[arg(long)]
    follows_db: Option<String>,
    /// No progress display.
    #[arg(long)]
    quiet: bool,
}

fn main() -> anyhow::Result<()> {
    let Cmd::Import(a) = Cli::parse().cmd;
    let mut targets = Targets::from_settings()?;
    targets.users = a.users_db.unwrap_or(targets.users);
    targets.messages = a.messages_db.unwrap_or(targets.messages);
    targets.follows = a.follows_db.unwrap_or(targets.follows);
    let latest = match (a.latest, a.latest_file) {
        (Some(n), _) => Some(n),
        (None, Some(path)) => Some(read_latest_file(&path)?),
        (None, None) => None,
    };
    let options = Options { source: Source::parse(&a.from)?, targets, latest, progress: !a.quiet };
    let summary = import(&options)?;
    print!("{}", summary.render());
    std::fs::write(&a.report, serde_json::to_string_pretty(&summary)?)?;
    println!("report of {} rows not imported as they were: {}", summary.issues.len(), a.report.display());
    Ok(())
}
