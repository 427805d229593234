//! `seed_database` against fresh PostgreSQL databases migrated by the services' own
//! bulk connections, on the server named by MINITWIT_TEST_DATABASE_URL (default: the
//! local one).

use std::collections::HashSet;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use minitwit_kit::testing::{Backend, TestDatabase};
use minitwit_sim::seed::{seed_database, DatabaseUrls, SeedSize};

fn migrated(open: fn(&str) -> anyhow::Result<minitwit_kit::db::DbConnection>) -> TestDatabase {
    let db = TestDatabase::new(Backend::Postgres);
    open(&db.url).expect("the service's bulk connection migrates its database");
    db
}

fn databases() -> (TestDatabase, TestDatabase, TestDatabase) {
    (
        migrated(user_service::bulk::open),
        migrated(message_service::bulk::open),
        migrated(follow_service::bulk::open),
    )
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    a: i64,
    #[diesel(sql_type = BigInt)]
    b: i64,
    #[diesel(sql_type = BigInt)]
    c: i64,
}

fn row(url: &str, sql: &str) -> (i64, i64, i64) {
    let r: Row = diesel::sql_query(sql).get_result(&mut PgConnection::establish(url).unwrap()).unwrap();
    (r.a, r.b, r.c)
}

#[test]
fn seeds_the_services_schemas_and_can_run_twice() {
    let (users, messages, follows) = databases();
    let urls = DatabaseUrls {
        users: users.url.clone(),
        messages: messages.url.clone(),
        follows: follows.url.clone(),
    };
    PgConnection::establish(&users.url)
        .unwrap()
        .batch_execute("INSERT INTO users (username, email, pw_hash) VALUES ('Roger Histand', 'r@h', 'x')")
        .unwrap();

    let size = SeedSize { users: 300, messages: 5_000, follows: 2_000, seed: 1, heavy_follower: 0 };
    let summary = seed_database(&urls, &size, false).unwrap();
    assert_eq!(summary.errors, 0);
    assert!(summary.heavy_follower.is_none());
    let rows: Vec<u64> = summary.phases.iter().map(|p| p.rows).collect();
    assert_eq!(rows, vec![300, 2_000, 5_000]);

    // Users: new ids follow the existing one, names unique and all with a space.
    assert_eq!(row(&users.url, "SELECT COUNT(*) AS a, MIN(id) AS b, MAX(id) AS c FROM users"), (301, 1, 301));
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        username: String,
    }
    let names: Vec<Name> = diesel::sql_query("SELECT username FROM users")
        .load(&mut PgConnection::establish(&users.url).unwrap())
        .unwrap();
    assert!(names.iter().all(|n| n.username.contains(' ')));
    assert_eq!(names.iter().map(|n| &n.username).collect::<HashSet<_>>().len(), 301);

    // Follows and messages name only seeded users.
    let (count, lo, hi) = row(
        &follows.url,
        "SELECT COUNT(*) AS a, MIN(LEAST(follower_id, followee_id)) AS b, \
         MAX(GREATEST(follower_id, followee_id)) AS c FROM follows",
    );
    assert_eq!(count, 2_000);
    assert!(lo >= 2 && hi <= 301, "{lo}..{hi}");
    let (count, lo, hi) =
        row(&messages.url, "SELECT COUNT(*) AS a, MIN(author_id) AS b, MAX(author_id) AS c FROM messages");
    assert_eq!(count, 5_000);
    assert!(lo >= 2 && hi <= 301, "{lo}..{hi}");
    let (out_of_order, long, flagged) = row(
        &messages.url,
        "SELECT (SELECT COUNT(*) FROM messages m JOIN messages n ON n.id = m.id + 1 WHERE n.pub_date < m.pub_date) AS a, \
         (SELECT COUNT(*) FROM messages WHERE char_length(text) > 150) AS b, \
         (SELECT COUNT(*) FROM messages WHERE flagged) AS c",
    );
    assert_eq!((out_of_order, long, flagged), (0, 0, 0));

    // A second run adds fresh names after the last id, and the services can still insert.
    seed_database(
        &urls,
        &SeedSize { users: 50, messages: 10, follows: 10, seed: 1, heavy_follower: 0 },
        false,
    )
    .unwrap();
    assert_eq!(
        row(&users.url, "SELECT COUNT(*) AS a, COUNT(DISTINCT username) AS b, MAX(id) AS c FROM users"),
        (351, 351, 351)
    );
    let (id, _, _) = row(
        &users.url,
        "INSERT INTO users (username, email, pw_hash) VALUES ('Fresh User', 'f@u', 'x') RETURNING id AS a, 0::BIGINT AS b, 0::BIGINT AS c",
    );
    assert_eq!(id, 352, "the identity sequence was moved past the seeded ids");
}

