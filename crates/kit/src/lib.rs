//! What every MiniTwit process repeats, and nothing else: layered settings, logging,
//! the JSON error type, Prometheus metrics, request ids and access logs, `/health`,
//! `/ready`, `/metrics`, the database pool and migrations, and serving (over mutual TLS
//! where configured) with graceful shutdown.

pub mod error;
pub mod logging;
pub mod metrics;
mod secret;
pub mod server;
pub mod settings;
pub mod tls;

#[cfg(feature = "db")]
pub mod bulk;
#[cfg(feature = "db")]
pub mod db;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::ApiError;
pub use server::{RequestId, Service};
