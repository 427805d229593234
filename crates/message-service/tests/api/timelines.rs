//! Posting, and the three timelines: order, keyset pages, limits.

use std::time::{SystemTime, UNIX_EPOCH};

use minitwit_api::message::{Cursor, MessagePage, DEFAULT_LIMIT};
use minitwit_kit::{both_backends, testing::Backend};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, texts, TestApp};

both_backends!(
    post_returns_the_stored_message,
    timelines_are_newest_first_and_page_without_gaps,
    equal_pub_dates_are_ordered_by_id_across_pages,
    by_author_shows_only_that_author,
    my_timeline_merges_several_authors,
    my_timeline_reads_the_authors_who_can_reach_the_page_and_misses_none,
    limit_defaults_and_zero,
    limit_is_capped_by_max_limit,
);

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Every page of a GET list route, following `next` with `limit`.
async fn all_pages(app: &TestApp, path: &str, limit: u32) -> Vec<MessagePage> {
    let mut pages = vec![app.page(&format!("{path}?limit={limit}")).await];
    while let Some(next) = pages.last().unwrap().next {
        assert!(pages.len() < 100, "pagination does not end");
        pages.push(app.page(&format!("{path}?limit={limit}&before={next}")).await);
    }
    pages
}

async fn post_returns_the_stored_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = now();
    let m = app.message(7, "<b>hi</b> & co, Søren 李").await;
    assert!(m.id.get() > 0);
    assert_eq!(m.author_id.get(), 7);
    assert_eq!(m.text, "<b>hi</b> & co, Søren 李");
    assert!(!m.flagged);
    assert!((before..=now()).contains(&m.pub_date), "pub_date {} is the time of posting", m.pub_date);
    let longest = app.message(7, &"ø".repeat(1000)).await;
    assert_eq!(longest.text.chars().count(), 1000);
    let page = app.page("/messages").await;
    assert_eq!(page.messages, vec![longest, m]);
    assert_eq!(page.next, None);
}

async fn timelines_are_newest_first_and_page_without_gaps(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut posted = Vec::new();
    for i in 0..7 {
        posted.push(app.message(1 + i % 2, &format!("m{i}")).await);
    }
    posted.reverse();
    let pages = all_pages(&app, "/messages", 3).await;
    assert_eq!(pages.iter().map(|p| p.messages.len()).collect::<Vec<_>>(), [3, 3, 1]);
    for page in &pages[..2] {
        assert_eq!(page.next, Some(page.messages.last().unwrap().cursor()));
    }
    assert_eq!(pages[2].next, None);
    let seen: Vec<_> = pages.into_iter().flat_map(|p| p.messages).collect();
    assert_eq!(seen, posted);
    // Exactly a full last page still offers a next page, which is then empty.
    let six = app.page("/messages?limit=6").await;
    let after = app.page(&format!("/messages?limit=1&before={}", six.next.unwrap())).await;
    assert_eq!(after.messages, posted[6..]);
    let beyond = app.page(&format!("/messages?before={}", posted[6].cursor())).await;
    assert!(beyond.messages.is_empty() && beyond.next.is_none());
}

async fn equal_pub_dates_are_ordered_by_id_across_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.insert_raw(&[
        (1, 100, "a"),
        (2, 200, "b"),
        (1, 100, "c"),
        (2, 200, "d"),
        (1, 100, "e"),
        (1, 300, "f"),
        (2, 100, "g"),
    ])
    .await;
    let newest_first = ["f", "d", "b", "g", "e", "c", "a"];
    let pages = all_pages(&app, "/messages", 2).await;
    let seen: Vec<&str> = pages.iter().flat_map(texts).collect();
    assert_eq!(seen, newest_first);
    assert_eq!(texts(&pages[1]), ["b", "g"], "a page boundary inside a run of equal pub_dates");

    // A cursor in the middle of equal pub_dates: strictly older means a smaller id.
    let e = pages[2].messages[0].clone();
    assert_eq!((e.text.as_str(), e.pub_date), ("e", 100));
    assert_eq!(texts(&app.page(&format!("/messages?before={}", e.cursor())).await), ["c", "a"]);

    let author_pages = all_pages(&app, "/messages/by-author/1", 3).await;
    let by_author: Vec<&str> = author_pages.iter().flat_map(texts).collect();
    assert_eq!(by_author, ["f", "e", "c", "a"]);

    let mut mine = Vec::new();
    let mut before: Option<Cursor> = None;
    loop {
        let page = app.authors_page(&json!({"author_ids": [2, 1], "limit": 2, "before": before})).await;
        mine.extend(page.messages.iter().map(|m| m.text.clone()));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(mine, newest_first);
}

async fn by_author_shows_only_that_author(backend: Backend) {
    let app = spawn_app(backend).await;
    let a1 = app.message(1, "one").await;
    app.message(2, "two").await;
    let a3 = app.message(1, "three").await;
    let page = app.page("/messages/by-author/1").await;
    assert_eq!(page.messages, vec![a3, a1]);
    assert_eq!(page.next, None);
    let nobody = app.page("/messages/by-author/999").await;
    assert!(nobody.messages.is_empty() && nobody.next.is_none());
}

