//! Runs user-service with settings from the environment (see the README).

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = user_service::Settings::load()?;
    minitwit_kit::server::run_until_stopped(user_service::NAME, &settings.log, |logger| {
        user_service::build(&settings, logger)
    })
    .await
}
