//! `minitwit-admin import` end to end: a legacy SQLite file made here from the course's
//! schema.sql (tests/fixtures) with a row for each kind of dirty data, imported into
//! the three services' databases on each backend; legacy users then log in through
//! user-service's HTTP API with their old passwords and become argon2id; a second
//! import changes nothing; a delta import brings only the new rows; a target that
//! holds anything else is refused before anything is written.

use diesel::{connection::SimpleConnection, prelude::*, sql_types::BigInt};
use minitwit_admin::{import, Options, Source, Summary, Targets};
use minitwit_kit::{
    both_backends,
    db::DbConnection,
    testing::{run_service, use_test_database, Backend, TestClient, TestDatabase},
};
use serde_json::json;
use user_service::bulk::{BulkUser, Scheme};

both_backends!(
    imports_dirty_data_reports_it_and_keeps_every_login,
    refuses_a_target_holding_other_data,
    reads_a_legacy_database_moved_to_postgresql,
);

const SCHEMA: &str = include_str!("fixtures/schema.sql");
/// Made by Werkzeug 3.1.9 (crates/user-service/tests/fixtures/make_legacy_hashes.sh).
const PBKDF2: (&str, &str) = (
    "short pbkdf2",
    "pbkdf2:sha256:1000$6w9NpOXccwIuopLv$8edb6f1136ed2f105ca11d9e6b3b7522c3faa04af943f5838ab0f6f775cd363a",
);
/// Made by Werkzeug 2.2.3.
const SALTED_SHA1: (&str, &str) =
    ("salted sha1", "sha1$thry2L9LKv5TE5JC$6b4f930ee56afeae12aee6842f0f383712eaa534");
/// hashlib.md5.
const HEX_MD5: (&str, &str) = ("plain md5", "63027ba5c5f152debe1a5847db0a9d59");

/// A legacy MiniTwit SQLite file with the course's schema and a row for each case.
fn legacy_file() -> TestDatabase {
    let db = TestDatabase::new(Backend::Sqlite);
    std::fs::create_dir_all(std::path::Path::new(&db.url).parent().unwrap()).unwrap();
    let mut c = SqliteConnection::establish(&db.url).unwrap();
    c.batch_execute(SCHEMA).unwrap();
    c.batch_execute(&format!(
        "INSERT INTO user VALUES (1, 'alice', 'alice@example.com', '{}');
         INSERT INTO user VALUES (2, 'bob', 'bob@example.com', '{}');
         INSERT INTO user VALUES (3, 'alice', 'alice2@example.com', '{}');
         INSERT INTO user VALUES (4, 'carol', 'not an email', 'garbage');
         INSERT INTO user VALUES (5, 'dave' || char(0) || 'x', 'dave@example.com', '{}');
         INSERT INTO user VALUES (6, '   ', 'blank@example.com', '{}');
         INSERT INTO message VALUES (1, 1, 'hello', 100, 0);
         INSERT INTO message VALUES (2, 3, 'from the duplicate', 101, 0);
         INSERT INTO message VALUES (3, 99, 'author missing', 102, 0);
         INSERT INTO message VALUES (4, 1, '', 103, 0);
         INSERT INTO message VALUES (5, 1, '{}', 104, 0);
         INSERT INTO message VALUES (6, 2, 'nul' || char(0) || 'text', NULL, NULL);
         INSERT INTO message VALUES (7, 2, 'flagged one', 106, 1);
         INSERT INTO follower VALUES (1, 2);
         INSERT INTO follower VALUES (1, 2);
         INSERT INTO follower VALUES (1, 99);
         INSERT INTO follower VALUES (NULL, 2);
         INSERT INTO follower VALUES (2, 3);
         INSERT INTO follower VALUES (2, 2);",
        PBKDF2.1,
        HEX_MD5.1,
        HEX_MD5.1,
        SALTED_SHA1.1,
        HEX_MD5.1,
        "x".repeat(1001),
    ))
    .unwrap();
    db
}

struct Target {
    users: TestDatabase,
    messages: TestDatabase,
    follows: TestDatabase,
}

impl Target {
    fn new(backend: Backend) -> Target {
        Target {
            users: TestDatabase::new(backend),
            messages: TestDatabase::new(backend),
            follows: TestDatabase::new(backend),
        }
    }

    fn targets(&self) -> Targets {
        Targets {
            users: self.users.url.clone(),
            messages: self.messages.url.clone(),
            follows: self.follows.url.clone(),
        }
    }
}

async fn run(source: &TestDatabase, target: &Target, latest: Option<i64>) -> anyhow::Result<Summary> {
    let options = Options {
        source: Source::parse(&source.url).unwrap(),
        targets: target.targets(),
        latest,
        progress: false,
    };
    tokio::task::spawn_blocking(move || import(&options)).await.unwrap()
}

