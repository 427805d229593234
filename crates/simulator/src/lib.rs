//! `minitwit-sim`: drives MiniTwit from outside, as the course's simulator does and harder.
//!
//! - [`scenario`]: the course's tab-separated scenario format, and a generator of
//!   realistic scenarios ([`scenario::generate`]).
//! - [`replay`]: replays a scenario faithfully (or fast, sharded by user) and counts
//!   errors as the course does ([`replay::replay`]).
//! - [`load`]: open-loop load at a constant arrival rate, latencies in an HDR histogram.
//! - [`seed`]: fills a deployment with a large data set (sim API, or PostgreSQL `COPY`).

pub mod http;
pub mod load;
pub mod names;
pub mod progress;
pub mod replay;
pub mod scenario;
pub mod seed;
pub mod stats;
pub mod verify;
