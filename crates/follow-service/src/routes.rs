//! The HTTP routes of follow-service; see [`minitwit_api::follow`] for the contract.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use minitwit_api::{
    follow::{FollowError, Followees, Following, LimitQuery, DEFAULT_LIMIT},
    Count,
};
use minitwit_kit::{db::Db, metrics::Metrics, server::ActingUser, ApiError};
use prometheus::IntCounter;

use crate::follows;

#[derive(Clone)]
pub struct State {
    db: Db,
    max_limit: u32,
    followed: IntCounter,
    unfollowed: IntCounter,
}

impl State {
    pub fn new(db: Db, max_limit: u32, metrics: &Metrics) -> Self {
        Self {
            db,
            max_limit,
            followed: metrics
                .counter("minitwit_follows_total", "Follows added (repeated follows not counted)"),
            unfollowed: metrics
                .counter("minitwit_unfollows_total", "Follows removed (unfollows of nobody not counted)"),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    // The static route first: `/follows/count` also matches `/follows/{follower}`.
    cfg.app_data(web::Data::new(state))
        .route("/follows/count", web::get().to(count))
        .route("/follows/{follower}", web::get().to(followees))
        .route("/follows/{follower}/{followee}", web::put().to(follow))
        .route("/follows/{follower}/{followee}", web::delete().to(unfollow))
        .route("/follows/{follower}/{followee}", web::get().to(is_following));
}

/// User ids are positive; the service keeps no users table, so any positive id is fine.
fn user_id(id: i64) -> Result<i64, ApiError> {
    if id > 0 {
        Ok(id)
    } else {
        Err(FollowError::InvalidId.into())
    }
}

fn pair(req: &HttpRequest, path: web::Path<(i64, i64)>) -> Result<(i64, i64), ApiError> {
    let (follower, followee) = path.into_inner();
    let pair = (user_id(follower)?, user_id(followee)?);
    req.extensions_mut().insert(ActingUser(pair.0));
    Ok(pair)
}

async fn follow(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (follower, followee) = pair(&req, path)?;
    if follower == followee {
        return Err(FollowError::SelfFollow.into());
    }
    let inserted = state.db.run_idempotent(move |c| follows::follow(c, follower, followee)).await?;
    state.followed.inc_by(inserted as u64);
    Ok(HttpResponse::NoContent().finish())
}

async fn unfollow(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (follower, followee) = pair(&req, path)?;
    let deleted = state.db.run_idempotent(move |c| follows::unfollow(c, follower, followee)).await?;
    state.unfollowed.inc_by(deleted as u64);
    Ok(HttpResponse::NoContent().finish())
}

async fn followees(
    state: web::Data<State>,
    path: web::Path<i64>,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    let follower = user_id(path.into_inner())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(state.max_limit);
    let followees = if limit == 0 {
        Vec::new()
    } else {
        state.db.run_idempotent(move |c| follows::followees(c, follower, limit)).await?
    };
    Ok(HttpResponse::Ok().json(Followees { followees }))
}

async fn is_following(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (follower, followee) = pair(&req, path)?;
    let following = state.db.run_idempotent(move |c| follows::is_following(c, follower, followee)).await?;
    Ok(HttpResponse::Ok().json(Following { following }))
}

async fn count(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let count = state.db.run_idempotent(follows::count).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}
