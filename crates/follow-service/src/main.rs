//! Runs follow-service with settings from the environment (see the README).

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = follow_service::Settings::load()?;
    let logger = minitwit_kit::logging::init(follow_service::NAME, &settings.log);
    let running = follow_service::build(&settings, logger.clone()).inspect_err(|e| {
        slog::crit!(logger, "cannot start"; "error" => format!("{e:#}"));
    })?;
    running.server.await?;
    slog::info!(logger, "stopped");
    Ok(())
}
