//! The simulator's `latest` value, in the one-row `sim_latest` table: read it (`-1`
//! before anything was recorded) and overwrite it with an upsert (one statement, no
//! read-modify-write race between writers).

use diesel::{prelude::*, upsert::excluded};
use minitwit_kit::{db::DbConnection, ApiError};

use crate::schema::sim_latest;

/// The id of the one row.
const ROW: i32 = 1;

/// What `GET /latest` answers before any value was recorded.
pub const NONE: i64 = -1;

pub fn get(conn: &mut DbConnection) -> Result<i64, ApiError> {
    let value = sim_latest::table.find(ROW).select(sim_latest::value).first::<i64>(conn).optional()?;
    Ok(value.unwrap_or(NONE))
}

/// Records `value`, replacing the previous one (not the larger of the two).
pub fn set(conn: &mut DbConnection, value: i64) -> Result<(), ApiError> {
    // ON CONFLICT: not in diesel's MultiBackend, so run on the backend's own connection.
    conn.execute_on_backend(
        diesel::insert_into(sim_latest::table)
            .values((sim_latest::id.eq(ROW), sim_latest::value.eq(value)))
            .on_conflict(sim_latest::id)
            .do_update()
            .set(sim_latest::value.eq(excluded(sim_latest::value))),
    )?;
    Ok(())
}
