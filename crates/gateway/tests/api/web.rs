//! The web UI over HTTP, as a browser (or the course's UI tests) uses it: register,
//! sign in and out, post, follow and unfollow, the three timelines, flash texts,
//! escaping, pagination, and the cross-site refusal.

use md5::{Digest, Md5};
use minitwit_kit::testing::Backend;
use reqwest::{header, Response};

use crate::helpers::*;

/// One browser: its own cookie jar; redirects followed by hand so they can be checked.
pub struct Browser {
    base: String,
    pub http: reqwest::Client,
}

/// A page after all redirects: the final status, address and HTML.
pub struct Page {
    pub status: u16,
    pub path: String,
    pub html: String,
}

impl Page {
    #[track_caller]
    pub fn has(&self, needle: &str) -> &Self {
        self.shows(needle, true)
    }

    #[track_caller]
    pub fn lacks(&self, needle: &str) -> &Self {
        self.shows(needle, false)
    }

    #[track_caller]
    fn shows(&self, needle: &str, expected: bool) -> &Self {
        let (path, status, html) = (&self.path, self.status, &self.html);
        let is = if expected { "is not" } else { "is" };
        assert_eq!(html.contains(needle), expected, "{needle:?} {is} on {path} ({status}):\n{html}");
        self
    }

    #[track_caller]
    pub fn status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "status of {}:\n{}", self.path, self.html);
        self
    }
}

impl Browser {
    pub fn new(sys: &TestSystem) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        Self { base: sys.address.clone(), http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http.post(self.url(path)).form(form).send().await.expect("request sent")
    }

    /// Follows the redirects of `res` to the final page.
    pub async fn land(&self, mut res: Response) -> Page {
        for _ in 0..5 {
            if !res.status().is_redirection() {
                break;
            }
            let location = res.headers()[header::LOCATION].to_str().unwrap().to_string();
            assert!(location.starts_with('/'), "redirects stay on the site: {location}");
            res = self.get(&location).await;
        }
        let status = res.status().as_u16();
        let path = res.url().path().to_string();
        Page { status, path, html: res.text().await.unwrap() }
    }

