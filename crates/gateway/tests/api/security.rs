//! The findings of the security review (issue 12), each as the attack that worked and
//! now fails, named after what it protects.

use serde_json::json;

use crate::{helpers::*, web::Browser};

/// Follows are stored only through the follow route; this lists whom `who` follows.
async fn follows_of(sys: &TestSystem, who: &str) -> Vec<String> {
    let res = get(sys, &format!("/fllws/{}", enc(who))).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["follows"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_follow_links_are_refused_however_the_path_is_spelled() {
    let sys = spawn_system().await;
    Browser::new(&sys).register("bob").await;
    let b = Browser::new(&sys);
    b.sign_up("alice").await;
    for path in
        ["/bob/follow", "/bob/%66ollow", "/%62ob/follow", "/bob/%66%6F%6C%6C%6F%77", "/bob/unfollo%77"]
    {
        let res = b.http.get(b.url(path)).header("sec-fetch-site", "cross-site").send().await.unwrap();
        assert_eq!(res.status(), 403, "GET {path}");
        let res = b.http.post(b.url(path)).header("origin", "http://evil.example").send().await.unwrap();
        assert_eq!(res.status(), 403, "POST {path}");
    }
    let res = b.http.get(b.url("/%6Cogout")).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(res.status(), 403, "GET /%6Cogout");
    assert!(follows_of(&sys, "alice").await.is_empty());
    b.page("/").await.has("alice"); // still signed in
                                    // The same encoded link from the site itself works: the route is the same.
    let res =
        b.http.get(b.url("/bob/%66ollow")).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(follows_of(&sys, "alice").await, ["bob"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_only_same_origin_fetch_metadata_is_trusted() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.sign_up("alice").await;
    let send = |site: Option<&str>, origin: Option<&str>, referer: Option<&str>, text: &str| {
        let mut req = b.http.post(b.url("/add_message")).form(&[("text", text)]);
        for (name, value) in [("sec-fetch-site", site), ("origin", origin), ("referer", referer)] {
            if let Some(value) = value {
                req = req.header(name, value);
            }
        }
        req.send()
    };
    let own = sys.address.clone();
    let (own_root, own_public) = (format!("{own}/"), format!("{own}/public"));
    let evil = Some("https://evil.example.org");
    let refused = [
        (Some("same-site"), evil, None),
        (Some("same-site"), Some(own.as_str()), None),
        (Some("cross-site"), Some(own.as_str()), None),
        (Some("bogus"), None, None),
        (None, evil, None),
        (None, None, Some("https://evil.example.org/page")),
        (None, evil, Some(own_root.as_str())),
    ];
    for (i, (site, origin, referer)) in refused.iter().enumerate() {
        let res = send(*site, *origin, *referer, &format!("forged {i}")).await.unwrap();
        assert_eq!(res.status(), 403, "{site:?} {origin:?} {referer:?}");
    }
    let accepted = [
        (Some("same-origin"), Some(own.as_str()), None),
        (Some("none"), None, None),
        (None, Some(own.as_str()), None),
        (None, None, Some(own_public.as_str())),
        (None, None, None),
    ];
    for (i, (site, origin, referer)) in accepted.iter().enumerate() {
        let res = send(*site, *origin, *referer, &format!("own {i}")).await.unwrap();
        assert_eq!(res.status(), 303, "{site:?} {origin:?} {referer:?}");
    }
    let page = b.page("/public").await;
    page.lacks("forged");
    for i in 0..accepted.len() {
        page.has(&format!("own {i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_series_stay_bounded_whatever_method_names_clients_invent() {
    let sys = spawn_system().await;
    for name in ["FOO", "BAR", "BAZ", "get"] {
        let method = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        for path in ["/", "/public", "/msgs", "/nowhere"] {
            let res = sys.client.request(method.clone(), sys.url(path)).send().await.unwrap();
            assert!(res.status().is_client_error(), "{name} {path}: {}", res.status());
        }
    }
    let text = sys.client.get(sys.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{") || l.starts_with("http_request_duration_seconds"))
        .collect();
    for name in ["FOO", "BAR", "BAZ", "get"] {
        assert!(
            !series.iter().any(|l| l.contains(&format!("method=\"{name}\""))),
            "{name} has its own series"
        );
    }
    let other: f64 = series
        .iter()
        .filter(|l| l.starts_with("http_requests_total{") && l.contains("method=\"OTHER\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(other, 16.0, "{series:#?}");
}

/// A 4xx or a 200 page, never a 5xx or the "service unavailable" page.
#[track_caller]
fn refused_cleanly(page: &crate::web::Page) {
    assert!(page.status < 500, "{} answered {}:\n{}", page.path, page.status, page.html);
    page.lacks("Temporarily unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_never_reach_a_database_through_web_or_sim_routes() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    // Web forms (the review's reproduction: a 503 page).
    let page = b.login("a\0b", "x").await;
    refused_cleanly(&page);
    page.has("Invalid username");
    let page = b.register("a\0b").await;
    refused_cleanly(&page);
    page.has("The username may not contain");
    b.sign_up("alice").await;
    let page = b.post_message("a\0b").await;
    refused_cleanly(&page);
    let page = b.page("/a%00b").await;
    assert_eq!(page.status, 404);
    let page = b.page("/a%00b/follow").await;
    assert_eq!(page.status, 404);
    b.page("/public").await.lacks("a\0b");
    // The simulator API.
    let res = post(&sys, "/register", &json!({"username": "a\0b", "email": "a@b", "pwd": "x"})).await;
    assert_eq!(res.status(), 400);
    register(&sys, "bob").await;
    let res = post(&sys, "/msgs/bob", &json!({"content": "a\0b"})).await;
    assert_eq!(res.status(), 400);
    let res = post(&sys, "/fllws/bob", &json!({"follow": "a\0b"})).await;
    assert_eq!(res.status(), 404);
    for path in ["/msgs/a%00b", "/fllws/a%00b"] {
        assert_eq!(get(&sys, path).await.status(), 404, "{path}");
    }
    assert_eq!(post(&sys, "/msgs/a%00b", &json!({"content": "x"})).await.status(), 404);
    // The services themselves, called directly.
    let res = sys.client.get(format!("{}/users/by-name/a%00b", sys.users.url())).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_cannot_impersonate_with_invisible_or_reordering_characters() {
    let sys = spawn_system().await;
    register(&sys, "admin").await;
    let b = Browser::new(&sys);
    for name in
        ["admin ", " admin", "ad\u{200B}min", "nimda\u{202E}", "\u{2066}admin\u{2069}", "admin\u{00A0}"]
    {
        let page = b.register(name).await;
        refused_cleanly(&page);
        page.has("The username may not begin or end with a space, nor contain invisible");
        let res = post(&sys, "/register", &json!({"username": name, "email": "x@y", "pwd": "x"})).await;
        assert_eq!(res.status(), 400, "{name:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["error_msg"].as_str().unwrap().contains("invisible"), "{body}");
    }
    // One name, two spellings: é composed (U+00E9) and e + combining acute (U+0301).
    register(&sys, "Jos\u{E9}").await;
    let res = post(&sys, "/register", &json!({"username": "Jose\u{301}", "email": "x@y", "pwd": "x"})).await;
    assert_eq!(res.status(), 400, "the second spelling is the same, taken name");
    let page = b.register("Jose\u{301}").await;
    page.has("The username is already taken");
    for path in ["/msgs/Jos%C3%A9", "/msgs/Jose%CC%81"] {
        assert_eq!(get(&sys, path).await.status(), 200, "{path}");
    }
    b.page("/Jose%CC%81").await.status(200).has("Jos\u{E9}");
    b.sign_up("Ren\u{E9}e").await;
    let b2 = Browser::new(&sys);
    b2.login("Rene\u{301}e", "default").await.has("You were logged in");
}

/// The gateway binary with exactly `env` (and a free port), its exit status and output
/// once it has stopped or answered /health.
async fn start_binary(env: &[(&str, &str)]) -> (Option<i32>, String) {
    minitwit_kit::testing::start_up::start_binary(env!("CARGO_BIN_EXE_gateway"), "GATEWAY", env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_to_start_on_published_credentials_or_an_open_allow_list() {
    let dir = std::env::temp_dir().join(format!("gateway-production-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (auth, key) = (dir.join("sim_authorization"), dir.join("session_key"));
    std::fs::write(&auth, "Basic b3duOnNlY3JldA==\n").unwrap();
    std::fs::write(&key, "k".repeat(64)).unwrap();
    let (auth, key) = (auth.to_str().unwrap(), key.to_str().unwrap());
    let all = [
        ("GATEWAY_SIM__AUTHORIZATION_FILE", auth),
        ("GATEWAY_SIM__ALLOW_LIST", "198.51.100.7,2001:db8::/32"),
        ("GATEWAY_SESSION__KEY_FILE", key),
    ];

    // Development: every fallback is fine.
    assert_eq!(start_binary(&[]).await, (None, "running".into()));
    // Production with nothing set names every missing setting.
    let (code, out) = start_binary(&[("GATEWAY_PRODUCTION", "true")]).await;
    assert_eq!(code, Some(1), "{out}");
    for name in [
        "GATEWAY_PRODUCTION",
        "GATEWAY_SIM__AUTHORIZATION_FILE",
        "GATEWAY_SIM__ALLOW_LIST",
        "GATEWAY_SESSION__KEY_FILE",
    ] {
        assert!(out.contains(name), "{name} not named in: {out}");
    }
    // Each one missing alone is enough to refuse, and is the one named.
    for skip in 0..all.len() {
        let mut env = vec![("GATEWAY_PRODUCTION", "true")];
        env.extend(all.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, kv)| *kv));
        let (code, out) = start_binary(&env).await;
        assert_eq!(code, Some(1), "without {}: {out}", all[skip].0);
        assert!(out.contains(all[skip].0), "{out}");
    }
    // A plain value instead of the credential file is not enough, nor an empty list.
    let mut env = vec![("GATEWAY_PRODUCTION", "true"), ("GATEWAY_SIM__AUTHORIZATION", "Basic eDp5")];
    env.extend(all.iter().skip(1).copied());
    assert_eq!(start_binary(&env).await.0, Some(1));
    let mut env = vec![("GATEWAY_PRODUCTION", "true"), ("GATEWAY_SIM__ALLOW_LIST", " ")];
    env.extend([all[0], all[2]]);
    assert_eq!(start_binary(&env).await.0, Some(1));
    // A credential file whose password is empty (an unset variable when the secret was
    // made: `simulator:`) is refused, naming why.
    let empty = dir.join("empty_password");
    std::fs::write(&empty, "Basic c2ltdWxhdG9yOg==\n").unwrap();
    let mut env =
        vec![("GATEWAY_PRODUCTION", "true"), ("GATEWAY_SIM__AUTHORIZATION_FILE", empty.to_str().unwrap())];
    env.extend(all.iter().skip(1).copied());
    let (code, out) = start_binary(&env).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the password is empty"), "{out}");
    // With all of them it starts.
    let mut env = vec![("GATEWAY_PRODUCTION", "true")];
    env.extend(all);
    assert_eq!(start_binary(&env).await, (None, "running".into()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_allow_list_network_stops_the_start_naming_the_setting() {
    for bad in ["10.0.0.0/33", "10.0.0/8", "2001:db8::/129", "::ffff:10.0.0.0/95", "localhost"] {
        let (code, out) = start_binary(&[("GATEWAY_SIM__ALLOW_LIST", &format!("127.0.0.1,{bad}"))]).await;
        assert_eq!(code, Some(1), "{bad}: {out}");
        assert!(out.contains("sim.allow_list") && out.contains(bad), "{bad}: {out}");
    }
    // The settings' syntax as before: addresses, networks of both families, mapped
    // IPv4, spaces around entries.
    let good = "127.0.0.1, 10.0.0.0/8 ,2001:db8::/32,::1,::ffff:192.168.0.0/112";
    assert_eq!(start_binary(&[("GATEWAY_SIM__ALLOW_LIST", good)]).await, (None, "running".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_token_no_header_can_carry_stops_the_start_naming_the_setting() {
    let dir = std::env::temp_dir().join(format!("gateway-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (split, trailing) = (dir.join("split"), dir.join("trailing"));
    std::fs::write(&split, "secret-part-one\nsecret-part-two\n").unwrap();
    std::fs::write(&trailing, "secret-token-value\n").unwrap();
    let (split, trailing) = (split.to_str().unwrap(), trailing.to_str().unwrap());
    for (name, value) in [
        ("GATEWAY_SERVICES__TOKEN", "secret-part-one\nsecret-part-two"),
        ("GATEWAY_SERVICES__TOKEN", "secret-part-one\rsecret-part-two"),
        ("GATEWAY_SERVICES__TOKEN", "secret-part-one\u{7f}secret-part-two"),
        ("GATEWAY_SERVICES__TOKEN_FILE", split),
    ] {
        let (code, out) = start_binary(&[(name, value)]).await;
        assert_eq!(code, Some(1), "{name}={value:?}: {out}");
        assert!(out.contains("services.token"), "{name}={value:?}: {out}");
        assert!(!out.contains("secret-part"), "the token is not printed: {out}");
    }
    // A secret file's final newline is not part of the token; a plain token starts.
    for (name, value) in
        [("GATEWAY_SERVICES__TOKEN_FILE", trailing), ("GATEWAY_SERVICES__TOKEN", "abc.DEF-123_~+/=")]
    {
        assert_eq!(start_binary(&[(name, value)]).await, (None, "running".into()), "{name}={value:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Signs `name` (password `default`) in without a cookie jar: the session cookie, as
/// anyone who copied it would hold it.
async fn session_cookie(sys: &TestSystem, name: &str) -> String {
    let res = sys
        .client
        .post(sys.url("/login"))
        .form(&[("username", name), ("password", "default")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let set = res.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// Whether `cookie` opens "My Timeline".
async fn opens_my_timeline(sys: &TestSystem, cookie: &str) -> bool {
    let res = sys.client.get(sys.url("/")).header("cookie", cookie).send().await.unwrap();
    match res.status().as_u16() {
        200 => {
            assert!(res.text().await.unwrap().contains("My Timeline"));
            true
        }
        302 => false,
        other => panic!("GET / answered {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_copied_before_logout_opens_nothing_after_it() {
    let sys = spawn_system().await;
    Browser::new(&sys).register("alice").await;
    let copied = session_cookie(&sys, "alice").await;
    assert!(opens_my_timeline(&sys, &copied).await);
    let elsewhere = Browser::new(&sys);
    elsewhere.login("alice", "default").await.has("My Timeline");

    let res = sys.client.post(sys.url("/logout")).header("cookie", &copied).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(!opens_my_timeline(&sys, &copied).await, "the copy still opens My Timeline");
    let res = sys
        .client
        .post(sys.url("/add_message"))
        .header("cookie", &copied)
        .form(&[("text", "replayed")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Logging out ends every session of the user; signing in again works.
    elsewhere.page("/").await.lacks("My Timeline");
    elsewhere.login("alice", "default").await.has("My Timeline");
    let fresh = session_cookie(&sys, "alice").await;
    assert!(opens_my_timeline(&sys, &fresh).await);
    assert!(!opens_my_timeline(&sys, &copied).await);
    sys.client.get(sys.url("/public")).send().await.unwrap();
    Browser::new(&sys).page("/public").await.lacks("replayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ends_when_idle_too_long() {
    let sys =
        spawn_system_with(minitwit_kit::testing::Backend::Postgres, |s| s.session.idle_timeout_s = 3).await;
    let b = Browser::new(&sys);
    b.sign_up("alice").await;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        b.page("/").await.has("My Timeline"); // each use keeps it alive
    }
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    b.page("/").await.lacks("My Timeline").has("Public Timeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ends_after_the_absolute_timeout_however_used() {
    let sys = spawn_system_with(minitwit_kit::testing::Backend::Postgres, |s| {
        s.session.idle_timeout_s = 4;
        s.session.absolute_timeout_s = 6;
    })
    .await;
    let b = Browser::new(&sys);
    b.sign_up("alice").await;
    for second in 1..=6 {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        let page = b.page("/").await;
        if second <= 4 {
            page.has("My Timeline");
        } else if second == 6 {
            page.lacks("My Timeline");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_and_scripted_sign_ups_are_throttled_per_address() {
    let sys = spawn_system_with(minitwit_kit::testing::Backend::Postgres, |s| {
        s.web.form_throttle_per_minute = 2;
        s.web.form_throttle_burst = 3;
        s.sim.allow_list = vec!["10.9.8.7".into()];
    })
    .await;
    let form_post = |path: &'static str, from: &'static str, name: &str| {
        sys.client
            .post(sys.url(path))
            .header("x-forwarded-for", from)
            .form(&[
                ("username", name),
                ("password", "guess"),
                ("email", "g@example.com"),
                ("password2", "guess"),
            ])
            .send()
    };
    // A burst of three form posts (sign-in and sign-up count together), then 429.
    for (i, path) in ["/login", "/register", "/login"].into_iter().enumerate() {
        let res = form_post(path, "192.0.2.1", &format!("guess{i}")).await.unwrap();
        assert!(res.status().as_u16() < 400 || res.status() == 422, "{path}: {}", res.status());
    }
    for path in ["/login", "/register"] {
        let res = form_post(path, "192.0.2.1", "one more").await.unwrap();
        assert_eq!(res.status(), 429, "{path}");
        let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&wait), "Retry-After: {wait}");
        assert!(res.text().await.unwrap().contains("Too many attempts"));
    }
    // The sign-up throttled above did not happen.
    let res = sys.client.get(sys.url("/one%20more")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    // Reading the forms is not counted; other addresses have their own allowance.
    let res = sys.client.get(sys.url("/login")).header("x-forwarded-for", "192.0.2.1").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = form_post("/login", "192.0.2.2", "someone").await.unwrap();
    assert_ne!(res.status(), 429);
    // The simulator's allow-listed address is never throttled.
    for i in 0..12 {
        let res = form_post("/login", "10.9.8.7", &format!("sim{i}")).await.unwrap();
        assert_ne!(res.status(), 429, "allow-listed post {i}");
    }
}
