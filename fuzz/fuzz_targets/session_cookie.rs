//! The session cookie, through the web UI's session middleware: any `Cookie` header,
//! and any state inside a correctly encrypted cookie (what a leaked key or a bug of
//! ours could put there). The page is never a 5xx, and the signed-in user and the
//! flash messages are read only when they are well-formed.
//!
//! An input's first line says what the rest is: `header` (a `Cookie` header as sent),
//! `state` (two lines, the session's `user` and `flashes` values, encrypted with the
//! key), else any plaintext encrypted with the key.
#![no_main]

use std::{cell::RefCell, collections::HashMap};

use actix_session::Session;
use actix_web::{
    cookie::{Cookie, CookieJar, Key},
    http::header::{HeaderValue, COOKIE},
    test, web, App, HttpResponse,
};
use gateway::inputs::{self, SessionUser, SESSION_COOKIE, SESSION_FLASHES, SESSION_USER};
use libfuzzer_sys::fuzz_target;

enum Input {
    /// A `Cookie` header as sent.
    Header(Vec<u8>),
    /// A session state of these values, encrypted with the key.
    State { user: String, flashes: String },
    /// Any plaintext, encrypted with the key.
    Plaintext(String),
}

impl Input {
    fn read(data: &[u8]) -> Self {
        if let Some(header) = data.strip_prefix(b"header\n") {
            return Input::Header(header.to_vec());
        }
        let text = String::from_utf8_lossy(data);
        match text.strip_prefix("state\n") {
            Some(state) => {
                let (user, flashes) = state.split_once('\n').unwrap_or((state, ""));
                Input::State { user: user.into(), flashes: flashes.into() }
            }
            None => Input::Plaintext(text.into_owned()),
        }
    }
}

thread_local! {
    static RUNTIME: RefCell<actix_web::rt::Runtime> =
        RefCell::new(actix_web::rt::Runtime::new().expect("a runtime"));
}

/// actix-session's limit on a session key (the cookie store's state).
const STATE_MAX_BYTES: usize = 4064;

fn key() -> Key {
    Key::from(&[7u8; 64])
}

fn encrypted(plaintext: String) -> Vec<u8> {
    let mut jar = CookieJar::new();
    jar.private_mut(&key()).add(Cookie::new(SESSION_COOKIE, plaintext));
    let value = jar.get(SESSION_COOKIE).expect("just added").value().to_string();
    format!("{SESSION_COOKIE}={value}").into_bytes()
}

async fn page(session: Session) -> HttpResponse {
    let (user, flashes) = inputs::session_contents(&session);
    HttpResponse::Ok().json((user, flashes))
}

fuzz_target!(|data: &[u8]| {
    let (header, expected) = match Input::read(data) {
        Input::Header(raw) => (raw, None),
        Input::State { user, flashes } => {
            let expected = (
                serde_json::from_str::<SessionUser>(&user).ok(),
                serde_json::from_str::<Vec<String>>(&flashes).unwrap_or_default(),
            );
            let state =
                serde_json::to_string(&HashMap::from([(SESSION_USER, user), (SESSION_FLASHES, flashes)]));
            let state = state.unwrap();
            // actix-session drops a state too large for a cookie whole: nothing is read.
            let expected = if state.len() <= STATE_MAX_BYTES { expected } else { (None, Vec::new()) };
            (encrypted(state), Some(expected))
        }
        Input::Plaintext(text) => (encrypted(text), None),
    };
    // What no HTTP parser would pass on is no request.
    let Ok(header) = HeaderValue::from_bytes(&header) else { return };
    RUNTIME.with(|rt| {
        rt.borrow().block_on(async {
            let app = test::init_service(
                App::new().wrap(inputs::session_middleware(key())).route("/", web::get().to(page)),
            )
            .await;
            let req = test::TestRequest::get().uri("/").insert_header((COOKIE, header)).to_request();
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status().as_u16(), 200, "{:?}", res.response().error());
            let (user, flashes): (Option<SessionUser>, Vec<String>) = test::read_body_json(res).await;
            if let Some(expected) = expected {
                assert_eq!((user, flashes), expected);
            }
        })
    });
});