    pub async fn page(&self, path: &str) -> Page {
        let res = self.get(path).await;
        self.land(res).await
    }

    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self.post(path, form).await;
        self.land(res).await
    }

    pub async fn register_with(&self, username: &str, email: &str, password: &str, password2: &str) -> Page {
        self.submit(
            "/register",
            &[("username", username), ("email", email), ("password", password), ("password2", password2)],
        )
        .await
    }

    pub async fn register(&self, username: &str) -> Page {
        self.register_with(
            username,
            &format!("{}@example.com", username.replace(' ', ".")),
            "default",
            "default",
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.submit("/login", &[("username", username), ("password", password)]).await
    }

    /// Registers `username` (password `default`) and signs in.
    pub async fn sign_up(&self, username: &str) {
        self.register(username).await.status(200).has("You were successfully registered and can login now");
        self.login(username, "default").await.status(200).has("You were logged in");
    }

    pub async fn post_message(&self, text: &str) -> Page {
        self.submit("/add_message", &[("text", text)]).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_then_each_error_in_order() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    let form = b.page("/register").await;
    form.status(200).has("Sign Up").has(r#"name="password2""#).has(r#"class="actions""#);

    let page = b.register_with("user1", "user1@example.com", "default", "default").await;
    page.status(200).has("You were successfully registered and can login now");
    assert_eq!(page.path, "/login");
    assert_eq!(
        b.page("/login").await.html.matches("successfully registered").count(),
        0,
        "a flash shows once"
    );

    let cases = [
        ("user1", "x@example.com", "default", "default", "The username is already taken"),
        ("", "x@example.com", "default", "default", "You have to enter a username"),
        ("user2", "", "default", "default", "You have to enter a valid email address"),
        ("user2", "no-at-sign", "default", "default", "You have to enter a valid email address"),
        ("user2", "u2@example.com", "", "", "You have to enter a password"),
        ("user2", "u2@example.com", "default", "other", "The two passwords do not match"),
        // In the original's order: the first problem is reported.
        ("", "bad", "", "x", "You have to enter a username"),
        ("user2", "bad", "", "x", "You have to enter a valid email address"),
        ("user2", "u2@example.com", "", "x", "You have to enter a password"),
        ("public", "u2@example.com", "a", "a", "The username is already taken"),
    ];
    for (username, email, password, password2, error) in cases {
        let page = b.register_with(username, email, password, password2).await;
        page.status(422).has(&format!("<strong>Error:</strong> {error}")).lacks("successfully registered");
        assert_eq!(page.path, "/register");
    }
    // The form keeps what was typed (escaped), but never the passwords.
    b.register_with("<x>", "a\"b", "secret", "secret")
        .await
        .has(r#"value="&lt;x&gt;""#)
        .has(r#"value="a&#34;b""#)
        .lacks("secret");
    // The course's own test data registers fine.
    b.register_with("a", "a@a.a", "a", "a").await.status(200).has("You were successfully registered");
    b.register_with("test", "test@test", "foo", "foo")
        .await
        .status(200)
        .has("You were successfully registered");
}

/// An account imported from a legacy MiniTwit (`minitwit-admin import` writes it with
/// user-service's bulk function) signs in on the login page with its old Werkzeug
/// password; the hash is upgraded behind the page, and the old password keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_legacy_user_signs_in_with_the_old_password() {
    use user_service::bulk::{self, BulkUser, Scheme};
    let sys = spawn_system().await;
    // Made by Werkzeug 3.1.9 (crates/user-service/tests/fixtures/make_legacy_hashes.sh).
    let hash = "pbkdf2:sha256:1000$6w9NpOXccwIuopLv$8edb6f1136ed2f105ca11d9e6b3b7522c3faa04af943f5838ab0f6f775cd363a";
    let user = BulkUser {
        id: 100,
        username: "old timer".into(),
        email: "old@example.com".into(),
        pw_hash: hash.into(),
        pw_scheme: Scheme::detect(hash),
        created_at: 1_300_000_000,
    };
    bulk::insert_users(&mut bulk::open(&sys.users.db.url).unwrap(), [user]).unwrap();
    let b = Browser::new(&sys);
    b.login("old timer", "short pbkdf2!").await.status(422).has("<strong>Error:</strong> Invalid password");
    b.login("old timer", "short pbkdf2")
        .await
        .status(200)
        .has("You were logged in")
        .has("sign out [old timer]");
    let other = Browser::new(&sys);
    other.login("old timer", "short pbkdf2").await.status(200).has("You were logged in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_errors_then_login_and_logout() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.register("user1").await.status(200);

    b.page("/login").await.status(200).has("Sign In");
    b.login("nobody", "default").await.status(422).has("<strong>Error:</strong> Invalid username");
    b.login("", "default").await.status(422).has("<strong>Error:</strong> Invalid username");
    b.login("user1", "wrong").await.status(422).has("<strong>Error:</strong> Invalid password");
    b.login("user1", "").await.status(422).has("<strong>Error:</strong> Invalid password");
    // An empty password tells an unknown user first, as the original did.
    b.login("nobody", "").await.status(422).has("<strong>Error:</strong> Invalid username");
    // Not signed in: my timeline is the public one.
    let res = b.get("/").await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()[header::LOCATION], "/public");

    let page = b.login("user1", "default").await;
    page.status(200).has("You were logged in").has("My Timeline").has("sign out [user1]");
    assert_eq!(page.path, "/");
    // Signed in: the login and register pages lead home.
    for path in ["/login", "/register"] {
        let res = b.get(path).await;
        assert_eq!(res.status(), 302, "{path}");
        assert_eq!(res.headers()[header::LOCATION], "/");
    }

    let page = b.page("/logout").await;
    page.status(200).has("You were logged out").has("Public Timeline").lacks("sign out");
    assert_eq!(page.path, "/public");
    assert_eq!(b.get("/").await.status(), 302);

    // The page's own sign-out button posts.
    b.login("user1", "default").await.has("You were logged in");
    let page = b.submit("/logout", &[]).await;
    page.status(200).has("You were logged out");
    assert_eq!(b.get("/").await.status(), 302);
}

/// No database stores a NUL: the domain types refuse it on every path, so a form with
/// one is a form error, never "service unavailable" (issue 12, finding 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_in_forms_are_form_errors_not_unavailable() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.sign_up("nul").await;
    b.post_message("a\0b").await.status(200).has("The message may not contain NUL characters");
    b.post_message("tab\tand\nnewline").await.status(200).has("Your message was recorded");
    let anonymous = Browser::new(&sys);
    anonymous.login("a\0b", "default").await.status(422).has("<strong>Error:</strong> Invalid username");
    anonymous.login("nul", "a\0b").await.status(422).has("<strong>Error:</strong> Invalid password");
    anonymous.register("a\0b").await.status(422).has("The username may not contain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_are_http_only_and_lax_and_secure_when_asked() {
    async fn cookie(sys: &TestSystem) -> String {
        let b = Browser::new(sys);
        b.register("user1").await;
        let res = b.post("/login", &[("username", "user1"), ("password", "default")]).await;
        assert_eq!(res.status(), 303);
        res.headers()[header::SET_COOKIE].to_str().unwrap().to_string()
    }
    let plain = cookie(&spawn_system().await).await;
    assert!(plain.starts_with("minitwit_session="), "{plain}");
    assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"), "{plain}");
    assert!(!plain.contains("Secure"), "{plain}");
    let key = "k".repeat(64);
    let secure = cookie(
        &spawn_system_with(Backend::Postgres, |s| {
            s.session.secure = true;
            s.session.key = Some(key.into());
        })
        .await,
    )
    .await;
    assert!(secure.contains("Secure") && secure.contains("HttpOnly"), "{secure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_posted_and_escaped() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.sign_up("foo").await;
    b.page("/")
        .await
        .has("There's no message so far.")
        .has("What's on your mind foo?")
        .has(r#"value="Share""#);

    let page = b.post_message("test message 1").await;
    page.status(200).has("Your message was recorded").has("test message 1");
    assert_eq!(page.path, "/");
    b.post_message("<test message 2>").await.has("&lt;test message 2&gt;").lacks("<test message 2>");
    b.post_message(r#"<b>bold</b> "quoted" & 'single' a/b"#)
        .await
        .has("&lt;b&gt;bold&lt;/b&gt; &#34;quoted&#34; &amp; &#39;single&#39; a/b");
    for path in ["/", "/public", "/foo"] {
        b.page(path).await.status(200).has("test message 1").has("&lt;test message 2&gt;").lacks("<b>bold");
    }

    // An empty or blank text posts nothing and says nothing.
    for text in ["", "   "] {
        let page = b.post_message(text).await;
        page.status(200).lacks("Your message was recorded");
    }
    assert_eq!(b.page("/public").await.html.matches(r#"<li class="message">"#).count(), 3);
    // Too long: refused with a reason.
    b.post_message(&"x".repeat(1001)).await.has("Your message was not recorded").lacks(&"x".repeat(1001));

    // Anyone can read the public timeline and a user's page.
    let anonymous = Browser::new(&sys);
    anonymous.page("/public").await.status(200).has("test message 1").has("sign in");
    anonymous.page("/foo").await.status(200).has("test message 1").lacks("This is you!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelines_before_and_after_follow_and_unfollow() {
    let sys = spawn_system().await;
    let foo = Browser::new(&sys);
    foo.sign_up("foo").await;
    foo.post_message("the message by foo").await;
    let b = Browser::new(&sys);
    b.sign_up("bar").await;
    b.post_message("the message by bar").await;

    b.page("/").await.has("the message by bar").lacks("the message by foo");
    b.page("/public").await.has("the message by bar").has("the message by foo");
    b.page("/bar").await.has("bar&#39;s Timeline").has("This is you!").lacks("the message by foo");
    b.page("/foo")
        .await
        .has("foo&#39;s Timeline")
        .has("You are not yet following this user.")
        .has(r#"action="/foo/follow" method="post""#)
        .has("the message by foo")
        .lacks("the message by bar");

    // The legacy GET link, as the course's tests use it.
    let page = b.page("/foo/follow").await;
    page.status(200).has("You are now following &#34;foo&#34;").has("You are currently following this user.");
    assert_eq!(page.path, "/foo");
    b.page("/").await.has("the message by foo").has("the message by bar");
    b.page("/bar").await.has("the message by bar").lacks("the message by foo");
    b.page("/foo")
        .await
        .has("the message by foo")
        .lacks("the message by bar")
        .has(r#"action="/foo/unfollow""#);
    // Following is one way.
    foo.page("/").await.lacks("the message by bar");

    let page = b.page("/foo/unfollow").await;
    page.status(200)
        .has("You are no longer following &#34;foo&#34;")
        .has("You are not yet following this user.");
    b.page("/").await.lacks("the message by foo").has("the message by bar");

    // The page's buttons post, and land on the user's page with a 303.
    let res = b.post("/foo/follow", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[header::LOCATION], "/foo");
    b.land(res).await.has("You are now following &#34;foo&#34;");
    b.page("/").await.has("the message by foo");
    b.submit("/foo/unfollow", &[]).await.has("You are no longer following &#34;foo&#34;");
    b.page("/").await.lacks("the message by foo");

    // Unknown users: an HTML 404 page, for pages and actions.
    let page = b.page("/nobody").await;
    page.status(404).has("There is no user called &#34;nobody&#34;.").has("<html");
    b.page("/nobody/follow").await.status(404);
    b.submit("/nobody/unfollow", &[]).await.status(404);
    b.page("/favicon.ico").await.status(404);
    // Following yourself does nothing but say so.
    b.page("/bar/follow").await.status(200).has("You cannot follow yourself").has("This is you!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_and_following_need_a_signed_in_user() {
    let sys = spawn_system().await;
    Browser::new(&sys).register("foo").await;
    let b = Browser::new(&sys);
    let res = b.post("/add_message", &[("text", "sneaky")]).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("Please sign in"));
    for path in ["/foo/follow", "/foo/unfollow", "/nobody/follow"] {
        assert_eq!(b.get(path).await.status(), 401, "GET {path}");
        assert_eq!(b.post(path, &[]).await.status(), 401, "POST {path}");
    }
    b.page("/public").await.lacks("sneaky");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_that_change_state_are_refused() {
    let sys = spawn_system().await;
    Browser::new(&sys).register("foo").await;
    let b = Browser::new(&sys);
    b.sign_up("bar").await;
    let host = sys.address.trim_start_matches("http://").to_string();
    let post = |headers: &[(&'static str, String)], text: &str| {
        let mut req = b.http.post(b.url("/add_message")).form(&[("text", text)]);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        req.send()
    };

    let refused = [
        vec![("sec-fetch-site", "cross-site".to_string())],
        vec![("sec-fetch-site", "cross-site".to_string()), ("origin", sys.address.clone())],
        vec![("sec-fetch-site", "same-site".to_string())],
        vec![("origin", "http://evil.example".to_string())],
        vec![("origin", "null".to_string())],
        vec![("origin", format!("http://{host}.evil.example"))],
        vec![("referer", "http://evil.example/page".to_string())],
    ];
    for headers in &refused {
        let res = post(headers, "forged").await.unwrap();
        assert_eq!(res.status(), 403, "{headers:?}");
        assert!(res.text().await.unwrap().contains("Request refused"));
    }
    let res = b.http.get(b.url("/foo/follow")).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = b.http.post(b.url("/logout")).header("origin", "http://evil.example").send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = b.http.post(b.url("/login")).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(res.status(), 403);
    b.page("/public").await.lacks("forged");
    b.page("/foo").await.has("You are not yet following this user.");
    // Reading pages from anywhere is fine.
    let res = b.http.get(b.url("/public")).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(res.status(), 200);

    let accepted = [
        vec![("sec-fetch-site", "same-origin".to_string()), ("origin", sys.address.clone())],
        vec![("sec-fetch-site", "none".to_string())],
        vec![("origin", sys.address.clone())],
        vec![("referer", format!("{}/", sys.address))],
        vec![],
    ];
    for (i, headers) in accepted.iter().enumerate() {
        let res = post(headers, &format!("same site {i}")).await.unwrap();
        assert_eq!(res.status(), 303, "{headers:?}");
    }
    let page = b.page("/public").await;
    for i in 0..accepted.len() {
        page.has(&format!("same site {i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelines_page_by_30_with_an_older_messages_link() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.sign_up("writer").await;
    for i in 0..32 {
        b.post_message(&format!("note #{i:02}#")).await.status(200);
    }
    for path in ["/", "/public", "/writer"] {
        let first = b.page(path).await;
        assert_eq!(first.html.matches(r#"<li class="message">"#).count(), 30, "{path}");
        first
            .has("note #31#")
            .has("note #02#")
            .lacks("note #01#")
            .lacks("note #00#")
            .lacks("newest messages");
        let older =
            first.html.split(r#"class="button secondary older" href=""#).nth(1).expect("an older link");
        let older = older.split('"').next().unwrap().replace("&amp;", "&");
        assert!(older.starts_with(&format!("{path}?before=")), "{older}");
        let second = b.page(&older).await;
        second.status(200).has("note #01#").has("note #00#").lacks("note #02#").has("newest messages");
        assert_eq!(second.html.matches(r#"<li class="message">"#).count(), 2, "{path}");
        second.lacks("older messages");
    }
    b.page("/public?before=garbage").await.status(400);
    b.page("/public?before=").await.status(200).has("note #31#");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_show_gravatar_author_link_and_utc_date() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    b.register_with("Roger Histand", "  Roger.Histand@Example.COM ", "default", "default").await.status(200);
    b.login("Roger Histand", "default").await.status(200);
    let before = chrono::Utc::now();
    b.post_message("hello").await.status(200);
    let after = chrono::Utc::now();

    let hash = hex::encode(Md5::digest(b"roger.histand@example.com"));
    let page = b.page("/public").await;
    page.has(&format!(r#"src="https://www.gravatar.com/avatar/{hash}?d=identicon&amp;s=48""#))
        .has(r#"<a href="/Roger%20Histand">Roger Histand</a>"#);
    let dates = [before, after].map(|t| t.format("%Y-%m-%d @ %H:%M").to_string());
    assert!(
        dates.iter().any(|d| page.html.contains(&format!(">{d}</time>"))),
        "{dates:?} not in\n{}",
        page.html
    );

    b.page("/Roger%20Histand").await.status(200).has("Roger Histand&#39;s Timeline").has("hello");
    let other = Browser::new(&sys);
    other.sign_up("other").await;
    other.page("/Roger%20Histand/follow").await.has("You are now following &#34;Roger Histand&#34;");
    assert_eq!(
        other.post("/Roger%20Histand/unfollow", &[]).await.headers()[header::LOCATION],
        "/Roger%20Histand"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stylesheet_is_served_with_a_long_cache_and_pages_carry_security_headers() {
    let sys = spawn_system().await;
    let b = Browser::new(&sys);
    let page = b.get("/public").await;
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let html = page.text().await.unwrap();
    let href = html.split(r#"<link rel="stylesheet" href=""#).nth(1).unwrap().split('"').next().unwrap();
    assert!(href.starts_with("/static/style.css?v="), "{href}");
    let css = b.get(href).await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
    assert!(css.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("max-age=31536000"));
    assert!(css.text().await.unwrap().contains(".messages"));
    assert!(!html.contains(r#"href="http"#) && !html.contains(r#"src="http"#), "no external assets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_policy_is_a_setting() {
    let sys = spawn_system_with(Backend::Postgres, |s| s.web.password_policy = true).await;
    let b = Browser::new(&sys);
    b.page("/register").await.has("at least 12 characters");
    b.register_with("user1", "u@example.com", "default", "default")
        .await
        .status(422)
        .has("Error:</strong> The password must have at least 12 characters");
    b.register_with("user1", "u@example.com", "password1234", "password1234")
        .await
        .status(422)
        .has("too common");
    // Made of the name and email: too easy for zxcvbn, which is told them.
    b.register_with("zebulonwhitcombe", "zw@example.com", "Zebulonwhitcombe!", "Zebulonwhitcombe!")
        .await
        .status(422)
        .has("too common");
    b.register_with("user1", "u@example.com", "default", "other").await.has("The two passwords do not match");
    b.register_with("user1", "u@example.com", "violet lamp under rain", "violet lamp under rain")
        .await
        .status(200)
        .has("You were successfully registered");
    // The simulator's register is not the page's: its contract takes any password.
    let res = sys
        .client
        .post(sys.url("/register"))
        .json(&serde_json::json!({"username": "simuser", "email": "s@s", "pwd": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_register_is_the_web_form_for_forms_and_the_sim_api_for_json() {
    let sys = spawn_system().await;
    let res = sys
        .client
        .post(sys.url("/register"))
        .json(&serde_json::json!({"username": "simuser", "email": "s@s", "pwd": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let b = Browser::new(&sys);
    b.register_with("simuser", "s@s", "x", "x").await.status(422).has("The username is already taken");
    b.login("simuser", "x").await.status(200).has("You were logged in");
    // A multipart form reaches the web UI, which asks for a plain form.
    let res = sys
        .client
        .post(sys.url("/register"))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body("--x--")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("The form could not be read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_head_with_headers_and_no_body() {
    let sys = spawn_system().await;
    for path in ["/public", "/login", "/register"] {
        let res = sys.client.head(sys.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "HEAD {path}");
        assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "{path}");
        assert!(res.bytes().await.unwrap().is_empty(), "HEAD {path} has no body");
    }
    let res = sys.client.head(sys.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 302, "HEAD / redirects a visitor like GET does");
    let res = sys.client.head(sys.url("/nobody%20here")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
