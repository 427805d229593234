//! Following and unfollowing: `POST /<username>/follow|unfollow` from the page's
//! buttons, and the legacy `GET` links old clients and the course's UI tests use. Both
//! need a signed-in visitor (401) and an existing user (404), then lead back to that
//! user's timeline with a flash. The cross-site refusal is in [`super::csrf`].

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use minitwit_api::follow::{Follow, FollowError};
use minitwit_kit::server::RequestId;

use super::{error::WebError, redirect, render::user_url, session::SignedIn, timeline::profile};
use crate::AppState;

/// `/<username>/follow`
pub async fn follow(
    state: web::Data<AppState>,
    who: SignedIn,
    rid: RequestId,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    let calls = state.upstream.for_request(&rid);
    let target = profile(calls, &name).await?;
    if target.id == who.user.id {
        who.visitor.flash(FollowError::SelfFollow.to_string());
    } else {
        calls.follow(Follow { follower: who.user.id, followee: target.id }).await?;
        who.visitor.flash(format!("You are now following \"{}\"", target.username));
    }
    Ok(back(&req, &target.username))
}

/// `/<username>/unfollow`
pub async fn unfollow(
    state: web::Data<AppState>,
    who: SignedIn,
    rid: RequestId,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    let calls = state.upstream.for_request(&rid);
    let target = profile(calls, &name).await?;
    calls.unfollow(Follow { follower: who.user.id, followee: target.id }).await?;
    who.visitor.flash(format!("You are no longer following \"{}\"", target.username));
    Ok(back(&req, &target.username))
}

/// Back to the user's timeline: `303 See Other` after a form's POST, `302` after a GET.
fn back(req: &HttpRequest, username: &str) -> HttpResponse {
    let status =
        if req.method() == actix_web::http::Method::POST { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
    redirect(status, &user_url(username))
}
