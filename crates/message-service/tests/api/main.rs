//! Black-box tests of message-service over HTTP, each on PostgreSQL and on SQLite.

mod bad_input;
mod flag;
mod helpers;
mod idempotency;
mod latest;
mod migrations;
mod operations;
mod timelines;
mod without_database;
