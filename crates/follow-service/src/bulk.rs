//! Bulk loads into the `follows` table, for operator tools (the simulator's seeding,
//! `minitwit-admin import`): `COPY` on PostgreSQL, multi-row inserts on SQLite. Not a
//! route: the caller brings distinct pairs of two different users (the table's
//! primary key and check still hold).

use diesel::prelude::*;
use minitwit_kit::{bulk, db::DbConnection};

use crate::{schema::follows, MIGRATIONS};

/// One follow as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BulkFollow {
    pub follower_id: i64,
    pub followee_id: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// A connection to the follow-service's database at `url` (as in its settings),
/// migrated, for a bulk load.
pub fn open(url: &str) -> anyhow::Result<DbConnection> {
    bulk::open(url, &MIGRATIONS)
}

/// Every stored (follower, followee) pair.
pub fn pairs(conn: &mut DbConnection) -> QueryResult<Vec<(i64, i64)>> {
    follows::table.select((follows::follower_id, follows::followee_id)).load(conn)
}

/// Inserts `rows` in one transaction: all or none. Returns the number inserted.
pub fn insert_follows(
    conn: &mut DbConnection,
    rows: impl IntoIterator<Item = BulkFollow>,
) -> anyhow::Result<u64> {
    conn.transaction(|conn| {
        Ok(match conn {
            DbConnection::Pg(c) => diesel::copy_from(follows::table)
                .from_raw_data(
                    (follows::follower_id, follows::followee_id, follows::created_at),
                    bulk::copy_rows(rows, |w, f: BulkFollow| {
                        writeln!(w, "{}\t{}\t{}", f.follower_id, f.followee_id, f.created_at)
                    }),
                )
                .execute(c)? as u64,
            DbConnection::Sqlite(c) => bulk::in_batches(rows, bulk::SQLITE_BATCH_ROWS, |batch| {
                let values: Vec<_> = batch
                    .iter()
                    .map(|f| {
                        (
                            follows::follower_id.eq(f.follower_id),
                            follows::followee_id.eq(f.followee_id),
                            follows::created_at.eq(f.created_at),
                        )
                    })
                    .collect();
                diesel::insert_into(follows::table).values(values).execute(c).map(drop)
            })?,
        })
    })
}
