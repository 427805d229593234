//! Parse, don't validate: the only way to build these types is `parse`, so a value of
//! one is valid everywhere. Services parse at their edge; the gateway parses the same
//! way to give form errors before a call.

use std::fmt;

/// Why raw input is not a valid domain value. `code` is the machine code of the JSON error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainError {
    UsernameEmpty,
    UsernameTooLong,
    UsernameInvalid,
    UsernameReserved,
    EmailInvalid,
    EmailTooLong,
    PasswordEmpty,
    PasswordTooLong,
    TextEmpty,
    TextTooLong,
}

impl DomainError {
    pub fn code(self) -> &'static str {
        match self {
            Self::UsernameEmpty | Self::UsernameTooLong | Self::UsernameInvalid => "invalid_username",
            Self::UsernameReserved => "username_taken",
            Self::EmailInvalid | Self::EmailTooLong => "invalid_email",
            Self::PasswordEmpty | Self::PasswordTooLong => "invalid_password",
            Self::TextEmpty | Self::TextTooLong => "invalid_text",
        }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UsernameEmpty => "You have to enter a username",
            Self::UsernameTooLong => "The username is too long (at most 64 characters)",
            Self::UsernameInvalid => "The username may not contain '/' or control characters",
            Self::UsernameReserved => "The username is already taken",
            Self::EmailInvalid => "You have to enter a valid email address",
            Self::EmailTooLong => "The email address is too long (at most 254 characters)",
            Self::PasswordEmpty => "You have to enter a password",
            Self::PasswordTooLong => "The password is too long (at most 1024 bytes)",
            Self::TextEmpty => "The message is empty",
            Self::TextTooLong => "The message is too long (at most 1000 characters)",
        })
    }
}

impl std::error::Error for DomainError {}

pub const USERNAME_MAX_CHARS: usize = 64;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const PASSWORD_MAX_BYTES: usize = 1024;
pub const TEXT_MAX_CHARS: usize = 1000;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
        if RESERVED.contains(&raw.to_lowercase().as_str()) {
            return Err(DomainError::UsernameReserved);
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

/// An email address: something, an `@`, something; no whitespace. No DNS, no demand for
/// a dot (the course's tests register `test@test`).
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Clone, PartialEq, Eq)]
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
/// at most 1000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.trim().is_empty() {
            return Err(DomainError::TextEmpty);
        }
        if raw.chars().count() > TEXT_MAX_CHARS {
            return Err(DomainError::TextTooLong);
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(Username::parse("Public"), Err(DomainError::UsernameReserved));
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
    }
}
