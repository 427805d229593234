//! The simulator routes. Each runs its work through [`Sim::serve`] (allow-list,
//! `latest`, authorization) and answers errors as [`SimError`].

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use minitwit_api::{
    domain::{DomainError, Email, MessageText, Password, Username},
    follow::{Follow, FollowError},
    message::PageQuery,
    user::{NewUser, UserError},
};
use minitwit_kit::{server::ActingUser, RequestId};
use serde::Serialize;
use serde_json::json;

use crate::upstream::idempotency_key;

use super::{query, Auth, Sim, SimError};

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
pub async fn latest(sim: web::Data<Sim>, req: HttpRequest, rid: RequestId) -> Result<HttpResponse, SimError> {
    sim.allow.check(&req)?;
    let latest = sim.state.latest.get(&rid.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "latest": latest })))
}

/// `POST /register` `{"username", "email", "pwd"}`
pub async fn register(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, SimError> {
    sim.serve(&req, &rid, Auth::Open, async {
        let body = sim.json_body(&req, payload).await?;
        // Checked in the contract's order; a missing field counts as empty.
        let username = Username::parse(body.string("username")?.unwrap_or_default()).map_err(invalid)?;
        let email = Email::parse(body.string("email")?.unwrap_or_default()).map_err(invalid)?;
        let password = Password::parse(body.string("pwd")?.unwrap_or_default()).map_err(invalid)?;
        let new = NewUser { username, email, password };
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
    })
    .await
}

/// `GET /msgs?no=N`: the public timeline.
pub async fn public(sim: web::Data<Sim>, req: HttpRequest, rid: RequestId) -> Result<HttpResponse, SimError> {
    sim.serve(&req, &rid, Auth::Required, async {
        let no = query::no(req.query_string(), sim.state.settings.sim.max_no)?;
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
    })
    .await
}

/// `GET /msgs/{username}?no=N`: one user's messages.
pub async fn user_messages(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
) -> Result<HttpResponse, SimError> {
    sim.serve(&req, &rid, Auth::Required, async {
        let no = query::no(req.query_string(), sim.state.settings.sim.max_no)?;
        let user = sim.path_user(&req, &rid).await?;
        let messages = sim.state.upstream.for_request(&rid).by_author(user.id, &first(no)).await?.messages;
        let messages: Vec<SimMessage> = messages
            .into_iter()
            .map(|m| SimMessage { content: m.text, pub_date: m.pub_date, user: user.username.clone() })
            .collect();
        Ok(HttpResponse::Ok().json(messages))
    })
    .await
}

/// `POST /msgs/{username}` `{"content"}`
pub async fn post_message(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, SimError> {
    sim.serve(&req, &rid, Auth::Required, async {
        let name = query::path_user(req.uri().path())?;
        let body = sim.json_body(&req, payload).await?;
        let content = body.string("content")?.unwrap_or_default();
        let user = sim.known(&req, &rid, name).await?;
        let text = MessageText::parse(content).map_err(invalid)?;
        let key = idempotency_key(&req).map_err(invalid)?;
        sim.state.upstream.for_request(&rid).post(user.id, &text, &key).await?;
        Ok(no_content())
    })
    .await
}

/// `GET /fllws/{username}?no=N`: whom the user follows, in follow-service's order.
pub async fn follows(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
) -> Result<HttpResponse, SimError> {
    sim.serve(&req, &rid, Auth::Required, async {
        let no = query::no(req.query_string(), sim.state.settings.sim.max_no)?;
        let user = sim.path_user(&req, &rid).await?;
        let followees = sim.state.upstream.for_request(&rid).followees(user.id, no).await?;
        let users = sim.users(&rid, followees.iter().copied()).await?;
        let names: Vec<&str> =
            followees.iter().filter_map(|id| users.get(id).map(|u| u.username.as_str())).collect();
        Ok(HttpResponse::Ok().json(json!({ "follows": names })))
    })
    .await
}

enum FollowAction<'a> {
    Follow(&'a str),
    Unfollow(&'a str),
}

/// `POST /fllws/{username}` `{"follow": name}` or `{"unfollow": name}`
pub async fn follow(
    sim: web::Data<Sim>,
    req: HttpRequest,
    rid: RequestId,
    payload: web::Payload,
) -> Result<HttpResponse, SimError> {
    sim.serve(&req, &rid, Auth::Required, async {
        let name = query::path_user(req.uri().path())?;
        let body = sim.json_body(&req, payload).await?;
        let action = match (body.string("follow")?, body.string("unfollow")?) {
            (Some(target), None) => FollowAction::Follow(target),
            (None, Some(target)) => FollowAction::Unfollow(target),
            (None, None) => return Err(SimError::bad_request("You have to give \"follow\" or \"unfollow\"")),
            (Some(_), Some(_)) => {
                return Err(SimError::bad_request("Give either \"follow\" or \"unfollow\", not both"))
            }
        };
        let target_name = match action {
            FollowAction::Follow(t) | FollowAction::Unfollow(t) => t,
        };
        let (user, target) = tokio::join!(sim.known(&req, &rid, name), sim.by_name(&rid, target_name));
        let user = user?;
        let target = target?.ok_or_else(|| SimError::not_found("The user to (un)follow does not exist"))?;
        let calls = sim.state.upstream.for_request(&rid);
        match action {
            FollowAction::Follow(_) if user.id == target.id => {
                return Err(SimError::bad_request(FollowError::SelfFollow.to_string()));
            }
            FollowAction::Follow(_) => {
                calls.follow(Follow { follower: user.id, followee: target.id }).await?
            }
            FollowAction::Unfollow(_) => {
                calls.unfollow(Follow { follower: user.id, followee: target.id }).await?
            }
        }
        Ok(no_content())
    })
    .await
}
