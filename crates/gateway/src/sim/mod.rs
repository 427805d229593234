//! The course simulator's JSON API, exactly as `sim-api.md` describes it.
//!
//! | route | auth | answer |
//! | --- | --- | --- |
//! | `GET /latest` | – | 200 `{"latest": N}` (`-1` before any) |
//! | `POST /register` (JSON) | – | 204; 400 with the register error texts |
//! | `GET /msgs?no=N` | yes | 200 `[{"content", "pub_date", "user"}]` |
//! | `GET /msgs/{username}?no=N` | yes | 200 same; 404 unknown user |
//! | `POST /msgs/{username}` `{"content"}` | yes | 204; 404; 400 empty or too long |
//! | `GET /fllws/{username}?no=N` | yes | 200 `{"follows": [names]}`; 404 |
//! | `POST /fllws/{username}` `{"follow"}` / `{"unfollow"}` | yes | 204; 404 user or target; 400 |
//!
//! Every request first passes the client-address allow-list ([`auth::AllowList`]; a
//! refused address records nothing). Then its `latest` query parameter, if it is an
//! integer, is recorded concurrently with the request's own work, the `Authorization`
//! check included, so a request refused with 403 still records it; the answer waits
//! for both, and is a 503 when the value could not be stored.
//!
//! Every error, 404 and 405 included, is `{"status": N, "error_msg": "..."}`. Choices
//! where the contract is silent: a `POST /fllws` body with both `follow` and `unfollow`
//! is a 400 (as is one with neither); following yourself is a 400, unfollowing yourself
//! a 204; missing register fields count as empty; a username path segment that does
//! not decode to UTF-8 is a 400, one no user can have (`/`, control characters) a 404.

mod auth;
mod body;
mod error;
mod handlers;
mod query;

use std::{collections::HashMap, future::Future, sync::Arc};

use actix_web::{
    guard::{self, GuardContext},
    http::{header::CONTENT_TYPE, StatusCode},
    web, HttpMessage, HttpRequest, HttpResponse,
};
use futures::future::try_join_all;
use minitwit_api::{
    domain::Username,
    user::{User, BATCH_MAX},
};
use minitwit_kit::{server::ActingUser, RequestId};

use body::Object;
use query::PathUser;

pub use auth::AllowList;
pub use error::SimError;

use crate::{settings::SimSettings, AppState};

/// What the simulator routes share.
pub struct Sim {
    state: AppState,
    allow: AllowList,
}

/// Whether a route needs the `Authorization` header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Required,
    Open,
}

/// Checks the simulator settings, so a bad allow-list stops the gateway at start-up.
pub fn validate(settings: &SimSettings) -> anyhow::Result<()> {
    AllowList::parse(&settings.allow_list).map_err(|e| anyhow::anyhow!("sim.allow_list: {e}"))?;
    Ok(())
}

/// Adds the simulator routes. Register them before the web UI's: `POST /register` here
/// takes every request that is not a form (`application/x-www-form-urlencoded` or
/// `multipart/form-data`), which fall through to the web UI's route of the same path.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    let allow = AllowList::parse(&state.settings.sim.allow_list).unwrap_or_else(|e| {
        // `validate` refuses this at start-up; should it get here, refuse everyone.
        slog::error!(state.logger, "bad simulator allow-list, refusing every client"; "error" => e);
        AllowList::Only(Vec::new())
    });
    let sim = web::Data::new(Sim { state, allow });
    let resource = |path: &str| web::resource(path).app_data(sim.clone());
    cfg.service(
        resource("/latest").route(web::get().to(handlers::latest)).default_service(web::to(not_allowed)),
    )
    .service(
        resource("/register")
            .guard(guard::Post())
            .guard(guard::fn_guard(not_a_form))
            .route(web::post().to(handlers::register)),
    )
    .service(resource("/msgs").route(web::get().to(handlers::public)).default_service(web::to(not_allowed)))
    .service(
        resource("/msgs/{username}")
            .route(web::get().to(handlers::user_messages))
            .route(web::post().to(handlers::post_message))
            .default_service(web::to(not_allowed)),
    )
    .service(
        resource("/fllws/{username}")
            .route(web::get().to(handlers::follows))
            .route(web::post().to(handlers::follow))
            .default_service(web::to(not_allowed)),
    )
    .service(resource("/msgs/{tail:.*}").default_service(web::to(not_found)))
    .service(resource("/fllws").default_service(web::to(not_found)))
    .service(resource("/fllws/{tail:.*}").default_service(web::to(not_found)));
}

/// True unless the request is an HTML form (those belong to the web UI).
fn not_a_form(ctx: &GuardContext<'_>) -> bool {
    let content_type = ctx.head().headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    !(essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || essence.eq_ignore_ascii_case("multipart/form-data"))
}

async fn not_found() -> Result<HttpResponse, SimError> {
    Err(SimError::not_found("No such resource"))
}

