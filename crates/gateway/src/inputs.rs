//! Every parser of outside input the gateway runs, as a plain function over the raw
//! text or bytes: the fuzz targets (`fuzz/`, `make fuzz`) call these, and the tests of
//! what fuzzing found live here. Each calls the code a request runs, nothing of its own
//! but the read of a form body, which is what actix-web's `Form` does once it has the
//! body (`serde_urlencoded::from_bytes`). Not an API for anything else.

use actix_session::{storage::CookieSessionStore, Session, SessionMiddleware};
use actix_web::{cookie::Key, web::Query};
use minitwit_api::{
    domain::{DomainError, MessageText, Password, Username},
    message::Cursor,
    user::{Credentials, NewUser},
};
use serde::de::DeserializeOwned;

use crate::{
    settings::SessionSettings,
    sim::{
        body,
        handlers::{FollowRequest, Registration, Tweet},
        query,
    },
    web::{auth, session, timeline},
};
pub use crate::{
    sim::{auth::parse_network as sim_allow_list_entry, query::PathUser, SimError},
    web::{error::WebError, session::SessionUser},
};

/// The session cookie's name, and the keys of the session's state.
pub use crate::web::session::{
    COOKIE_NAME as SESSION_COOKIE, FLASHES as SESSION_FLASHES, USER as SESSION_USER,
};

/// `?latest=`: any simulator request's query string.
pub fn sim_latest(query: &str) -> Option<i64> {
    query::latest(query)
}

/// `?no=`, capped at `max`.
pub fn sim_no(query: &str, max: u32) -> Result<u32, SimError> {
    query::no(query, max)
}

/// The username of a simulator path (`/msgs/{username}`), from the raw path.
pub fn sim_path_user(raw_path: &str) -> Result<PathUser, SimError> {
    query::path_user(raw_path)
}

/// The body of `POST /register`, read and checked as the handler does.
pub fn sim_register(body: &[u8]) -> Result<NewUser, SimError> {
    body::parse::<Registration>(body)?.checked()
}

/// The body of `POST /msgs/{username}`.
pub fn sim_tweet(body: &[u8]) -> Result<MessageText, SimError> {
    body::parse::<Tweet>(body)?.text()
}

/// The body of `POST /fllws/{username}`: follow (else unfollow), and whom.
pub fn sim_follow(body: &[u8]) -> Result<(bool, String), SimError> {
    body::parse::<FollowRequest>(body)?.target()
}

/// The client address of an `X-Forwarded-For` hop or a peer address; whether a
/// state-changing request with these headers is refused as cross-site.
pub use crate::{sim::auth::parse_client as client_ip, web::csrf::is_cross_site};

fn form<T: DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    serde_urlencoded::from_bytes(body).map_err(crate::web::unreadable_form)
}

/// The `POST /login` form: the credentials when both name and password are valid
/// values (otherwise the page answers that no such user or a wrong password).
pub fn login_form(body: &[u8]) -> Result<Option<Credentials>, WebError> {
    let form: auth::LoginForm = form(body)?;
    Ok(match (Username::parse(&form.username), Password::parse(&form.password)) {
        (Ok(username), Ok(password)) => Some(Credentials { username, password }),
        _ => None,
    })
}

/// The `POST /register` form: the new user, or the error text the page shows.
pub fn register_form(body: &[u8], password_policy: bool) -> Result<Result<NewUser, String>, WebError> {
    let form: auth::RegisterForm = form(body)?;
    Ok(auth::validate(&form, password_policy))
}

/// The `POST /add_message` form's text.
pub fn message_form(body: &[u8]) -> Result<Result<MessageText, DomainError>, WebError> {
    let form: timeline::NewMessageForm = form(body)?;
    Ok(MessageText::parse(&form.text))
}

/// A timeline page's query string (`?before=<cursor>`), read as actix's `Query` does.
pub fn timeline_query(query: &str) -> Result<Option<Cursor>, WebError> {
    let params = Query::<timeline::PageParams>::from_query(query)
        .map_err(|e| WebError::BadRequest(format!("The address could not be read: {e}.")))?;
    params.before()
}

/// The session middleware as the web UI configures it (default settings), with `key`.
pub fn session_middleware(key: Key) -> SessionMiddleware<CookieSessionStore> {
    session::middleware(&SessionSettings::default(), key)
}

