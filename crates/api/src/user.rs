//! user-service: accounts.
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `POST /users` | [`NewUser`] | 201 [`User`]; 400 `invalid_*`; 409 `username_taken` |
//! | `POST /users/login` | [`Credentials`] | 200 [`User`]; 404 `no_such_user`; 401 `wrong_password` |
//! | `GET /users/by-name/{username}` | | 200 [`User`]; 404 `no_such_user` |
//! | `GET /users/{id}` | | 200 [`User`]; 404 `no_such_user` |
//! | `POST /users/batch` | [`UserIds`] (at most 1000) | 200 `[User]` (unknown ids left out) |
//! | `GET /users/count` | | 200 [`Count`](crate::Count) |

use serde::{Deserialize, Serialize};

pub const BATCH_MAX: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserIds {
    pub ids: Vec<i64>,
}
