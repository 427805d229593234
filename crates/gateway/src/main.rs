//! Runs the gateway with settings from the environment (see the README).

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = gateway::Settings::load()?;
    let logger = minitwit_kit::logging::init(gateway::NAME, &settings.log);
    let running = gateway::build(&settings, logger.clone()).inspect_err(|e| {
        slog::crit!(logger, "cannot start"; "error" => format!("{e:#}"));
    })?;
    running.server.await?;
    slog::info!(logger, "stopped");
    Ok(())
}
