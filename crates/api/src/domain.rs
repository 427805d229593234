//! Parse, don't validate: the only way to build these types is `parse`, so a value of
//! one is valid everywhere. Services parse at their edge; the gateway parses the same
//! way to give form errors before a call.
//!
//! Request bodies carry these types (`#[serde(try_from = "String")]`), so a rule holds
//! on every path that reads one: a body that breaks it is refused as it is read, with
//! the rule's code and text (see `minitwit_kit::error::extract`).

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Why raw input is not a valid domain value. `code` is the machine code of the JSON
/// error, shared by the rules of one field; `reason` names the rule itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum DomainError {
    UsernameEmpty,
    UsernameTooLong,
    UsernameInvalid,
    UsernameInvisible,
    EmailInvalid,
    EmailTooLong,
    PasswordEmpty,
    PasswordTooLong,
    TextEmpty,
    TextTooLong,
    TextInvalid,
    KeyInvalid,
    IdInvalid,
}

/// The kind of value a [`DomainError`] is about: a service's refusals include the rules
/// of the fields its routes read, and no others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Username,
    Email,
    Password,
    Text,
    IdempotencyKey,
    Id,
}

impl DomainError {
    /// Every rule, derived from the enum (never a list kept by hand).
    pub const ALL: &'static [Self] = <Self as strum::VariantArray>::VARIANTS;

    /// The rule's own name, unique among all rules, e.g. `username_invisible`: the
    /// `reason` of the JSON error, which tells apart the rules that share a `code`.
    pub fn reason(self) -> &'static str {
        self.into()
    }

    pub fn field(self) -> Field {
        match self {
            Self::UsernameEmpty | Self::UsernameTooLong | Self::UsernameInvalid | Self::UsernameInvisible => {
                Field::Username
            }
            Self::EmailInvalid | Self::EmailTooLong => Field::Email,
            Self::PasswordEmpty | Self::PasswordTooLong => Field::Password,
            Self::TextEmpty | Self::TextTooLong | Self::TextInvalid => Field::Text,
            Self::KeyInvalid => Field::IdempotencyKey,
            Self::IdInvalid => Field::Id,
        }
    }

    /// Every rule of these fields.
    pub fn of(fields: &[Field]) -> impl Iterator<Item = Self> + '_ {
        Self::ALL.iter().copied().filter(|e| fields.contains(&e.field()))
    }

    pub fn code(self) -> &'static str {
        match self.field() {
            Field::Username => "invalid_username",
            Field::Email => "invalid_email",
            Field::Password => "invalid_password",
            Field::Text => "invalid_text",
            Field::IdempotencyKey => "invalid_idempotency_key",
            Field::Id => "invalid_id",
        }
    }

    /// The rule a deserialiser's error text reports, e.g. serde_json's "You have to
    /// enter a username at line 1 column 14": a body field of a domain type broke it.
    pub fn reported_in(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| text.starts_with(&e.to_string()))
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UsernameEmpty => "You have to enter a username",
            Self::UsernameTooLong => "The username is too long (at most 64 characters)",
            Self::UsernameInvalid => "The username may not contain '/' or control characters",
            Self::UsernameInvisible => {
                "The username may not begin or end with a space, nor contain invisible or \
                 direction-changing characters"
            }
            Self::EmailInvalid => "You have to enter a valid email address",
            Self::EmailTooLong => "The email address is too long (at most 254 characters)",
            Self::PasswordEmpty => "You have to enter a password",
            Self::PasswordTooLong => "The password is too long (at most 1024 bytes)",
            Self::TextEmpty => "The message is empty",
            Self::TextTooLong => "The message is too long (at most 1000 characters)",
            Self::TextInvalid => "The message may not contain NUL characters",
            Self::KeyInvalid => "An idempotency key is 1 to 128 visible ASCII characters",
            Self::IdInvalid => "Ids are positive integers",
        })
    }
}

impl std::error::Error for DomainError {}

pub const USERNAME_MAX_CHARS: usize = 64;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MAX_BYTES: usize = 1024;
pub const TEXT_MAX_CHARS: usize = 1000;
pub const KEY_MAX_CHARS: usize = 128;

