//! The web UI (`web-ui.md`). Placeholder: being built.

use actix_web::web;

use crate::AppState;

#[derive(Clone)]
pub struct Web;

impl Web {
    pub fn new(_state: &AppState) -> anyhow::Result<Self> {
        Ok(Web)
    }

    pub fn configure(&self, _cfg: &mut web::ServiceConfig, _state: AppState) {}
}