async fn not_allowed() -> Result<HttpResponse, SimError> {
    Err(SimError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"))
}

impl Sim {
    /// Runs `work` under the simulator's rules: the allow-list, then the `latest`
    /// recording concurrently with the `Authorization` check and `work`.
    async fn serve<W>(
        &self,
        req: &HttpRequest,
        rid: &RequestId,
        auth: Auth,
        work: W,
    ) -> Result<HttpResponse, SimError>
    where
        W: Future<Output = Result<HttpResponse, SimError>>,
    {
        self.allow.check(req)?;
        let record = async {
            match query::latest(req.query_string()) {
                Some(value) => self.state.latest.record(&rid.0, value).await,
                None => Ok(()),
            }
        };
        let work = async {
            if auth == Auth::Required {
                auth::check_authorization(req, &self.state.settings.sim)?;
            }
            work.await
        };
        let (recorded, answer) = tokio::join!(record, work);
        if let Err(e) = recorded {
            return Err(SimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The latest value could not be recorded, please try again",
            )
            .with_cause(e));
        }
        answer
    }

    /// A JSON object body: 415, 413 and 400 in the simulator's shape.
    async fn json_body(&self, req: &HttpRequest, payload: web::Payload) -> Result<Object, SimError> {
        body::require_json(req)?;
        let bytes = body::read(req, payload, self.state.settings.http.body_limit_bytes).await?;
        Object::parse(&bytes)
    }

    /// The user called `name`, or `None` (no such user, or a name no user can have).
    async fn by_name(&self, rid: &RequestId, name: &str) -> Result<Option<Arc<User>>, SimError> {
        match Username::parse(name) {
            Ok(name) => Ok(self.state.upstream.for_request(rid).user_by_name(name.as_str()).await?),
            Err(_) => Ok(None),
        }
    }

    /// The user named by the path, a 404 when there is none; noted as the acting user.
    async fn known(&self, req: &HttpRequest, rid: &RequestId, name: PathUser) -> Result<Arc<User>, SimError> {
        let user = match name {
            PathUser::Name(name) => self.state.upstream.for_request(rid).user_by_name(name.as_str()).await?,
            PathUser::Impossible(_) => None,
        };
        let user = user.ok_or_else(|| SimError::not_found("The user does not exist"))?;
        req.extensions_mut().insert(ActingUser(user.id));
        Ok(user)
    }

    async fn path_user(&self, req: &HttpRequest, rid: &RequestId) -> Result<Arc<User>, SimError> {
        let name = query::path_user(req.uri().path())?;
        self.known(req, rid, name).await
    }

    /// The users among `ids`: cached ones, the rest in batch calls (concurrent when
    /// there are more than a batch holds).
    async fn users(
        &self,
        rid: &RequestId,
        ids: impl Iterator<Item = i64>,
    ) -> Result<HashMap<i64, Arc<User>>, SimError> {
        let mut ids: Vec<i64> = ids.collect();
        ids.sort_unstable();
        ids.dedup();
        let calls = self.state.upstream.for_request(rid);
        let chunks = try_join_all(ids.chunks(BATCH_MAX).map(|chunk| calls.users_by_ids(chunk))).await?;
        Ok(chunks.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::{test, App};
    use minitwit_kit::metrics::Metrics;

    use super::*;
    use crate::{latest::LatestRecorder, upstream::Upstream, Settings};

    fn state() -> AppState {
        let settings = Settings::default();
        let metrics = Metrics::new("test");
        let upstream = Upstream::new(&settings.services, &settings.cache, &metrics);
        let latest = LatestRecorder::new(upstream.messages.clone(), metrics.gauge("latest", "latest"));
        AppState { upstream, latest, settings: Arc::new(settings), logger: minitwit_kit::logging::discard() }
    }

    /// `POST /register` is the simulator's unless the body is a form; forms and every
    /// other method fall through to a later `/register` (the web UI's, in a scope).
    #[actix_web::test]
    async fn register_forms_fall_through_to_the_web_ui() {
        let app = test::init_service(App::new().configure(|cfg| configure(cfg, state())).service(
            web::scope("").route("/register", web::route().to(|| async { HttpResponse::Ok().body("web") })),
        ))
        .await;
        let send = |method: actix_web::http::Method, content_type: Option<&'static str>| {
            let mut req = test::TestRequest::default().method(method).uri("/register");
            if let Some(ct) = content_type {
                req = req.insert_header((CONTENT_TYPE, ct));
            }
            req.to_request()
        };
        use actix_web::http::Method;
        for (method, ct) in [
            (Method::POST, Some("application/x-www-form-urlencoded")),
            (Method::POST, Some("multipart/form-data; boundary=x")),
            (Method::POST, Some("Application/X-WWW-Form-Urlencoded; charset=utf-8")),
            (Method::GET, None),
            (Method::GET, Some("application/json")),
        ] {
            let res = test::call_service(&app, send(method.clone(), ct)).await;
            assert_eq!(test::read_body(res).await, "web", "{method} {ct:?}");
        }
        for ct in [Some("application/json"), Some("text/plain"), None] {
            let res = test::call_service(&app, send(Method::POST, ct)).await;
            let body = test::read_body(res).await;
            assert!(body.starts_with(b"{\"status\":"), "{ct:?}: {body:?}");
        }
    }
}