/// Names the gateway's own pages use at the top level of the site; a user with one of
/// these names could never reach their timeline.
const RESERVED: &[&str] = &[
    "public",
    "login",
    "logout",
    "register",
    "add_message",
    "static",
    "health",
    "ready",
    "metrics",
    "latest",
    "msgs",
    "fllws",
    "favicon.ico",
    "robots.txt",
];

/// A username: 1 to 64 characters, spaces and any script allowed (the simulator's
/// users are called `Roger Histand`), no `/` and no control characters, not blank.
/// So that a name reads as what it is and one name is one user: no leading or trailing
/// space, no whitespace but the plain space, no invisible or direction-changing
/// characters ([`is_invisible`]), and kept in Unicode normal form C (two spellings of
/// `é` are one name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::UsernameEmpty);
        }
        if raw.chars().count() > USERNAME_MAX_CHARS {
            return Err(DomainError::UsernameTooLong);
        }
        if raw.chars().any(|c| c == '/' || c.is_control()) {
            return Err(DomainError::UsernameInvalid);
        }
        if raw.trim() != raw || raw.chars().any(|c| (c.is_whitespace() && c != ' ') || is_invisible(c)) {
            return Err(DomainError::UsernameInvisible);
        }
        let name: String = raw.nfc().collect();
        if name.chars().count() > USERNAME_MAX_CHARS {
            return Err(DomainError::UsernameTooLong);
        }
        Ok(Self(name))
    }

    /// Whether the name is one of the gateway's own top-level pages: such a name counts
    /// as taken, as no one could reach its timeline.
    pub fn is_reserved(&self) -> bool {
        RESERVED.contains(&self.0.to_lowercase().as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Characters that show nothing, or change the direction of the text around them: the
/// bidi embeddings, overrides, isolates and marks, zero-width spaces and joiners, word
/// joiner and invisible operators, soft hyphen, Hangul fillers, variation selectors,
/// the byte order mark, interlinear annotation marks and tag characters.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// An email address: something, an `@`, something; no whitespace. No DNS, no demand for
/// a dot (the course's tests register `test@test`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        if raw.chars().count() > EMAIL_MAX_CHARS {
            return Err(DomainError::EmailTooLong);
        }
        match raw.rsplit_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.is_empty()
                    && !raw.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                Ok(Self(raw.to_string()))
            }
            _ => Err(DomainError::EmailInvalid),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A password as typed: not empty, at most 1024 bytes (hashing cost is bounded).
