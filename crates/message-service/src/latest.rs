//! The simulator's `latest` value, in the one-row `sim_latest` table: read it (`-1`
//! before anything was recorded) and overwrite it with an upsert (one statement, no
//! read-modify-write race between writers) unless the stored value was received later.

use diesel::{prelude::*, query_dsl::methods::FilterDsl, upsert::excluded};
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

/// Records `value`, received at `recorded_at_us` (microseconds since the Unix epoch),
/// replacing the previous one (not the larger of the two) unless that was received
/// later: a write that lands late cannot set `latest` back. Two writes received at the
/// same microsecond: the last to arrive wins.
pub fn set(conn: &mut DbConnection, value: i64, recorded_at_us: i64) -> Result<(), ApiError> {
    // ON CONFLICT: not in diesel's MultiBackend, so run on the backend's own connection.
    // ... DO UPDATE ... WHERE: the upsert's own filter (not QueryDsl's).
    conn.execute_on_backend(FilterDsl::filter(
        diesel::insert_into(sim_latest::table)
            .values((
                sim_latest::id.eq(ROW),
                sim_latest::value.eq(value),
                sim_latest::recorded_at.eq(recorded_at_us),
            ))
            .on_conflict(sim_latest::id)
            .do_update()
            .set((
                sim_latest::value.eq(excluded(sim_latest::value)),
                sim_latest::recorded_at.eq(excluded(sim_latest::recorded_at)),
            )),
        sim_latest::recorded_at.le(excluded(sim_latest::recorded_at)),
    ))?;
    Ok(())
}
