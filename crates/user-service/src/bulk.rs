//! Bulk loads into the `users` table, for operator tools (the simulator's seeding,
//! `minitwit-admin import`): explicit ids kept, `COPY` on PostgreSQL, multi-row
//! inserts on SQLite, the id sequence moved past the loaded ids. Not a route: these
//! skip the checks and the password hashing of registration; the caller brings valid
//! rows (the table's constraints still hold).

use diesel::prelude::*;
use minitwit_kit::{
    bulk::{self, field},
    db::DbConnection,
};

pub use crate::legacy::Scheme;
use crate::{schema::users, MIGRATIONS};

/// One account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkUser {
    pub id: i64,
    pub username: String,
    pub email: String,
    /// An argon2id PHC string, or a legacy hash of `pw_scheme`.
    pub pw_hash: String,
    /// None for argon2id; else how the legacy hash is verified ([`Scheme::detect`]).
    pub pw_scheme: Option<Scheme>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A connection to the user-service's database at `url` (as in its settings),
/// migrated, for a bulk load.
pub fn open(url: &str) -> anyhow::Result<DbConnection> {
    bulk::open(url, &MIGRATIONS)
}

/// The id after the largest stored (1 for an empty table).
pub fn next_id(conn: &mut DbConnection) -> QueryResult<i64> {
    let max = users::table.select(diesel::dsl::max(users::id)).first::<Option<i64>>(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Every stored user id, ascending.
pub fn ids(conn: &mut DbConnection) -> QueryResult<Vec<i64>> {
    users::table.select(users::id).order(users::id).load(conn)
}

/// Every stored username.
pub fn usernames(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    users::table.select(users::username).load(conn)
}

/// Inserts `rows` in one transaction: all or none. Returns the number inserted.
pub fn insert_users(
    conn: &mut DbConnection,
    rows: impl IntoIterator<Item = BulkUser>,
) -> anyhow::Result<u64> {
    conn.transaction(|conn| {
        let n = match conn {
            DbConnection::Pg(c) => diesel::copy_from(users::table)
                .from_raw_data(
                    (
                        users::id,
                        users::username,
                        users::email,
                        users::pw_hash,
                        users::pw_scheme,
                        users::created_at,
                    ),
                    bulk::copy_rows(rows, |w, u: BulkUser| {
                        writeln!(
                            w,
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            u.id,
                            field(&u.username),
                            field(&u.email),
                            field(&u.pw_hash),
                            // \N is COPY's NULL.
                            u.pw_scheme.map_or("\\N", Scheme::name),
                            u.created_at
                        )
                    }),
                )
                .execute(c)? as u64,
            DbConnection::Sqlite(c) => bulk::in_batches(rows, bulk::SQLITE_BATCH_ROWS, |batch| {
                let values: Vec<_> = batch
                    .iter()
                    .map(|u| {
                        (
                            users::id.eq(u.id),
                            users::username.eq(&u.username),
                            users::email.eq(&u.email),
                            users::pw_hash.eq(&u.pw_hash),
                            users::pw_scheme.eq(u.pw_scheme.map(Scheme::name)),
                            users::created_at.eq(u.created_at),
                        )
                    })
                    .collect();
                diesel::insert_into(users::table).values(values).execute(c).map(drop)
            })?,
        };
        bulk::move_id_sequence(conn, "users")?;
        Ok(n)
    })
}
