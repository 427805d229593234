//! Bulk loads into the `messages` table, for operator tools (the simulator's seeding,
//! `minitwit-admin import`): explicit ids kept, `COPY` on PostgreSQL, multi-row
//! inserts on SQLite, the id sequence moved past the loaded ids. Not a route: the
//! caller brings valid rows (the table's constraints still hold: text of 1 to 1000
//! characters).

use diesel::prelude::*;
use minitwit_kit::{
    bulk::{self, field},
    db::DbConnection,
};

use crate::{schema::messages, MIGRATIONS};

/// One message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkMessage {
    pub id: i64,
    pub author_id: i64,
    pub text: String,
    /// Unix seconds.
    pub pub_date: i64,
    pub flagged: bool,
}

/// A connection to the message-service's database at `url` (as in its settings),
/// migrated, for a bulk load.
pub fn open(url: &str) -> anyhow::Result<DbConnection> {
    bulk::open(url, &MIGRATIONS)
}

/// The id after the largest stored (1 for an empty table).
pub fn next_id(conn: &mut DbConnection) -> QueryResult<i64> {
    let max = messages::table.select(diesel::dsl::max(messages::id)).first::<Option<i64>>(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Sets the simulator's `latest` value (as `PUT /latest` does), carried over from a
/// legacy system at a cut-over.
pub fn set_latest(conn: &mut DbConnection, value: i64) -> anyhow::Result<()> {
    let now = minitwit_api::message::now_us();
    crate::latest::set(conn, value, now).map_err(|e| anyhow::anyhow!("setting latest: {e}"))
}

/// The simulator's `latest` value, -1 when none was recorded.
pub fn latest(conn: &mut DbConnection) -> anyhow::Result<i64> {
    crate::latest::get(conn).map_err(|e| anyhow::anyhow!("reading latest: {e}"))
}

/// Inserts `rows` in one transaction: all or none. Returns the number inserted.
pub fn insert_messages(
    conn: &mut DbConnection,
    rows: impl IntoIterator<Item = BulkMessage>,
) -> anyhow::Result<u64> {
    conn.transaction(|conn| {
        let n = match conn {
            DbConnection::Pg(c) => diesel::copy_from(messages::table)
                .from_raw_data(
                    (
                        messages::id,
                        messages::author_id,
                        messages::text,
                        messages::pub_date,
                        messages::flagged,
                    ),
                    bulk::copy_rows(rows, |w, m: BulkMessage| {
                        let flagged = if m.flagged { 't' } else { 'f' };
                        writeln!(
                            w,
                            "{}\t{}\t{}\t{}\t{flagged}",
                            m.id,
                            m.author_id,
                            field(&m.text),
                            m.pub_date
                        )
                    }),
                )
                .execute(c)? as u64,
            DbConnection::Sqlite(c) => bulk::in_batches(rows, bulk::SQLITE_BATCH_ROWS, |batch| {
                let values: Vec<_> = batch
                    .iter()
                    .map(|m| {
                        (
                            messages::id.eq(m.id),
                            messages::author_id.eq(m.author_id),
                            messages::text.eq(&m.text),
                            messages::pub_date.eq(m.pub_date),
                            messages::flagged.eq(m.flagged),
                        )
                    })
                    .collect();
                diesel::insert_into(messages::table).values(values).execute(c).map(drop)
            })?,
        };
        bulk::move_id_sequence(conn, "messages")?;
        Ok(n)
    })
}

/// The ids of the flagged messages among ids `first..=last`.
pub fn flagged_ids(conn: &mut DbConnection, first: i64, last: i64) -> QueryResult<Vec<i64>> {
    messages::table
        .filter(messages::id.between(first, last).and(messages::flagged))
        .select(messages::id)
        .order(messages::id)
        .load(conn)
}

/// Sets `flagged` on the messages `ids`; returns how many changed.
pub fn set_flagged(conn: &mut DbConnection, ids: &[i64], flagged: bool) -> QueryResult<usize> {
    let mut changed = 0;
    for chunk in ids.chunks(bulk::SQLITE_BATCH_ROWS) {
        changed += diesel::update(messages::table.filter(messages::id.eq_any(chunk)))
            .filter(messages::flagged.ne(flagged))
            .set(messages::flagged.eq(flagged))
            .execute(conn)?;
    }
    Ok(changed)
}