async fn my_timeline_merges_several_authors(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut wanted = Vec::new();
    for round in 0..3 {
        for author in 1..=4 {
            let m = app.message(author, &format!("{author}.{round}")).await;
            if author != 4 {
                wanted.push(m);
            }
        }
    }
    wanted.reverse();
    // Duplicated and unordered ids are fine.
    let all = app.authors_page(&json!({"author_ids": [3, 1, 2, 1]})).await;
    assert_eq!(all.messages, wanted);
    assert_eq!(all.next, None);

    let first = app.authors_page(&json!({"author_ids": [1, 2, 3], "limit": 4})).await;
    assert_eq!(first.messages, wanted[..4]);
    let second =
        app.authors_page(&json!({"author_ids": [1, 2, 3], "limit": 4, "before": first.next.unwrap()})).await;
    assert_eq!(second.messages, wanted[4..8]);

    let one = app.authors_page(&json!({"author_ids": [4]})).await;
    assert!(one.messages.iter().all(|m| m.author_id.get() == 4) && one.messages.len() == 3);
    let none = app.authors_page(&json!({"author_ids": []})).await;
    assert!(none.messages.is_empty() && none.next.is_none());
    let unknown = app.authors_page(&json!({"author_ids": [77, 78]})).await;
    assert!(unknown.messages.is_empty());
}

/// "My timeline" reads only the authors whose newest message can reach the page
/// (`author_newest`, kept by triggers): checked against every message, sorted, over
/// many authors with interleaved and equal dates, after multi-row inserts, flags of
/// authors' newest messages, an unflag and a new post, on every page.
async fn my_timeline_reads_the_authors_who_can_reach_the_page_and_misses_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut seed: u64 = 7;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for batch in 0..4 {
        let rows: Vec<(i64, i64, String)> = (0..100)
            .map(|i| (1 + next(40) as i64, 1000 + next(300) as i64, format!("b{batch}.{i}")))
            .collect();
        app.insert_raw(&rows.iter().map(|(a, d, t)| (*a, *d, t.as_str())).collect::<Vec<_>>()).await;
    }
    // Flag every author's newest message for a third of the authors, and a few more.
    let mut all = all_pages(&app, "/messages", 1000).await.remove(0).messages;
    let mut flagged = Vec::new();
    for author in (1..=40).step_by(3) {
        if let Some(newest) = all.iter().find(|m| m.author_id.get() == author) {
            flagged.push(newest.id.get());
        }
    }
    flagged.extend(all.iter().skip(5).step_by(17).map(|m| m.id.get()));
    for id in &flagged {
        assert_eq!(app.flag(*id, true).await.status(), 204);
    }
    assert_eq!(app.flag(flagged[1], false).await.status(), 204);
    all.retain(|m| m.id.get() == flagged[1] || !flagged.contains(&m.id.get()));
    let posted = app.message(4, "newest of all").await;
    all.insert(0, posted);

    let followed: Vec<i64> = (1..=40).filter(|a| a % 4 != 0).chain([4, 99]).collect();
    let wanted: Vec<_> = all.iter().filter(|m| followed.contains(&m.author_id.get())).cloned().collect();
    let mut seen = Vec::new();
    let mut before: Option<Cursor> = None;
    loop {
        let mut body = json!({"author_ids": followed, "limit": 7});
        if let Some(cursor) = before {
            body["before"] = json!(cursor.to_string());
        }
        let page = app.authors_page(&body).await;
        let at = seen.len();
        assert_eq!(page.messages, wanted[at..(at + 7).min(wanted.len())], "the page after {before:?}");
        seen.extend(page.messages);
        match page.next {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
        assert!(seen.len() <= wanted.len(), "pagination does not end");
    }
    assert_eq!(seen.len(), wanted.len());

    // A page of one message from each of `limit` authors needs every one of them.
    let mut singles = Vec::new();
    for author in 101..=110 {
        singles.insert(0, app.message(author, &format!("only {author}")).await);
    }
    let page = app.authors_page(&json!({"author_ids": (101..=110).collect::<Vec<_>>(), "limit": 7})).await;
    assert_eq!(page.messages, singles[..7]);
}

async fn limit_defaults_and_zero(backend: Backend) {
    let app = spawn_app(backend).await;
    let rows: Vec<(i64, i64, String)> =
        (0..=DEFAULT_LIMIT as i64).map(|i| (1, 1000 + i, format!("m{i}"))).collect();
    let rows: Vec<(i64, i64, &str)> = rows.iter().map(|(a, d, t)| (*a, *d, t.as_str())).collect();
    app.insert_raw(&rows).await;
    for path in ["/messages", "/messages/by-author/1"] {
        let page = app.page(path).await;
        assert_eq!(page.messages.len(), DEFAULT_LIMIT as usize, "{path}");
        assert!(page.next.is_some());
        let zero = app.page(&format!("{path}?limit=0")).await;
        assert!(zero.messages.is_empty() && zero.next.is_none(), "{path}");
    }
    let mine = app.authors_page(&json!({"author_ids": [1]})).await;
    assert_eq!(mine.messages.len(), DEFAULT_LIMIT as usize);
    let zero = app.authors_page(&json!({"author_ids": [1], "limit": 0})).await;
    assert!(zero.messages.is_empty() && zero.next.is_none());
}

async fn limit_is_capped_by_max_limit(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.own.max_limit = 3).await;
    for i in 0..5 {
        app.message(1, &format!("m{i}")).await;
    }
    for path in ["/messages?limit=100", "/messages/by-author/1?limit=100", "/messages"] {
        let page = app.page(path).await;
        assert_eq!(page.messages.len(), 3, "{path}");
        assert_eq!(page.next, Some(page.messages[2].cursor()), "{path}");
    }
    let mine = app.authors_page(&json!({"author_ids": [1], "limit": 1000})).await;
    assert_eq!(mine.messages.len(), 3);
}
