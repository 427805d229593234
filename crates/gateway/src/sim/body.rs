//! Request bodies, read by hand so that every failure answers in the simulator's error
//! shape: a Content-Type other than JSON is a 415, a body over the limit a 413,
//! malformed JSON, a non-object and fields of the wrong type a 400.

use actix_web::{
    http::{header::CONTENT_TYPE, StatusCode},
    web, HttpRequest,
};
use futures::StreamExt;
use serde_json::{Map, Value};

use super::error::SimError;

/// Refuses (415) a request whose Content-Type is not `application/json` (parameters
/// such as `charset` allowed).
pub fn require_json(req: &HttpRequest) -> Result<(), SimError> {
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
pub async fn read(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, SimError> {
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

/// A JSON object body.
#[derive(Debug)]
pub struct Object(Map<String, Value>);

impl Object {
    pub fn parse(body: &[u8]) -> Result<Self, SimError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Object(map)),
            Ok(_) => Err(SimError::bad_request("The body must be a JSON object")),
            Err(e) => Err(SimError::bad_request(format!("The body is not valid JSON: {e}"))),
        }
    }

    /// A string field: `None` when absent or `null`, a 400 when of another type.
    pub fn string(&self, key: &str) -> Result<Option<&str>, SimError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(SimError::bad_request(format!("The field {key:?} must be a string"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_give_string_fields_and_refuse_other_types() {
        let o = Object::parse(br#"{"a": "x", "n": null, "i": 5, "l": ["x"]}"#).unwrap();
        assert_eq!(o.string("a").unwrap(), Some("x"));
        assert_eq!(o.string("n").unwrap(), None);
        assert_eq!(o.string("missing").unwrap(), None);
        assert_eq!(o.string("i").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(o.string("l").unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn non_objects_and_malformed_json_are_400() {
        for bad in [&b"[]"[..], b"\"x\"", b"3", b"null", b"{", b"", b"{\"a\": }", b"\xff"] {
            assert_eq!(Object::parse(bad).unwrap_err().status, StatusCode::BAD_REQUEST);
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
