//! Request bodies, as the [`SimJson`] extractor, read by hand so that every failure
//! answers in the simulator's error shape: a Content-Type other than JSON is a 415, a
//! body over the limit a 413, malformed JSON, a non-object and fields of the wrong type
//! a 400.

use actix_web::{
    dev::Payload,
    http::{header::CONTENT_TYPE, StatusCode},
    FromRequest, HttpRequest,
};
use futures::{future::LocalBoxFuture, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{error::SimError, Sim};

/// A JSON object body read into `T`, whose fields are all `Option`s: a field that is
/// absent or `null` is `None` (the handler decides what a missing field means, in the
/// contract's order), one of the wrong type is a 400. Unknown fields are ignored, and
/// of a repeated key the last counts.
#[derive(Debug)]
pub struct SimJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for SimJson<T> {
    type Error = SimError;
    type Future = LocalBoxFuture<'static, Result<Self, SimError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit =
            require_json(req).and_then(|()| Sim::of(req)).map(|sim| sim.state.settings.http.body_limit_bytes);
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let body = read(&req, payload, limit?).await?;
            parse(&body).map(SimJson)
        })
    }
}

/// Refuses (415) a request whose Content-Type is not `application/json` (parameters
/// such as `charset` allowed).
fn require_json(req: &HttpRequest) -> Result<(), SimError> {
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(SimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The body must be JSON (Content-Type: application/json)",
        )
        .with_cause(format!("Content-Type {content_type:?}")))
    }
}

fn too_large(limit: usize) -> SimError {
    SimError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("The body is larger than {limit} bytes"))
}

/// Reads the whole body, refusing (413) one larger than `limit` bytes, by its
/// Content-Length before reading or by counting while reading.
async fn read(req: &HttpRequest, mut payload: Payload, limit: usize) -> Result<Vec<u8>, SimError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut body = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| SimError::bad_request("The body could not be read").with_cause(e))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A JSON object read into `T`. Parsed as a `Value` first: a repeated key is then the
/// last one's value, not an error.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, SimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(object @ Value::Object(_)) => serde_json::from_value(object)
            .map_err(|e| SimError::bad_request(format!("A field of the body has the wrong type: {e}"))),
        Ok(_) => Err(SimError::bad_request("The body must be a JSON object")),
        Err(e) => Err(SimError::bad_request(format!("The body is not valid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Fields {
        a: Option<String>,
        n: Option<String>,
        missing: Option<String>,
    }

    #[test]
    fn objects_give_optional_string_fields_and_refuse_other_types() {
        let f: Fields = parse(br#"{"a": "x", "n": null, "other": 5, "a": "y"}"#).unwrap();
        assert_eq!((f.a.as_deref(), f.n, f.missing), (Some("y"), None, None));
        for wrong in [&br#"{"a": 5}"#[..], br#"{"a": ["x"]}"#, br#"{"a": {}}"#, br#"{"a": true}"#] {
            assert_eq!(parse::<Fields>(wrong).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn non_objects_and_malformed_json_are_400() {
        for bad in [&b"[]"[..], b"\"x\"", b"3", b"null", b"{", b"", b"{\"a\": }", b"\xff"] {
            assert_eq!(parse::<Fields>(bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn only_json_content_types_are_accepted() {
        let ok = |ct: &str| {
            let req =
                actix_web::test::TestRequest::default().insert_header((CONTENT_TYPE, ct)).to_http_request();
            require_json(&req).is_ok()
        };
        assert!(ok("application/json"));
        assert!(ok("application/json; charset=utf-8"));
        assert!(ok("Application/JSON"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/x-www-form-urlencoded"));
        assert!(!ok("application/jsonx"));
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert_eq!(require_json(&none).unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
