//! user-service: accounts.
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `POST /users` | [`NewUser`] | 201 [`User`]; 400 `invalid_username`, `invalid_email`, `invalid_password`; 409 `username_taken` |
//! | `POST /users/login` | [`Credentials`] | 200 [`User`]; 400 `invalid_username`, `invalid_password`; 404 `no_such_user`; 401 `wrong_password` |
//! | `GET /users/by-name/{username}` | | 200 [`User`]; 404 `no_such_user` |
//! | `GET /users/{id}` | | 200 [`User`]; 400 `invalid_id`; 404 `no_such_user` |
//! | `POST /users/batch` | [`UserIds`] (at most 1000) | 200 `[User]` (unknown ids left out); 400 `invalid_id`, `too_many_ids` |
//! | `GET /users/count` | | 200 [`Count`](crate::Count) |
//! | `GET /users/{id}/session` | | 200 [`SessionGeneration`]; 400 `invalid_id`; 404 `no_such_user` |
//! | `POST /users/{id}/session/end` | | 200 [`SessionGeneration`] (the new one: sessions of older ones are over); 400 `invalid_id`; 404 `no_such_user` |
//!
//! Refusals are [`UserError`]s; any route may also answer a [common
//! code](crate::error::Common).

use serde::{Deserialize, Serialize};

use crate::{
    domain::{Email, Field, Password, UserId, Username},
    error::{derived_refusals, Rule, ServiceError},
};

pub const BATCH_MAX: usize = 1000;

/// What user-service refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(name(UserErrorKind), derive(strum::VariantArray, strum::IntoStaticStr))]
#[strum_discriminants(strum(serialize_all = "snake_case"))]
pub enum UserError {
    /// The name is someone's, or one of the gateway's own pages.
    #[error("The username is already taken")]
    UsernameTaken,
    #[error("Invalid username")]
    NoSuchUser,
    #[error("Invalid password")]
    WrongPassword,
    #[error("at most {BATCH_MAX} ids per batch")]
    TooManyIds,
    #[error(transparent)]
    Invalid(Rule<Self>),
}

impl ServiceError for UserError {
    const FIELDS: &'static [Field] = &[Field::Username, Field::Email, Field::Password, Field::Id];

    derived_refusals!(UserError, UserErrorKind, [UsernameTaken, NoSuchUser, WrongPassword, TooManyIds]);

    fn code(&self) -> &'static str {
        match self {
            Self::UsernameTaken => "username_taken",
            Self::NoSuchUser => "no_such_user",
            Self::WrongPassword => "wrong_password",
            Self::TooManyIds => "too_many_ids",
            Self::Invalid(e) => e.get().code(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            Self::UsernameTaken => 409,
            Self::NoSuchUser => 404,
            Self::WrongPassword => 401,
            Self::TooManyIds | Self::Invalid(_) => 400,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub password: Password,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub username: Username,
    pub password: Password,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
}

/// The generation of a user's web sessions: a session remembers the one it began in
/// and is over once the user's is newer (they logged out somewhere).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionGeneration {
    pub generation: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserIds {
    pub ids: Vec<UserId>,
}
