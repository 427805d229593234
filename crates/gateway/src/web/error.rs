//! What can go wrong on a page, and the friendly HTML page each failure answers with.
//! A service that is down or slow is a 503 page, never a 500 and never a hang.

use actix_web::{
    http::{header, StatusCode},
    HttpResponse, ResponseError,
};
use minitwit_api::{client::ClientError, error::ServiceError};

use super::render;

#[derive(Debug)]
pub enum WebError {
    /// The action needs a signed-in user.
    Unauthorized,
    /// A state-changing request that a browser marked as coming from another site.
    CrossSite,
    /// No such page (the message says what was not found).
    NotFound(String),
    /// Input no page can make sense of (a broken cursor, an unreadable form).
    BadRequest(String),
    /// Too many sign-in or sign-up attempts from this address: wait this many seconds.
    TooManyRequests(u64),
    /// A service needed for this page is down or too slow.
    Unavailable(anyhow::Error),
    /// A bug: an answer the gateway did not expect.
    Internal(anyhow::Error),
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("not signed in"),
            Self::CrossSite => f.write_str("cross-site request refused"),
            Self::NotFound(what) => write!(f, "not found: {what}"),
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::TooManyRequests(wait) => {
                write!(f, "too many form posts from this address, retry in {wait} s")
            }
            Self::Unavailable(e) => write!(f, "service unavailable: {e:#}"),
            Self::Internal(e) => write!(f, "internal error: {e:#}"),
        }
    }
}

impl std::error::Error for WebError {}

/// A call's failure that the page did not handle: a service that is down or slow is
/// a 503; anything else (a refusal the gateway should have prevented) is a bug.
impl<E: ServiceError> From<ClientError<E>> for WebError {
    fn from(e: ClientError<E>) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.into())
        } else {
            Self::Internal(e.into())
        }
    }
}

impl From<anyhow::Error> for WebError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl WebError {
    /// Title, explanation, and where the page's one button leads.
    fn page(&self) -> (&'static str, String, &'static str, &'static str) {
        match self {
            Self::Unauthorized => {
                ("Please sign in", "You need to be signed in to do that.".into(), "/login", "Sign in")
            }
            Self::CrossSite => (
                "Request refused",
                "This request came from another site, so it was refused to protect your account. \
                 Please use MiniTwit's own pages."
                    .into(),
                "/public",
                "Go to the public timeline",
            ),
            Self::NotFound(what) => ("Not found", what.clone(), "/public", "Go to the public timeline"),
            Self::BadRequest(why) => ("Bad request", why.clone(), "/public", "Go to the public timeline"),
            Self::TooManyRequests(wait) => (
                "Too many attempts",
                format!("Too many attempts from your address. Please wait {wait} seconds and try again."),
                "/public",
                "Go to the public timeline",
            ),
            Self::Unavailable(_) => (
                "Temporarily unavailable",
                "Part of MiniTwit is not answering right now. Please try again in a moment.".into(),
                "/public",
                "Try the public timeline",
            ),
            Self::Internal(_) => (
                "Something went wrong",
                "An unexpected error happened on our side. Please try again.".into(),
                "/public",
                "Go to the public timeline",
            ),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::CrossSite => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message, link_url, link_text) = self.page();
        // Error pages show no one as signed in and take no flash messages: they must
        // render even when the session cannot be read.
        let page = render::Page::new("error.html")
            .status(status)
            .with("error_page", &true)
            .with("status", &status.as_u16())
            .with("title", title)
            .with("message", &message)
            .with("link_url", link_url)
            .with("link_text", link_text);
        let mut res = page.render_anonymous().unwrap_or_else(|_| {
            HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(message)
        });
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        if let Self::TooManyRequests(wait) = self {
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(*wait));
        }
        res
    }
}
