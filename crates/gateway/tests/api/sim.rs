//! The simulator API through the gateway, with the three real services on PostgreSQL:
//! every route and status code of `sim-api.md`, the `latest` bookkeeping, and bad input.

use std::time::{Duration, Instant};

use minitwit_kit::testing::Backend;
use reqwest::{header::CONTENT_TYPE, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const NOT_AUTHORIZED: &str = "You are not authorized to use this resource!";

/// Posts `body` as is, with `content_type` (if any).
async fn post_raw(
    sys: &TestSystem,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Response {
    let mut req = sys.client.post(sys.url(path)).header("Authorization", SIM_AUTH).body(body);
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    req.send().await.unwrap()
}

async fn ok_json(res: Response) -> Value {
    let status = res.status();
    let url = res.url().to_string();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {body}"))
}

/// Asserts the simulator's error shape with `status`; returns `error_msg`.
async fn error(res: Response, status: u16) -> String {
    let url = res.url().to_string();
    let got = res.status().as_u16();
    let content_type = res.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string());
    let body = res.text().await.unwrap();
    assert_eq!(got, status, "{url}: {body}");
    assert_eq!(content_type.as_deref(), Some("application/json"), "{url}: {body}");
    let value: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {body}"));
    assert_eq!(value["status"], json!(status), "{url}: {body}");
    assert_eq!(value.as_object().unwrap().len(), 2, "{url}: {body}");
    value["error_msg"].as_str().unwrap_or_else(|| panic!("{url}: no error_msg: {body}")).to_string()
}

async fn error_is(res: Response, status: u16, text: &str) {
    assert_eq!(error(res, status).await, text);
}

async fn latest(sys: &TestSystem) -> i64 {
    let value = ok_json(sys.client.get(sys.url("/latest")).send().await.unwrap()).await;
    value["latest"].as_i64().unwrap()
}

async fn tweet(sys: &TestSystem, name: &str, text: &str) {
    no_content(post(sys, &format!("/msgs/{}", enc(name)), &json!({ "content": text })).await).await;
}

async fn follows(sys: &TestSystem, name: &str) -> Vec<String> {
    let value = ok_json(get(sys, &format!("/fllws/{}", enc(name))).await).await;
    serde_json::from_value(value["follows"].clone()).unwrap()
}

async fn contents(sys: &TestSystem, path: &str) -> Vec<String> {
    let value = ok_json(get(sys, path).await).await;
    value.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().to_string()).collect()
}

