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
use utoipa::{IntoParams, IntoResponses, ToSchema};

use crate::upstream::idempotency_key;

use super::{error::ErrorBody, Authorized, No, PathUser, Sim, SimError, SimJson};

// The `responses(...)` of `#[utoipa::path]` below are the contract's lines for each route
// (`sim-api.md`), plus what the gateway answers where it is silent: 403 on every route
// (the allow-list), 413 and 415 on routes with a body, 503 when a service is down or
// `latest` could not be stored. `super::openapi`'s tests hold the document to that.
// The answers several routes share are the types below, written once.

/// 403 on a route that needs the simulator's `Authorization` header.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "No or a wrong `Authorization` header, or a client address not on the allow-list"
)]
#[expect(dead_code, reason = "describes answers in the OpenAPI document; SimError makes them")]
struct Forbidden(ErrorBody);

/// 503 on a route that calls a service and records `latest`.
#[derive(IntoResponses)]
#[response(status = 503, description = "A service is unavailable, or `latest` could not be stored")]
#[expect(dead_code, reason = "describes answers in the OpenAPI document; SimError makes them")]
struct Unavailable(ErrorBody);

/// 400 on a list route whose path names a user.
#[derive(IntoResponses)]
#[response(status = 400, description = "`no` is not a non-negative integer, or the username is not UTF-8")]
#[expect(dead_code, reason = "describes answers in the OpenAPI document; SimError makes them")]
struct BadUserList(ErrorBody);

/// 404 on a route whose path names a user who does not exist.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such user")]
#[expect(dead_code, reason = "describes answers in the OpenAPI document; SimError makes them")]
struct NoSuchUser(ErrorBody);

/// 413 and 415 on a route with a JSON body.
#[derive(IntoResponses)]
#[expect(dead_code, reason = "describes answers in the OpenAPI document; SimError makes them")]
enum BodyRefused {
    #[response(status = 413, description = "The body is larger than the operators' limit")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not `application/json`")]
    NotJson(ErrorBody),
}

// The parameters several routes share, written once.

/// The `latest` query parameter of every route but `GET /latest` (recorded as is; a
/// value that is not an integer is ignored).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes a parameter in the OpenAPI document; super::rules reads it")]
struct LatestParam {
    /// The simulator's action id, recorded before anything else (also when the request is then refused); not an integer: ignored
    latest: Option<i64>,
}

/// The `no` query parameter of the list routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes a parameter in the OpenAPI document; the No extractor reads it")]
struct NoParam {
    /// How many items at most (default 100, capped by the operators' bound); not a non-negative integer: 400
    #[param(minimum = 0)]
    no: Option<u64>,
}

/// The username path segment.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "describes a parameter in the OpenAPI document; the PathUser extractor reads it"
)]
struct UserParam {
    /// A username, percent-encoded (they contain spaces)
    #[param(min_length = 1)]
    username: String,
}

/// One message as the simulator sees it.
#[derive(Serialize, ToSchema)]
pub struct SimMessage {
    /// The text, as posted.
    content: String,
    /// When it was posted, in Unix seconds.
    pub_date: i64,
    /// The author's username.
    user: String,
}

/// The answer of `GET /latest`.
#[derive(Serialize, ToSchema)]
pub struct Latest {
    /// The last recorded `latest` value; -1 while none was ever recorded.
    latest: i64,
}

/// The answer of `GET /fllws/{username}`.
#[derive(Serialize, ToSchema)]
pub struct Follows {
    /// The usernames the user follows.
    follows: Vec<String>,
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
#[utoipa::path(
    get,
    path = "/latest",
    tag = "simulator",
    operation_id = "get_latest",
    summary = "The last recorded `latest` value",
    responses(
        (status = 200, description = "The value (-1 before any)", body = Latest),
        (status = 403, description = "The client address is not on the allow-list", body = ErrorBody),
        (status = 503, description = "message-service is unavailable", body = ErrorBody),
    ),
)]
pub async fn latest(sim: web::Data<Sim>, rid: RequestId) -> Result<HttpResponse, SimError> {
    let latest = sim.state.latest.get(rid.as_str()).await?;
    Ok(HttpResponse::Ok().json(Latest { latest }))
}

