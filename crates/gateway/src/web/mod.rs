//! The web UI (`web-ui.md`): server-rendered pages over the three services.
//!
//! | route | module |
//! | --- | --- |
//! | `GET /`, `GET /public`, `GET /<username>`, `POST /add_message` | [`timeline`] |
//! | `GET/POST /login`, `GET/POST /register`, `GET/POST /logout` | [`auth`] |
//! | `GET/POST /<username>/follow`, `GET/POST /<username>/unfollow` | [`follow`] |
//! | `GET /static/style.css` | here |
//!
//! The pages live in one scope with the session cookie ([`session`]), the cross-site
//! refusal ([`csrf`]) and security headers. It is configured after the sim API, whose
//! JSON `POST /register` therefore comes first; this scope's `POST /register` takes
//! form bodies only.

pub(crate) mod auth;
pub(crate) mod csrf;
pub(crate) mod error;
mod follow;
mod password_policy;
mod render;
pub(crate) mod session;
mod throttle;
pub(crate) mod timeline;

use actix_web::{
    cookie::Key,
    guard::{self, GuardContext},
    http::{header, StatusCode},
    middleware::{from_fn, DefaultHeaders},
    web, HttpResponse,
};

use crate::{settings::SessionSettings, AppState};
use error::WebError;

/// What pages may load: only this site's stylesheet, gravatars and the inline icon.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self' data: https://www.gravatar.com https://secure.gravatar.com; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The largest form body accepted (a message is at most 1000 characters).
const FORM_LIMIT_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct Web {
    key: Key,
    session: SessionSettings,
    throttle: Option<throttle::FormThrottle>,
}

impl Web {
    /// Checks the templates and the session key, so a bad one stops the start.
    pub fn new(state: &AppState) -> anyhow::Result<Self> {
        render::templates()?;
        let key = session::key(&state.settings.session)?;
        let throttle = throttle::FormThrottle::new(&state.settings.web, &state.settings.sim.allow_list)?;
        Ok(Self { key, session: state.settings.session.clone(), throttle })
    }

    pub fn configure(&self, cfg: &mut web::ServiceConfig, state: AppState) {
        cfg.route(render::STYLE_PATH, web::get().to(style));
        cfg.service(
            web::scope("")
                .app_data(web::Data::new(state))
                .app_data(web::Data::new(self.throttle.clone()))
                .app_data(
                    web::FormConfig::default()
                        .limit(FORM_LIMIT_BYTES)
                        .error_handler(|e, _| unreadable_form(e).into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    WebError::BadRequest(format!("The address could not be read: {e}.")).into()
                }))
                .wrap(
                    DefaultHeaders::new()
                        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                        .add((header::X_FRAME_OPTIONS, "DENY"))
                        .add((header::REFERRER_POLICY, "same-origin"))
                        .add((header::CACHE_CONTROL, "no-cache, private")),
                )
                .wrap(session::middleware(&self.session, self.key.clone()))
                .wrap(from_fn(csrf::refuse_cross_site_writes))
                .service(page("/", timeline::mine))
                .service(page("/public", timeline::public))
                .route("/add_message", web::post().to(timeline::add_message))
                .service(
                    page("/login", auth::login_form)
                        .route(web::post().to(auth::login))
                        .wrap(from_fn(throttle::limit_forms)),
                )
                .service(
                    page("/register", auth::register_form)
                        .route(web::post().guard(guard::fn_guard(is_form)).to(auth::register))
                        .wrap(from_fn(throttle::limit_forms)),
                )
                .service(
                    web::resource("/logout")
                        .wrap(from_fn(csrf::refuse_cross_site))
                        .route(web::get().to(auth::logout))
                        .route(web::post().to(auth::logout)),
                )
                .service(
                    web::resource("/{username}/follow")
                        .wrap(from_fn(csrf::refuse_cross_site))
                        .route(web::get().to(follow::change::<{ follow::FOLLOW }>))
                        .route(web::post().to(follow::change::<{ follow::FOLLOW }>)),
                )
                .service(
                    web::resource("/{username}/unfollow")
                        .wrap(from_fn(csrf::refuse_cross_site))
                        .route(web::get().to(follow::change::<{ follow::UNFOLLOW }>))
                        .route(web::post().to(follow::change::<{ follow::UNFOLLOW }>)),
                )
                .service(page("/{username}", timeline::user)),
        );
    }
}

/// A page answering GET, and HEAD with the same headers and no body (uptime checks
/// and link checkers use HEAD; actix drops the body of an answer to HEAD).
fn page<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path).route(web::get().to(handler.clone())).route(web::head().to(handler))
}

/// The answer to a form body that cannot be read into the form's fields.
pub(crate) fn unreadable_form(e: impl std::fmt::Display) -> WebError {
    WebError::BadRequest(format!("The form could not be read: {e}."))
}

/// Whether the request carries an HTML form (not the simulator's JSON).
fn is_form(ctx: &GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .is_some_and(|mime| mime == "application/x-www-form-urlencoded" || mime == "multipart/form-data")
}

/// A redirect to `location` (`302 Found` after a GET, `303 See Other` after a form).
fn redirect(status: StatusCode, location: &str) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::LOCATION, location)).finish()
}

/// `GET /static/style.css`: versioned by its address, so cached for a year.
async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(render::STYLE)
}
