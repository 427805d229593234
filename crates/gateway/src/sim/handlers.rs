//! The simulator routes, each a line of `sim-api.md`: what it needs is in its arguments
//! (the extractors of [`super`]), what it does in its body. The allow-list and `latest`
//! are [`super::rules`], around every route. Errors answer as [`SimError`].

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use minitwit_api::{
    domain::{DomainError, Email, MessageText, Password, Username},
    follow::{Follow, FollowError},
    message::PageQuery,
    user::{NewUser, UserError},
};
use minitwit_kit::{server::ActingUser, RequestId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::upstream::idempotency_key;

use super::{Authorized, No, PathUser, Sim, SimError, SimJson};

/// One message as the simulator sees it.
#[derive(Serialize)]
struct SimMessage {
    content: String,
    pub_date: i64,
    user: String,
}

/// The newest `no` messages. The services answer a limit of 0 with an empty page
/// without asking their database, and cap a large one.
fn first(no: u32) -> PageQuery {
    PageQuery { limit: Some(no), before: None }
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

fn invalid(e: DomainError) -> SimError {
    SimError::bad_request(e.to_string())
}

/// `GET /latest`
pub async fn latest(sim: web::Data<Sim>, rid: RequestId) -> Result<HttpResponse, SimError> {
    let latest = sim.state.latest.get(&rid.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "latest": latest })))
}

/// The body of `POST /register`.
#[derive(Deserialize)]
pub struct Registration {
    username: Option<String>,
    email: Option<String>,
    pwd: Option<String>,
}

impl Registration {
    /// The new user, checked in the contract's order; a missing field counts as empty.
    pub fn checked(self) -> Result<NewUser, SimError> {
        let username = Username::parse(self.username.as_deref().unwrap_or_default()).map_err(invalid)?;
        let email = Email::parse(self.email.as_deref().unwrap_or_default()).map_err(invalid)?;
        let password = Password::parse(self.pwd.as_deref().unwrap_or_default()).map_err(invalid)?;
        Ok(NewUser { username, email, password })
    }
}

/// `POST /register` `{"username", "email", "pwd"}`
pub async fn register(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    SimJson(body): SimJson<Registration>,
) -> Result<HttpResponse, SimError> {
    let new = body.checked()?;
    match sim.state.upstream.for_request(&rid).register(&new).await {
        Ok(user) => {
            req.extensions_mut().insert(ActingUser(user.id));
            Ok(no_content())
        }
        Err(e) if e.refusal() == Some(UserError::UsernameTaken) => {
            Err(SimError::bad_request(UserError::UsernameTaken.to_string()).with_cause(e))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /msgs?no=N`: the public timeline.
pub async fn public(
    sim: web::Data<Sim>,
    rid: RequestId,
    _: Authorized,
    No(no): No,
) -> Result<HttpResponse, SimError> {
    let messages = sim.state.upstream.for_request(&rid).public(&first(no)).await?.messages;
    let authors = sim.users(&rid, messages.iter().map(|m| m.author_id)).await?;
    let messages: Vec<SimMessage> = messages
        .into_iter()
        .filter_map(|m| {
            let user = authors.get(&m.author_id)?.username.clone();
            Some(SimMessage { content: m.text, pub_date: m.pub_date, user })
        })
        .collect();
    Ok(HttpResponse::Ok().json(messages))
}

/// `GET /msgs/{username}?no=N`: one user's messages.
pub async fn user_messages(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    _: Authorized,
    No(no): No,
    name: PathUser,
) -> Result<HttpResponse, SimError> {
    let user = sim.known(&req, &rid, name).await?;
    let messages = sim.state.upstream.for_request(&rid).by_author(user.id, &first(no)).await?.messages;
    let messages: Vec<SimMessage> = messages
        .into_iter()
        .map(|m| SimMessage { content: m.text, pub_date: m.pub_date, user: user.username.clone() })
        .collect();
    Ok(HttpResponse::Ok().json(messages))
}

/// The body of `POST /msgs/{username}`.
#[derive(Deserialize)]
pub struct Tweet {
    content: Option<String>,
}

impl Tweet {
    /// The message's text; a missing `content` counts as empty.
    pub fn text(&self) -> Result<MessageText, SimError> {
        MessageText::parse(self.content.as_deref().unwrap_or_default()).map_err(invalid)
    }
}

/// `POST /msgs/{username}` `{"content"}`
pub async fn post_message(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    _: Authorized,
    name: PathUser,
    SimJson(tweet): SimJson<Tweet>,
) -> Result<HttpResponse, SimError> {
    let user = sim.known(&req, &rid, name).await?;
    let text = tweet.text()?;
    let key = idempotency_key(&req).map_err(invalid)?;
    sim.state.upstream.for_request(&rid).post(user.id, &text, &key).await?;
    Ok(no_content())
}

/// `GET /fllws/{username}?no=N`: whom the user follows, in follow-service's order.
pub async fn follows(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    _: Authorized,
    No(no): No,
    name: PathUser,
) -> Result<HttpResponse, SimError> {
    let user = sim.known(&req, &rid, name).await?;
    let followees = sim.state.upstream.for_request(&rid).followees(user.id, no).await?;
    let users = sim.users(&rid, followees.iter().copied()).await?;
    let names: Vec<&str> =
        followees.iter().filter_map(|id| users.get(id).map(|u| u.username.as_str())).collect();
    Ok(HttpResponse::Ok().json(json!({ "follows": names })))
}

/// The body of `POST /fllws/{username}`: exactly one of the two.
#[derive(Deserialize)]
pub struct FollowRequest {
    follow: Option<String>,
    unfollow: Option<String>,
}

impl FollowRequest {
    /// Whether to follow (else unfollow), and whom: exactly one of the two fields.
    pub fn target(self) -> Result<(bool, String), SimError> {
        match (self.follow, self.unfollow) {
            (Some(target), None) => Ok((true, target)),
            (None, Some(target)) => Ok((false, target)),
            (None, None) => Err(SimError::bad_request("You have to give \"follow\" or \"unfollow\"")),
            (Some(_), Some(_)) => {
                Err(SimError::bad_request("Give either \"follow\" or \"unfollow\", not both"))
            }
        }
    }
}

/// `POST /fllws/{username}` `{"follow": name}` or `{"unfollow": name}`
pub async fn follow(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    _: Authorized,
    name: PathUser,
    SimJson(body): SimJson<FollowRequest>,
) -> Result<HttpResponse, SimError> {
    let (following, target) = body.target()?;
    let (user, target) = tokio::join!(sim.known(&req, &rid, name), sim.by_name(&rid, &target));
    let user = user?;
    let target = target?.ok_or_else(|| SimError::not_found("The user to (un)follow does not exist"))?;
    let pair = Follow { follower: user.id, followee: target.id };
    let calls = sim.state.upstream.for_request(&rid);
    match following {
        true if user.id == target.id => Err(SimError::bad_request(FollowError::SelfFollow.to_string()))?,
        true => calls.follow(pair).await?,
        false => calls.unfollow(pair).await?,
    }
    Ok(no_content())
}