/// Its `Debug` never shows the text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty() {
            return Err(DomainError::PasswordEmpty);
        }
        if raw.len() > PASSWORD_MAX_BYTES {
            return Err(DomainError::PasswordTooLong);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A message's text, stored as given (escaped on output, never on input): not blank,
/// at most 1000 characters, no NUL (no database stores one; newlines and tabs stay:
/// the simulator sends them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::TextEmpty);
        }
        if raw.chars().count() > TEXT_MAX_CHARS {
            return Err(DomainError::TextTooLong);
        }
        if raw.contains('\0') {
            return Err(DomainError::TextInvalid);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What makes a write safe to send again: a write repeated with the same key (by the
/// same author) has the effect of the first one. 1 to 128 visible ASCII characters, as
/// an `Idempotency-Key` header or a request id is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let visible = raw.bytes().all(|b| b.is_ascii_graphic());
        if raw.is_empty() || raw.len() > KEY_MAX_CHARS || !visible {
            return Err(DomainError::KeyInvalid);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `TryFrom<String>` (for serde) and `From<T> for String` for each domain type.
macro_rules! string_conversions {
    ($($ty:ident),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = DomainError;

            fn try_from(raw: String) -> Result<Self, DomainError> {
                Self::parse(&raw)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }
    )*};
}

string_conversions!(Username, Email, Password, MessageText, IdempotencyKey);

/// The ids of users and messages: positive integers, as their databases number them.
/// Each is its own type, so a user id cannot be passed where a message id belongs; on
/// the wire and in URLs both are plain numbers, and one that is not positive is refused
/// as it is read ([`DomainError::IdInvalid`], `invalid_id`).
macro_rules! ids {
    ($($(#[$doc:meta])* $ty:ident),*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $ty(i64);

        impl $ty {
            pub fn parse(raw: i64) -> Result<Self, DomainError> {
                if raw > 0 {
                    Ok(Self(raw))
                } else {
                    Err(DomainError::IdInvalid)
                }
            }

            /// An id as the owning service's database issued it (a serial column,
            /// always positive); anything else goes through `parse`.
            pub const fn stored(raw: i64) -> Self {
                Self(raw)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl TryFrom<i64> for $ty {
            type Error = DomainError;

            fn try_from(raw: i64) -> Result<Self, DomainError> {
                Self::parse(raw)
            }
        }

        impl From<$ty> for i64 {
            fn from(id: $ty) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

ids!(
    /// A user's id, issued by user-service.
    UserId,
    /// A message's id, issued by message-service.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    /// serde keeps only the text of a `try_from` error, so a rule broken in a body is
    /// recovered from that text: each rule's text must name it alone.
    #[test]
    fn every_rule_is_told_apart_by_the_text_a_deserialiser_reports() {
        for rule in DomainError::ALL {
            for other in DomainError::ALL.iter().filter(|other| *other != rule) {
                let (text, others) = (rule.to_string(), other.to_string());
                assert!(!text.starts_with(&others), "{other:?}'s text begins {rule:?}'s");
            }
            let err = <serde_json::Error as serde::de::Error>::custom(rule);
            assert_eq!(DomainError::reported_in(&format!("{err} at line 1 column 9")), Some(*rule));
        }
    }

    #[test]
    fn ids_are_positive_numbers_on_the_wire() {
        assert_eq!(UserId::parse(1).unwrap().get(), 1);
        assert_eq!(UserId::parse(0), Err(DomainError::IdInvalid));
        assert_eq!(MessageId::parse(-5), Err(DomainError::IdInvalid));
        let id: UserId = serde_json::from_str("42").unwrap();
        assert_eq!((id, serde_json::to_string(&id).unwrap()), (UserId::stored(42), "42".to_string()));
        let err = serde_json::from_str::<MessageId>("0").unwrap_err();
        assert_eq!(DomainError::reported_in(&err.to_string()), Some(DomainError::IdInvalid), "{err}");
        assert!(serde_json::from_str::<UserId>("\"7\"").is_err());
        assert_eq!(UserId::stored(7).to_string(), "7");
    }

    #[test]
    fn usernames_that_hide_or_reorder_text_are_refused() {
        for name in [
            " bob",
            "bob ",
            "bob\u{A0}",
            "b\u{A0}ob",
            "b\u{2028}ob",
            "b\u{3000}ob", // spaces
            "ad\u{202E}nimb",
            "\u{2066}bob\u{2069}",
            "bob\u{200F}", // bidi
            "b\u{200B}ob",
            "bo\u{200D}b",
            "\u{FEFF}bob",
            "b\u{00AD}ob",
            "b\u{2060}ob", // invisible
            "\u{3164}",
            "bob\u{E0041}",
            "bob\u{FE0F}",
        ] {
            assert_eq!(Username::parse(name), Err(DomainError::UsernameInvisible), "{name:?}");
        }
        assert_eq!(Username::parse("\u{200B}").unwrap_err().code(), "invalid_username");
    }

    #[test]
    fn usernames_are_kept_in_normal_form_c() {
        let composed = Username::parse("Jos\u{E9}").unwrap();
        let decomposed = Username::parse("Jose\u{301}").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.as_str(), "Jos\u{E9}");
        let name: Username = serde_json::from_str(r#""Jose\u0301""#).unwrap();
        assert_eq!(name.as_str(), "Jos\u{E9}");
        // 64 decomposed characters are 32 composed ones: the limit counts the stored name.
        assert!(Username::parse(&"e\u{301}".repeat(32)).is_ok());
    }

    #[test]
    fn usernames_with_spaces_and_unicode_are_valid() {
        assert_eq!(Username::parse("Roger Histand").unwrap().as_str(), "Roger Histand");
        assert!(Username::parse("Søren Kierkegård").is_ok());
        assert!(Username::parse("李小龙").is_ok());
        assert!(Username::parse("a").is_ok());
        assert!(Username::parse(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn bad_usernames_are_refused_with_their_reason() {
        assert_eq!(Username::parse(""), Err(DomainError::UsernameEmpty));
        assert_eq!(Username::parse("   "), Err(DomainError::UsernameEmpty));
        assert_eq!(Username::parse(&"é".repeat(65)), Err(DomainError::UsernameTooLong));
        assert_eq!(Username::parse("a/b"), Err(DomainError::UsernameInvalid));
        assert_eq!(Username::parse("a\nb"), Err(DomainError::UsernameInvalid));
        assert_eq!(Username::parse("a\0b"), Err(DomainError::UsernameInvalid));
        assert!(Username::parse("Public").unwrap().is_reserved());
        assert!(!Username::parse("Publicity").unwrap().is_reserved());
        assert_eq!(Username::parse("").unwrap_err().to_string(), "You have to enter a username");
    }

    #[test]
    fn emails_need_something_on_both_sides_of_an_at() {
        assert!(Email::parse("test@test").is_ok());
        assert!(Email::parse("a@a.a").is_ok());
        assert!(Email::parse("roger+x@histand.example.com").is_ok());
        assert_eq!(Email::parse(" a@b ").unwrap().as_str(), "a@b");
        for bad in ["", "plain", "@host", "user@", "a b@c", "a@b c"] {
            assert_eq!(Email::parse(bad), Err(DomainError::EmailInvalid), "{bad:?}");
        }
        let long = format!("{}@x", "a".repeat(253));
        assert_eq!(Email::parse(&long), Err(DomainError::EmailTooLong));
        assert_eq!(Email::parse("x").unwrap_err().to_string(), "You have to enter a valid email address");
    }

    #[test]
    fn passwords_are_any_non_empty_bounded_text_and_never_shown() {
        assert!(Password::parse("a").is_ok());
        assert_eq!(Password::parse(""), Err(DomainError::PasswordEmpty));
        assert_eq!(Password::parse(&"x".repeat(1025)), Err(DomainError::PasswordTooLong));
        assert_eq!(format!("{:?}", Password::parse("secret").unwrap()), "Password(***)");
    }

    #[test]
    fn message_texts_are_kept_as_given() {
        assert_eq!(MessageText::parse("<b>hi</b> & co").unwrap().as_str(), "<b>hi</b> & co");
        assert_eq!(MessageText::parse(""), Err(DomainError::TextEmpty));
        assert_eq!(MessageText::parse(" \n\t"), Err(DomainError::TextEmpty));
        assert!(MessageText::parse(&"ø".repeat(1000)).is_ok());
        assert_eq!(MessageText::parse(&"ø".repeat(1001)), Err(DomainError::TextTooLong));
        assert_eq!(MessageText::parse("a\0b"), Err(DomainError::TextInvalid));
        assert_eq!(MessageText::parse("line\n\tline").unwrap().as_str(), "line\n\tline");
    }

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("3f2c9a0e-1b7d-4c55-9f1e-2a6b8c0d4e11").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        for bad in ["", " ", "a b", "ø", "a\0"] {
            assert_eq!(IdempotencyKey::parse(bad), Err(DomainError::KeyInvalid), "{bad:?}");
        }
        assert_eq!(IdempotencyKey::parse(&"k".repeat(129)), Err(DomainError::KeyInvalid));
    }

    #[test]
    fn a_body_field_is_held_to_the_same_rule_and_the_rule_is_found_in_the_error() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[allow(dead_code)]
            text: MessageText,
        }
        let err = serde_json::from_str::<Body>(r#"{"text": "a\u0000b"}"#).unwrap_err();
        assert_eq!(DomainError::reported_in(&err.to_string()), Some(DomainError::TextInvalid), "{err}");
        let name: Username = serde_json::from_str(r#""Roger Histand""#).unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), r#""Roger Histand""#);
        assert_eq!(DomainError::reported_in("something else"), None);
    }
}
