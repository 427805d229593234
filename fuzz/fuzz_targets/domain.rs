//! The domain types' constructors (crates/api/src/domain.rs) on any text, directly and
//! as a JSON body field: an accepted value keeps the type's rules and parses to itself,
//! a refused one is refused with the type's own error, the same both ways.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use minitwit_api::{
    domain::{DomainError, Email, IdempotencyKey, MessageId, MessageText, Password, UserId, Username},
    message::Cursor,
};
use serde::de::DeserializeOwned;
use unicode_normalization::UnicodeNormalization;

/// The JSON string `raw` read as a `T` agrees with `parse`: the same value, or an error
/// whose text names the same rule.
fn same_as_json<T: DeserializeOwned + PartialEq + Debug>(raw: &str, parsed: &Result<T, DomainError>) {
    let json = serde_json::to_string(raw).unwrap();
    match (serde_json::from_str::<T>(&json), parsed) {
        (Ok(read), Ok(value)) => assert_eq!(&read, value),
        (Err(e), Err(rule)) => assert_eq!(DomainError::reported_in(&e.to_string()), Some(*rule), "{e}"),
        (read, parsed) => panic!("{raw:?}: JSON gives {read:?}, parse gives {parsed:?}"),
    }
}

fn refused_as(e: DomainError, code: &str, raw: &str) {
    assert_eq!(e.code(), code, "{raw:?}: {e:?}");
    assert!(!e.to_string().is_empty());
}

fn username(raw: &str) {
    let parsed = Username::parse(raw);
    match &parsed {
        Ok(name) => {
            let s = name.as_str();
            let chars = s.chars().count();
            assert!((1..=64).contains(&chars), "{raw:?} -> {s:?}");
            assert_eq!(s.trim(), s);
            assert!(!s.chars().any(|c| c == '/' || c.is_control()), "{s:?}");
            assert!(!s
                .chars()
                .any(|c| (c.is_whitespace() && c != ' ') || minitwit_api::domain::is_invisible(c)));
            assert_eq!(s.nfc().collect::<String>(), s, "kept in NFC");
            assert_eq!(Username::parse(s).as_ref(), Ok(name), "a stored name parses to itself");
        }
        Err(e) => refused_as(*e, "invalid_username", raw),
    }
    same_as_json(raw, &parsed);
}

fn email(raw: &str) {
    let parsed = Email::parse(raw);
    match &parsed {
        Ok(email) => {
            let s = email.as_str();
            assert!(s.chars().count() <= 254);
            let (local, domain) = s.rsplit_once('@').expect("an @");
            assert!(!local.is_empty() && !domain.is_empty());
            assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()));
            assert_eq!(Email::parse(s).as_ref(), Ok(email));
        }
        Err(e) => refused_as(*e, "invalid_email", raw),
    }
    same_as_json(raw, &parsed);
}

fn password(raw: &str) {
    let parsed = Password::parse(raw);
    match &parsed {
        Ok(p) => {
            assert_eq!(p.expose(), raw, "kept as typed");
            assert!(!raw.is_empty() && raw.len() <= 1024);
            assert_eq!(format!("{p:?}"), "Password(***)", "never shown");
        }
        Err(e) => refused_as(*e, "invalid_password", raw),
    }
    same_as_json(raw, &parsed);
}

fn text(raw: &str) {
    let parsed = MessageText::parse(raw);
    match &parsed {
        Ok(t) => {
            assert_eq!(t.as_str(), raw, "kept as given");
            assert!(!raw.trim().is_empty() && raw.chars().count() <= 1000 && !raw.contains('\0'));
        }
        Err(e) => refused_as(*e, "invalid_text", raw),
    }
    same_as_json(raw, &parsed);
}

fn key(raw: &str) {
    let parsed = IdempotencyKey::parse(raw);
    match &parsed {
        Ok(k) => {
            assert_eq!(k.as_str(), raw);
            assert!((1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()));
        }
        Err(e) => refused_as(*e, "invalid_idempotency_key", raw),
    }
    same_as_json(raw, &parsed);
}

fn cursor(raw: &str) {
    if let Ok(c) = raw.parse::<Cursor>() {
        assert_eq!(c.to_string().parse::<Cursor>(), Ok(c), "{raw:?}");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&json).unwrap(), c);
    }
}

fn ids(n: i64) {
    let (user, message) = (UserId::parse(n), MessageId::parse(n));
    assert_eq!(user.is_ok(), n > 0);
    assert_eq!(message.is_ok(), n > 0);
    match user {
        Ok(id) => {
            assert_eq!(id.get(), n);
            assert_eq!(serde_json::from_str::<UserId>(&serde_json::to_string(&id).unwrap()).unwrap(), id);
        }
        Err(e) => {
            refused_as(e, "invalid_id", &n.to_string());
            let err = serde_json::from_str::<MessageId>(&n.to_string()).unwrap_err();
            assert_eq!(DomainError::reported_in(&err.to_string()), Some(DomainError::IdInvalid));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    username(&raw);
    email(&raw);
    password(&raw);
    text(&raw);
    key(&raw);
    cursor(&raw);
    let mut n = [0u8; 8];
    let len = data.len().min(8);
    n[..len].copy_from_slice(&data[..len]);
    ids(i64::from_le_bytes(n));
});
