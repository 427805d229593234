//! What the services' bulk loads share (`<service>::bulk`): the operator tools'
//! connection and the two ways rows go in. Each service writes its own tables with
//! these; no other crate declares them.
//!
//! - PostgreSQL: one `COPY ... FROM STDIN` in text format, fed from an iterator while it
//!   is drawn ([`copy_rows`]), so millions of rows never sit in memory at once.
//! - SQLite: multi-row `INSERT`s of [`SQLITE_BATCH_ROWS`] rows ([`in_batches`]), in
//!   one transaction.

use std::{
    borrow::Cow,
    cell::RefCell,
    io::{BufWriter, Write},
};

use diesel::{connection::SimpleConnection, Connection, PgConnection};

use crate::{
    db::{migrate, open_sqlite, DbConnection, Migrations},
    settings::DatabaseUrl,
};

/// Rows per multi-row `INSERT` on SQLite: a few thousand bound values each, far below
/// SQLite's limit of 32766.
pub const SQLITE_BATCH_ROWS: usize = 500;

/// How long a bulk load on SQLite waits for a running service's write to finish.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 30_000;

/// One connection for an operator tool, to a service's database (`url` as in its
/// settings), migrated. Unlike the services' pooled connections it has no statement
/// timeout on PostgreSQL: one `COPY` of millions of rows takes longer than any request.
pub fn open(url: &str, migrations: &Migrations) -> anyhow::Result<DbConnection> {
    let mut conn = match DatabaseUrl::parse(url).map_err(|e| anyhow::anyhow!("database URL: {e}"))? {
        DatabaseUrl::Postgres(url) => DbConnection::Pg(PgConnection::establish(url)?),
        DatabaseUrl::Sqlite(path) => DbConnection::Sqlite(open_sqlite(path, SQLITE_BUSY_TIMEOUT_MS)?),
    };
    migrate(&mut conn, migrations)?;
    Ok(conn)
}

/// A failed `COPY`: the database's error, or one writing the rows.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One field in `COPY`'s text format: backslash, tab, newline and carriage return
/// escaped. (A NUL cannot be stored in PostgreSQL text at all; callers refuse it first.)
pub fn field(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '\t', '\n', '\r']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The callback of diesel's `copy_from(..).from_raw_data(..)`: writes each of `rows`
/// with `line` (one line each, fields escaped with [`field`]). Diesel asks for an `Fn`
/// and calls it once; the rows are drawn on that call.
pub fn copy_rows<I, W>(rows: I, line: W) -> impl Fn(&mut dyn Write) -> Result<(), CopyError>
where
    I: IntoIterator,
    W: Fn(&mut dyn Write, I::Item) -> std::io::Result<()>,
{
    let rows = RefCell::new(Some(rows.into_iter()));
    move |out| {
        let Some(rows) = rows.borrow_mut().take() else { return Ok(()) };
        let mut w = BufWriter::with_capacity(1 << 20, out);
        for row in rows {
            line(&mut w, row)?;
        }
        w.flush()?;
        Ok(())
    }
}

/// Hands `rows` to `insert` in batches of at most `size`; the number of rows.
pub fn in_batches<T, E>(
    rows: impl IntoIterator<Item = T>,
    size: usize,
    mut insert: impl FnMut(Vec<T>) -> Result<(), E>,
) -> Result<u64, E> {
    let (mut batch, mut total) = (Vec::with_capacity(size), 0u64);
    for row in rows {
        batch.push(row);
        if batch.len() == size {
            total += batch.len() as u64;
            insert(std::mem::replace(&mut batch, Vec::with_capacity(size)))?;
        }
    }
    if !batch.is_empty() {
        total += batch.len() as u64;
        insert(batch)?;
    }
    Ok(total)
}

/// Moves the identity sequence of `table.id` past its largest id (PostgreSQL), so the
/// service's next insert does not collide with rows loaded with explicit ids. SQLite's
/// `INTEGER PRIMARY KEY` needs nothing.
pub fn move_id_sequence(conn: &mut DbConnection, table: &str) -> diesel::QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        c.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table} HAVING MAX(id) IS NOT NULL"
        ))?;
    }
    Ok(())
}

/// The legacy databases recorded in this service's `legacy_imports` table (each
/// service's migrations make one): what `minitwit-admin import` loaded here before.
pub fn import_sources(conn: &mut DbConnection) -> diesel::QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Source {
        #[diesel(sql_type = diesel::sql_types::Text)]
        source: String,
    }
    let sql = "SELECT source FROM legacy_imports ORDER BY source";
    let rows: Vec<Source> = match conn {
        DbConnection::Pg(c) => diesel::RunQueryDsl::load(diesel::sql_query(sql), c)?,
        DbConnection::Sqlite(c) => diesel::RunQueryDsl::load(diesel::sql_query(sql), c)?,
    };
    Ok(rows.into_iter().map(|r| r.source).collect())
}

/// Records (or refreshes) an import of `source` at `at` (unix seconds).
pub fn record_import(conn: &mut DbConnection, source: &str, at: i64) -> diesel::QueryResult<()> {
    use diesel::{
        sql_types::{BigInt, Text},
        RunQueryDsl,
    };
    let delete = diesel::sql_query("DELETE FROM legacy_imports WHERE source = $1").bind::<Text, _>(source);
    let insert = diesel::sql_query("INSERT INTO legacy_imports (source, imported_at) VALUES ($1, $2)")
        .bind::<Text, _>(source)
        .bind::<BigInt, _>(at);
    match conn {
        DbConnection::Pg(c) => {
            delete.execute(c)?;
            insert.execute(c)?;
        }
        DbConnection::Sqlite(c) => {
            delete.execute(c)?;
            insert.execute(c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_escape_what_copy_text_format_splits_on() {
        assert!(matches!(field("plain text"), Cow::Borrowed(_)));
        assert_eq!(field("a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
    }

    #[test]
    fn batches_cover_every_row_once() {
        let mut seen = Vec::new();
        let n = in_batches(0..1001, 500, |b: Vec<i32>| {
            seen.push(b.len());
            Ok::<_, ()>(())
        });
        assert_eq!((n, seen), (Ok(1001), vec![500, 500, 1]));
        assert_eq!(in_batches(0..0, 5, |_: Vec<i32>| Err("never called")), Ok(0));
    }

    #[test]
    fn copy_rows_writes_one_line_per_row_once() {
        let write = copy_rows(["a", "b\tc"], |w, s| writeln!(w, "{}", field(s)));
        let mut out = Vec::new();
        write(&mut out).unwrap();
        write(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\nb\\tc\n");
    }
}