/// The body of `POST /register`. A missing or `null` field counts as empty (a 400).
#[derive(Deserialize, ToSchema)]
#[schema(as = Registration)]
pub struct Registration {
    /// Not empty, not taken; no `/`, control or invisible characters, no surrounding white
    /// space (the pattern leaves invisible characters to the server: a 400).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64,
        pattern = r"^[^\s/\x00-\x1f\x7f]([^\t\n\r\f\v/\x00-\x1f\x7f]*[^\s/\x00-\x1f\x7f])?$")]
    username: Option<String>,
    /// Text with an `@` that has something on both sides; no white space.
    #[schema(value_type = String, required = true, min_length = 3, max_length = 254,
        pattern = r"^[^\s\x00-\x1f\x7f]+@[^\s\x00-\x1f\x7f]+$")]
    email: Option<String>,
    /// Any non-empty password.
    #[schema(value_type = String, required = true, min_length = 1)]
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
#[utoipa::path(
    post,
    path = "/register",
    tag = "simulator",
    operation_id = "register",
    summary = "Registers a user",
    params(LatestParam),
    request_body(content = Registration, content_type = "application/json"),
    responses(
        (status = 204, description = "Registered"),
        (status = 400, description = "In this order: `You have to enter a username`, `You have to enter a valid \
email address`, `You have to enter a password`, `The username is already taken`; or a body that is not a JSON \
object of strings", body = ErrorBody),
        (status = 403, description = "The client address is not on the allow-list", body = ErrorBody),
        BodyRefused,
        Unavailable,
    ),
)]
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
#[utoipa::path(
    get,
    path = "/msgs",
    tag = "simulator",
    operation_id = "public_messages",
    summary = "The newest unflagged messages of everyone, newest first",
    params(LatestParam, NoParam),
    security(("simulator" = [])),
    responses(
        (status = 200, description = "The messages", body = [SimMessage]),
        (status = 400, description = "`no` is not a non-negative integer", body = ErrorBody),
        Forbidden,
        Unavailable,
    ),
)]
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
#[utoipa::path(
    get,
    path = "/msgs/{username}",
    tag = "simulator",
    operation_id = "user_messages",
    summary = "The newest unflagged messages of one user, newest first",
    params(UserParam, LatestParam, NoParam),
    security(("simulator" = [])),
    responses(
        (status = 200, description = "The messages", body = [SimMessage]),
        BadUserList,
        Forbidden,
        NoSuchUser,
        Unavailable,
    ),
)]
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

/// The body of `POST /msgs/{username}`. A missing or `null` content counts as empty.
#[derive(Deserialize, ToSchema)]
pub struct Tweet {
    /// The message's text: not only white space, at most 1000 characters, no NUL.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000, pattern = r"^[^\x00]*\S[^\x00]*$")]
    content: Option<String>,
}

impl Tweet {
    /// The message's text; a missing `content` counts as empty.
    pub fn text(&self) -> Result<MessageText, SimError> {
        MessageText::parse(self.content.as_deref().unwrap_or_default()).map_err(invalid)
    }
}

/// `POST /msgs/{username}` `{"content"}`
#[utoipa::path(
    post,
    path = "/msgs/{username}",
    tag = "simulator",
    operation_id = "post_message",
    summary = "Posts a message as the user",
    params(UserParam, LatestParam),
    request_body(content = Tweet, content_type = "application/json"),
    security(("simulator" = [])),
    responses(
        (status = 204, description = "Posted"),
        (status = 400, description = "Empty or too long content, a body that is not a JSON object of strings, or a \
username that is not UTF-8", body = ErrorBody),
        Forbidden,
        NoSuchUser,
        BodyRefused,
        Unavailable,
    ),
)]
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
#[utoipa::path(
    get,
    path = "/fllws/{username}",
    tag = "simulator",
    operation_id = "follows",
    summary = "Whom the user follows",
    params(UserParam, LatestParam, NoParam),
    security(("simulator" = [])),
    responses(
        (status = 200, description = "The usernames", body = Follows),
        BadUserList,
        Forbidden,
        NoSuchUser,
        Unavailable,
    ),
)]
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
    let follows = names.into_iter().map(str::to_owned).collect();
    Ok(HttpResponse::Ok().json(Follows { follows }))
}

/// The body of `POST /fllws/{username}`: exactly one of the two. Its schema says so: one
/// of two objects, each requiring its key as a string and the other absent or `null`
/// (which counts as absent).
#[derive(Deserialize)]
pub struct FollowRequest {
    follow: Option<String>,
    unfollow: Option<String>,
}

impl utoipa::PartialSchema for FollowRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let one = |key: &str, other: &str, what: &str| {
            ObjectBuilder::new()
                .property(key, ObjectBuilder::new().schema_type(Type::String).description(Some(what)))
                .required(key)
                .property(other, ObjectBuilder::new().schema_type(Type::Null))
        };
        OneOfBuilder::new()
            .item(one("follow", "unfollow", "The username to follow (idempotent; not yourself)"))
            .item(one("unfollow", "follow", "The username to unfollow (204 also when not followed)"))
            .description(Some("Exactly one of `follow` and `unfollow`"))
            .into()
    }
}

impl ToSchema for FollowRequest {}

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
#[utoipa::path(
    post,
    path = "/fllws/{username}",
    tag = "simulator",
    operation_id = "follow",
    summary = "Follows or unfollows a user",
    params(UserParam, LatestParam),
    request_body(content = FollowRequest, content_type = "application/json",
        description = "Exactly one of `follow` and `unfollow`"),
    security(("simulator" = [])),
    responses(
        (status = 204, description = "Followed or unfollowed"),
        (status = 400, description = "Neither or both keys, following yourself, a body that is not a JSON object of \
strings, or a username that is not UTF-8", body = ErrorBody),
        Forbidden,
        (status = 404, description = "No such user, or no such user to (un)follow", body = ErrorBody),
        BodyRefused,
        Unavailable,
    ),
)]
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
