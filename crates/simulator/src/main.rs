//! The `minitwit-sim` command line. See `minitwit-sim --help`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use minitwit_sim::http::DEFAULT_AUTH;
use minitwit_sim::load::{self, LoadOptions, Mix};
use minitwit_sim::replay::{self, ReplayOptions};
use minitwit_sim::scenario::{self, GenerateOptions};
use minitwit_sim::seed::{self, DatabaseUrls, SeedSize};

/// Drives MiniTwit from outside: generates and replays the course simulator's
/// scenarios, runs open-loop load, seeds large data sets.
#[derive(Parser)]
#[command(name = "minitwit-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes a realistic scenario in the course's tab-separated format.
    Generate(GenerateArgs),
    /// Replays a scenario like the course's simulator: one action at a time, a fresh
    /// connection each, 0.3 s time-out, errors counted as the course counts them. Exits 1
    /// when there was any error (or GET /latest did not answer the last id).
    Replay(ReplayArgs),
    /// Open-loop load at a constant arrival rate; latency measured from each request's
    /// due time, so queueing cannot hide (no coordinated omission).
    Load(LoadArgs),
    /// Fills a deployment with users, follows and messages: through the sim API
    /// (--url), or straight into the services' databases through their bulk functions
    /// (--database-url-*; COPY on PostgreSQL). Every seeded user's password is "minitwit-seed".
    Seed(SeedArgs),
    /// Checks that every tweet and follow in a `load --ack-log` file is stored exactly once.
    /// Exits 1 when one was lost or duplicated.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// Base URL of the deployment.
    #[arg(long)]
    url: String,
    /// The file `load --ack-log` wrote.
    #[arg(long)]
    ack_log: PathBuf,
    /// How many tweets (follows) of one user to read at once (`no=`); a user with a full
    /// page is not checked. Above 1000 the deployment must allow it
    /// (`GATEWAY_SIM__MAX_NO`, `MESSAGE_SERVICE_MAX_LIMIT`, `FOLLOW_SERVICE_MAX_LIMIT`).
    #[arg(long, default_value_t = minitwit_sim::verify::PAGE)]
    page: usize,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Common {
    /// The full Authorization header value for the sim API.
    #[arg(long, env = "MINITWIT_SIM_AUTH", default_value = DEFAULT_AUTH, hide_default_value = true)]
    auth: String,
    /// Print the summary as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// A PEM certificate to trust for https:// URLs besides the usual roots, e.g. a
    /// test deployment's self-signed one.
    #[arg(long, env = "MINITWIT_SIM_CA_CERT")]
    ca_cert: Option<PathBuf>,
}

