//! Rendering pages: the Tera templates (embedded in the binary, so it runs from any
//! directory), the original MiniTwit's HTML escaping, the stylesheet, and how one
//! message is shown (gravatar, date, link to its author).

use std::sync::{LazyLock, OnceLock};

use actix_web::{http::StatusCode, HttpResponse};
use chrono::DateTime;
use md5::{Digest, Md5};
use minitwit_api::{message::Message, user::User};
use serde::Serialize;
use tera::{Context, Tera};

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("timeline.html", include_str!("../../templates/timeline.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("register.html", include_str!("../../templates/register.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

/// The one stylesheet, served at [`STYLE_PATH`].
pub const STYLE: &str = include_str!("../../static/style.css");
pub const STYLE_PATH: &str = "/static/style.css";

/// The stylesheet's address with a version from its content, so browsers may cache it
/// for a year and still fetch a changed one at once.
pub static STYLE_URL: LazyLock<String> =
    LazyLock::new(|| format!("{STYLE_PATH}?v={}", &hex::encode(Md5::digest(STYLE.as_bytes()))[..12]));

static TERA: OnceLock<Tera> = OnceLock::new();

/// The parsed templates, parsed on first use. Fails only if a template is broken.
pub fn templates() -> anyhow::Result<&'static Tera> {
    if let Some(tera) = TERA.get() {
        return Ok(tera);
    }
    let mut tera = Tera::default();
    tera.add_raw_templates(TEMPLATES.iter().copied())?;
    tera.autoescape_on(vec![".html"]);
    tera.set_escape_fn(escape_html);
    Ok(TERA.get_or_init(|| tera))
}

/// Escapes as the original's template engine did: `& < > " '` and nothing else
/// (Tera's own escaper also rewrites `/`, and writes `&quot;` where the original wrote
/// `&#34;`; the course's UI tests look for the original's bytes).
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `template` with `ctx` into an HTML response with `status`.
pub fn html(status: StatusCode, template: &str, ctx: &Context) -> anyhow::Result<HttpResponse> {
    let body = templates()?.render(template, ctx)?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// Who is looking at a page, as every page shows it: the signed-in user (or none) and
/// the flash messages waiting for them. The session's `Visitor` is one; rendering needs
/// no more of the session than this.
pub trait Viewer {
    fn viewer(&self) -> Option<&impl Serialize>;
    /// The flash messages waiting; they are gone after this.
    fn take_flashes(&self) -> Vec<String>;
}

/// A page about to be rendered: its template and what it shows. [`Page::render`] adds
/// what every page shows (who is signed in, the flash messages, the stylesheet).
pub struct Page {
    template: &'static str,
    status: StatusCode,
    ctx: Context,
}

impl Page {
    pub fn new(template: &'static str) -> Self {
        Self { template, status: StatusCode::OK, ctx: Context::new() }
    }

    pub fn with(mut self, key: &str, value: &(impl Serialize + ?Sized)) -> Self {
        self.ctx.insert(key, value);
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The page for `visitor` (who is signed in, and their flash messages).
    pub fn render(self, visitor: &impl Viewer) -> anyhow::Result<HttpResponse> {
        self.render_for(visitor.viewer(), &visitor.take_flashes())
    }

    /// The page for no one in particular: no one signed in, no flash messages (error
    /// pages, which must render even when the session cannot be read).
    pub fn render_anonymous(self) -> anyhow::Result<HttpResponse> {
        self.render_for(None::<&()>, &[])
    }

    /// The page with what every page shows: who is signed in (`viewer`), the flash
    /// messages, the stylesheet, the current menu entry (none unless set).
    fn render_for(
        mut self,
        viewer: Option<&impl Serialize>,
        flashes: &[String],
    ) -> anyhow::Result<HttpResponse> {
        if !self.ctx.contains_key("current") {
            self.ctx.insert("current", "");
        }
        self.ctx.insert("viewer", &viewer);
        self.ctx.insert("flashes", flashes);
        self.ctx.insert("style_url", STYLE_URL.as_str());
        html(self.status, self.template, &self.ctx)
    }
}

/// The address of a user's timeline: `/<percent-encoded name>`.
pub fn user_url(username: &str) -> String {
    format!("/{}", minitwit_api::encode_segment(username))
}

/// `https://www.gravatar.com/avatar/<md5 of the trimmed lower-case email>?d=identicon&s=<size>`
pub fn gravatar_url(email: &str, size: u32) -> String {
    let hash = hex::encode(Md5::digest(email.trim().to_lowercase().as_bytes()));
    format!("https://www.gravatar.com/avatar/{hash}?d=identicon&s={size}")
}

/// `YYYY-MM-DD @ HH:MM` in UTC, as the original showed dates.
pub fn format_date(unix_seconds: i64) -> String {
    DateTime::from_timestamp(unix_seconds, 0)
        .map(|d| d.format("%Y-%m-%d @ %H:%M").to_string())
        .unwrap_or_default()
}

/// One message as the timeline template shows it.
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub author: String,
    pub author_url: String,
    pub gravatar: String,
    /// Shown where the gravatar cannot load (offline).
    pub initial: String,
    pub text: String,
    pub date: String,
    /// The machine-readable date, for `<time datetime>`.
    pub datetime: String,
}

impl MessageView {
    pub fn new(message: &Message, author: &User) -> Self {
        Self {
            author: author.username.clone(),
            author_url: user_url(&author.username),
            gravatar: gravatar_url(&author.email, 48),
            initial: author.username.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default(),
            text: message.text.clone(),
            date: format_date(message.pub_date),
            datetime: DateTime::from_timestamp(message.pub_date, 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_the_originals() {
        assert_eq!(
            escape_html(r#"<b>"x" & 'y'</b> a/b"#),
            "&lt;b&gt;&#34;x&#34; &amp; &#39;y&#39;&lt;/b&gt; a/b"
        );
    }

    #[test]
    fn templates_parse_and_escape_with_the_custom_function() {
        let mut ctx = Context::new();
        ctx.insert("style_url", STYLE_URL.as_str());
        ctx.insert("flashes", &["You are now following \"foo\""]);
        ctx.insert("viewer", &None::<()>);
        ctx.insert("current", "public");
        ctx.insert("status", &404);
        ctx.insert("title", "Not found");
        ctx.insert("message", "<i>x</i>");
        ctx.insert("link_url", "/public");
        ctx.insert("link_text", "Back");
        let page = templates().unwrap().render("error.html", &ctx).unwrap();
        assert!(page.contains("You are now following &#34;foo&#34;"), "{page}");
        assert!(page.contains("&lt;i&gt;x&lt;/i&gt;"), "{page}");
    }

    #[test]
    fn gravatars_hash_the_trimmed_lower_case_email() {
        // md5("myemailaddress@example.com"), Gravatar's own documented example.
        assert_eq!(
            gravatar_url("  MyEmailAddress@example.com ", 48),
            "https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?d=identicon&s=48"
        );
    }

    #[test]
    fn dates_are_utc_with_an_at_sign() {
        assert_eq!(format_date(0), "1970-01-01 @ 00:00");
        assert_eq!(format_date(1_700_000_000), "2023-11-14 @ 22:13");
    }

    #[test]
    fn user_urls_are_one_percent_encoded_segment() {
        assert_eq!(user_url("Roger Histand"), "/Roger%20Histand");
        assert_eq!(user_url("a?b#c%"), "/a%3Fb%23c%25");
    }
}
