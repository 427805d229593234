//! The gateway: MiniTwit's only public entry point. It renders the web pages (Tera)
//! and serves the course simulator's JSON API, in both cases by calling the three
//! services over internal HTTP. It owns no business table.

pub mod inputs;
pub mod latest;
pub mod settings;
mod sim;
pub mod upstream;
mod web;

use std::sync::Arc;

use minitwit_kit::{
    server::{serve, Running},
    Service,
};

pub use settings::{Settings, ENV_PREFIX};

use crate::{latest::LatestRecorder, upstream::Upstream};

pub const NAME: &str = "gateway";

/// What every handler of the gateway shares.
#[derive(Clone)]
pub struct AppState {
    pub upstream: Upstream,
    pub latest: LatestRecorder,
    pub settings: Arc<Settings>,
    pub logger: slog::Logger,
}

/// Builds the gateway's server, bound but not yet started. The services need not be
/// up yet: the gateway answers 503 for what needs a missing one.
pub fn build(settings: &Settings, logger: slog::Logger) -> anyhow::Result<Running> {
    let service = Service::new(NAME, logger.clone());
    let upstream = Upstream::new(&settings.services, &settings.cache, &service.metrics)?;
    let latest = LatestRecorder::new(
        upstream.messages.clone(),
        service.metrics.gauge("minitwit_sim_latest", "The simulator's latest value, as last seen"),
    );
    sim::validate(&settings.sim)?;
    let state = AppState { upstream: upstream.clone(), latest, settings: Arc::new(settings.clone()), logger };
    let web = web::Web::new(&state)?;
    let service = service.with_readiness(upstream);
    serve(&settings.http, service, move |cfg| {
        sim::configure(cfg, state.clone());
        web.configure(cfg, state.clone());
    })
}
