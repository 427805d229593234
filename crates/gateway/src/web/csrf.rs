//! Refusing cross-site requests that change state (`web-ui.md`): the token-less
//! cross-origin protection current frameworks ship.
//!
//! A request changes state when it is not a GET/HEAD/OPTIONS, or when it is one of the
//! legacy GET links that act (`/<username>/follow`, `/<username>/unfollow`, `/logout`).
//! Such a request is refused with 403 when the browser says it is cross-site
//! (`Sec-Fetch-Site: cross-site`), or, from browsers that do not send that header, when
//! its `Origin` (else `Referer`) names another host than the one it was sent to.
//! Requests with neither header (scripts, the course's tests) carry no victim's cookies
//! and pass.

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, Method},
    middleware::Next,
};

use super::error::WebError;

pub async fn refuse_cross_site(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if changes_state(req.method(), req.path()) {
        let host = req.connection_info().host().to_string();
        let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        if is_cross_site(
            header(header::HeaderName::from_static("sec-fetch-site")),
            header(header::ORIGIN),
            header(header::REFERER),
            &host,
        ) {
            return Ok(req.error_response(WebError::CrossSite).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Whether a request with this method and (raw) path changes state.
pub fn changes_state(method: &Method, path: &str) -> bool {
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if path == "/logout" {
        return true;
    }
    let mut segments = path.trim_start_matches('/').split('/');
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some(name), Some("follow" | "unfollow"), None) if !name.is_empty()
    )
}

/// Whether the browser marked the request as coming from another site.
pub fn is_cross_site(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    referer: Option<&str>,
    host: &str,
) -> bool {
    if let Some(site) = sec_fetch_site {
        return site.trim().eq_ignore_ascii_case("cross-site");
    }
    match origin.or(referer) {
        Some(source) => !same_host(source, host),
        None => false,
    }
}

/// Whether the URL `source` (an `Origin` or a `Referer`) names `host` (a `Host` header
/// value), ignoring case and the scheme's default port.
fn same_host(source: &str, host: &str) -> bool {
    let Some((scheme, rest)) = source.trim().split_once("://") else {
        return false; // "null" and garbage are not this site
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => "",
    };
    let normal = |a: &str| {
        let a = a.to_ascii_lowercase();
        match a.strip_suffix(default_port) {
            Some(stripped) if !default_port.is_empty() => stripped.to_string(),
            _ => a,
        }
    };
    !authority.is_empty() && normal(authority) == normal(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_and_acting_links_change_state() {
        assert!(changes_state(&Method::POST, "/add_message"));
        assert!(changes_state(&Method::POST, "/login"));
        assert!(changes_state(&Method::GET, "/foo/follow"));
        assert!(changes_state(&Method::GET, "/Roger%20Histand/unfollow"));
        assert!(changes_state(&Method::GET, "/logout"));
        assert!(!changes_state(&Method::GET, "/"));
        assert!(!changes_state(&Method::GET, "/public"));
        assert!(!changes_state(&Method::GET, "/follow"));
        assert!(!changes_state(&Method::GET, "/a/b/follow"));
        assert!(!changes_state(&Method::HEAD, "/foo"));
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        assert!(is_cross_site(Some("cross-site"), None, None, "a.example"));
        assert!(!is_cross_site(Some("same-origin"), Some("https://evil.example"), None, "a.example"));
        assert!(!is_cross_site(Some("same-site"), None, None, "a.example"));
        assert!(!is_cross_site(Some("none"), None, None, "a.example"));
    }

    #[test]
    fn otherwise_origin_then_referer_must_name_the_host() {
        assert!(!is_cross_site(None, None, None, "a.example"));
        assert!(!is_cross_site(None, Some("https://a.example"), None, "a.example"));
        assert!(!is_cross_site(None, Some("https://A.example"), None, "a.example:443"));
        assert!(!is_cross_site(None, Some("http://127.0.0.1:8080"), None, "127.0.0.1:8080"));
        assert!(is_cross_site(None, Some("http://127.0.0.1:9999"), None, "127.0.0.1:8080"));
        assert!(is_cross_site(None, Some("https://evil.example"), None, "a.example"));
        assert!(is_cross_site(None, Some("null"), None, "a.example"));
        assert!(is_cross_site(None, Some("https://a.example.evil.example"), None, "a.example"));
        assert!(!is_cross_site(None, None, Some("https://a.example/foo?x=1"), "a.example"));
        assert!(is_cross_site(None, None, Some("https://evil.example/a.example"), "a.example"));
        // Origin wins over Referer.
        assert!(is_cross_site(None, Some("https://evil.example"), Some("https://a.example/"), "a.example"));
    }
}