#[test]
fn the_heavy_follower_follows_exactly_that_many_others() {
    let (users, messages, follows) = databases();
    let urls = DatabaseUrls {
        users: users.url.clone(),
        messages: messages.url.clone(),
        follows: follows.url.clone(),
    };
    let size = SeedSize { users: 200, messages: 1_000, follows: 3_000, seed: 3, heavy_follower: 150 };
    let summary = seed_database(&urls, &size, false).unwrap();
    let heavy = summary.heavy_follower.as_ref().expect("the summary names the heavy follower");
    assert_eq!(heavy.follows, 150);
    assert!(summary.render().contains(&format!("heavy follower: {} follows 150 users", heavy.username)));

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let name = heavy.username.replace('\'', "''");
    let me: Id = diesel::sql_query(format!("SELECT id FROM users WHERE username = '{name}'"))
        .get_result(&mut PgConnection::establish(&users.url).unwrap())
        .unwrap();
    let (count, distinct, selves) = row(
        &follows.url,
        &format!(
            "SELECT COUNT(*) AS a, COUNT(DISTINCT followee_id) AS b, \
             COUNT(*) FILTER (WHERE followee_id = follower_id) AS c FROM follows WHERE follower_id = {}",
            me.id
        ),
    );
    assert_eq!((count, distinct, selves), (150, 150, 0));

    // Too few users for the count asked: refused before anything is written.
    let too_many = SeedSize { users: 10, messages: 0, follows: 0, seed: 3, heavy_follower: 10 };
    assert!(seed_database(&urls, &too_many, false).is_err());
}

#[test]
fn seeds_sqlite_files_through_the_same_bulk_functions() {
    use minitwit_kit::db::DbConnection;
    let dbs = [(); 3].map(|_| TestDatabase::new(Backend::Sqlite));
    let urls =
        DatabaseUrls { users: dbs[0].url.clone(), messages: dbs[1].url.clone(), follows: dbs[2].url.clone() };
    // More rows than one multi-row INSERT holds, so batches follow each other.
    let size = SeedSize { users: 700, messages: 1_200, follows: 1_100, seed: 5, heavy_follower: 0 };
    let summary = seed_database(&urls, &size, false).unwrap();
    assert_eq!(summary.phases.iter().map(|p| p.rows).collect::<Vec<_>>(), vec![700, 1_100, 1_200]);

    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = BigInt)]
        hi: i64,
    }
    let counts = |conn: DbConnection, sql: &str| -> (i64, i64) {
        let DbConnection::Sqlite(mut c) = conn else { panic!("SQLite expected") };
        let r: Counts = diesel::sql_query(sql).get_result(&mut c).unwrap();
        (r.n, r.hi)
    };
    let users = user_service::bulk::open(&urls.users).unwrap();
    assert_eq!(counts(users, "SELECT COUNT(DISTINCT username) AS n, MAX(id) AS hi FROM users"), (700, 700));
    let messages = message_service::bulk::open(&urls.messages).unwrap();
    assert_eq!(counts(messages, "SELECT COUNT(*) AS n, MAX(id) AS hi FROM messages"), (1_200, 1_200));
    let follows = follow_service::bulk::open(&urls.follows).unwrap();
    let (n, hi) = counts(follows, "SELECT COUNT(*) AS n, MAX(followee_id) AS hi FROM follows");
    assert_eq!(n, 1_100);
    assert!(hi <= 700);

    // Again: new ids after the last ones.
    seed_database(
        &urls,
        &SeedSize { users: 10, messages: 10, follows: 5, seed: 6, heavy_follower: 0 },
        false,
    )
    .unwrap();
    let messages = message_service::bulk::open(&urls.messages).unwrap();
    assert_eq!(counts(messages, "SELECT COUNT(*) AS n, MAX(id) AS hi FROM messages"), (1_210, 1_210));
}
