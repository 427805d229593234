//! Refusing cross-site requests that change state (`web-ui.md`): the token-less
//! cross-origin protection current frameworks ship.
//!
//! A request changes state when it is not a GET/HEAD/OPTIONS ([`refuse_cross_site_writes`],
//! on the whole web scope), or when it reaches one of the legacy GET links that act
//! (`/<username>/follow`, `/<username>/unfollow`, `/logout`): those resources are wrapped
//! in [`refuse_cross_site`] themselves, so the decision follows the route the router
//! matched on the decoded path, never a spelling of the raw path (`/bob/%66ollow`).
//!
//! Such a request is refused with 403 unless the browser says it comes from this origin
//! or from the user (`Sec-Fetch-Site: same-origin` or `none`; `same-site` is a sibling
//! host, which is not this site's to trust), or, from browsers that do not send that
//! header, unless its `Origin` (else `Referer`) names the host it was sent to. Requests
//! with none of these headers (scripts, the course's tests) carry no victim's cookies
//! and pass.

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, Method},
    middleware::Next,
};

use super::error::WebError;

/// Refuses a cross-site request whatever its method: for resources that act on GET.
pub async fn refuse_cross_site(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    check(req, next, true).await
}

/// Refuses a cross-site request whose method changes state (not GET/HEAD/OPTIONS).
pub async fn refuse_cross_site_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let writes = !is_safe(req.method());
    check(req, next, writes).await
}

async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    changes_state: bool,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if changes_state {
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

/// Whether a method only reads.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a request with these headers must be refused: anything but `same-origin` or
/// `none` in `Sec-Fetch-Site`; without it, an `Origin` (else `Referer`) of another host.
pub fn is_cross_site(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    referer: Option<&str>,
    host: &str,
) -> bool {
    if let Some(site) = sec_fetch_site {
        let site = site.trim();
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
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
    fn only_reading_methods_are_safe() {
        assert!(is_safe(&Method::GET) && is_safe(&Method::HEAD) && is_safe(&Method::OPTIONS));
        assert!(!is_safe(&Method::POST) && !is_safe(&Method::PUT) && !is_safe(&Method::DELETE));
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        assert!(is_cross_site(Some("cross-site"), None, None, "a.example"));
        assert!(!is_cross_site(Some("same-origin"), Some("https://evil.example"), None, "a.example"));
        assert!(is_cross_site(Some("same-site"), None, None, "a.example"));
        assert!(is_cross_site(Some("same-site"), Some("https://a.example"), None, "a.example"));
        assert!(is_cross_site(Some("garbage"), None, None, "a.example"));
        assert!(!is_cross_site(Some("none"), None, None, "a.example"));
        assert!(!is_cross_site(Some(" Same-Origin "), None, None, "a.example"));
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
