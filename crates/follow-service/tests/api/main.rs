//! Black-box tests of follow-service over HTTP, each on PostgreSQL and on SQLite.

mod bad_input;
mod follow_unfollow;
mod helpers;
mod migrations;
mod reads;
mod without_database;
