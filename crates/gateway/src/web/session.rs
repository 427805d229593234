//! Who is looking at a page: the signed-in user kept in the session cookie, and the
//! flash messages shown once on the next page.
//!
//! The session lives in a cookie (actix-session's cookie store, encrypted and
//! authenticated with the key from settings), HttpOnly, SameSite=Lax, Secure behind TLS.

use std::future::{ready, Ready};

use actix_session::{
    config::{BrowserSession, CookieContentSecurity},
    storage::CookieSessionStore,
    Session, SessionExt, SessionMiddleware,
};
use actix_web::{
    cookie::{Key, SameSite},
    dev::Payload,
    FromRequest, HttpMessage, HttpRequest,
};
use minitwit_api::{domain::UserId, user::User};
use minitwit_kit::server::ActingUser;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::error::WebError;
use crate::settings::SessionSettings;

const USER: &str = "user";
const FLASHES: &str = "flashes";
pub const COOKIE_NAME: &str = "minitwit_session";
/// actix-session (the `cookie` crate) needs at least this many bytes of key.
pub const KEY_MIN_BYTES: usize = 64;

/// The key that signs and encrypts the session cookies: the configured one, or a random
/// one per start when none is configured (sessions then end with the process).
pub fn key(settings: &SessionSettings) -> anyhow::Result<Key> {
    match &settings.key {
        None => Ok(Key::generate()),
        Some(secret) => {
            let bytes = secret.expose_secret().as_bytes();
            anyhow::ensure!(
                bytes.len() >= KEY_MIN_BYTES,
                "session.key must have at least {KEY_MIN_BYTES} bytes, it has {}",
                bytes.len()
            );
            Ok(Key::from(bytes))
        }
    }
}

pub fn middleware(settings: &SessionSettings, key: Key) -> SessionMiddleware<CookieSessionStore> {
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(COOKIE_NAME.into())
        .cookie_path("/".into())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(settings.secure)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(BrowserSession::default())
        .build()
}

/// The signed-in user as the session remembers them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionUser {
    pub id: UserId,
    pub username: String,
}

/// Anyone looking at a page: their session, and who they are if signed in. Extracting
/// it marks the request with [`ActingUser`] for the access log.
pub struct Visitor {
    pub session: Session,
    pub user: Option<SessionUser>,
}

impl Visitor {
    fn of(req: &HttpRequest) -> Self {
        let session = req.get_session();
        let user = session.get::<SessionUser>(USER).ok().flatten();
        if let Some(user) = &user {
            req.extensions_mut().insert(ActingUser(user.id));
        }
        Self { session, user }
    }

    /// Remembers `user` as signed in, in a fresh session.
    pub fn sign_in(&self, user: &User) {
        self.session.renew();
        let user = SessionUser { id: user.id, username: user.username.clone() };
        let _ = self.session.insert(USER, user);
    }

    /// Forgets the signed-in user (and anything else in the session).
    pub fn sign_out(&self) {
        self.session.clear();
        self.session.renew();
    }

    /// Shows `text` once, on the next page rendered.
    pub fn flash(&self, text: impl Into<String>) {
        let mut flashes = self.session.get::<Vec<String>>(FLASHES).ok().flatten().unwrap_or_default();
        flashes.push(text.into());
        let _ = self.session.insert(FLASHES, flashes);
    }

    /// The flash messages waiting to be shown; they are gone from the session after this.
    pub fn take_flashes(&self) -> Vec<String> {
        self.session.remove_as::<Vec<String>>(FLASHES).and_then(Result::ok).unwrap_or_default()
    }
}

impl FromRequest for Visitor {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Visitor::of(req)))
    }
}

/// A visitor who must be signed in: extracting it fails with 401 otherwise.
pub struct SignedIn {
    pub visitor: Visitor,
    pub user: SessionUser,
}

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let visitor = Visitor::of(req);
        ready(match visitor.user.clone() {
            Some(user) => Ok(SignedIn { visitor, user }),
            None => Err(WebError::Unauthorized.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_key_must_be_long_enough() {
        let short = SessionSettings { key: Some("too short".into()), secure: false };
        assert!(key(&short).is_err());
        let long = SessionSettings { key: Some("k".repeat(64).into()), secure: true };
        assert!(key(&long).is_ok());
        assert!(key(&SessionSettings::default()).is_ok());
    }
}
