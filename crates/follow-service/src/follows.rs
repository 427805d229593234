//! Queries on the `follows` table, one plain function each, for both backends.
//! Every query is answered from the primary key (follower_id, followee_id).

use diesel::{
    dsl::exists,
    prelude::*,
    result::{DatabaseErrorKind, Error as DieselError},
};
use minitwit_api::{
    domain::UserId,
    follow::{Follow, FollowError},
};
use minitwit_kit::{db::DbConnection, ApiError};

use crate::schema::follows;

/// Adds the pair unless it is there; the primary key decides concurrent inserts.
/// Returns the number of rows inserted (0 or 1).
pub fn follow(conn: &mut DbConnection, Follow { follower, followee }: Follow) -> Result<usize, ApiError> {
    let row = (follows::follower_id.eq(follower.get()), follows::followee_id.eq(followee.get()));
    // ON CONFLICT: not in diesel's MultiBackend, so run on the backend's own connection.
    let inserted =
        conn.execute_on_backend(diesel::insert_into(follows::table).values(row).on_conflict_do_nothing());
    match inserted {
        Ok(n) => Ok(n),
        // The CHECK constraint backs the route's own test.
        Err(DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _)) => {
            Err(ApiError::refused(FollowError::SelfFollow))
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the pair if it is there. Returns the number of rows deleted (0 or 1).
pub fn unfollow(conn: &mut DbConnection, pair: Follow) -> Result<usize, ApiError> {
    Ok(diesel::delete(follows::table.find(key(pair))).execute(conn)?)
}

/// Whom `follower` follows, by followee id, at most `limit`: a range of the primary key.
pub fn followees(conn: &mut DbConnection, follower: UserId, limit: u32) -> Result<Vec<UserId>, ApiError> {
    let ids = follows::table
        .filter(follows::follower_id.eq(follower.get()))
        .order(follows::followee_id.asc())
        .limit(i64::from(limit))
        .select(follows::followee_id)
        .load::<i64>(conn)?;
    Ok(ids.into_iter().map(UserId::stored).collect())
}

pub fn is_following(conn: &mut DbConnection, pair: Follow) -> Result<bool, ApiError> {
    Ok(diesel::select(exists(follows::table.find(key(pair)))).get_result::<bool>(conn)?)
}

/// The table's primary key for `pair`.
fn key(Follow { follower, followee }: Follow) -> (i64, i64) {
    (follower.get(), followee.get())
}

pub fn count(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(follows::table.count().get_result(conn)?)
}
