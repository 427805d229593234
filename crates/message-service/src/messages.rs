//! Queries on the `messages` table, one plain function each, for both backends. Every
//! list is newest first, leaves out flagged messages (`NOT flagged`, written without a
//! bind parameter so the planners match it to the partial indexes), and starts
//! strictly after a keyset cursor.

use diesel::{
    dsl::not,
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::{Array, BigInt, Bool, Text},
};
use minitwit_api::{
    domain::{IdempotencyKey, MessageId, MessageText, UserId},
    message::{Cursor, Message, MessageError},
};
use minitwit_kit::{db::DbConnection, ApiError};

use crate::{
    keyset::OlderThan,
    schema::{author_newest, messages},
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
struct MessageRow {
    id: i64,
    author_id: i64,
    text: String,
    pub_date: i64,
    flagged: bool,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: MessageId::stored(r.id),
            author_id: UserId::stored(r.author_id),
            text: r.text,
            pub_date: r.pub_date,
            flagged: r.flagged,
        }
    }
}

fn messages(rows: Vec<MessageRow>) -> Vec<Message> {
    rows.into_iter().map(Message::from).collect()
}

/// What [`insert`] did.
pub enum Posted {
    New(Message),
    /// The author posted this text with this key before: the message stored then.
    Again(Message),
}

/// Inserts a message, one statement: it is there whole or not at all. Under a key, once
/// per author and key: the unique index `messages_idempotency_idx` settles concurrent
/// posts, and the loser answers the winner's message.
pub fn insert(
    conn: &mut DbConnection,
    author_id: UserId,
    text: &MessageText,
    pub_date: i64,
    key: Option<&IdempotencyKey>,
) -> Result<Posted, ApiError> {
    let row = (
        messages::author_id.eq(author_id.get()),
        messages::text.eq(text.as_str()),
        messages::pub_date.eq(pub_date),
        messages::idempotency_key.eq(key.map(IdempotencyKey::as_str)),
    );
    let inserted = diesel::insert_into(messages::table)
        .values(row)
        // Columns, not `MessageRow::as_returning()`: a `SelectBy` is built for one
        // backend and diesel's MultiBackend passes RETURNING to each backend's own.
        .returning((messages::id, messages::author_id, messages::text, messages::pub_date, messages::flagged))
        .get_result::<MessageRow>(conn);
    match (inserted, key) {
        (Ok(row), _) => Ok(Posted::New(row.into())),
        (
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)),
            Some(key),
        ) => {
            let stored: Message = messages::table
                .filter(messages::author_id.eq(author_id.get()))
                .filter(messages::idempotency_key.eq(key.as_str()))
                .select(MessageRow::as_select())
                .first::<MessageRow>(conn)?
                .into();
            if stored.text == text.as_str() {
                Ok(Posted::Again(stored))
            } else {
                Err(ApiError::refused(MessageError::KeyReused))
            }
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// A page of `source`'s messages that are not flagged and older than `before`, newest
/// first. A macro, not a function taking a boxed query: each caller's query keeps its
/// own type, so diesel prepares it once per connection (these are the simulator's
/// hottest reads).
macro_rules! unflagged_page {
    ($source:expr, $before:expr, $limit:expr) => {
        $source
            .filter(not(messages::flagged))
            .filter(OlderThan::new($before))
            .order((messages::pub_date.desc(), messages::id.desc()))
            .limit($limit)
            .select(MessageRow::as_select())
    };
}

/// The public timeline; served by `messages_public_idx`.
pub fn public(conn: &mut DbConnection, before: Cursor, limit: i64) -> Result<Vec<Message>, ApiError> {
    let rows = unflagged_page!(messages::table, before, limit).load(conn)?;
    Ok(messages(rows))
}

/// One author's messages; served by `messages_author_idx`.
pub fn by_author(
    conn: &mut DbConnection,
    author_id: UserId,
    before: Cursor,
    limit: i64,
) -> Result<Vec<Message>, ApiError> {
    let rows =
        unflagged_page!(messages::table.filter(messages::author_id.eq(author_id.get())), before, limit)
            .load(conn)?;
    Ok(messages(rows))
}

/// The messages of several authors ("my timeline"). `authors` must be free of
/// duplicates. Only the authors who can reach the page are read: those whose newest
/// message (`author_newest`) is newer than `before`, and the `limit` newest of the
/// rest. (An author outside both cannot have a message on the page: `limit` others
/// each have a newer one.) On PostgreSQL one query, [`AuthorsTimeline`]; on SQLite
/// the authors are chosen first and their messages read with a plain `IN` list over
/// `messages_author_idx`.
pub fn by_authors(
    conn: &mut DbConnection,
    authors: &[UserId],
    before: Cursor,
    limit: i64,
) -> Result<Vec<Message>, ApiError> {
    if authors.is_empty() {
        return Ok(Vec::new());
    }
    let authors: Vec<i64> = authors.iter().map(|a| a.get()).collect();
    let rows: Vec<MessageRow> = match conn {
        DbConnection::Pg(c) => AuthorsTimeline { authors, before, limit }.load(c)?,
        DbConnection::Sqlite(c) => {
            let newest: Vec<(i64, i64, i64)> = author_newest::table
                .filter(author_newest::author_id.eq_any(&authors))
                .select((author_newest::author_id, author_newest::pub_date, author_newest::id))
                .load(c)?;
            messages::table
                .filter(messages::author_id.eq_any(within_reach(newest, before, limit)))
                .filter(not(messages::flagged))
                .filter(OlderThan::new(before))
                .order((messages::pub_date.desc(), messages::id.desc()))
                .limit(limit)
                .select(MessageRow::as_select())
                .load(c)?
        }
    };
    Ok(messages(rows))
}

/// Of the authors with their newest message (author, pub_date, id), those who can
/// reach a page of `limit` before `before` (see [`by_authors`]).
fn within_reach(mut newest: Vec<(i64, i64, i64)>, before: Cursor, limit: i64) -> Vec<i64> {
    let reaches_past = |&(_, pub_date, id): &(i64, i64, i64)| (pub_date, id) >= (before.pub_date, before.id);
    newest.sort_unstable_by_key(|&(_, pub_date, id)| std::cmp::Reverse((pub_date, id)));
    let (past, below): (Vec<_>, Vec<_>) = newest.into_iter().partition(reaches_past);
    let below = below.into_iter().take(usize::try_from(limit).unwrap_or(0));
    past.into_iter().chain(below).map(|(author, _, _)| author).collect()
}

/// "My timeline" on PostgreSQL, with a cost that stays flat as the table grows: the
/// authors who can reach the page are chosen from `author_newest` (one primary-key
/// probe each), and for each of those an index-only scan of `messages_author_idx`
/// takes at most `limit` (pub_date, id) keys older than the cursor; the newest `limit`
/// of those are then fetched from the table by primary key. Work on the first page:
/// authors probes of a small table, `limit` × `limit` index entries and `limit` rows,
/// whatever the number of messages.
///
/// A query type of its own (not `sql_query`), so diesel prepares it once per connection.
#[derive(Debug, Clone, QueryId)]
struct AuthorsTimeline {
    authors: Vec<i64>,
    before: Cursor,
    limit: i64,
}

impl Query for AuthorsTimeline {
    type SqlType = (BigInt, BigInt, Text, BigInt, Bool);
}

impl RunQueryDsl<PgConnection> for AuthorsTimeline {}

impl QueryFragment<Pg> for AuthorsTimeline {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let cursor = |out: &mut AstPass<'_, 'b, Pg>| -> QueryResult<()> {
            out.push_sql("(");
            out.push_bind_param::<BigInt, _>(&self.before.pub_date)?;
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(&self.before.id)?;
            out.push_sql(")");
            Ok(())
        };
        out.push_sql("WITH newest AS MATERIALIZED (SELECT author_id, pub_date, id FROM author_newest WHERE author_id = ANY(");
        out.push_bind_param::<Array<BigInt>, _>(&self.authors)?;
        out.push_sql(
            ")) SELECT m.id, m.author_id, m.text, m.pub_date, m.flagged FROM ( \
               SELECT k.id FROM ( \
                 SELECT author_id FROM newest WHERE (pub_date, id) >= ",
        );
        cursor(&mut out)?;
        out.push_sql(" UNION ALL (SELECT author_id FROM newest WHERE (pub_date, id) < ");
        cursor(&mut out)?;
        out.push_sql(" ORDER BY pub_date DESC, id DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(
            ")) AS a CROSS JOIN LATERAL ( \
                 SELECT messages.id, messages.pub_date FROM messages \
                 WHERE messages.author_id = a.author_id AND NOT messages.flagged \
                   AND (messages.pub_date, messages.id) < ",
        );
        cursor(&mut out)?;
        out.push_sql(" ORDER BY messages.pub_date DESC, messages.id DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(") AS k ORDER BY k.pub_date DESC, k.id DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(
            ") AS page JOIN messages AS m ON m.id = page.id \
             ORDER BY m.pub_date DESC, m.id DESC",
        );
        Ok(())
    }
}