/// The course's own test (`minitwit_sim_api_test.py`), step by step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_course_sequence_passes() {
    let sys = spawn_system().await;
    assert_eq!(latest(&sys).await, -1);

    let test = json!({"username": "test", "email": "test@test", "pwd": "foo"});
    no_content(post(&sys, "/register?latest=1337", &test).await).await;
    assert_eq!(latest(&sys).await, 1337);

    let a = json!({"username": "a", "email": "a@a.a", "pwd": "a"});
    no_content(post(&sys, "/register?latest=1", &a).await).await;
    assert_eq!(latest(&sys).await, 1);

    no_content(post(&sys, "/msgs/a?latest=2", &json!({"content": "Blub!"})).await).await;
    assert_eq!(latest(&sys).await, 2);

    let mine = ok_json(get(&sys, "/msgs/a?no=20&latest=3").await).await;
    let mine = mine.as_array().unwrap();
    assert!(mine.iter().any(|m| m["content"] == "Blub!" && m["user"] == "a"), "{mine:?}");
    assert_eq!(latest(&sys).await, 3);

    let all = ok_json(get(&sys, "/msgs?no=20&latest=4").await).await;
    assert!(all.as_array().unwrap().iter().any(|m| m["content"] == "Blub!" && m["user"] == "a"));
    assert_eq!(latest(&sys).await, 4);

    let b = json!({"username": "b", "email": "b@b.b", "pwd": "b"});
    no_content(post(&sys, "/register?latest=5", &b).await).await;
    let c = json!({"username": "c", "email": "c@c.c", "pwd": "c"});
    no_content(post(&sys, "/register?latest=6", &c).await).await;
    assert_eq!(latest(&sys).await, 6);

    no_content(post(&sys, "/fllws/a?latest=7", &json!({"follow": "b"})).await).await;
    no_content(post(&sys, "/fllws/a?latest=8", &json!({"follow": "c"})).await).await;
    let f = ok_json(get(&sys, "/fllws/a?no=20&latest=9").await).await;
    assert_eq!(f, json!({"follows": ["b", "c"]}));
    assert_eq!(latest(&sys).await, 9);

    no_content(post(&sys, "/fllws/a?latest=10", &json!({"unfollow": "b"})).await).await;
    let f = ok_json(get(&sys, "/fllws/a?no=20&latest=11").await).await;
    assert_eq!(f, json!({"follows": ["c"]}));
    assert_eq!(latest(&sys).await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_is_overwritten_recorded_when_refused_and_ignored_when_not_an_integer() {
    let sys = spawn_system().await;
    // Refused for want of credentials, but recorded.
    let res = sys.client.get(sys.url("/msgs?latest=42")).send().await.unwrap();
    error_is(res, 403, NOT_AUTHORIZED).await;
    assert_eq!(latest(&sys).await, 42);
    let res = sys
        .client
        .post(sys.url("/fllws/x?latest=43"))
        .header("Authorization", "Basic nope")
        .send()
        .await
        .unwrap();
    error_is(res, 403, NOT_AUTHORIZED).await;
    assert_eq!(latest(&sys).await, 43);

    // Not maxed: a smaller value replaces a larger one; negative values are integers too.
    ok_json(get(&sys, "/msgs?latest=7").await).await;
    assert_eq!(latest(&sys).await, 7);
    ok_json(get(&sys, "/msgs?latest=-3").await).await;
    assert_eq!(latest(&sys).await, -3);

    // Not an integer: ignored, and the request is served as if it were absent.
    ok_json(get(&sys, "/msgs?latest=10").await).await;
    for junk in ["abc", "1.5", "", "1e3", "99999999999999999999", "%FF"] {
        let res = get(&sys, &format!("/msgs?latest={junk}")).await;
        assert_eq!(ok_json(res).await, json!([]), "latest={junk}");
    }
    register(&sys, "alice").await;
    no_content(post(&sys, "/msgs/alice?latest=x", &json!({"content": "hi"})).await).await;
    assert_eq!(latest(&sys).await, 10);

    // An error answer records it too; GET /latest itself ignores a latest parameter.
    error(get(&sys, "/msgs/nobody?latest=11").await, 404).await;
    error(get(&sys, "/msgs?no=x&latest=12").await, 400).await;
    // So do a body that is not JSON and a method the route does not have.
    let res = sys
        .client
        .post(sys.url("/msgs/alice?latest=13"))
        .header("Authorization", SIM_AUTH)
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    error(res, 415).await;
    assert_eq!(latest(&sys).await, 13);
    let res = sys.client.delete(sys.url("/msgs/alice?latest=14")).send().await.unwrap();
    error(res, 405).await;
    assert_eq!(
        ok_json(sys.client.get(sys.url("/latest?latest=99")).send().await.unwrap()).await,
        json!({"latest": 14})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_checks_its_fields_in_order_with_the_course_texts() {
    let sys = spawn_system().await;
    let cases = [
        (json!({"username": "", "email": "", "pwd": ""}), "You have to enter a username"),
        (json!({"email": "x@y", "pwd": "p"}), "You have to enter a username"),
        (json!({"username": "   ", "email": "x@y", "pwd": "p"}), "You have to enter a username"),
        (json!({"username": "bob", "email": "", "pwd": ""}), "You have to enter a valid email address"),
        (
            json!({"username": "bob", "email": "bob.example.com", "pwd": "p"}),
            "You have to enter a valid email address",
        ),
        (json!({"username": "bob", "pwd": "p"}), "You have to enter a valid email address"),
        (json!({"username": "bob", "email": "bob@example"}), "You have to enter a password"),
        (json!({"username": "bob", "email": "bob@example", "pwd": ""}), "You have to enter a password"),
        (json!({"username": "latest", "email": "l@l", "pwd": "p"}), "The username is already taken"),
    ];
    for (body, text) in cases {
        let res = post(&sys, "/register", &body).await;
        assert_eq!(error(res, 400).await, text, "{body}");
    }
    // None of those left anything behind: the name is free.
    no_content(
        post(&sys, "/register", &json!({"username": "bob", "email": "bob@example", "pwd": "p"})).await,
    )
    .await;
    let again = json!({"username": "bob", "email": "other@example", "pwd": "q"});
    error_is(post(&sys, "/register", &again).await, 400, "The username is already taken").await;
    // The new user is usable at once.
    tweet(&sys, "bob", "registered").await;
    assert_eq!(contents(&sys, "/msgs/bob").await, ["registered"]);
    // Registering needs no credentials.
    let res = sys
        .client
        .post(sys.url("/register"))
        .json(&json!({"username": "carol", "email": "c@c", "pwd": "c"}))
        .send()
        .await
        .unwrap();
    no_content(res).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_refuses_bad_bodies_in_the_sim_shape() {
    let sys = spawn_system().await;
    for (ct, body) in [
        (Some("application/json"), "{\"username\": \"x\","),
        (Some("application/json"), ""),
        (Some("application/json"), "[1, 2]"),
        (Some("application/json"), "\"text\""),
        (Some("application/json"), "{\"username\": 5, \"email\": \"a@b\", \"pwd\": \"p\"}"),
        (Some("application/json"), "{\"username\": \"x\", \"email\": [\"a@b\"], \"pwd\": \"p\"}"),
        (Some("application/json"), "{\"username\": \"x\", \"email\": \"a@b\", \"pwd\": 1}"),
    ] {
        error(post_raw(&sys, "/register", ct, body).await, 400).await;
    }
    for ct in [Some("text/plain"), Some("application/xml"), None] {
        let body = r#"{"username": "x", "email": "a@b", "pwd": "p"}"#;
        error(post_raw(&sys, "/register", ct, body).await, 415).await;
    }
    let huge = json!({"username": "x", "email": "a@b", "pwd": "p".repeat(200_000)}).to_string();
    error(post_raw(&sys, "/register", Some("application/json"), huge).await, 413).await;
    // A body over the limit without a Content-Length (chunked) is refused too.
    let (status, body) = chunked_post(&sys, "/register", 100, 1000).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("\"status\":413"), "{body}");
    // Nothing was registered by any of them.
    no_content(post(&sys, "/register", &json!({"username": "x", "email": "a@b", "pwd": "p"})).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_posted_and_listed_newest_first() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    register(&sys, "bob").await;
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    tweet(&sys, "alice", "first").await;
    tweet(&sys, "bob", "second <b>bold</b> & stuff").await;
    tweet(&sys, "alice", "third").await;

    let all = ok_json(get(&sys, "/msgs").await).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    let texts: Vec<&str> = all.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(texts, ["third", "second <b>bold</b> & stuff", "first"]);
    let users: Vec<&str> = all.iter().map(|m| m["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["alice", "bob", "alice"]);
    for m in all {
        assert_eq!(m.as_object().unwrap().len(), 3, "{m}");
        let pub_date = m["pub_date"].as_i64().expect("pub_date is an integer");
        assert!((before - 1..=before + 60).contains(&pub_date), "{pub_date} vs {before}");
    }
    assert_eq!(contents(&sys, "/msgs/alice").await, ["third", "first"]);
    assert_eq!(contents(&sys, "/msgs/bob").await, ["second <b>bold</b> & stuff"]);
    assert_eq!(contents(&sys, "/msgs?no=2").await, ["third", "second <b>bold</b> & stuff"]);
    assert_eq!(contents(&sys, "/msgs/alice?no=1").await, ["third"]);
    assert_eq!(contents(&sys, "/msgs?no=0").await, Vec::<String>::new());
    assert_eq!(contents(&sys, "/msgs?no=%2B2").await.len(), 2);
    assert_eq!(contents(&sys, "/msgs?no=99999999999999999999999").await.len(), 3);
    register(&sys, "carol").await;
    assert_eq!(ok_json(get(&sys, "/msgs/carol").await).await, json!([]));

    // Flagged messages are left out.
    let page = minitwit_api::client::MessageClient::new(reqwest::Client::new(), &sys.messages.url());
    let stored = page.public("t", &Default::default()).await.unwrap().messages;
    let second = stored.iter().find(|m| m.text.starts_with("second")).unwrap();
    page.set_flag("t", second.id, true).await.unwrap();
    assert_eq!(contents(&sys, "/msgs").await, ["third", "first"]);
    assert_eq!(ok_json(get(&sys, "/msgs/bob").await).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_defaults_to_100_is_capped_and_refuses_non_integers() {
    let sys = spawn_system_with(Backend::Postgres, |s| s.sim.max_no = 3).await;
    for name in ["alice", "b1", "b2", "b3", "b4"] {
        register(&sys, name).await;
    }
    for i in 0..5 {
        tweet(&sys, "alice", &format!("m{i}")).await;
    }
    for b in ["b1", "b2", "b3", "b4"] {
        no_content(post(&sys, "/fllws/alice", &json!({ "follow": b })).await).await;
    }
    assert_eq!(contents(&sys, "/msgs").await, ["m4", "m3", "m2"]);
    assert_eq!(contents(&sys, "/msgs?no=50").await.len(), 3);
    assert_eq!(contents(&sys, "/msgs/alice?no=50").await.len(), 3);
    assert_eq!(contents(&sys, "/msgs/alice?no=2").await, ["m4", "m3"]);
    assert_eq!(follows(&sys, "alice").await, ["b1", "b2", "b3"]);
    let two = ok_json(get(&sys, "/fllws/alice?no=2").await).await;
    assert_eq!(two, json!({"follows": ["b1", "b2"]}));
    assert_eq!(ok_json(get(&sys, "/fllws/alice?no=0").await).await, json!({"follows": []}));

    for bad in ["-1", "abc", "1.5", "", "1e2", "%FF", "0x10"] {
        for path in ["/msgs", "/msgs/alice", "/fllws/alice"] {
            let res = get(&sys, &format!("{path}?no={bad}")).await;
            let text = error(res, 400).await;
            assert!(text.contains("no must be a non-negative integer"), "{path}?no={bad}: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_no_is_100() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    // Posted concurrently: the order does not matter here, only the count.
    let posts = (0..105).map(|i| {
        let sys = &sys;
        async move { tweet(sys, "alice", &format!("m{i}")).await }
    });
    futures::future::join_all(posts).await;
    assert_eq!(contents(&sys, "/msgs").await.len(), 100);
    assert_eq!(contents(&sys, "/msgs/alice").await.len(), 100);
    assert_eq!(contents(&sys, "/msgs?no=105").await.len(), 105);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_refuses_bad_input_and_unknown_users() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    error(post(&sys, "/msgs/nobody", &json!({"content": "hi"})).await, 404).await;
    error(get(&sys, "/msgs/nobody").await, 404).await;
    error_is(post(&sys, "/msgs/alice", &json!({"content": ""})).await, 400, "The message is empty").await;
    error_is(post(&sys, "/msgs/alice", &json!({"content": " \n\t"})).await, 400, "The message is empty")
        .await;
    error_is(post(&sys, "/msgs/alice", &json!({})).await, 400, "The message is empty").await;
    error(post(&sys, "/msgs/alice", &json!({"content": "x".repeat(1001)})).await, 400).await;
    error(post(&sys, "/msgs/alice", &json!({"content": "a\u{0}b"})).await, 400).await;
    error(post(&sys, "/msgs/alice", &json!({"content": 5})).await, 400).await;
    error(post(&sys, "/msgs/alice", &json!({"content": ["hi"]})).await, 400).await;
    error(post(&sys, "/msgs/alice", &json!(["hi"])).await, 400).await;
    error(post_raw(&sys, "/msgs/alice", Some("application/json"), "{\"content\": \"hi\"").await, 400).await;
    error(post_raw(&sys, "/msgs/alice", Some("text/plain"), "{\"content\": \"hi\"}").await, 415).await;
    error(post_raw(&sys, "/msgs/alice", Some("application/x-www-form-urlencoded"), "content=hi").await, 415)
        .await;
    error(post_raw(&sys, "/msgs/alice", None, "{\"content\": \"hi\"}").await, 415).await;
    let huge = json!({"content": "x".repeat(100_000)}).to_string();
    error(post_raw(&sys, "/msgs/alice", Some("application/json"), huge).await, 413).await;
    // Nothing was stored by any of them; the longest allowed text is.
    assert_eq!(ok_json(get(&sys, "/msgs").await).await, json!([]));
    tweet(&sys, "alice", &"ø".repeat(1000)).await;
    // Text is stored as given; extra fields are ignored.
    let text = "<script>alert('x')</script> & \"quotes\" \u{1F600}";
    no_content(post(&sys, "/msgs/alice", &json!({"content": text, "extra": 1})).await).await;
    assert_eq!(contents(&sys, "/msgs/alice?no=1").await, [text]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_and_unfollow_are_idempotent() {
    let sys = spawn_system().await;
    for name in ["alice", "bob", "carol"] {
        register(&sys, name).await;
    }
    assert_eq!(follows(&sys, "alice").await, Vec::<String>::new());
    no_content(post(&sys, "/fllws/alice", &json!({"follow": "bob"})).await).await;
    no_content(post(&sys, "/fllws/alice", &json!({"follow": "bob"})).await).await;
    assert_eq!(follows(&sys, "alice").await, ["bob"]);
    no_content(post(&sys, "/fllws/alice", &json!({"follow": "carol"})).await).await;
    assert_eq!(follows(&sys, "alice").await, ["bob", "carol"]);
    assert_eq!(follows(&sys, "bob").await, Vec::<String>::new());
    no_content(post(&sys, "/fllws/alice", &json!({"unfollow": "bob"})).await).await;
    assert_eq!(follows(&sys, "alice").await, ["carol"]);
    // Unfollowing someone not followed: 204, nothing changes.
    no_content(post(&sys, "/fllws/alice", &json!({"unfollow": "bob"})).await).await;
    no_content(post(&sys, "/fllws/bob", &json!({"unfollow": "alice"})).await).await;
    assert_eq!(follows(&sys, "alice").await, ["carol"]);
    // Unknown fields next to the action are ignored.
    no_content(post(&sys, "/fllws/bob", &json!({"follow": "alice", "latest": 3})).await).await;
    assert_eq!(follows(&sys, "bob").await, ["alice"]);
    // One row only, whatever happened.
    let follow_client = minitwit_api::client::FollowClient::new(reqwest::Client::new(), &sys.follows.url());
    assert_eq!(follow_client.count("t").await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_refuses_bad_input_and_unknown_users() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    register(&sys, "bob").await;
    error(post(&sys, "/fllws/nobody", &json!({"follow": "bob"})).await, 404).await;
    error(post(&sys, "/fllws/nobody", &json!({"unfollow": "bob"})).await, 404).await;
    error(post(&sys, "/fllws/alice", &json!({"follow": "nobody"})).await, 404).await;
    error(post(&sys, "/fllws/alice", &json!({"unfollow": "nobody"})).await, 404).await;
    error(post(&sys, "/fllws/alice", &json!({"follow": ""})).await, 404).await;
    error(post(&sys, "/fllws/alice", &json!({"follow": "a/b"})).await, 404).await;
    error(get(&sys, "/fllws/nobody").await, 404).await;
    error(post(&sys, "/fllws/alice", &json!({})).await, 400).await;
    error(post(&sys, "/fllws/alice", &json!({"follow": null})).await, 400).await;
    error(post(&sys, "/fllws/alice", &json!({"befriend": "bob"})).await, 400).await;
    error(post(&sys, "/fllws/alice", &json!({"follow": "bob", "unfollow": "bob"})).await, 400).await;
    error(post(&sys, "/fllws/alice", &json!({"follow": 7})).await, 400).await;
    error(post(&sys, "/fllws/alice", &json!({"follow": ["bob"]})).await, 400).await;
    error(post(&sys, "/fllws/alice", &json!("bob")).await, 400).await;
    error_is(
        post(&sys, "/fllws/alice", &json!({"follow": "alice"})).await,
        400,
        "You cannot follow yourself",
    )
    .await;
    no_content(post(&sys, "/fllws/alice", &json!({"unfollow": "alice"})).await).await;
    error(post_raw(&sys, "/fllws/alice", Some("application/json"), "{\"follow\": ").await, 400).await;
    error(post_raw(&sys, "/fllws/alice", Some("text/plain"), "{\"follow\": \"bob\"}").await, 415).await;
    let huge = json!({"follow": "bob", "pad": "x".repeat(100_000)}).to_string();
    error(post_raw(&sys, "/fllws/alice", Some("application/json"), huge).await, 413).await;
    // None of them followed anyone.
    assert_eq!(follows(&sys, "alice").await, Vec::<String>::new());
    assert_eq!(follows(&sys, "bob").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_with_spaces_unicode_and_plus_signs_work_in_paths() {
    let sys = spawn_system().await;
    let names = ["Roger Histand", "Søren Kierkegård", "李小龙", "a+b", "a b", "100% sure?", "x#y&z=1"];
    for name in names {
        register(&sys, name).await;
    }
    for name in names {
        tweet(&sys, name, &format!("I am {name}")).await;
        assert_eq!(contents(&sys, &format!("/msgs/{}", enc(name))).await, [format!("I am {name}")]);
    }
    let all = ok_json(get(&sys, "/msgs").await).await;
    let users: Vec<&str> = all.as_array().unwrap().iter().map(|m| m["user"].as_str().unwrap()).collect();
    assert_eq!(users, names.iter().rev().copied().collect::<Vec<_>>());

    // As the simulator writes them: %20 for spaces; a literal + in a path is a plus.
    tweet_raw(&sys, "/msgs/Roger%20Histand", "raw space").await;
    tweet_raw(&sys, "/msgs/a+b", "raw plus").await;
    tweet_raw(&sys, "/msgs/a%2Bb", "encoded plus").await;
    tweet_raw(&sys, "/msgs/S%C3%B8ren%20Kierkeg%C3%A5rd", "raw utf-8").await;
    assert_eq!(contents(&sys, "/msgs/a+b").await, ["encoded plus", "raw plus", "I am a+b"]);
    assert_eq!(contents(&sys, "/msgs/a%20b").await, ["I am a b"]);

    for name in names {
        for other in names.iter().filter(|o| **o != name) {
            no_content(post(&sys, &format!("/fllws/{}", enc(name)), &json!({ "follow": other })).await).await;
        }
        let mut expected: Vec<&str> = names.iter().filter(|o| **o != name).copied().collect();
        let mut got = follows(&sys, name).await;
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "{name}");
    }
    no_content(post(&sys, "/fllws/Roger%20Histand", &json!({"unfollow": "李小龙"})).await).await;
    assert!(!follows(&sys, "Roger Histand").await.contains(&"李小龙".to_string()));
}

/// Posts `chunks` chunks of `size` bytes with `Transfer-Encoding: chunked` (no
/// Content-Length) over a raw connection; returns the status and the body.
async fn chunked_post(sys: &TestSystem, path: &str, chunks: usize, size: usize) -> (u16, String) {
    use std::io::{Read, Write};
    let address = sys.address.trim_start_matches("http://").to_string();
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: {SIM_AUTH}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let chunk = format!("{size:x}\r\n{}\r\n", "x".repeat(size));
        for _ in 0..chunks {
            // The server may answer and close before reading everything.
            if stream.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    })
    .await
    .unwrap()
}

async fn tweet_raw(sys: &TestSystem, path: &str, text: &str) {
    no_content(post(sys, path, &json!({ "content": text })).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_paths_answer_json_errors_never_500() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    // A name cannot contain '/', so an encoded one names nobody.
    error(get(&sys, "/msgs/alice%2Fbob").await, 404).await;
    error(post(&sys, "/fllws/alice%2fbob", &json!({"follow": "alice"})).await, 404).await;
    // Percent sequences that are not UTF-8.
    error(get(&sys, "/msgs/%FF%FE").await, 400).await;
    error(post(&sys, "/msgs/al%C3", &json!({"content": "x"})).await, 400).await;
    error(get(&sys, "/fllws/%C3%28").await, 400).await;
    // Names no user can have.
    error(get(&sys, "/msgs/a%00b").await, 404).await;
    error(get(&sys, "/msgs/%0A").await, 404).await;
    error(get(&sys, "/msgs/%20").await, 404).await;
    error(get(&sys, &format!("/msgs/{}", "x".repeat(300))).await, 404).await;
    // Unknown routes under /msgs and /fllws, and wrong methods.
    for path in ["/msgs/", "/msgs/alice/", "/msgs/alice/extra", "/fllws", "/fllws/", "/fllws/alice/x"] {
        error(get(&sys, path).await, 404).await;
        error(post(&sys, path, &json!({})).await, 404).await;
    }
    // A 405 names the resource's methods in `Allow` (RFC 9110; schemathesis found it missing).
    let allow = |res: &Response| res.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
    for (path, methods) in
        [("/msgs", "GET"), ("/msgs/alice", "GET, POST"), ("/fllws/alice", "GET, POST"), ("/latest", "GET")]
    {
        for method in
            [reqwest::Method::DELETE, reqwest::Method::PUT, reqwest::Method::TRACE, reqwest::Method::HEAD]
        {
            let res = sys
                .client
                .request(method.clone(), sys.url(path))
                .header("Authorization", SIM_AUTH)
                .send()
                .await
                .unwrap();
            assert_eq!(allow(&res).as_deref(), Some(methods), "{method} {path}");
            if method == reqwest::Method::HEAD {
                assert_eq!(res.status(), 405, "{method} {path}");
            } else {
                error(res, 405).await;
            }
        }
    }
    let res = post(&sys, "/msgs", &json!({"content": "x"})).await;
    assert_eq!(allow(&res).as_deref(), Some("GET"));
    error(res, 405).await;
    let res = post(&sys, "/latest", &json!({"latest": 1})).await;
    assert_eq!(allow(&res).as_deref(), Some("GET"));
    error(res, 405).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_latest_and_register_needs_the_exact_authorization() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    let routes: [(&str, &str, Option<Value>); 5] = [
        ("GET", "/msgs", None),
        ("GET", "/msgs/alice", None),
        ("POST", "/msgs/alice", Some(json!({"content": "x"}))),
        ("GET", "/fllws/alice", None),
        ("POST", "/fllws/alice", Some(json!({"follow": "alice"}))),
    ];
    let wrong = [
        None,
        Some("Basic wrong"),
        Some("basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"),
        Some("Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUhx"),
        Some("Basic YWRtaW46YWRtaW4="),
        Some(""),
    ];
    for (method, path, body) in &routes {
        for auth in wrong {
            let mut req = sys.client.request(method.parse().unwrap(), sys.url(path));
            if let Some(auth) = auth {
                req = req.header("Authorization", auth);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            error_is(req.send().await.unwrap(), 403, NOT_AUTHORIZED).await;
        }
    }
    // An unauthorized request is refused before its input is looked at.
    let res = sys.client.get(sys.url("/msgs/nobody?no=x")).send().await.unwrap();
    error_is(res, 403, NOT_AUTHORIZED).await;
    let res = sys.client.post(sys.url("/msgs/alice")).body("garbage").send().await.unwrap();
    error_is(res, 403, NOT_AUTHORIZED).await;
    // Refused requests changed nothing.
    assert_eq!(ok_json(get(&sys, "/msgs").await).await, json!([]));
    assert_eq!(follows(&sys, "alice").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_value_comes_from_settings() {
    let custom = "Basic bXk6b3du";
    let sys = spawn_system_with(Backend::Postgres, |s| s.sim.authorization = custom.into()).await;
    error_is(get(&sys, "/msgs").await, 403, NOT_AUTHORIZED).await;
    let res = sys.client.get(sys.url("/msgs")).header("Authorization", custom).send().await.unwrap();
    assert_eq!(ok_json(res).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_refuses_other_clients_without_recording_latest() {
    let sys = spawn_system_with(Backend::Postgres, |s| {
        s.sim.allow_list = vec!["10.0.0.0/8".into(), "2001:db8::/32".into()]
    })
    .await;
    error_is(get(&sys, "/msgs?latest=5").await, 403, NOT_AUTHORIZED).await;
    error_is(
        post(&sys, "/register?latest=6", &json!({"username": "a", "email": "a@a", "pwd": "a"})).await,
        403,
        NOT_AUTHORIZED,
    )
    .await;
    error_is(post(&sys, "/fllws/a?latest=7", &json!({"follow": "b"})).await, 403, NOT_AUTHORIZED).await;
    error_is(sys.client.get(sys.url("/latest")).send().await.unwrap(), 403, NOT_AUTHORIZED).await;
    // Nothing was recorded or registered.
    let messages = minitwit_api::client::MessageClient::new(reqwest::Client::new(), &sys.messages.url());
    assert_eq!(messages.latest("t").await.unwrap(), -1);
    let users = minitwit_api::client::UserClient::new(reqwest::Client::new(), &sys.users.url());
    assert_eq!(users.count("t").await.unwrap(), 0);

    // Behind the proxy, the client is the first X-Forwarded-For hop (see sim::auth).
    let res = sys
        .client
        .get(sys.url("/msgs?latest=8"))
        .header("Authorization", SIM_AUTH)
        .header("X-Forwarded-For", "10.1.2.3, 127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(res).await, json!([]));
    let res =
        sys.client.get(sys.url("/latest")).header("X-Forwarded-For", "2001:db8::5").send().await.unwrap();
    assert_eq!(ok_json(res).await, json!({"latest": 8}));

    // A client's own `Forwarded` header is not trusted (nginx passes it through).
    let res = sys
        .client
        .get(sys.url("/msgs"))
        .header("Authorization", SIM_AUTH)
        .header("Forwarded", "for=10.1.2.3")
        .send()
        .await
        .unwrap();
    error_is(res, 403, NOT_AUTHORIZED).await;

    let local = spawn_system_with(Backend::Postgres, |s| {
        s.sim.allow_list = vec!["192.168.0.0/16".into(), "127.0.0.0/8".into()]
    })
    .await;
    assert_eq!(ok_json(get(&local, "/msgs").await).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_down_is_a_quick_503_never_a_500() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    register(&sys, "bob").await;

    sys.follows.stop().await;
    let start = Instant::now();
    let text = error(post(&sys, "/fllws/alice", &json!({"follow": "bob"})).await, 503).await;
    assert!(text.contains("follow-service"), "{text}");
    error(get(&sys, "/fllws/alice").await, 503).await;
    // What does not need follow-service still works.
    tweet(&sys, "alice", "still here").await;
    assert_eq!(contents(&sys, "/msgs").await, ["still here"]);

    sys.messages.stop().await;
    error(get(&sys, "/msgs").await, 503).await;
    error(post(&sys, "/msgs/alice", &json!({"content": "x"})).await, 503).await;
    error(sys.client.get(sys.url("/latest")).send().await.unwrap(), 503).await;
    // The latest value cannot be stored: 503 even for a request that needs nothing else.
    let text = error(
        post(&sys, "/register?latest=3", &json!({"username": "c", "email": "c@c", "pwd": "c"})).await,
        503,
    )
    .await;
    assert!(text.contains("latest"), "{text}");

    sys.users.stop().await;
    error(post(&sys, "/register", &json!({"username": "d", "email": "d@d", "pwd": "d"})).await, 503).await;
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}

/// A generated scenario in the course's format, replayed the course's way (one action
/// at a time, a fresh connection each), through the whole system: zero errors, and
/// `GET /latest` answers the last id. The time-out is 2 s, not the course's 0.3 s, so a
/// busy test machine does not make it flaky; the latencies are in the failure message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_scenario_replays_with_zero_errors() {
    use minitwit_sim::{
        replay::{replay, ReplayOptions},
        scenario::{generate, Command, GenerateOptions},
    };
    let sys = spawn_system().await;
    let actions = generate(&GenerateOptions { users: 150, actions: 2000, seed: 2024, ..Default::default() });
    let mut opts = ReplayOptions::new(sys.address.clone());
    opts.no_delay = true;
    opts.timeout = Duration::from_secs(2);
    let summary = replay(&actions, &opts).await.unwrap();
    eprintln!("{}", summary.render());
    assert_eq!(summary.errors, 0, "{}", summary.render());
    assert_eq!(summary.latest_actual, Some(actions.last().unwrap().id), "{}", summary.render());

    // The services hold exactly what the scenario did.
    let mut follows = std::collections::HashSet::new();
    let (mut users, mut tweets) = (0, 0);
    for a in &actions {
        match &a.command {
            Command::Register { .. } => users += 1,
            Command::Tweet { .. } => tweets += 1,
            Command::Follow { target } => {
                follows.insert((a.username.clone(), target.clone()));
            }
            Command::Unfollow { target } => {
                follows.remove(&(a.username.clone(), target.clone()));
            }
        }
    }
    let http = reqwest::Client::new();
    let user_client = minitwit_api::client::UserClient::new(http.clone(), &sys.users.url());
    let message_client = minitwit_api::client::MessageClient::new(http.clone(), &sys.messages.url());
    let follow_client = minitwit_api::client::FollowClient::new(http, &sys.follows.url());
    assert_eq!(user_client.count("t").await.unwrap(), users);
    assert_eq!(message_client.count("t").await.unwrap(), tweets);
    assert_eq!(follow_client.count("t").await.unwrap(), follows.len() as i64);
    // And the sim API tells the same story for a busy user.
    let busiest =
        actions.iter().filter(|a| matches!(a.command, Command::Follow { .. })).map(|a| &a.username).next();
    if let Some(user) = busiest {
        let mut expected: Vec<&str> =
            follows.iter().filter(|(u, _)| u == user).map(|(_, t)| t.as_str()).collect();
        let value = ok_json(get(&sys, &format!("/fllws/{}?no=1000", enc(user))).await).await;
        let mut got: Vec<&str> =
            value["follows"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected);
    }
}

/// A client that sends its tweet again with the same `Idempotency-Key` (its answer was
/// lost) tweets once; without the header every post is a new tweet, as the contract
/// says. A header that is no key is a 400 and posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tweet_repeated_with_its_idempotency_key_is_one_tweet() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    let keyed = |key: &'static str| {
        sys.client
            .post(sys.url("/msgs/alice"))
            .header("Authorization", SIM_AUTH)
            .header("Idempotency-Key", key)
            .json(&json!({"content": "just once"}))
            .send()
    };
    no_content(keyed("tweet-1").await.unwrap()).await;
    no_content(keyed("tweet-1").await.unwrap()).await;
    assert_eq!(contents(&sys, "/msgs/alice").await, ["just once"]);
    error_is(
        keyed("not a key").await.unwrap(),
        400,
        "An idempotency key is 1 to 128 visible ASCII characters",
    )
    .await;
    tweet(&sys, "alice", "just once").await;
    tweet(&sys, "alice", "just once").await;
    assert_eq!(contents(&sys, "/msgs/alice").await, ["just once"; 3]);
}

/// The OpenAPI document is served to anyone (no credentials, any client address), as
/// JSON, and describes the seven routes the gateway answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_without_credentials() {
    let sys = spawn_system_with(Backend::Sqlite, |s| s.sim.allow_list = vec!["10.0.0.0/8".into()]).await;
    let res = sys.client.get(sys.url("/openapi.json?latest=9")).send().await.unwrap();
    assert_eq!(res.headers().get(CONTENT_TYPE).unwrap(), "application/json");
    let doc = ok_json(res).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let mut paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/fllws/{username}", "/latest", "/msgs", "/msgs/{username}", "/register"]);
    // Only the document is open: the routes it describes still refuse this client.
    error_is(sys.client.get(sys.url("/latest")).send().await.unwrap(), 403, NOT_AUTHORIZED).await;
}
