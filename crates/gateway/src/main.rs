//! Runs the gateway with settings from the environment (see the README).

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = gateway::Settings::load()?;
    minitwit_kit::server::run_until_stopped(gateway::NAME, &settings.log, |logger| {
        gateway::build(&settings, logger)
    })
    .await
}
