//! Who is looking at a page: the signed-in user kept in the session cookie, and the
//! flash messages shown once on the next page.
//!
//! The session lives in a cookie (actix-session's cookie store, encrypted and
//! authenticated with the key from settings), HttpOnly, SameSite=Lax, Secure behind TLS.
//!
//! A cookie alone is not enough to stay signed in: it carries the user's session
//! generation (user-service, `GET /users/{id}/session`) from when they signed in, and
//! when it was issued and last used. It is honoured only while that generation is the
//! user's current one (logging out anywhere makes a new one), it was used within the
//! idle timeout (7 days) and issued within the absolute timeout (30 days). A copy of
//! the cookie taken before logging out therefore opens nothing afterwards.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_session::{
    config::{BrowserSession, CookieContentSecurity},
    storage::CookieSessionStore,
    Session, SessionExt, SessionMiddleware,
};
use actix_web::{
    cookie::{Key, SameSite},
    dev::Payload,
    web, FromRequest, HttpMessage, HttpRequest,
};
use futures::future::LocalBoxFuture;
use minitwit_api::{domain::UserId, user::User};
use minitwit_kit::server::{ActingUser, RequestId};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::error::WebError;
use crate::{settings::SessionSettings, AppState};

pub const USER: &str = "user";
pub const FLASHES: &str = "flashes";
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
    /// The user's session generation when they signed in.
    pub generation: i64,
    /// When they signed in and when the session was last used (seconds since 1970).
    pub issued_at: i64,
    pub seen_at: i64,
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Anyone looking at a page: their session, and who they are if signed in. Extracting
/// it marks the request with [`ActingUser`] for the access log.
pub struct Visitor {
    pub session: Session,
    pub user: Option<SessionUser>,
}

impl Visitor {
    /// The visitor, signed in only if the session is still current (module docs); an
    /// ended session is forgotten.
    async fn of(req: HttpRequest) -> Result<Self, actix_web::Error> {
        let session = req.get_session();
        let mut user = stored_user(&session);
        if let Some(mut u) = user.take() {
            let state = req.app_data::<web::Data<AppState>>().expect("the web scope has the state").clone();
            let limits = &state.settings.session;
            let now = now();
            let fresh =
                now - u.seen_at < limits.idle_timeout_s && now - u.issued_at < limits.absolute_timeout_s;
            let rid = RequestId::extract(&req).await?;
            let current = fresh
                && state.upstream.for_request(&rid).session_generation(u.id).await.map_err(WebError::from)?
                    == Some(u.generation);
            if current {
                if u.seen_at != now {
                    u.seen_at = now;
                    let _ = session.insert(USER, &u);
                }
                user = Some(u);
            } else {
                session.remove(USER);
                session.renew();
            }
        }
        if let Some(user) = &user {
            req.extensions_mut().insert(ActingUser(user.id));
        }
        Ok(Self { session, user })
    }

    /// Remembers `user` as signed in, in a fresh session of their current `generation`.
    pub fn sign_in(&self, user: &User, generation: i64) {
        self.session.renew();
        let now = now();
        let user = SessionUser {
            id: user.id,
            username: user.username.clone(),
            generation,
            issued_at: now,
            seen_at: now,
        };
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
}

impl super::render::Viewer for Visitor {
    fn viewer(&self) -> Option<&impl Serialize> {
        self.user.as_ref()
    }

    /// The flash messages waiting to be shown; they are gone from the session after this.
    fn take_flashes(&self) -> Vec<String> {
        take_flashes(&self.session)
    }
}

/// The signed-in user the session holds, unchecked; a value that does not read as one
/// is none.
pub(crate) fn stored_user(session: &Session) -> Option<SessionUser> {
    session.get::<SessionUser>(USER).ok().flatten()
}

/// The flash messages the session holds, removed from it; a value that does not read
/// as a list of texts is none.
pub(crate) fn take_flashes(session: &Session) -> Vec<String> {
    session.remove_as::<Vec<String>>(FLASHES).and_then(Result::ok).unwrap_or_default()
}

impl FromRequest for Visitor {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(Visitor::of(req))
    }
}

/// A visitor who must be signed in: extracting it fails with 401 otherwise.
pub struct SignedIn {
    pub visitor: Visitor,
    pub user: SessionUser,
}

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let visitor = Visitor::of(req).await?;
            match visitor.user.clone() {
                Some(user) => Ok(SignedIn { visitor, user }),
                None => Err(WebError::Unauthorized.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_key_must_be_long_enough() {
        let short = SessionSettings { key: Some("too short".into()), ..SessionSettings::default() };
        assert!(key(&short).is_err());
        let long =
            SessionSettings { key: Some("k".repeat(64).into()), secure: true, ..SessionSettings::default() };
        assert!(key(&long).is_ok());
        assert!(key(&SessionSettings::default()).is_ok());
    }
}
