//! The HTTP routes of follow-service; see [`minitwit_api::follow`] for the contract.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use minitwit_api::{
    domain::UserId,
    follow::{Follow, FollowError, Followees, Following, LimitQuery, DEFAULT_LIMIT},
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

/// The pair of the path, its ids checked as they are read (`invalid_id`); the follower
/// is the acting user.
fn pair(req: &HttpRequest, path: web::Path<(UserId, UserId)>) -> Follow {
    let (follower, followee) = path.into_inner();
    req.extensions_mut().insert(ActingUser(follower));
    Follow { follower, followee }
}

async fn follow(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(UserId, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let pair = pair(&req, path);
    if pair.follower == pair.followee {
        return Err(ApiError::refused(FollowError::SelfFollow));
    }
    let inserted = state.db.run_idempotent(move |c| follows::follow(c, pair)).await?;
    state.followed.inc_by(inserted as u64);
    Ok(HttpResponse::NoContent().finish())
}

async fn unfollow(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(UserId, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let pair = pair(&req, path);
    let deleted = state.db.run_idempotent(move |c| follows::unfollow(c, pair)).await?;
    state.unfollowed.inc_by(deleted as u64);
    Ok(HttpResponse::NoContent().finish())
}

async fn followees(
    state: web::Data<State>,
    path: web::Path<UserId>,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    let follower = path.into_inner();
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
    path: web::Path<(UserId, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let pair = pair(&req, path);
    let following = state.db.run_idempotent(move |c| follows::is_following(c, pair)).await?;
    Ok(HttpResponse::Ok().json(Following { following }))
}

async fn count(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let count = state.db.run_idempotent(follows::count).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}