/// What the web UI reads from a session: the signed-in user (before the generation and
/// timeout checks, which need user-service) and the flash messages.
pub fn session_contents(session: &Session) -> (Option<SessionUser>, Vec<String>) {
    (session::stored_user(session), session::take_flashes(session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_bodies_are_checked_as_their_handlers_check_them() {
        let new = sim_register(br#"{"username": "Roger Histand", "email": " a@b ", "pwd": "x"}"#).unwrap();
        assert_eq!((new.username.as_str(), new.email.as_str()), ("Roger Histand", "a@b"));
        fn refused<T>(r: Result<T, SimError>) -> Option<(u16, String)> {
            r.err().map(|e| (e.status.as_u16(), e.message))
        }
        assert_eq!(
            refused(sim_register(br#"{"email": "a@b", "pwd": "x"}"#)),
            Some((400, "You have to enter a username".into()))
        );
        assert_eq!(refused(sim_register(b"[]")).unwrap().0, 400);
        assert_eq!(sim_tweet(br#"{"content": "hi"}"#).unwrap().as_str(), "hi");
        assert_eq!(refused(sim_tweet(b"{}")), Some((400, "The message is empty".into())));
        assert_eq!(sim_follow(br#"{"follow": "a"}"#).unwrap(), (true, "a".into()));
        assert_eq!(sim_follow(br#"{"unfollow": "b"}"#).unwrap(), (false, "b".into()));
        assert_eq!(refused(sim_follow(b"{}")).unwrap().0, 400);
        assert_eq!(refused(sim_follow(br#"{"follow": "a", "unfollow": "a"}"#)).unwrap().0, 400);
    }

    #[test]
    fn forms_are_read_as_actix_reads_them_and_unreadable_ones_are_400() {
        let creds = login_form(b"username=Roger+Histand&password=p%26w").unwrap().unwrap();
        assert_eq!((creds.username.as_str(), creds.password.expose()), ("Roger Histand", "p&w"));
        assert!(login_form(b"username=&password=x").unwrap().is_none());
        assert!(login_form(b"password=x").unwrap().is_none());
        let bad = |r: Result<(), WebError>| matches!(r, Err(WebError::BadRequest(why)) if why.starts_with("The form could not be read"));
        assert!(bad(login_form(b"username=a&username=b").map(|_| ())));
        let ok = register_form(b"username=u&email=u%40x&password=a&password2=a", false).unwrap();
        assert_eq!(ok.unwrap().username.as_str(), "u");
        let policy = register_form(b"username=u&email=u%40x&password=a&password2=a", true).unwrap();
        assert_eq!(policy.err().as_deref(), Some("The password must have at least 12 characters"));
        assert!(bad(register_form(b"email=a&email=b", false).map(|_| ())));
        assert_eq!(message_form(b"text=hi+there").unwrap().unwrap().as_str(), "hi there");
        assert_eq!(message_form(b"").unwrap(), Err(DomainError::TextEmpty));
        assert!(bad(message_form(b"text=a&text=b").map(|_| ())));
    }

    #[test]
    fn queries_paths_and_headers_read_as_the_routes_read_them() {
        assert_eq!(sim_latest("latest=7"), Some(7));
        assert_eq!(sim_no("no=5", 3).unwrap(), 3);
        assert_eq!(sim_no("no=x", 3).unwrap_err().status.as_u16(), 400);
        assert!(matches!(sim_path_user("/msgs/a%20b").unwrap(), PathUser::Name(n) if n.as_str() == "a b"));
        assert_eq!(sim_path_user("/msgs/%FF").unwrap_err().status.as_u16(), 400);
        assert_eq!(timeline_query("before=5_1").unwrap(), Some(Cursor { pub_date: 5, id: 1 }));
        assert_eq!(timeline_query("before=+%20").unwrap(), None);
        assert!(matches!(timeline_query("before=x"), Err(WebError::BadRequest(_))));
        assert!(
            matches!(timeline_query("before=1_1&before=2_2"), Err(WebError::BadRequest(why)) if why.starts_with("The address"))
        );
        assert_eq!(client_ip("[::1]:80"), Some("::1".parse().unwrap()));
        assert_eq!(client_ip("nonsense"), None);
        assert!(is_cross_site(None, Some("https://evil.example"), None, "a.example"));
        assert!(!is_cross_site(None, None, None, "a.example"));
    }
}
