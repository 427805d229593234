//! message-service: messages, and the simulator's `latest` value.
//!
//! All lists are newest first (`pub_date` then `id`, descending), leave out flagged
//! messages, and page by keyset: `next` is the cursor of the next, older page.
//!
//! | route | body / query | answer |
//! | --- | --- | --- |
//! | `POST /messages` | [`NewMessage`] | 201 [`Message`]; 200 the stored [`Message`] when its author posted with the key before; 400 `invalid_text`, `invalid_id`, `invalid_idempotency_key`; 422 `idempotency_key_reused` |
//! | `GET /messages` | [`PageQuery`] | 200 [`MessagePage`] (public timeline) |
//! | `GET /messages/by-author/{author_id}` | [`PageQuery`] | 200 [`MessagePage`]; 400 `invalid_id` |
//! | `POST /messages/by-authors` | [`AuthorsQuery`] | 200 [`MessagePage`] ("my timeline"); 400 `invalid_id`, `too_many_authors` |
//! | `PUT /messages/{id}/flag` | | 204; 400 `invalid_id`; 404 `no_such_message` |
//! | `DELETE /messages/{id}/flag` | | 204; 400 `invalid_id`; 404 `no_such_message` |
//! | `GET /messages/count` | | 200 [`Count`](crate::Count) |
//! | `GET /latest` | | 200 [`Latest`] (`-1` before any) |
//! | `PUT /latest` | [`SetLatest`] | 204 (an older write than the stored one is ignored) |
//!
//! Refusals are [`MessageError`]s; any route may also answer a [common
//! code](crate::error::Common).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{
    domain::{Field, IdempotencyKey, MessageId, MessageText, UserId},
    error::{derived_refusals, Rule, ServiceError},
};

pub const DEFAULT_LIMIT: u32 = 30;
pub const AUTHORS_MAX: usize = 5000;

/// What message-service refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(name(MessageErrorKind), derive(strum::VariantArray, strum::IntoStaticStr))]
#[strum_discriminants(strum(serialize_all = "snake_case"))]
pub enum MessageError {
    #[error("at most {AUTHORS_MAX} author ids")]
    TooManyAuthors,
    #[error("there is no such message")]
    NoSuchMessage,
    /// The author posted another text with this key before.
    #[error("The idempotency key was used for another message")]
    KeyReused,
    #[error(transparent)]
    Invalid(Rule<Self>),
}

impl ServiceError for MessageError {
    const FIELDS: &'static [Field] = &[Field::Text, Field::IdempotencyKey, Field::Id];

    derived_refusals!(MessageError, MessageErrorKind, [TooManyAuthors, NoSuchMessage, KeyReused]);

    fn code(&self) -> &'static str {
        match self {
            Self::TooManyAuthors => "too_many_authors",
            Self::NoSuchMessage => "no_such_message",
            Self::KeyReused => "idempotency_key_reused",
            Self::Invalid(e) => e.get().code(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            Self::NoSuchMessage => 404,
            Self::KeyReused => 422,
            Self::TooManyAuthors | Self::Invalid(_) => 400,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewMessage {
    pub author_id: UserId,
    pub text: MessageText,
    /// With a key, posting again is safe: the service stores one message per author
    /// and key ([`IdempotencyKey`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<IdempotencyKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub author_id: UserId,
    pub text: String,
    /// Unix time in seconds.
    pub pub_date: i64,
    pub flagged: bool,
}

impl Message {
    pub fn cursor(&self) -> Cursor {
        Cursor { pub_date: self.pub_date, id: self.id.get() }
    }
}

/// A position in a timeline: the page after it holds messages strictly older than
/// (`pub_date`, `id`). Written `<pub_date>_<id>` in URLs and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub pub_date: i64,
    pub id: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.pub_date, self.id)
    }
}

impl FromStr for Cursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a cursor: {s:?} (expected <pub_date>_<id>)");
        let (date, id) = s.split_once('_').ok_or_else(bad)?;
        Ok(Cursor { pub_date: date.parse().map_err(|_| bad())?, id: id.parse().map_err(|_| bad())? })
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `?limit=30&before=<cursor>`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub before: Option<Cursor>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorsQuery {
    pub author_ids: Vec<UserId>,
    pub limit: Option<u32>,
    pub before: Option<Cursor>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Set when an older page may exist.
    pub next: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Latest {
    pub latest: i64,
}

/// The body of `PUT /latest`: the value and when the gateway received it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SetLatest {
    pub latest: i64,
    /// Microseconds since the Unix epoch when the gateway received `latest`. A write
    /// older than the stored value's is ignored (answered 204 all the same), so a call
    /// that lands late, a hedged copy or one the gateway gave up on, cannot set
    /// `latest` back. Absent: the service's own clock (a gateway from before the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at_us: Option<i64>,
}

/// Microseconds since the Unix epoch by this host's clock.
pub fn now_us() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor { pub_date: 1_700_000_000, id: 42 };
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"1700000000_42\"");
        for bad in ["", "12", "a_1", "1_b", "1_2_3"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }
}
