//! Following and unfollowing: `POST /<username>/follow|unfollow` from the page's
//! buttons, and the legacy `GET` links old clients and the course's UI tests use. Both
//! need a signed-in visitor (401) and an existing user (404), then lead back to that
//! user's timeline with a flash. The cross-site refusal is in [`super::csrf`].

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use minitwit_api::follow::{Follow, FollowError};
use minitwit_kit::server::RequestId;

use super::{error::WebError, redirect, render::user_url, session::SignedIn, timeline::profile};
use crate::AppState;

/// Which of the two a route does: `/<username>/follow` (`change::<FOLLOW>`) or
/// `/<username>/unfollow` (`change::<UNFOLLOW>`); one handler, since the two differ
/// only in the call and the flash.
pub const FOLLOW: bool = true;
pub const UNFOLLOW: bool = false;

/// `/<username>/follow` or `/<username>/unfollow`, as `FOLLOWS` says.
pub async fn change<const FOLLOWS: bool>(
    state: web::Data<AppState>,
    who: SignedIn,
    rid: RequestId,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    let calls = state.upstream.for_request(&rid);
    let target = profile(calls, &name).await?;
    let pair = Follow { follower: who.user.id, followee: target.id };
    let flash = if !FOLLOWS {
        calls.unfollow(pair).await?;
        format!("You are no longer following \"{}\"", target.username)
    } else if target.id == who.user.id {
        FollowError::SelfFollow.to_string()
    } else {
        calls.follow(pair).await?;
        format!("You are now following \"{}\"", target.username)
    };
    who.visitor.flash(flash);
    Ok(back(&req, &target.username))
}

/// Back to the user's timeline: `303 See Other` after a form's POST, `302` after a GET.
fn back(req: &HttpRequest, username: &str) -> HttpResponse {
    let status =
        if req.method() == actix_web::http::Method::POST { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
    redirect(status, &user_url(username))
}
