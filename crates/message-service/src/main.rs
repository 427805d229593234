//! Runs message-service with settings from the environment (see the README), or one of
//! the operator's subcommands: `message-service flag <id>`, `message-service unflag <id>`.

use message_service::{Command, Settings, USAGE};
use minitwit_api::domain::MessageId;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let command = Command::parse(std::env::args().skip(1)).unwrap_or_else(|why| {
        eprintln!("{why}\n\n{USAGE}");
        std::process::exit(2);
    });
    match command {
        Command::Help => println!("{USAGE}"),
        Command::Flag { id, flagged } => flag(&Settings::load()?, id, flagged).await,
        Command::Serve => serve(&Settings::load()?).await?,
    }
    Ok(())
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    minitwit_kit::server::run_until_stopped(message_service::NAME, &settings.log, |logger| {
        message_service::build(settings, logger)
    })
    .await
}

/// The flag tool: one line on stdout, or the reason on stderr and exit status 1.
async fn flag(settings: &Settings, id: MessageId, flagged: bool) {
    match message_service::flag_tool(settings, id, flagged).await {
        Ok(done) => println!("{done}"),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
