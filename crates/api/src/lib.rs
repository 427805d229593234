//! The internal APIs of MiniTwit's services: the domain types that parse raw input,
//! the request and response bodies, and a typed HTTP client per service.
//!
//! This crate links no database driver, so the gateway can use it without one.

pub mod client;
pub mod connections;
pub mod domain;
pub mod error;
pub mod follow;
pub mod message;
pub mod retry;
pub mod user;

use serde::{Deserialize, Serialize};

pub use error::ErrorBody;

/// A total, e.g. of users.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Count {
    pub count: i64,
}
