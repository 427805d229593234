//! Input from the URL: the `latest` and `no` query parameters and the username path
//! segment, parsed from the raw request so that every odd case is ours to answer. `no`
//! and the username are extractors ([`No`], [`PathUser`]): a handler names them as
//! arguments, and a bad one is answered before the handler runs.

use std::{
    borrow::Cow,
    future::{ready, Ready},
};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use minitwit_api::domain::Username;
use percent_encoding::percent_decode_str;

use super::{error::SimError, Sim};

/// The default number of items of a list.
pub const DEFAULT_NO: u32 = 100;

/// The first value of `name` in a raw query string (`a=1&b=x+y`), form-decoded (`+` is
/// a space). Invalid UTF-8 is replaced, so such a value is simply not a number.
fn param<'q>(query: &'q str, name: &str) -> Option<Cow<'q, str>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_form(key) == name).then(|| decode_form(value))
    })
}

fn decode_form(raw: &str) -> Cow<'_, str> {
    if raw.contains('+') {
        Cow::Owned(percent_decode_str(&raw.replace('+', " ")).decode_utf8_lossy().into_owned())
    } else {
        percent_decode_str(raw).decode_utf8_lossy()
    }
}

/// `latest=<int>`; absent or not an integer is `None` (the request is served as if it
/// were absent, as the course's reference does).
pub fn latest(query: &str) -> Option<i64> {
    param(query, "latest")?.trim().parse().ok()
}

/// `no=<n>`: 100 when absent, a 400 when not a non-negative integer, at most `max`.
pub fn no(query: &str, max: u32) -> Result<u32, SimError> {
    let Some(raw) = param(query, "no") else {
        return Ok(DEFAULT_NO.min(max));
    };
    let digits = raw.trim();
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SimError::bad_request(format!("no must be a non-negative integer, not {raw:?}")));
    }
    // All digits: a number too large for u64 is simply larger than the bound.
    Ok(digits.parse::<u64>().map_or(max, |n| n.min(u64::from(max)) as u32))
}

/// The `no` query parameter ([`no`]), capped by the operators' `sim.max_no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct No(pub u32);

impl FromRequest for No {
    type Error = SimError;
    type Future = Ready<Result<Self, SimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Sim::of(req).and_then(|sim| no(req.query_string(), sim.state.settings.sim.max_no)).map(No))
    }
}

/// What a username path segment can be.
#[derive(Debug, PartialEq, Eq)]
pub enum PathUser {
    /// A name that may belong to a user.
    Name(Username),
    /// A name no user can have (`/`, control characters, too long, reserved): a 404
    /// without asking user-service.
    Impossible(String),
}

/// Decodes the last segment of the raw request path (`/msgs/Roger%20Histand`).
///
/// The raw path is used, not actix's decoded match: actix replaces invalid UTF-8 with
/// U+FFFD and keeps `%2F` encoded, and both must be answered precisely. A `+` in a path
/// is a plus. Percent sequences that do not decode to UTF-8 are a 400.
pub fn path_user(raw_path: &str) -> Result<PathUser, SimError> {
    let segment = raw_path.rsplit('/').next().unwrap_or_default();
    let name = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| SimError::bad_request("The username in the path is not valid UTF-8"))?;
    Ok(match Username::parse(&name) {
        // A reserved name is no one's: registering it is refused as taken.
        Ok(username) if !username.is_reserved() => PathUser::Name(username),
        _ => PathUser::Impossible(name.into_owned()),
    })
}

/// The username of the path's last segment (`path_user`).
impl FromRequest for PathUser {
    type Error = SimError;
    type Future = Ready<Result<Self, SimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(path_user(req.uri().path()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_is_an_integer_or_ignored() {
        assert_eq!(latest("latest=1337"), Some(1337));
        assert_eq!(latest("no=3&latest=-5"), Some(-5));
        assert_eq!(latest("latest=1&latest=2"), Some(1));
        assert_eq!(latest("latest=%31%32"), Some(12));
        assert_eq!(latest("latest=+7"), Some(7));
        assert_eq!(latest("latest=abc"), None);
        assert_eq!(latest("latest=1.5"), None);
        assert_eq!(latest("latest="), None);
        assert_eq!(latest("latest"), None);
        assert_eq!(latest("latest=%FF"), None);
        assert_eq!(latest("latest=99999999999999999999"), None);
        assert_eq!(latest("latestx=1"), None);
        assert_eq!(latest(""), None);
    }

    #[test]
    fn no_defaults_to_100_is_capped_and_refuses_non_integers() {
        assert_eq!(no("", 1000).unwrap(), 100);
        assert_eq!(no("latest=3", 1000).unwrap(), 100);
        assert_eq!(no("", 20).unwrap(), 20);
        assert_eq!(no("no=0", 1000).unwrap(), 0);
        assert_eq!(no("no=25", 1000).unwrap(), 25);
        assert_eq!(no("no=5000", 1000).unwrap(), 1000);
        assert_eq!(no("no=99999999999999999999999", 1000).unwrap(), 1000);
        for bad in ["no=", "no=-1", "no=abc", "no=1.5", "no=1e3", "no=%FF", "no=%2B%2B1", "no=1 2"] {
            let e = no(bad, 1000).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{bad}");
        }
    }

    #[test]
    fn path_usernames_are_percent_decoded_and_plus_is_a_plus() {
        let name = |p: &str| match path_user(p).unwrap() {
            PathUser::Name(n) => n.into_inner(),
            PathUser::Impossible(n) => panic!("impossible: {n}"),
        };
        assert_eq!(name("/msgs/Roger%20Histand"), "Roger Histand");
        assert_eq!(name("/fllws/a+b"), "a+b");
        assert_eq!(name("/fllws/a%2Bb"), "a+b");
        assert_eq!(name("/msgs/S%C3%B8ren"), "Søren");
        assert_eq!(name("/msgs/%E6%9D%8E"), "李");
    }

    #[test]
    fn impossible_and_undecodable_names_are_told_apart() {
        assert!(matches!(path_user("/msgs/a%2Fb").unwrap(), PathUser::Impossible(n) if n == "a/b"));
        assert!(matches!(path_user("/msgs/a%0Ab").unwrap(), PathUser::Impossible(_)));
        assert!(matches!(path_user("/msgs/%20%20").unwrap(), PathUser::Impossible(_)));
        assert!(matches!(path_user("/msgs/latest").unwrap(), PathUser::Impossible(_)));
        assert!(matches!(path_user("/msgs/%00").unwrap(), PathUser::Impossible(_)));
        assert_eq!(path_user("/msgs/%FF%FE").unwrap_err().status.as_u16(), 400);
        assert_eq!(path_user("/msgs/a%C3").unwrap_err().status.as_u16(), 400);
    }
}
