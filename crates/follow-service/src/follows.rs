//! Queries on the `follows` table, one plain function each, for both backends.
//! Every query is answered from the primary key (follower_id, followee_id).

use diesel::{
    dsl::exists,
    prelude::*,
    result::{DatabaseErrorKind, Error as DieselError},
};
use minitwit_api::follow::FollowError;
use minitwit_kit::{db::DbConnection, ApiError};

use crate::schema::follows;

/// Adds the pair unless it is there; the primary key decides concurrent inserts.
/// Returns the number of rows inserted (0 or 1).
pub fn follow(conn: &mut DbConnection, follower: i64, followee: i64) -> Result<usize, ApiError> {
    let row = (follows::follower_id.eq(follower), follows::followee_id.eq(followee));
    // ON CONFLICT: not in diesel's MultiBackend, so run on the backend's own connection.
    let inserted =
        conn.execute_on_backend(diesel::insert_into(follows::table).values(row).on_conflict_do_nothing());
    match inserted {
        Ok(n) => Ok(n),
        // The CHECK constraint backs the route's own test.
        Err(DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _)) => {
            Err(FollowError::SelfFollow.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the pair if it is there. Returns the number of rows deleted (0 or 1).
pub fn unfollow(conn: &mut DbConnection, follower: i64, followee: i64) -> Result<usize, ApiError> {
    Ok(diesel::delete(follows::table.find((follower, followee))).execute(conn)?)
}

/// Whom `follower` follows, by followee id, at most `limit`: a range of the primary key.
pub fn followees(conn: &mut DbConnection, follower: i64, limit: u32) -> Result<Vec<i64>, ApiError> {
    Ok(follows::table
        .filter(follows::follower_id.eq(follower))
        .order(follows::followee_id.asc())
        .limit(i64::from(limit))
        .select(follows::followee_id)
        .load::<i64>(conn)?)
}

pub fn is_following(conn: &mut DbConnection, follower: i64, followee: i64) -> Result<bool, ApiError> {
    Ok(diesel::select(exists(follows::table.find((follower, followee)))).get_result::<bool>(conn)?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(follows::table.count().get_result(conn)?)
}
