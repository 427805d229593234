//! The HTTP routes of message-service; see [`minitwit_api::message`] for the contract.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use minitwit_api::{
    domain::{MessageId, UserId},
    message::{
        now_us, AuthorsQuery, Cursor, Latest, Message, MessageError, NewMessage, PageQuery, SetLatest,
        AUTHORS_MAX,
    },
    Count,
};
use minitwit_kit::{
    db::{Db, DbConnection},
    metrics::Metrics,
    server::ActingUser,
    ApiError,
};
use prometheus::{IntCounter, IntGauge};

use crate::{keyset, latest, messages};

#[derive(Clone)]
pub struct State {
    db: Db,
    max_limit: u32,
    posted: IntCounter,
    total: IntGauge,
}

impl State {
    pub fn new(db: Db, max_limit: u32, metrics: &Metrics) -> Self {
        Self {
            db,
            max_limit,
            posted: metrics.counter("minitwit_messages_posted_total", "Messages posted"),
            total: metrics
                .gauge("minitwit_messages", "Messages stored (refreshed every 30 s; estimated when large)"),
        }
    }

    /// Keeps the `minitwit_messages` gauge fresh off the request path.
    pub fn spawn_gauge_refresh(&self) {
        self.db.refresh_gauge_every(self.total.clone(), Duration::from_secs(30), messages::count_for_gauge);
    }

    /// Runs one keyset page query: `limit` defaulted and capped, `before` defaulted to
    /// the newest message, `next` set on a full page. A zero limit asks nothing of the
    /// database.
    async fn page<F>(
        &self,
        limit: Option<u32>,
        before: Option<Cursor>,
        query: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: Fn(&mut DbConnection, Cursor, i64) -> Result<Vec<Message>, ApiError> + Send + 'static,
    {
        let limit = keyset::limit(limit, self.max_limit);
        let rows = if limit == 0 {
            Vec::new()
        } else {
            let before = before.unwrap_or(keyset::NEWEST);
            self.db.run_idempotent(move |c| query(c, before, i64::from(limit))).await?
        };
        Ok(HttpResponse::Ok().json(keyset::page(rows, limit)))
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: State) {
    // Static paths before parametrised ones.
    cfg.app_data(web::Data::new(state))
        .route("/messages", web::post().to(post))
        .route("/messages", web::get().to(public))
        .route("/messages/count", web::get().to(count))
        .route("/messages/by-authors", web::post().to(by_authors))
        .route("/messages/by-author/{author_id}", web::get().to(by_author))
        .route("/messages/{id}/flag", web::put().to(flag))
        .route("/messages/{id}/flag", web::delete().to(unflag))
        .route("/latest", web::get().to(get_latest))
        .route("/latest", web::put().to(put_latest));
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

async fn post(
    req: HttpRequest,
    state: web::Data<State>,
    body: web::Json<NewMessage>,
) -> Result<HttpResponse, ApiError> {
    let NewMessage { author_id, text, idempotency_key } = body.into_inner();
    req.extensions_mut().insert(ActingUser(author_id));
    // Under a key a post may run twice with the effect of once; without one it may not.
    let date = now();
    let posted = match idempotency_key {
        Some(key) => {
            state.db.run_idempotent(move |c| messages::insert(c, author_id, &text, date, Some(&key))).await?
        }
        None => state.db.run(move |c| messages::insert(c, author_id, &text, date, None)).await?,
    };
    match posted {
        messages::Posted::New(message) => {
            state.posted.inc();
            state.total.inc();
            Ok(HttpResponse::Created().json(message))
        }
        messages::Posted::Again(message) => Ok(HttpResponse::Ok().json(message)),
    }
}

async fn public(state: web::Data<State>, query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let PageQuery { limit, before } = query.into_inner();
    state.page(limit, before, messages::public).await
}

async fn by_author(
    state: web::Data<State>,
    path: web::Path<UserId>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let author_id = path.into_inner();
    let PageQuery { limit, before } = query.into_inner();
    state.page(limit, before, move |c, before, limit| messages::by_author(c, author_id, before, limit)).await
}

async fn by_authors(
    state: web::Data<State>,
    body: web::Json<AuthorsQuery>,
) -> Result<HttpResponse, ApiError> {
    let AuthorsQuery { mut author_ids, limit, before } = body.into_inner();
    if author_ids.len() > AUTHORS_MAX {
        return Err(ApiError::refused(MessageError::TooManyAuthors));
    }
    author_ids.sort_unstable();
    author_ids.dedup();
    state
        .page(limit, before, move |c, before, limit| messages::by_authors(c, &author_ids, before, limit))
        .await
}

async fn set_flag(state: web::Data<State>, id: MessageId, flagged: bool) -> Result<HttpResponse, ApiError> {
    if state.db.run_idempotent(move |c| messages::set_flag(c, id, flagged)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::refused(MessageError::NoSuchMessage))
    }
}

async fn flag(state: web::Data<State>, path: web::Path<MessageId>) -> Result<HttpResponse, ApiError> {
    set_flag(state, path.into_inner(), true).await
}

async fn unflag(state: web::Data<State>, path: web::Path<MessageId>) -> Result<HttpResponse, ApiError> {
    set_flag(state, path.into_inner(), false).await
}

async fn count(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let count = state.db.run_idempotent(messages::count).await?;
    Ok(HttpResponse::Ok().json(Count { count }))
}

async fn get_latest(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let latest = state.db.run_idempotent(latest::get).await?;
    Ok(HttpResponse::Ok().json(Latest { latest }))
}

async fn put_latest(state: web::Data<State>, body: web::Json<SetLatest>) -> Result<HttpResponse, ApiError> {
    let SetLatest { latest: value, recorded_at_us } = body.into_inner();
    let at = recorded_at_us.unwrap_or_else(now_us);
    state.db.run_idempotent(move |c| latest::set(c, value, at)).await?;
    Ok(HttpResponse::NoContent().finish())
}
