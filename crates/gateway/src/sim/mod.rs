//! The course simulator's JSON API (`sim-api.md`). Placeholder: being built.

use actix_web::web;

use crate::AppState;

pub fn configure(_cfg: &mut web::ServiceConfig, _state: AppState) {}
