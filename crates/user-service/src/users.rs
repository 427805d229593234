//! Queries on the `users` table, one plain function each, for both backends.

use diesel::prelude::*;
use minitwit_api::{
    domain::{Email, UserId, Username},
    user::{User, UserError},
};
use minitwit_kit::{db::DbConnection, ApiError};

use crate::schema::users;

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: i64,
    username: String,
    email: String,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User { id: UserId::stored(r.id), username: r.username, email: r.email }
    }
}

/// A user and their password hash, for login.
pub struct Account {
    pub user: User,
    pub pw_hash: String,
    /// None for argon2id; else the legacy scheme's name (`legacy::Scheme::name`).
    pub pw_scheme: Option<String>,
}

/// Inserts a new account. The unique index on `username` decides races: the loser
/// gets `username_taken`.
pub fn insert(
    conn: &mut DbConnection,
    username: &Username,
    email: &Email,
    pw_hash: &str,
) -> Result<User, ApiError> {
    let row =
        (users::username.eq(username.as_str()), users::email.eq(email.as_str()), users::pw_hash.eq(pw_hash));
    let inserted = diesel::insert_into(users::table)
        .values(row)
        // Columns, not `UserRow::as_returning()`: a `SelectBy` is built for one backend
        // and diesel's MultiBackend passes RETURNING to each backend's own.
        .returning((users::id, users::username, users::email))
        .get_result::<UserRow>(conn);
    match inserted {
        Ok(row) => Ok(row.into()),
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            Err(ApiError::refused(UserError::UsernameTaken))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn by_name(conn: &mut DbConnection, username: &str) -> Result<Option<User>, ApiError> {
    let row = users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(User::from))
}

pub fn account(conn: &mut DbConnection, username: &str) -> Result<Option<Account>, ApiError> {
    let row = users::table
        .filter(users::username.eq(username))
        .select((UserRow::as_select(), users::pw_hash, users::pw_scheme))
        .first::<(UserRow, String, Option<String>)>(conn)
        .optional()?;
    Ok(row.map(|(user, pw_hash, pw_scheme)| Account { user: user.into(), pw_hash, pw_scheme }))
}

/// Replaces the legacy hash `old` of user `id` with the argon2id `phc`, and clears its
/// scheme. Returns whether it did: false when another login upgraded it first.
pub fn upgrade_password(conn: &mut DbConnection, id: UserId, old: &str, phc: &str) -> Result<bool, ApiError> {
    let changed = diesel::update(
        users::table.find(id.get()).filter(users::pw_scheme.is_not_null()).filter(users::pw_hash.eq(old)),
    )
    .set((users::pw_hash.eq(phc), users::pw_scheme.eq(None::<String>)))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Accounts whose password is still a legacy hash.
pub fn count_legacy(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(users::table.filter(users::pw_scheme.is_not_null()).count().get_result(conn)?)
}

pub fn by_id(conn: &mut DbConnection, id: UserId) -> Result<Option<User>, ApiError> {
    let row = users::table.find(id.get()).select(UserRow::as_select()).first(conn).optional()?;
    Ok(row.map(User::from))
}

/// The users among `ids` that exist, in one query.
pub fn by_ids(conn: &mut DbConnection, ids: &[UserId]) -> Result<Vec<User>, ApiError> {
    let ids = ids.iter().map(|id| id.get());
    let rows = users::table.filter(users::id.eq_any(ids)).select(UserRow::as_select()).load(conn)?;
    Ok(rows.into_iter().map(User::from).collect())
}

/// The generation of the user's web sessions, `None` for an unknown user.
pub fn session_generation(conn: &mut DbConnection, id: UserId) -> Result<Option<i64>, ApiError> {
    Ok(users::table.find(id.get()).select(users::session_generation).first(conn).optional()?)
}

/// Ends every web session of the user (one more generation), and returns the new one.
pub fn end_sessions(conn: &mut DbConnection, id: UserId) -> Result<Option<i64>, ApiError> {
    let updated = diesel::update(users::table.find(id.get()))
        .set(users::session_generation.eq(users::session_generation + 1))
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    session_generation(conn, id)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(users::table.count().get_result(conn)?)
}
