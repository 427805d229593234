//! Black-box tests of the gateway over HTTP, with the three real services on
//! PostgreSQL behind it.

mod connections;
mod degraded;
mod helpers;
mod mtls;
mod owasp;
mod proxy;
mod retries;
mod security;
mod sim;
mod web;
