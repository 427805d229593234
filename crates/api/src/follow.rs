//! follow-service: who follows whom, by user id.
//!
//! | route | query | answer |
//! | --- | --- | --- |
//! | `PUT /follows/{follower}/{followee}` | | 204 (idempotent); 400 `self_follow` |
//! | `DELETE /follows/{follower}/{followee}` | | 204 (idempotent) |
//! | `GET /follows/{follower}` | `?limit=N` | 200 [`Followees`], by followee id |
//! | `GET /follows/{follower}/{followee}` | | 200 [`Following`] |
//! | `GET /follows/count` | | 200 [`Count`](crate::Count) |

use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: u32 = 100;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LimitQuery {
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Followees {
    pub followees: Vec<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Following {
    pub following: bool,
}
