//! Keyset pagination: the page size, the "strictly older than (pub_date, id)"
//! condition as one SQL row comparison, and turning a page of rows into a
//! [`MessagePage`] with the cursor of the next, older page. Never OFFSET.

use diesel::{
    expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping},
    query_builder::{AstPass, QueryFragment, QueryId},
    serialize::ToSql,
    sql_types::{BigInt, Bool, HasSqlType},
    QueryResult,
};
use minitwit_api::message::{Cursor, Message, MessagePage, DEFAULT_LIMIT};

use crate::schema::messages;

/// Before the newest message: the first page. Using it instead of leaving the
/// condition out keeps one statement (one prepared plan) per route.
pub const NEWEST: Cursor = Cursor { pub_date: i64::MAX, id: i64::MAX };

/// The page size asked for (default [`DEFAULT_LIMIT`]), at most `max`.
pub fn limit(requested: Option<u32>, max: u32) -> u32 {
    requested.unwrap_or(DEFAULT_LIMIT).min(max)
}

/// The page of `rows` (at most `limit`, newest first); `next` is set when the page is
/// full, since an older page may then exist.
pub fn page(rows: Vec<Message>, limit: u32) -> MessagePage {
    let full = limit > 0 && rows.len() >= limit as usize;
    let next = if full { rows.last().map(Message::cursor) } else { None };
    MessagePage { messages: rows, next }
}

/// `(messages.pub_date, messages.id) < (?, ?)`: one row comparison, which PostgreSQL
/// and SQLite both use as the bound of a range scan on the `(…, pub_date DESC, id DESC)`
/// indexes. Its SQL does not depend on the cursor, so the statement is prepared once.
#[derive(Debug, Clone, Copy, QueryId)]
pub struct OlderThan {
    pub_date: i64,
    id: i64,
}

impl OlderThan {
    pub fn new(cursor: Cursor) -> Self {
        Self { pub_date: cursor.pub_date, id: cursor.id }
    }
}

impl Expression for OlderThan {
    type SqlType = Bool;
}

impl AppearsOnTable<messages::table> for OlderThan {}

impl SelectableExpression<messages::table> for OlderThan {}

impl<GroupBy> ValidGrouping<GroupBy> for OlderThan {
    type IsAggregate = is_aggregate::Never;
}

impl<DB> QueryFragment<DB> for OlderThan
where
    DB: diesel::backend::Backend + HasSqlType<BigInt>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(messages.pub_date, messages.id) < (");
        out.push_bind_param::<BigInt, i64>(&self.pub_date)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, i64>(&self.id)?;
        out.push_sql(")");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use minitwit_api::domain::{MessageId, UserId};

    use super::*;

    fn message(pub_date: i64, id: i64) -> Message {
        let (id, author_id) = (MessageId::stored(id), UserId::stored(1));
        Message { id, author_id, text: "m".into(), pub_date, flagged: false }
    }

    #[test]
    fn limits_default_and_are_capped() {
        assert_eq!(limit(None, 1000), DEFAULT_LIMIT);
        assert_eq!(limit(Some(5), 1000), 5);
        assert_eq!(limit(Some(5000), 1000), 1000);
        assert_eq!(limit(Some(0), 1000), 0);
        assert_eq!(limit(None, 10), 10);
    }

    #[test]
    fn a_full_page_points_at_its_last_message() {
        let p = page(vec![message(20, 3), message(10, 2)], 2);
        assert_eq!(p.next, Some(Cursor { pub_date: 10, id: 2 }));
        assert_eq!(page(vec![message(20, 3)], 2).next, None);
        assert_eq!(page(Vec::new(), 0).next, None);
    }
}
