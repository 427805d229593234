//! The errors of the internal APIs, as types.
//!
//! Every error answer is `{"error": code, "reason": name, "message": text}`
//! ([`ErrorBody`]). A service's own refusals are one enum per service
//! ([`UserError`](crate::user::UserError), [`MessageError`](crate::message::MessageError),
//! [`FollowError`](crate::follow::FollowError)): the service answers with one, the typed
//! client decodes it back into the same variant ([`ClientError::Refused`](crate::client::ClientError))
//! by its code and reason, never its text, and the gateway matches variants, never
//! strings. What any route may answer besides (a body that is not JSON, a database that
//! does not answer) is [`Common`].
//!
//! No list of variants is kept by hand: each enum's refusals are derived from the enum
//! itself (strum), and a service's rule refusals from the fields its routes read
//! ([`ServiceError::FIELDS`]), so a new variant or rule is decoded from the day it exists.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::domain::{DomainError, Field};

/// The body of every error answer of the internal APIs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// A stable machine code, e.g. `username_taken` or `invalid_username`.
    pub error: String,
    /// Which refusal of those sharing the code, e.g. `username_invisible`; absent from
    /// common answers and from services older than it (then the code alone counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human explanation.
    pub message: String,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error: error.into(), reason: None, message: message.into() }
    }
}

/// A service's own refusals: each variant has a status, a stable code and a reason
/// (its name, unique in the service), and is decoded back from the body it was sent as.
pub trait ServiceError: std::error::Error + Copy + PartialEq + Send + Sync + Sized + 'static {
    /// The fields the service's routes read: their rules ([`DomainError`]) are among
    /// its refusals, no others.
    const FIELDS: &'static [Field];

    /// Every refusal the service may answer with: each own variant (derived from the
    /// enum) and each rule of [`Self::FIELDS`].
    fn all() -> &'static [Self];

    /// The machine code, e.g. `username_taken`.
    fn code(&self) -> &'static str;

    /// The refusal's name, unique within the service, e.g. `username_invisible`.
    fn reason(&self) -> &'static str;

    /// The HTTP status the service answers with.
    fn status(&self) -> u16;

    /// The body the service answers with.
    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code().to_string(),
            reason: Some(self.reason().to_string()),
            message: self.to_string(),
        }
    }

    /// The refusal a service sent as `body` with `status`, if it is one of ours: the one
    /// with that status, code and reason. A body without a known reason (a service
    /// older than reasons, during a rolling update) is the first refusal with the code.
    fn decode(status: u16, body: &ErrorBody) -> Option<Self> {
        let same_code = |e: &&Self| e.status() == status && e.code() == body.error;
        let mut candidates = Self::all().iter().filter(same_code);
        let first = candidates.clone().next().copied();
        match &body.reason {
            Some(reason) => candidates.find(|e| e.reason() == reason).copied().or(first),
            None => first,
        }
    }
}

/// A rule of a field service `S` reads ([`ServiceError::FIELDS`]): what a service's
/// `Invalid` variant carries. It is made only by [`Rule::of`], which refuses the rules
/// of other fields, so `UserError::Invalid` cannot hold, say, `TextEmpty`.
pub struct Rule<S>(DomainError, PhantomData<fn() -> S>);

impl<S: ServiceError> Rule<S> {
    /// `rule` as one of `S`'s refusals; `None` when it is a rule of a field `S` does
    /// not read.
    pub fn of(rule: DomainError) -> Option<Self> {
        S::FIELDS.contains(&rule.field()).then_some(Self(rule, PhantomData))
    }
}

impl<S> Rule<S> {
    /// The rule itself.
    pub fn get(&self) -> DomainError {
        self.0
    }
}

// By hand, not derived: a derive would ask `S` for each trait, and `S` is the error
// enum that holds this very type.
impl<S> Clone for Rule<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for Rule<S> {}
impl<S> PartialEq for Rule<S> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<S> Eq for Rule<S> {}
impl<S> std::fmt::Debug for Rule<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}
impl<S> std::fmt::Display for Rule<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}
impl<S> std::error::Error for Rule<S> {}

/// Every refusal of a service: its own variants (`kinds`, each made into its value by
/// `own`, which returns `None` for the variant carrying a rule) and a rule refusal
/// (`invalid`) for each rule of its fields. For [`ServiceError::all`].
pub fn refusals<K: Copy, E: ServiceError>(
    kinds: &[K],
    own: impl Fn(K) -> Option<E>,
    invalid: impl Fn(Rule<E>) -> E,
) -> Vec<E> {
    let rules = DomainError::ALL.iter().filter_map(|rule| Rule::of(*rule));
    kinds.iter().filter_map(|k| own(*k)).chain(rules.map(invalid)).collect()
}

/// `all` and `reason` of a [`ServiceError`] whose enum derives `EnumDiscriminants`
/// (named `$kind`, deriving `VariantArray` and `IntoStaticStr`) and has, besides its
/// unit variants `$own`, one `Invalid(Rule<Self>)`: invoked inside the impl. The match
/// on the discriminants is exhaustive, so a variant left out does not compile.
macro_rules! derived_refusals {
    ($error:ident, $kind:ident, [$($own:ident),* $(,)?]) => {
        fn all() -> &'static [Self] {
            static ALL: std::sync::LazyLock<Vec<$error>> = std::sync::LazyLock::new(|| {
                use strum::VariantArray;
                let own = |kind| match kind {
                    $($kind::$own => Some($error::$own),)*
                    $kind::Invalid => None,
                };
                $crate::error::refusals($kind::VARIANTS, own, $error::Invalid)
            });
            &ALL
        }

        fn reason(&self) -> &'static str {
            match self {
                Self::Invalid(e) => e.get().reason(),
                own => $kind::from(own).into(),
            }
        }
    };
}
pub(crate) use derived_refusals;