fn counts(s: &Summary, table: &str) -> (u64, u64, u64, u64, u64, u64) {
    let c = &s.counts[table];
    (c.read, c.imported, c.already, c.merged, c.modified, c.skipped)
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    let r: N = match conn {
        DbConnection::Pg(c) => diesel::sql_query(sql).get_result(c),
        DbConnection::Sqlite(c) => diesel::sql_query(sql).get_result(c),
    }
    .unwrap();
    r.n
}

fn user_service_on(db: &TestDatabase) -> TestClient {
    let mut s = user_service::Settings::default();
    use_test_database(&mut s.http, &mut s.database, db, 0);
    s.own.argon2 = user_service::Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 };
    run_service(user_service::build(&s, minitwit_kit::logging::discard()))
}

async fn login(app: &TestClient, username: &str, password: &str) -> u16 {
    app.post("/users/login", &json!({"username": username, "password": password})).await.status().as_u16()
}

async fn imports_dirty_data_reports_it_and_keeps_every_login(backend: Backend) {
    let legacy = legacy_file();
    let target = Target::new(backend);

    let first = run(&legacy, &target, Some(42)).await.unwrap();
    // read, imported, already, merged, modified, skipped
    assert_eq!(counts(&first, "user"), (6, 4, 0, 1, 2, 1), "{}", first.render());
    assert_eq!(counts(&first, "message"), (7, 4, 0, 1, 1, 3), "{}", first.render());
    assert_eq!(counts(&first, "follower"), (6, 2, 0, 1, 0, 4), "{}", first.render());
    let reasons: Vec<&String> = first.reasons.keys().collect();
    for expected in [
        "user merged: duplicate username of user 1: its 1 messages and its follows go to 1",
        "user modified: NUL bytes removed",
        "user modified: email NULL or invalid: replaced by user<id>@invalid.invalid; password hash NULL or of no known scheme: the account needs a password reset",
        "user skipped: username not usable: You have to enter a username",
        "message skipped: author 99 is not an imported user",
        "message skipped: empty text",
        "message skipped: text over 1000 characters",
        "message modified: NUL bytes removed; pub_date NULL: set to 0; flagged NULL: set to 0",
        "message merged: author merged into the first user of the same name",
        "follower skipped: repeated pair",
        "follower skipped: a user following themselves",
        "follower skipped: who_id or whom_id is NULL",
        "follower skipped: follows or is followed by a user not imported",
        "follower merged: a user merged into the first of the same name",
    ] {
        assert!(first.reasons.contains_key(expected), "missing {expected:?} in {reasons:#?}");
    }
    assert!(first.render().contains("message"), "the summary table names each table");
    let report = serde_json::to_value(&first).unwrap();
    assert_eq!(report["issues"].as_array().unwrap().len(), first.issues.len());
    assert_eq!(first.issues.len(), 14);

    let mut messages = message_service::bulk::open(&target.messages.url).unwrap();
    assert_eq!(message_service::bulk::latest(&mut messages).unwrap(), 42);
    assert_eq!(message_service::bulk::flagged_ids(&mut messages, 1, 100).unwrap(), vec![7]);
    assert_eq!(count(&mut messages, "SELECT COUNT(*) AS n FROM messages WHERE author_id = 1"), 2);
    assert_eq!(count(&mut messages, "SELECT pub_date AS n FROM messages WHERE id = 6"), 0);
    let mut follows = follow_service::bulk::open(&target.follows.url).unwrap();
    let mut pairs = follow_service::bulk::pairs(&mut follows).unwrap();
    pairs.sort();
    assert_eq!(pairs, vec![(1, 2), (2, 1)]);

    // Old passwords log in through user-service, and the hash becomes argon2id.
    let users = user_service_on(&target.users);
    users.wait_ready().await;
    assert_eq!(login(&users, "alice", PBKDF2.0).await, 200);
    assert_eq!(login(&users, "alice", "wrong").await, 401);
    assert_eq!(login(&users, "bob", HEX_MD5.0).await, 200);
    assert_eq!(login(&users, "davex", SALTED_SHA1.0).await, 200);
    assert_eq!(login(&users, "carol", "garbage").await, 401, "an unknown hash logs nobody in");
    let mut conn = user_service::bulk::open(&target.users.url).unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) AS n FROM users WHERE pw_scheme IS NULL AND pw_hash LIKE '$argon2id$%'"
        ),
        3
    );

    // Again: nothing changes, the upgraded hashes stay.
    let second = run(&legacy, &target, None).await.unwrap();
    assert_eq!(counts(&second, "user"), (6, 0, 4, 1, 2, 1));
    assert_eq!(counts(&second, "message"), (7, 0, 4, 1, 1, 3));
    assert_eq!(counts(&second, "follower"), (6, 0, 2, 1, 0, 4));
    assert_eq!((second.flagged, second.unflagged), (0, 0));
    assert_eq!(login(&users, "alice", PBKDF2.0).await, 200);

    // The legacy system takes more writes: only those come over.
    let mut c = SqliteConnection::establish(&legacy.url).unwrap();
    c.batch_execute(&format!(
        "INSERT INTO user VALUES (7, 'erin', 'erin@example.com', '{}');
         INSERT INTO message VALUES (8, 7, 'new after the first import', 200, 0);
         INSERT INTO follower VALUES (7, 1);
         UPDATE message SET flagged = 1 WHERE message_id = 1;
         UPDATE message SET flagged = 0 WHERE message_id = 7;",
        HEX_MD5.1
    ))
    .unwrap();
    let delta = run(&legacy, &target, Some(50)).await.unwrap();
    assert_eq!(counts(&delta, "user").1, 1);
    assert_eq!(counts(&delta, "message").1, 1);
    assert_eq!(counts(&delta, "follower").1, 1);
    assert_eq!((delta.flagged, delta.unflagged), (1, 1));
    assert_eq!(message_service::bulk::flagged_ids(&mut messages, 1, 100).unwrap(), vec![1]);
    assert_eq!(message_service::bulk::next_id(&mut messages).unwrap(), 9, "the sequence is past the ids");
    assert_eq!(message_service::bulk::latest(&mut messages).unwrap(), 50);
    assert_eq!(login(&users, "erin", HEX_MD5.0).await, 200);
}

