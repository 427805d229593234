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
pub mod pem;
pub mod retry;
pub mod user;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

pub use error::ErrorBody;

/// The course simulator's `Authorization` header (`simulator:super_safe!`): what the
/// gateway accepts by default and `minitwit-sim` sends by default.
pub const COURSE_SIM_AUTHORIZATION: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";

/// Everything but unreserved characters is percent-encoded, so any username is one
/// path segment: `Roger Histand` becomes `Roger%20Histand`, `a/b` `a%2Fb`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `s` as one path segment (the services' routes, the gateway's pages, the simulator API).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A total, e.g. of users.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Count {
    pub count: i64,
}