/// Sets or clears the flag of message `id`; false when there is no such message.
/// Idempotent: setting the flag it already has still finds the row.
pub fn set_flag(conn: &mut DbConnection, id: MessageId, flagged: bool) -> Result<bool, ApiError> {
    let changed =
        diesel::update(messages::table.find(id.get())).set(messages::flagged.eq(flagged)).execute(conn)?;
    Ok(changed == 1)
}

/// The exact number of messages, flagged ones included.
pub fn count(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(messages::table.count().get_result(conn)?)
}

/// Below this estimate the exact count is cheap enough for the gauge.
const EXACT_BELOW: i64 = 100_000;

#[derive(QueryableByName)]
struct Estimate {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The number of messages for the `minitwit_messages` gauge, cheaply: on PostgreSQL
/// the planner's estimate (rows per page at the last ANALYZE × the table's current
/// pages), exact when that is small or unknown; exact on SQLite.
pub fn count_for_gauge(conn: &mut DbConnection) -> Result<i64, ApiError> {
    if let DbConnection::Pg(c) = conn {
        let estimate = diesel::sql_query(
            "SELECT (CASE WHEN c.reltuples < 0 OR c.relpages = 0 THEN -1 \
                ELSE c.reltuples / c.relpages \
                     * (pg_relation_size(c.oid) / current_setting('block_size')::bigint) END)::bigint AS n \
             FROM pg_class c WHERE c.oid = 'messages'::regclass",
        )
        .get_result::<Estimate>(c)?
        .n;
        if estimate >= EXACT_BELOW {
            return Ok(estimate);
        }
    }
    count(conn)
}
