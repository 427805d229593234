//! The three timelines and the posting box.
//!
//! - "My Timeline" (`/`): followees (follow-service) -> their and my messages
//!   (message-service) -> author names and emails (user-service, mostly cached).
//! - "Public Timeline" (`/public`): messages -> authors; needs no follow-service, so it
//!   renders while follow-service is down, signed in or not.
//! - "`<name>`'s Timeline" (`/<name>`): the profile (cached), then that user's messages and
//!   whether the visitor follows them, at once.
//!
//! 30 messages a page (settings), newest first; `?before=<cursor>` pages back.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use minitwit_api::{
    client::ClientError,
    domain::{DomainError, MessageText, UserId, Username},
    follow::Follow,
    message::{Cursor, MessagePage, PageQuery, AUTHORS_MAX},
    user::{User, UserError},
};
use minitwit_kit::server::RequestId;
use serde::{Deserialize, Serialize};

use super::{
    error::WebError,
    redirect,
    render::{user_url, MessageView, Page},
    session::{SignedIn, Visitor},
};
use crate::{
    upstream::{idempotency_key, Calls},
    AppState,
};

/// At most this many followees feed "My Timeline" (message-service takes
/// [`AUTHORS_MAX`] authors, and one of them is the visitor).
const FOLLOWEES_MAX: u32 = (AUTHORS_MAX - 1) as u32;

#[derive(Debug, Deserialize)]
pub struct PageParams {
    before: Option<String>,
}

impl PageParams {
    fn query(&self, state: &AppState) -> Result<PageQuery, WebError> {
        Ok(PageQuery { limit: Some(state.settings.web.per_page), before: self.before()? })
    }

    /// The `before` cursor; absent or blank is the first page.
    pub(crate) fn before(&self) -> Result<Option<Cursor>, WebError> {
        match self.before.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => Ok(Some(raw.parse::<Cursor>().map_err(|_| {
                WebError::BadRequest("That page of the timeline does not exist (a broken link?).".into())
            })?)),
        }
    }
}

/// What the timeline template needs beyond the layout.
#[derive(Serialize)]
struct Profile {
    username: String,
    url: String,
}

/// The `older messages` and `newest messages` links of a page.
fn pagination(page: Page, messages: &MessagePage, params: &PageParams, path: &str) -> Page {
    let older = messages.next.map(|cursor| format!("{path}?before={cursor}"));
    let newest = params.before.as_deref().filter(|b| !b.is_empty()).map(|_| path.to_string());
    page.with("older_url", &older).with("newest_url", &newest)
}

/// The messages of `page` with their authors, fetched in one batch (mostly cached).
async fn with_authors(
    calls: Calls<'_>,
    page: &MessagePage,
) -> Result<Vec<MessageView>, ClientError<UserError>> {
    let mut ids: Vec<UserId> = page.messages.iter().map(|m| m.author_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let authors = calls.users_by_ids(&ids).await?;
    Ok(page
        .messages
        .iter()
        .filter_map(|m| authors.get(&m.author_id).map(|author| MessageView::new(m, author)))
        .collect())
}

/// `GET /`: the visitor's and their followees' messages; the public timeline for
/// visitors who are not signed in.
pub async fn mine(
    state: web::Data<AppState>,
    visitor: Visitor,
    rid: RequestId,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, WebError> {
    let Some(me) = visitor.user.clone() else {
        return Ok(redirect(StatusCode::FOUND, "/public"));
    };
    let query = params.query(&state)?;
    let calls = state.upstream.for_request(&rid);
    let mut authors = calls.followees(me.id, FOLLOWEES_MAX).await?;
    authors.push(me.id);
    let page = calls.by_authors(&authors, &query).await?;
    let messages = with_authors(calls, &page).await?;
    Ok(pagination(Page::new("timeline.html"), &page, &params, "/")
        .with("title", "My Timeline")
        .with("kind", "mine")
        .with("current", "mine")
        .with("messages", &messages)
        .render(&visitor)?)
}

/// `GET /public`: everyone's messages.
pub async fn public(
    state: web::Data<AppState>,
    visitor: Visitor,
    rid: RequestId,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, WebError> {
    let query = params.query(&state)?;
    let calls = state.upstream.for_request(&rid);
    let page = calls.public(&query).await?;
    let messages = with_authors(calls, &page).await?;
    Ok(pagination(Page::new("timeline.html"), &page, &params, "/public")
        .with("title", "Public Timeline")
        .with("kind", "public")
        .with("current", "public")
        .with("messages", &messages)
        .render(&visitor)?)
}

/// The user called `name`, or a 404 page.
pub async fn profile(calls: Calls<'_>, name: &str) -> Result<std::sync::Arc<User>, WebError> {
    let not_found = || WebError::NotFound(format!("There is no user called \"{name}\"."));
    // Names no one can have (reserved, malformed) need no call.
    let Ok(name) = Username::parse(name) else {
        return Err(not_found());
    };
    calls.user_by_name(&name).await?.ok_or_else(not_found)
}

/// `GET /<username>`: one user's messages, and whether the visitor follows them.
pub async fn user(
    state: web::Data<AppState>,
    visitor: Visitor,
    rid: RequestId,
    name: web::Path<String>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, WebError> {
    let query = params.query(&state)?;
    let calls = state.upstream.for_request(&rid);
    let profile = profile(calls, &name).await?;
    let viewer = visitor.user.as_ref().map(|u| u.id);
    let following = async {
        match viewer {
            Some(me) if me != profile.id => {
                Some(calls.is_following(Follow { follower: me, followee: profile.id }).await)
            }
            _ => None,
        }
    };
    let (page, following) = tokio::join!(calls.by_author(profile.id, &query), following);
    let page = page?;
    let follow = match (viewer, following) {
        (None, _) => "anonymous",
        (Some(_), None) => "self",
        (Some(_), Some(Ok(true))) => "following",
        (Some(_), Some(Ok(false))) => "not_following",
        // The messages can still be shown without the follow button.
        (Some(_), Some(Err(e))) if e.is_unavailable() => "unknown",
        (Some(_), Some(Err(e))) => return Err(e.into()),
    };
    let messages: Vec<MessageView> = page.messages.iter().map(|m| MessageView::new(m, &profile)).collect();
    let url = user_url(&profile.username);
    Ok(pagination(Page::new("timeline.html"), &page, &params, &url)
        .with("title", &format!("{}'s Timeline", profile.username))
        .with("kind", "user")
        .with("profile", &Profile { username: profile.username.clone(), url })
        .with("follow", follow)
        .with("messages", &messages)
        .render(&visitor)?)
}

#[derive(Debug, Deserialize)]
pub struct NewMessageForm {
    #[serde(default)]
    pub(crate) text: String,
}

/// `POST /add_message`: posts the form's `text`; an empty text posts nothing.
pub async fn add_message(
    state: web::Data<AppState>,
    who: SignedIn,
    rid: RequestId,
    req: HttpRequest,
    form: web::Form<NewMessageForm>,
) -> Result<HttpResponse, WebError> {
    match MessageText::parse(&form.text).and_then(|text| Ok((text, idempotency_key(&req)?))) {
        Ok((text, key)) => {
            state.upstream.for_request(&rid).post(who.user.id, &text, &key).await?;
            who.visitor.flash("Your message was recorded");
        }
        Err(DomainError::TextEmpty) => {}
        Err(e) => who.visitor.flash(format!("Your message was not recorded: {e}")),
    }
    Ok(redirect(StatusCode::SEE_OTHER, "/"))
}
