//! The errors of the internal APIs, as types.
//!
//! Every error answer is `{"error": code, "message": text}` ([`ErrorBody`]). A service's
//! own refusals are one enum per service ([`UserError`](crate::user::UserError),
//! [`MessageError`](crate::message::MessageError),
//! [`FollowError`](crate::follow::FollowError)): the service answers with one, the typed
//! client decodes it back into the same variant ([`ClientError::Refused`](crate::client::ClientError)),
//! and the gateway matches variants, never strings. What any route may answer besides
//! (a body that is not JSON, a database that does not answer) is [`Common`].

use serde::{Deserialize, Serialize};

/// The body of every error answer of the internal APIs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// A stable machine code, e.g. `username_taken`.
    pub error: String,
    /// A human explanation.
    pub message: String,
}

/// A service's own refusals: each variant has a status and a stable code, and is
/// decoded back from the body it was sent as.
pub trait ServiceError: std::error::Error + Copy + PartialEq + Send + Sync + Sized + 'static {
    /// Every refusal the service may answer with, in the order of its route table.
    const ALL: &'static [Self];

    /// The machine code, e.g. `username_taken`.
    fn code(&self) -> &'static str;

    /// The HTTP status the service answers with.
    fn status(&self) -> u16;

    /// The body the service answers with.
    fn body(&self) -> ErrorBody {
        ErrorBody { error: self.code().to_string(), message: self.to_string() }
    }

    /// The refusal a service sent as `body` with `status`, if it is one of ours. Several
    /// refusals share a code (`invalid_username` is empty, too long, …): the text tells
    /// them apart; one that is not known word for word is the first with that code.
    fn decode(status: u16, body: &ErrorBody) -> Option<Self> {
        let same_code = |e: &&Self| e.status() == status && e.code() == body.error;
        let mut candidates = Self::ALL.iter().filter(same_code);
        let first = candidates.clone().next().copied();
        candidates.find(|e| e.to_string() == body.message).copied().or(first)
    }
}

/// What any route of any service may answer, whatever the route's own refusals: the
/// request could not be read, or the service could not do its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Common {
    /// A body field of the wrong type, or missing.
    InvalidField,
    MalformedJson,
    /// Any other body that could not be read.
    BadBody,
    InvalidQuery,
    /// A path parameter of the wrong type.
    InvalidPath,
    NoRoute,
    /// A record the route needed is gone.
    NotFound,
    /// A unique constraint refused the write.
    Conflict,
    /// Another constraint refused the write.
    Constraint,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// A bug; the cause is in the service's log.
    Internal,
    /// Busy: trying again soon may work.
    Unavailable,
    /// The database does not answer; `Retry-After: 1`.
    DatabaseUnavailable,
    /// An internal route called without the services' shared token (`HTTP__SERVICE_TOKEN`).
    ServiceTokenRequired,
    /// Load shed: every database connection stayed busy for the pool's time-out, so
    /// the request was refused before it touched the database; `Retry-After: 1`. Safe
    /// to send again whatever the call (another replica may have a free connection).
    Overloaded,
}

impl Common {
    pub const ALL: &'static [Self] = &[
        Self::InvalidField,
        Self::MalformedJson,
        Self::BadBody,
        Self::InvalidQuery,
        Self::InvalidPath,
        Self::NoRoute,
        Self::NotFound,
        Self::Conflict,
        Self::Constraint,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Internal,
        Self::Unavailable,
        Self::DatabaseUnavailable,
        Self::ServiceTokenRequired,
        Self::Overloaded,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidField => "invalid_field",
            Self::MalformedJson => "malformed_json",
            Self::BadBody => "bad_body",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidPath => "invalid_path",
            Self::NoRoute => "no_route",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Constraint => "constraint",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::ServiceTokenRequired => "service_token_required",
            Self::Overloaded => "overloaded",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Self::InvalidField
            | Self::MalformedJson
            | Self::BadBody
            | Self::InvalidQuery
            | Self::Constraint => 400,
            Self::InvalidPath | Self::NoRoute | Self::NotFound => 404,
            Self::ServiceTokenRequired => 401,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Internal => 500,
            Self::Unavailable | Self::DatabaseUnavailable | Self::Overloaded => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{domain::DomainError, follow::FollowError, message::MessageError, user::UserError};

    /// Every (status, code) pair of a service's refusals, each once, in table order.
    fn codes<E: ServiceError>() -> Vec<(u16, &'static str)> {
        let mut codes: Vec<(u16, &'static str)> = Vec::new();
        for e in E::ALL {
            if !codes.contains(&(e.status(), e.code())) {
                codes.push((e.status(), e.code()));
            }
        }
        codes
    }

    fn round_trips<E: ServiceError + std::fmt::Debug>() {
        for e in E::ALL {
            let body = e.body();
            assert_eq!(E::decode(e.status(), &body).as_ref(), Some(e), "{body:?}");
        }
    }

    #[test]
    fn every_refusal_is_decoded_back_into_itself() {
        round_trips::<UserError>();
        round_trips::<MessageError>();
        round_trips::<FollowError>();
    }

    #[test]
    fn a_refusal_whose_text_changed_is_still_known_by_its_code() {
        let body = ErrorBody { error: "invalid_username".into(), message: "something new".into() };
        assert_eq!(UserError::decode(400, &body), Some(UserError::Invalid(DomainError::UsernameEmpty)));
    }

    #[test]
    fn an_answer_that_is_not_the_services_own_is_not_decoded() {
        let body = |error: &str| ErrorBody { error: error.into(), message: "x".into() };
        assert_eq!(UserError::decode(503, &body("database_unavailable")), None);
        assert_eq!(UserError::decode(400, &body("invalid_field")), None);
        // A known code with another status is not that refusal.
        assert_eq!(UserError::decode(400, &body("username_taken")), None);
        assert_eq!(FollowError::decode(400, &body("username_taken")), None);
    }

    #[test]
    fn codes_are_unique_per_service_and_apart_from_the_common_ones() {
        for codes in [codes::<UserError>(), codes::<MessageError>(), codes::<FollowError>()] {
            for (i, (_, code)) in codes.iter().enumerate() {
                assert!(!codes[i + 1..].iter().any(|(_, c)| c == code), "{code} with two statuses");
                assert!(!Common::ALL.iter().any(|c| c.code() == *code), "{code} is also a common code");
            }
        }
    }

    /// The codes named in backticks in a module's route table (its `//! |` lines).
    fn table_codes(source: &str) -> Vec<String> {
        let mut codes: Vec<String> = source
            .lines()
            .filter_map(|l| l.strip_prefix("//! |"))
            .flat_map(|row| row.rsplit('|').nth(1).unwrap_or_default().split('`').skip(1).step_by(2))
            .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !w.is_empty())
            .map(str::to_string)
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }

    fn enum_codes<E: ServiceError>() -> Vec<String> {
        let mut codes: Vec<String> = codes::<E>().into_iter().map(|(_, c)| c.to_string()).collect();
        codes.sort();
        codes
    }

    #[test]
    fn each_route_table_names_exactly_its_services_refusals() {
        assert_eq!(table_codes(include_str!("user.rs")), enum_codes::<UserError>());
        assert_eq!(table_codes(include_str!("message.rs")), enum_codes::<MessageError>());
        assert_eq!(table_codes(include_str!("follow.rs")), enum_codes::<FollowError>());
    }
}