/// What any route of any service may answer, whatever the route's own refusals: the
/// request could not be read, or the service could not do its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
    /// Every common answer, derived from the enum.
    pub const ALL: &'static [Self] = <Self as strum::VariantArray>::VARIANTS;

    /// The machine code: the variant's name in snake_case, e.g. `database_unavailable`.
    pub fn code(self) -> &'static str {
        self.into()
    }

    /// The common answer with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
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
    use crate::{follow::FollowError, message::MessageError, user::UserError};

    /// `rule` as a refusal of `E`; it must be a rule of `E`'s fields.
    fn rule<E: ServiceError>(rule: DomainError) -> Rule<E> {
        Rule::of(rule).expect("a rule of the service's fields")
    }

    /// Every (status, code) pair of a service's refusals, each once, in table order.
    fn codes<E: ServiceError>() -> Vec<(u16, &'static str)> {
        let mut codes: Vec<(u16, &'static str)> = Vec::new();
        for e in E::all() {
            if !codes.contains(&(e.status(), e.code())) {
                codes.push((e.status(), e.code()));
            }
        }
        codes
    }

    fn round_trips<E: ServiceError + std::fmt::Debug>() {
        for e in E::all() {
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
    fn refusals_sharing_a_code_are_told_apart_by_reason_not_text() {
        // UsernameInvisible was once left out of a hand-kept list and came back as
        // UsernameEmpty, with the wrong message on the form.
        let invisible = UserError::Invalid(rule(DomainError::UsernameInvisible));
        let body = ErrorBody { message: "any text".into(), ..invisible.body() };
        assert_eq!(UserError::decode(400, &body), Some(invisible));
        assert_eq!(body.reason.as_deref(), Some("username_invisible"));
    }

    #[test]
    fn a_body_without_a_known_reason_is_the_first_refusal_with_its_code() {
        // an older service during a rolling update sends no reason
        let body = ErrorBody::new("invalid_username", "something new");
        assert_eq!(UserError::decode(400, &body), Some(UserError::Invalid(rule(DomainError::UsernameEmpty))));
        let body = ErrorBody { reason: Some("not_a_rule".into()), ..body };
        assert_eq!(UserError::decode(400, &body), Some(UserError::Invalid(rule(DomainError::UsernameEmpty))));
    }

    #[test]
    fn a_service_refuses_with_every_rule_of_its_fields_and_no_other() {
        fn rules<E: ServiceError>(invalid: fn(Rule<E>) -> E) -> Vec<DomainError> {
            DomainError::ALL
                .iter()
                .copied()
                .filter(|d| Rule::of(*d).is_some_and(|r| E::all().contains(&invalid(r))))
                .collect()
        }
        let of = |fields: &[Field]| DomainError::of(fields).collect::<Vec<_>>();
        assert_eq!(rules(UserError::Invalid), of(UserError::FIELDS));
        assert!(rules(UserError::Invalid).contains(&DomainError::UsernameInvisible));
        assert_eq!(rules(MessageError::Invalid), of(MessageError::FIELDS));
        assert_eq!(rules(FollowError::Invalid), of(FollowError::FIELDS));
    }

    #[test]
    fn a_rule_of_another_services_field_is_no_refusal_of_this_one() {
        assert_eq!(Rule::<UserError>::of(DomainError::TextEmpty), None);
        assert_eq!(Rule::<FollowError>::of(DomainError::UsernameEmpty), None);
        assert_eq!(Rule::<MessageError>::of(DomainError::PasswordEmpty), None);
        for rule in DomainError::ALL {
            let user = Rule::<UserError>::of(*rule).is_some();
            assert_eq!(user, UserError::FIELDS.contains(&rule.field()), "{rule:?}");
        }
        // nor is it decoded as one, whatever a service sent
        let text_empty = ErrorBody {
            error: DomainError::TextEmpty.code().into(),
            reason: Some(DomainError::TextEmpty.reason().into()),
            message: DomainError::TextEmpty.to_string(),
        };
        assert_eq!(UserError::decode(400, &text_empty), None);
        assert_eq!(
            MessageError::decode(400, &text_empty),
            Some(MessageError::Invalid(rule(DomainError::TextEmpty)))
        );
    }

    #[test]
    fn reasons_are_unique_within_a_service() {
        fn unique<E: ServiceError>() {
            let reasons: Vec<&str> = E::all().iter().map(|e| e.reason()).collect();
            for (i, r) in reasons.iter().enumerate() {
                assert!(!reasons[i + 1..].contains(r), "{r} twice");
            }
        }
        unique::<UserError>();
        unique::<MessageError>();
        unique::<FollowError>();
    }

    #[test]
    fn the_common_codes_are_the_wire_contract() {
        // derived from the variants' names: renaming one must not change the wire
        let codes: Vec<&str> = Common::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(
            codes,
            [
                "invalid_field",
                "malformed_json",
                "bad_body",
                "invalid_query",
                "invalid_path",
                "no_route",
                "not_found",
                "conflict",
                "constraint",
                "payload_too_large",
                "unsupported_media_type",
                "internal",
                "unavailable",
                "database_unavailable",
                "service_token_required",
                "overloaded",
            ]
        );
        assert!(Common::ALL.iter().all(|c| Common::from_code(c.code()) == Some(*c)));
        assert_eq!(Common::from_code("username_taken"), None);
    }

    #[test]
    fn an_answer_that_is_not_the_services_own_is_not_decoded() {
        let body = |error: &str| ErrorBody::new(error, "x");
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
