//! The HTTP routes of user-service; see [`minitwit_api::user`] for the contract.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use minitwit_api::{
    domain::{Password, UserId, Username},
    user::{Credentials, NewUser, SessionGeneration, UserError, UserIds, BATCH_MAX},
    Count,
};
use minitwit_kit::{db::Db, metrics::Metrics, ApiError};
use prometheus::{IntCounter, IntGauge};

use crate::{legacy::Scheme, password::Hasher, users};

#[derive(Clone)]
pub struct State {
    db: Db,
    hasher: Hasher,
    registered: IntCounter,
    total: IntGauge,
    legacy: IntGauge,
    upgraded: IntCounter,
}

impl State {
    pub fn new(db: Db, hasher: Hasher, metrics: &Metrics) -> Self {
        Self {
            db,
            hasher,
            registered: metrics.counter("minitwit_users_registered_total", "Users registered"),
            total: metrics.gauge("minitwit_users", "Registered users (refreshed every 30 s)"),
            legacy: metrics.gauge(
                "minitwit_users_legacy_password",
                "Accounts whose password is still an imported legacy hash (refreshed every 30 s)",
            ),
            upgraded: metrics.counter(
                "minitwit_users_legacy_password_upgrades_total",
                "Legacy password hashes replaced by argon2id at a successful login",
            ),
        }
    }

    /// Keeps the `minitwit_users` and `minitwit_users_legacy_password` gauges fresh off
    /// the request path.
    pub fn spawn_gauge_refresh(&self) {
        self.db.refresh_gauge_every(self.total.clone(), Duration::from_secs(30), users::count);
        self.db.refresh_gauge_every(self.legacy.clone(), Duration::from_secs(30), users::count_legacy);
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    cfg.app_data(web::Data::new(state))
        .route("/users", web::post().to(register))
        .route("/users/login", web::post().to(login))
        .route("/users/batch", web::post().to(batch))
        .route("/users/count", web::get().to(count))
        .route("/users/by-name/{username}", web::get().to(by_name))
        .route("/users/{id}", web::get().to(by_id))
        .route("/users/{id}/session", web::get().to(session))
        .route("/users/{id}/session/end", web::post().to(end_session));
}

fn no_such_user() -> ApiError {
    ApiError::refused(UserError::NoSuchUser)
}

async fn register(state: web::Data<State>, body: web::Json<NewUser>) -> Result<HttpResponse, ApiError> {
    let NewUser { username, email, password } = body.into_inner();
    if username.is_reserved() {
        return Err(ApiError::refused(UserError::UsernameTaken));
    }
    // A taken name is refused before the costly hash (the insert still settles races).
    let name = username.as_str().to_string();
    if state.db.run_idempotent(move |c| users::by_name(c, &name)).await?.is_some() {
        return Err(ApiError::refused(UserError::UsernameTaken));
    }
    let hash = state.hasher.hash_blocking(password).await.map_err(hashing)?;
    let user = state.db.run(move |c| users::insert(c, &username, &email, &hash)).await?;
    state.registered.inc();
    state.total.inc();
    Ok(HttpResponse::Created().json(user))
}

async fn login(state: web::Data<State>, body: web::Json<Credentials>) -> Result<HttpResponse, ApiError> {
    let Credentials { username, password } = body.into_inner();
    let name = username.into_inner();
    let account =
        state.db.run_idempotent(move |c| users::account(c, &name)).await?.ok_or_else(no_such_user)?;
    let Some(scheme_name) = account.pw_scheme else {
        let matches = state.hasher.verify_blocking(password, account.pw_hash).await.map_err(hashing)?;
        if !matches {
            return Err(ApiError::refused(UserError::WrongPassword));
        }
        return Ok(HttpResponse::Ok().json(account.user));
    };
    // An imported legacy hash: verified as the legacy system did, then replaced.
    // A scheme this build does not know matches no password.
    let again = Password::parse(password.expose()).map_err(ApiError::internal)?;
    let matches = match Scheme::from_name(&scheme_name) {
        Some(scheme) => state
            .hasher
            .verify_legacy_blocking(scheme, password, account.pw_hash.clone())
            .await
            .map_err(hashing)?,
        None => false,
    };
    if !matches {
        return Err(ApiError::refused(UserError::WrongPassword));
    }
    let phc = state.hasher.hash_blocking(again).await.map_err(hashing)?;
    let (id, old) = (account.user.id, account.pw_hash);
    if state.db.run_idempotent(move |c| users::upgrade_password(c, id, &old, &phc)).await? {
        state.upgraded.inc();
        // Until the first count is in (the database was not ready yet) the gauge is 0:
        // never below it; the next count sets it right.
        if state.legacy.get() > 0 {
            state.legacy.dec();
        }
    }
    Ok(HttpResponse::Ok().json(account.user))
}

/// A name no user can have (a NUL, a bidi override, ...) is no user's: 404, and it never
/// reaches the database; a valid one is looked up in normal form C, as names are stored.
async fn by_name(state: web::Data<State>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let username = Username::parse(&path.into_inner()).map_err(|_| no_such_user())?;
    let user = state
        .db
        .run_idempotent(move |c| users::by_name(c, username.as_str()))
        .await?
        .ok_or_else(no_such_user)?;
    Ok(HttpResponse::Ok().json(user))
}

async fn by_id(state: web::Data<State>, path: web::Path<UserId>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let user = state.db.run_idempotent(move |c| users::by_id(c, id)).await?.ok_or_else(no_such_user)?;
    Ok(HttpResponse::Ok().json(user))
}

async fn session(state: web::Data<State>, path: web::Path<UserId>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let generation =
        state.db.run_idempotent(move |c| users::session_generation(c, id)).await?.ok_or_else(no_such_user)?;
    Ok(HttpResponse::Ok().json(SessionGeneration { generation }))
}

async fn end_session(state: web::Data<State>, path: web::Path<UserId>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let generation = state.db.run(move |c| users::end_sessions(c, id)).await?.ok_or_else(no_such_user)?;
    Ok(HttpResponse::Ok().json(SessionGeneration { generation }))
}

async fn batch(state: web::Data<State>, body: web::Json<UserIds>) -> Result<HttpResponse, ApiError> {
    let mut ids = body.into_inner().ids;
    if ids.len() > BATCH_MAX {
        return Err(ApiError::refused(UserError::TooManyIds));
    }
    ids.sort_unstable();
    ids.dedup();
    let users = state.db.run_idempotent(move |c| users::by_ids(c, &ids)).await?;
    Ok(HttpResponse::Ok().json(users))
}

async fn count(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let count = state.db.run_idempotent(users::count).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}

/// A hashing failure: every hasher busy and the queue full is `503 overloaded` (the
/// caller may try again at once, on another replica); anything else is a fault.
fn hashing(e: anyhow::Error) -> ApiError {
    if e.downcast_ref::<crate::password::Busy>().is_some() {
        ApiError::overloaded("every password hasher is busy, try again", e)
    } else {
        ApiError::internal(e)
    }
}
