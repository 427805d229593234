//! Runs follow-service with settings from the environment (see the README).

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = follow_service::Settings::load()?;
    minitwit_kit::server::run_until_stopped(follow_service::NAME, &settings.log, |logger| {
        follow_service::build(&settings, logger)
    })
    .await
}
