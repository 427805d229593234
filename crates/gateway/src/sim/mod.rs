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
//! for both, and is a 503 when the value could not be stored. Both are the middleware
//! [`rules`] around every simulator resource, so no handler can forget them.
//!
//! A handler names what its contract line needs as extractors, each answering its own
//! error before the handler runs: [`Authorized`] (403), [`No`] and [`PathUser`] (400),
//! and last, since only it waits for the network, the body [`SimJson`] (415, 413, 400).
//! What needs a service (the user behind a name: 404) is the handler's.
//!
//! Every error, 404 and 405 included, is `{"status": N, "error_msg": "..."}` (a 405
//! with `Allow`). The OpenAPI document of these routes, generated from the handlers,
//! is served at `GET /openapi.json` ([`openapi`]). Choices
//! where the contract is silent: a `POST /fllws` body with both `follow` and `unfollow`
//! is a 400 (as is one with neither); following yourself is a 400, unfollowing yourself
//! a 204; missing register fields count as empty; a username path segment that does
//! not decode to UTF-8 is a 400, one no user can have (`/`, control characters) a 404.

pub(crate) mod auth;
pub(crate) mod body;
mod error;
pub(crate) mod handlers;
pub mod openapi;
pub(crate) mod query;

use std::{collections::HashMap, sync::Arc};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    guard::{self, GuardContext},
    http::{header::CONTENT_TYPE, Method, StatusCode},
    middleware::{from_fn, Next},
    web, FromRequest, HttpMessage, HttpRequest, HttpResponse,
};
use futures::future::try_join_all;
use minitwit_api::{
    domain::{UserId, Username},
    user::{User, BATCH_MAX},
};
use minitwit_kit::{server::ActingUser, RequestId};

use auth::Authorized;
use body::SimJson;
use query::{No, PathUser};

pub use auth::AllowList;
pub use error::SimError;

use crate::{settings::SimSettings, AppState};

/// What the simulator routes share.
pub struct Sim {
    state: AppState,
    allow: AllowList,
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
    let resource = |path: &str| web::resource(path).app_data(sim.clone()).wrap(from_fn(rules));
    // The document of these routes; outside `rules`: anyone may read it.
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi::serve)));
    cfg.service(
        resource("/latest").route(web::get().to(handlers::latest)).default_service(not_allowed("GET")),
    )
    .service(
        resource("/register")
            .guard(guard::Post())
            .guard(guard::fn_guard(not_a_form))
            .route(web::post().to(handlers::register)),
    )
    .service(resource("/msgs").route(web::get().to(handlers::public)).default_service(not_allowed("GET")))
    .service(
        resource("/msgs/{username}")
            .route(web::get().to(handlers::user_messages))
            .route(web::post().to(handlers::post_message))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        resource("/fllws/{username}")
            .route(web::get().to(handlers::follows))
            .route(web::post().to(handlers::follow))
            .default_service(not_allowed("GET, POST")),
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

/// The answer to a method the resource lacks: a 405 whose `Allow` names the ones it has.
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { Err::<HttpResponse, _>(SimError::method_not_allowed(allow)) })
}

/// The rules of every simulator request, around its route: the allow-list, then
/// `latest` recorded (by every route but `GET /latest`) concurrently with the route's
/// own work, which includes its `Authorization` check.
async fn rules(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let sim = match Sim::of(req.request()).and_then(|sim| sim.allow.check(req.request()).map(|()| sim)) {
        Ok(sim) => sim.clone(),
        Err(e) => return Ok(req.error_response(e).map_into_right_body()),
    };
    let get_latest = req.method() == Method::GET && req.match_pattern().as_deref() == Some("/latest");
    let latest = if get_latest { None } else { query::latest(req.query_string()) };
    let rid = RequestId::extract(req.request()).into_inner()?;
    let http = req.request().clone();
    // Counted while it runs: the `latest` writer gathers while others are in flight.
    let _in_flight = sim.state.latest.in_flight();
    let record = async {
        match latest {
            Some(value) => sim.state.latest.record(rid.as_str(), value).await,
            None => Ok(()),
        }
    };
    let (recorded, res) = tokio::join!(record, next.call(req));
    match recorded {
        Ok(()) => res.map(ServiceResponse::map_into_left_body),
        Err(e) => {
            let e = SimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The latest value could not be recorded, please try again",
            )
            .with_cause(e);
            Ok(ServiceResponse::from_err(e, http).map_into_right_body())
        }
    }
}

impl Sim {
    /// The simulator state of a request to one of its routes (each carries it).
    fn of(req: &HttpRequest) -> Result<&web::Data<Sim>, SimError> {
        req.app_data::<web::Data<Sim>>().ok_or_else(|| {
            SimError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
                .with_cause("a simulator route without the simulator's state")
        })
    }

    /// The user called `name`, or `None` (no such user, or a name no user can have).
    async fn by_name(&self, rid: &RequestId, name: &str) -> Result<Option<Arc<User>>, SimError> {
        match Username::parse(name) {
            Ok(name) => Ok(self.state.upstream.for_request(rid).user_by_name(&name).await?),
            Err(_) => Ok(None),
        }
    }

    /// The user named by the path, a 404 when there is none; noted as the acting user.
    async fn known(&self, req: &HttpRequest, rid: &RequestId, name: PathUser) -> Result<Arc<User>, SimError> {
        let user = match name {
            PathUser::Name(name) => self.state.upstream.for_request(rid).user_by_name(&name).await?,
            PathUser::Impossible(_) => None,
        };
        let user = user.ok_or_else(|| SimError::not_found("The user does not exist"))?;
        req.extensions_mut().insert(ActingUser(user.id));
        Ok(user)
    }

    /// The users among `ids`: cached ones, the rest in batch calls (concurrent when
    /// there are more than a batch holds).
    async fn users(
        &self,
        rid: &RequestId,
        ids: impl Iterator<Item = UserId>,
    ) -> Result<HashMap<UserId, Arc<User>>, SimError> {
        let mut ids: Vec<UserId> = ids.collect();
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
        let upstream =
            Upstream::new(&settings.services, &settings.cache, &metrics).expect("no token to refuse");
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