#[derive(Args)]
struct GenerateArgs {
    /// Users who register over the scenario.
    #[arg(long)]
    users: usize,
    /// Lines in total, registrations included.
    #[arg(long)]
    actions: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Mean delay between actions (exponentially distributed).
    #[arg(long, default_value_t = 10.0)]
    mean_delay_ms: f64,
    /// Output file (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ReplayArgs {
    /// Scenario file (tab-separated; \t \n \r \\ escapes inside fields).
    file: PathBuf,
    /// Base URL of the deployment, e.g. http://localhost:8080
    #[arg(long)]
    url: String,
    /// Workers; more than 1 shards actions by user (each user's actions keep their order).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Ignore the scenario's delays.
    #[arg(long)]
    no_delay: bool,
    /// Per-request time-out in milliseconds (the course's is 300).
    #[arg(long, default_value_t = 300)]
    timeout_ms: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct LoadArgs {
    #[arg(long)]
    url: String,
    /// Requests per second.
    #[arg(long)]
    rate: f64,
    /// How long: 90, 90s, 1500ms, 2m.
    #[arg(long, value_parser = load::parse_duration)]
    duration: Duration,
    /// Relative weights of tweet, follow, unfollow, public (GET /msgs), user (GET /msgs/<user>).
    #[arg(long, default_value = "tweet=40,follow=20,unfollow=10,public=15,user=15")]
    mix: Mix,
    /// Users registered first (204 or 400 both fine).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Per-request time-out in milliseconds (a time-out is an error).
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// no= of the timeline reads.
    #[arg(long, default_value_t = 30)]
    page_size: u32,
    /// Leave `latest=<n>` out of the requests (to measure what recording it costs).
    #[arg(long)]
    no_latest: bool,
    /// Registrations in flight at once before the load starts.
    #[arg(long, default_value_t = 32)]
    setup_concurrency: usize,
    /// Make tweet texts unique and write each acknowledged one here (JSON lines), for
    /// `verify`; acknowledged follows too when the mix has no unfollow.
    #[arg(long)]
    ack_log: Option<PathBuf>,
    /// Write each failed request here (JSON lines: due time since the epoch, kind,
    /// error), to tell which fault of a test caused which failures.
    #[arg(long)]
    error_log: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct SeedArgs {
    /// Seed through the sim API of this deployment.
    #[arg(long, required_unless_present = "database_url_users", conflicts_with = "database_url_users")]
    url: Option<String>,
    /// The user-service's database: a PostgreSQL URL or a SQLite file, as in its settings.
    #[arg(long, requires_all = ["database_url_messages", "database_url_follows"])]
    database_url_users: Option<String>,
    /// The message-service's database: a PostgreSQL URL or a SQLite file, as in its settings.
    #[arg(long)]
    database_url_messages: Option<String>,
    /// The follow-service's database: a PostgreSQL URL or a SQLite file, as in its settings.
    #[arg(long)]
    database_url_follows: Option<String>,
    #[arg(long)]
    users: usize,
    #[arg(long, default_value_t = 0)]
    messages: u64,
    /// Follow relations (distinct, never oneself; capped at users * (users - 1)).
    #[arg(long, default_value_t = 0)]
    follows: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Make the first seeded user follow exactly this many others (for "my timeline"
    /// benchmarks); the summary names that user.
    #[arg(long, default_value_t = 0)]
    heavy_follower: usize,
    /// Requests in flight at once (--url only).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("minitwit-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn print<T: serde::Serialize>(json: bool, summary: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
    let text = if json { serde_json::to_string_pretty(summary)? + "\n" } else { human() };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

impl Cmd {
    /// The options every command that talks to a deployment shares.
    fn common(&self) -> Option<&Common> {
        match self {
            Cmd::Generate(_) => None,
            Cmd::Replay(a) => Some(&a.common),
            Cmd::Load(a) => Some(&a.common),
            Cmd::Verify(a) => Some(&a.common),
            Cmd::Seed(a) => Some(&a.common),
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let progress = std::io::stderr().is_terminal();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // --ca-cert, before any client is built
    if let Some(path) = cli.command.common().and_then(|c| c.ca_cert.as_deref()) {
        minitwit_sim::http::trust_certificate(path)?;
    }
    match cli.command {
        Cmd::Generate(a) => {
            let actions = scenario::generate(&GenerateOptions {
                users: a.users,
                actions: a.actions,
                seed: a.seed,
                mean_delay_ms: a.mean_delay_ms,
                ..Default::default()
            });
            match a.out {
                Some(path) => {
                    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                    scenario::write(&actions, BufWriter::new(file))?;
                }
                None => scenario::write(&actions, BufWriter::new(std::io::stdout().lock()))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay(a) => {
            let actions = scenario::read_file(&a.file)?;
            let opts = ReplayOptions {
                url: a.url,
                concurrency: a.concurrency,
                no_delay: a.no_delay,
                auth: a.common.auth,
                timeout: Duration::from_millis(a.timeout_ms),
                progress,
            };
            let summary = rt.block_on(replay::replay(&actions, &opts))?;
            print(a.common.json, &summary, || summary.render())?;
            Ok(if summary.errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Load(a) => {
            let mut opts = LoadOptions::new(a.url, a.rate, a.duration);
            opts.mix = a.mix;
            opts.users = a.users;
            opts.seed = a.seed;
            opts.timeout = Duration::from_millis(a.timeout_ms);
            opts.auth = a.common.auth;
            opts.page_size = a.page_size;
            opts.latest = !a.no_latest;
            opts.ack_log = a.ack_log;
            opts.error_log = a.error_log;
            opts.setup_concurrency = a.setup_concurrency.max(1);
            opts.progress = progress;
            let summary = rt.block_on(load::load(&opts))?;
            print(a.common.json, &summary, || summary.render())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify(a) => {
            let summary =
                rt.block_on(minitwit_sim::verify::verify(&a.url, &a.ack_log, &a.common.auth, a.page))?;
            print(a.common.json, &summary, || summary.render())?;
            Ok(if summary.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Seed(a) => {
            let size = SeedSize {
                users: a.users,
                messages: a.messages,
                follows: a.follows,
                seed: a.seed,
                heavy_follower: a.heavy_follower,
            };
            let summary = match (a.url, a.database_url_users) {
                (Some(url), _) => {
                    rt.block_on(seed::seed_http(&url, &size, &a.common.auth, a.concurrency, progress))?
                }
                (None, Some(users)) => {
                    let urls = DatabaseUrls {
                        users,
                        messages: a.database_url_messages.context("--database-url-messages is required")?,
                        follows: a.database_url_follows.context("--database-url-follows is required")?,
                    };
                    seed::seed_database(&urls, &size, progress)?
                }
                (None, None) => anyhow::bail!("give --url or the three --database-url-* options"),
            };
            print(a.common.json, &summary, || summary.render())?;
            Ok(if summary.errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
