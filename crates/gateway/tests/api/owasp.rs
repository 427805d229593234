//! The OWASP Top 10 (2021) as tests: each test names the item it covers and proves
//! one of the controls MiniTwit relies on for it, from outside, over HTTP. SECURITY.md
//! lists them with the controls tested elsewhere (cookies, CSRF, escaping, throttling).

use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::web::Browser;

/// Every kind of answer the gateway gives: pages, the simulator API (allowed and
/// refused), errors, the stylesheet, metrics and health.
const PATHS: &[&str] = &[
    "/",
    "/public",
    "/login",
    "/register",
    "/nobody",
    "/no/such/page",
    "/latest",
    "/msgs",
    "/msgs/nobody",
    "/fllws/nobody",
    "/health",
    "/metrics",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a01_access_control_no_cross_origin_reads_on_any_answer() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    for path in PATHS {
        for method in [Method::GET, Method::OPTIONS, Method::POST] {
            let res = sys
                .client
                .request(method.clone(), sys.url(path))
                .header(header::ORIGIN, "https://evil.example.org")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
                .header("Authorization", SIM_AUTH)
                .send()
                .await
                .unwrap();
            assert!(res.status().as_u16() < 500, "{method} {path}: {}", res.status());
            for name in [
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                header::ACCESS_CONTROL_ALLOW_METHODS,
            ] {
                assert!(!res.headers().contains_key(&name), "{method} {path} answers {name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a01_access_control_writes_need_their_own_credentials() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    register(&sys, "bob").await;
    // The simulator API: wrong, missing or almost-right credentials write nothing.
    for auth in [None, Some("Basic c2ltdWxhdG9yOnN1cGVyX3NhZmU="), Some("Bearer x"), Some(" Basic x")] {
        let mut req = sys.client.post(sys.url("/msgs/alice")).json(&json!({"content": "forged"}));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        assert_eq!(req.send().await.unwrap().status(), StatusCode::FORBIDDEN, "{auth:?}");
        let mut req = sys.client.post(sys.url("/fllws/alice")).json(&json!({"follow": "bob"}));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        assert_eq!(req.send().await.unwrap().status(), StatusCode::FORBIDDEN, "{auth:?}");
    }
    let msgs: serde_json::Value = get(&sys, "/msgs/alice").await.json().await.unwrap();
    assert_eq!(msgs, json!([]));
    let follows: serde_json::Value = get(&sys, "/fllws/alice").await.json().await.unwrap();
    assert_eq!(follows, json!({"follows": []}));
    // The web UI: a signed-in user posts as themself, whatever the form says.
    let b = Browser::new(&sys);
    b.sign_up("carol").await;
    let res = b.post("/add_message", &[("text", "mine"), ("author", "alice"), ("user_id", "1")]).await;
    assert_eq!(res.status(), 303);
    let alice: serde_json::Value = get(&sys, "/msgs/alice").await.json().await.unwrap();
    assert_eq!(alice, json!([]));
    let carol: serde_json::Value = get(&sys, "/msgs/carol").await.json().await.unwrap();
    assert_eq!(carol[0]["content"], "mine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a03_injection_sql_and_markup_are_stored_literally_and_rendered_escaped() {
    let sys = spawn_system().await;
    let name = "robert'); DROP TABLE users;--";
    let body = json!({"username": name, "email": "r@example.com", "pwd": "secret"});
    no_content(post(&sys, "/register", &body).await).await;
    let texts = [
        "'); DROP TABLE messages; --",
        "1' OR '1'='1",
        "<img src=x onerror=alert(1)>",
        "</textarea><script>alert(document.cookie)</script>",
        "{{ 7*7 }} {% raw %}",
    ];
    for text in texts {
        no_content(post(&sys, &format!("/msgs/{}", enc(name)), &json!({"content": text})).await).await;
    }
    // Stored as sent: the JSON API gives back exactly the texts, newest first.
    let msgs: serde_json::Value = get(&sys, &format!("/msgs/{}", enc(name))).await.json().await.unwrap();
    let stored: Vec<&str> = msgs.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    let mut expected = texts.to_vec();
    expected.reverse();
    assert_eq!(stored, expected);
    assert!(msgs.as_array().unwrap().iter().all(|m| m["user"] == name));
    // The tables are all still there: another user registers and follows.
    register(&sys, "after").await;
    no_content(post(&sys, "/fllws/after", &json!({"follow": name})).await).await;
    // Rendered escaped, and the template syntax is not evaluated.
    let page = Browser::new(&sys).page("/public").await;
    page.status(200)
        .lacks("<img src=x")
        .lacks("<script>alert")
        .lacks(">49<")
        .has("&lt;img src=x onerror=alert(1)&gt;")
        .has("&lt;/textarea&gt;&lt;script&gt;alert(document.cookie)&lt;/script&gt;")
        .has(">{{ 7*7 }} {% raw %}<");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a04_insecure_design_oversized_bodies_are_refused_with_a_4xx() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let json = post(&sys, "/msgs/alice", &json!({"content": huge})).await;
    assert!(json.status().is_client_error(), "JSON: {}", json.status());
    let b = Browser::new(&sys);
    b.sign_up("bob").await;
    let form = b.post("/add_message", &[("text", huge.as_str())]).await;
    assert!(form.status().is_client_error(), "form: {}", form.status());
    let long = "y".repeat(100_000);
    let name = b.post("/login", &[("username", long.as_str()), ("password", "x")]).await;
    assert!(name.status().is_client_error(), "login: {}", name.status());
    let msgs: serde_json::Value = get(&sys, "/msgs").await.json().await.unwrap();
    assert_eq!(msgs, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a05_misconfiguration_every_page_and_error_carries_the_security_headers() {
    let sys = spawn_system().await;
    for path in ["/", "/public", "/login", "/register", "/nobody", "/no/such/page"] {
        let res = sys.client.get(sys.url(path)).send().await.unwrap();
        let status = res.status();
        let csp = res.headers().get(header::CONTENT_SECURITY_POLICY).map(|v| v.to_str().unwrap().to_string());
        let csp = csp.unwrap_or_else(|| panic!("{path} ({status}) has no Content-Security-Policy"));
        // No script at all: neither inline nor from anywhere.
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("script-src") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(res.headers()[header::REFERRER_POLICY], "same-origin", "{path}");
        let html = res.text().await.unwrap();
        assert!(!html.contains("<script"), "{path} has a script element");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a05_misconfiguration_no_internal_address_or_trace_in_any_answer() {
    let sys = spawn_system().await;
    register(&sys, "alice").await;
    let b = Browser::new(&sys);
    b.sign_up("bob").await;
    sys.messages.stop().await;
    sys.follows.stop().await;
    let internal = [sys.users.url(), sys.messages.url(), sys.follows.url()];
    let answers = [
        ("page", b.get("/public").await),
        ("timeline", b.get("/").await),
        ("post", b.post("/add_message", &[("text", "hi")]).await),
        ("follow", b.get("/alice/follow").await),
        ("sim msgs", get(&sys, "/msgs").await),
        ("sim post", post(&sys, "/msgs/alice", &json!({"content": "hi"})).await),
        ("sim follows", get(&sys, "/fllws/alice").await),
    ];
    for (what, res) in answers {
        let status = res.status();
        let headers = format!("{:?}", res.headers());
        let body = res.text().await.unwrap();
        assert!(status.is_server_error(), "{what}: {status} while its service is down");
        for url in &internal {
            let port = url.rsplit(':').next().unwrap();
            assert!(!body.contains(url) && !body.contains(&format!(":{port}")), "{what} shows {url}: {body}");
            assert!(!headers.contains(&format!(":{port}")), "{what} shows {url} in {headers}");
        }
        for leak in ["panicked", "backtrace", "src/", "reqwest::", "Connection refused", "os error"] {
            assert!(!body.contains(leak), "{what} shows {leak:?}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a07_authentication_a_failed_login_does_not_sign_in_and_a_login_renews_the_session() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.register("alice").await.status(200);
    let before = b.get("/login").await.headers().get(header::SET_COOKIE).cloned();
    b.login("alice", "wrong").await.status(422).has("Invalid password");
    b.page("/").await.status(200).lacks("My Timeline");
    let res = b.post("/login", &[("username", "alice"), ("password", "default")]).await;
    assert_eq!(res.status(), 303);
    let after = res.headers()[header::SET_COOKIE].clone();
    assert_ne!(Some(after), before, "the session cookie is new after signing in");
    b.page("/").await.status(200).has("My Timeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a08_integrity_a_tampered_session_cookie_is_no_session() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.register("alice").await;
    let res = b.post("/login", &[("username", "alice"), ("password", "default")]).await;
    let cookie = res.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    let pair = cookie.split(';').next().unwrap().to_string();
    let (name, value) = pair.split_once('=').unwrap();
    assert!(!value.contains("alice"), "the cookie does not carry the name in clear: {value}");
    let signed_in = sys.client.get(sys.url("/")).header(header::COOKIE, &pair).send().await.unwrap();
    assert!(signed_in.text().await.unwrap().contains("My Timeline"));
    // Each one-character change of the value, at a few places, is no session at all.
    let bytes = value.as_bytes();
    for at in [0, bytes.len() / 2, bytes.len() - 1] {
        let mut forged = bytes.to_vec();
        forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
        let forged = format!("{name}={}", String::from_utf8(forged).unwrap());
        let res = sys.client.get(sys.url("/")).header(header::COOKIE, forged).send().await.unwrap();
        let status = res.status();
        let html = res.text().await.unwrap();
        assert!(status.is_success() || status.is_redirection(), "{status}");
        assert!(!html.contains("My Timeline"), "a forged cookie (byte {at}) signed in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a09_monitoring_refused_and_failed_requests_are_counted() {
    let sys = spawn_system().await;
    for _ in 0..3 {
        let res = sys.client.get(sys.url("/msgs")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let b = Browser::new(&sys);
    b.register("alice").await;
    b.login("alice", "wrong").await.status(422);
    let metrics = sys.client.get(sys.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let count = |method: &str, route: &str, status: &str| -> f64 {
        let labels =
            [format!("method=\"{method}\""), format!("route=\"{route}\""), format!("status=\"{status}\"")];
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("http_requests_total{") && labels.iter().all(|x| l.contains(x.as_str()))
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    assert_eq!(count("GET", "/msgs", "403"), 3.0, "{metrics}");
    assert_eq!(count("POST", "/login", "422"), 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a10_ssrf_no_user_value_becomes_an_address_the_server_fetches() {
    let sys = spawn_system().await;
    // An email that is an address: the page shows a gravatar of its hash, and the
    // server never fetches it (the browser loads the image, and the CSP limits where).
    let b = Browser::new(&sys);
    let email = format!("{}/steal?x=@example.com", sys.users.url());
    b.register_with("alice", &email, "default", "default").await;
    b.login("alice", "default").await;
    b.post_message("hello").await.status(200);
    let html = b.page("/public").await.html;
    assert!(!html.contains(&sys.users.url()), "{html}");
    let src = html.split("class=\"avatar\" src=\"").nth(1).unwrap().split('"').next().unwrap();
    let (base, rest) = src.split_once("/avatar/").unwrap();
    assert!(base == "https://www.gravatar.com" || base == "https://secure.gravatar.com", "{src}");
    let hash = rest.split('?').next().unwrap();
    assert!(hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{src}");
}
