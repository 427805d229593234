//! follow-service: who follows whom, by user id.
//!
//! | route | query | answer |
//! | --- | --- | --- |
//! | `PUT /follows/{follower}/{followee}` | | 204 (idempotent); 400 `self_follow`, `invalid_id` |
//! | `DELETE /follows/{follower}/{followee}` | | 204 (idempotent); 400 `invalid_id` |
//! | `GET /follows/{follower}` | `?limit=N` | 200 [`Followees`], by followee id; 400 `invalid_id` |
//! | `GET /follows/{follower}/{followee}` | | 200 [`Following`]; 400 `invalid_id` |
//! | `GET /follows/count` | | 200 [`Count`](crate::Count) |
//!
//! Refusals are [`FollowError`]s; any route may also answer a [common
//! code](crate::error::Common).

use serde::{Deserialize, Serialize};

use crate::{
    domain::{Field, UserId},
    error::{derived_refusals, Rule, ServiceError},
};

pub const DEFAULT_LIMIT: u32 = 100;

/// What follow-service refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(name(FollowErrorKind), derive(strum::VariantArray, strum::IntoStaticStr))]
#[strum_discriminants(strum(serialize_all = "snake_case"))]
pub enum FollowError {
    #[error("You cannot follow yourself")]
    SelfFollow,
    #[error(transparent)]
    Invalid(Rule<Self>),
}

impl ServiceError for FollowError {
    const FIELDS: &'static [Field] = &[Field::Id];

    derived_refusals!(FollowError, FollowErrorKind, [SelfFollow]);

    fn code(&self) -> &'static str {
        match self {
            Self::SelfFollow => "self_follow",
            Self::Invalid(e) => e.get().code(),
        }
    }

    fn status(&self) -> u16 {
        400
    }
}

/// One user following another, by id: named fields, so the two cannot be swapped
/// unnoticed at a call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    pub follower: UserId,
    pub followee: UserId,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LimitQuery {
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Followees {
    pub followees: Vec<UserId>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Following {
    pub following: bool,
}