async fn refuses_a_target_holding_other_data(backend: Backend) {
    let legacy = legacy_file();
    // A system with a user of its own.
    let target = Target::new(backend);
    let mut users = user_service::bulk::open(&target.users.url).unwrap();
    let own = BulkUser {
        id: 1,
        username: "someone".into(),
        email: "s@example.com".into(),
        pw_hash: HEX_MD5.1.into(),
        pw_scheme: Some(Scheme::HexMd5),
        created_at: 0,
    };
    user_service::bulk::insert_users(&mut users, [own]).unwrap();
    let e = run(&legacy, &target, None).await.unwrap_err().to_string();
    assert!(e.contains("nothing imported") && e.contains("users database holds 1 rows"), "{e}");
    let mut messages = message_service::bulk::open(&target.messages.url).unwrap();
    assert_eq!(message_service::bulk::next_id(&mut messages).unwrap(), 1, "nothing was written");

    // A system that holds an import of another legacy database.
    let target = Target::new(backend);
    run(&legacy, &target, None).await.unwrap();
    let other = legacy_file();
    let e = run(&other, &target, None).await.unwrap_err().to_string();
    assert!(e.contains("an import of another legacy database"), "{e}");
}

/// The course's schema as teams moved it to PostgreSQL: `user` quoted, the same columns.
const PG_SCHEMA: &str = r#"
CREATE TABLE "user" (user_id SERIAL PRIMARY KEY, username TEXT NOT NULL, email TEXT NOT NULL, pw_hash TEXT NOT NULL);
CREATE TABLE follower (who_id INTEGER, whom_id INTEGER);
CREATE TABLE message (message_id SERIAL PRIMARY KEY, author_id INTEGER NOT NULL, text TEXT NOT NULL,
                      pub_date INTEGER, flagged INTEGER);
"#;

async fn reads_a_legacy_database_moved_to_postgresql(backend: Backend) {
    let legacy = TestDatabase::new(Backend::Postgres);
    let mut c = PgConnection::establish(&legacy.url).unwrap();
    c.batch_execute(PG_SCHEMA).unwrap();
    c.batch_execute(&format!(
        "INSERT INTO \"user\" VALUES (1, 'alice', 'alice@example.com', '{}'), (2, 'bob', 'bob@example.com', '{}');
         INSERT INTO message VALUES (1, 1, 'tab\there', 10, 0), (2, 2, '', 11, 0), (3, 2, 'flagged', NULL, 1);
         INSERT INTO follower VALUES (1, 2), (2, 1), (2, 5);",
        PBKDF2.1, HEX_MD5.1
    ))
    .unwrap();
    let target = Target::new(backend);
    let summary = run(&legacy, &target, None).await.unwrap();
    assert_eq!(counts(&summary, "user"), (2, 2, 0, 0, 0, 0));
    assert_eq!(counts(&summary, "message"), (3, 2, 0, 0, 1, 1));
    assert_eq!(counts(&summary, "follower"), (3, 2, 0, 0, 0, 1));
    let mut messages = message_service::bulk::open(&target.messages.url).unwrap();
    assert_eq!(message_service::bulk::flagged_ids(&mut messages, 1, 10).unwrap(), vec![3]);
    assert_eq!(
        count(&mut messages, "SELECT CAST(length(text) AS BIGINT) AS n FROM messages WHERE id = 1"),
        8
    );
    // The same source next time: nothing new.
    let again = run(&legacy, &target, None).await.unwrap();
    assert_eq!(counts(&again, "message").2, 2);
}
