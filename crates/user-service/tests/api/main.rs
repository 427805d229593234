//! Black-box tests of user-service over HTTP, each on PostgreSQL and on SQLite.

mod database;
mod helpers;
mod internal_tls;
mod legacy;
mod lookup;
mod migrations;
mod register_login;
mod service_token;
mod without_database;
