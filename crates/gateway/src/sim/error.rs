//! The one error shape of the simulator API: `{"status": N, "error_msg": "..."}`.
//!
//! Handlers return [`SimError`]; it is an actix `ResponseError`, so the access log of
//! the kit's middleware records its cause (5xx as errors).

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use minitwit_api::{client::ClientError, error::ServiceError};
use serde::Serialize;

/// The text of every authorization or allow-list refusal.
pub const NOT_AUTHORIZED: &str = "You are not authorized to use this resource!";

#[derive(Debug)]
pub struct SimError {
    pub status: StatusCode,
    /// Shown to the client as `error_msg`.
    pub message: String,
    /// Kept for the log only.
    pub cause: Option<String>,
    /// Seconds for a `Retry-After` header: a service shed the call (and so did its
    /// retry), so trying again in a second likely works.
    pub retry_after: Option<u32>,
    /// The methods of the resource, for the `Allow` header of a 405 (RFC 9110 requires it).
    pub allow: Option<&'static str>,
}

/// The body of every error of the simulator API.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// The HTTP status code, again.
    status: u16,
    /// What went wrong, for a person.
    error_msg: String,
}

impl SimError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), cause: None, retry_after: None, allow: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A 405 for a resource whose methods are `allow` (`"GET, POST"`).
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self { allow: Some(allow), ..Self::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed") }
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, NOT_AUTHORIZED)
    }

    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// An internal call that failed. A service that is down, slow or failing is a 503;
    /// an unexpected client error of a service (its rules refused what ours let through)
    /// keeps its status and text. Never a 500.
    pub fn upstream<E: ServiceError>(e: ClientError<E>) -> Self {
        let (status, message) = match &e {
            ClientError::Refused { error, .. } => (error.status(), error.to_string()),
            ClientError::Api { status, body, .. } if (400..500).contains(status) => {
                (*status, body.message.clone())
            }
            ClientError::Overloaded { .. } => {
                let message = format!("{} is overloaded, please try again", e.service());
                return Self { retry_after: Some(1), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message) }
                    .with_cause(&e);
            }
            _ => (503, format!("{} is unavailable, please try again", e.service())),
        };
        Self::new(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), message).with_cause(&e)
    }
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SimError {}

impl<E: ServiceError> From<ClientError<E>> for SimError {
    fn from(e: ClientError<E>) -> Self {
        Self::upstream(e)
    }
}

impl ResponseError for SimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = minitwit_kit::error::answer(self.status, self.retry_after);
        if let Some(methods) = self.allow {
            res.insert_header((actix_web::http::header::ALLOW, methods));
        }
        res.json(ErrorBody { status: self.status.as_u16(), error_msg: self.message.clone() })
    }
}

#[cfg(test)]
mod tests {
    use minitwit_api::{domain::DomainError, error::Rule, message::MessageError, user::UserError, ErrorBody};

    use super::*;

    #[test]
    fn upstream_failures_are_503_and_client_errors_keep_their_status() {
        let down = ClientError::<UserError>::Timeout { service: "user-service" };
        assert_eq!(SimError::from(down).status, StatusCode::SERVICE_UNAVAILABLE);
        let broken = ClientError::<UserError>::Api {
            service: "follow-service",
            status: 500,
            body: ErrorBody::new("internal", "internal error"),
        };
        assert_eq!(SimError::from(broken).status, StatusCode::SERVICE_UNAVAILABLE);
        let garbled = ClientError::<UserError>::Protocol { service: "user-service", reason: "eof".into() };
        assert_eq!(SimError::from(garbled).status, StatusCode::SERVICE_UNAVAILABLE);
        let refused = ClientError::Refused {
            service: "message-service",
            error: MessageError::Invalid(Rule::of(DomainError::TextEmpty).expect("a rule of a message")),
        };
        let e = SimError::from(refused);
        assert_eq!((e.status, e.message.as_str()), (StatusCode::BAD_REQUEST, "The message is empty"));
        let unreadable = ClientError::<MessageError>::Api {
            service: "message-service",
            status: 400,
            body: ErrorBody::new("invalid_field", "missing field `text`"),
        };
        let e = SimError::from(unreadable);
        assert_eq!((e.status, e.message.as_str()), (StatusCode::BAD_REQUEST, "missing field `text`"));
    }

    #[test]
    fn a_405_names_the_allowed_methods() {
        let res = SimError::method_not_allowed("GET, POST").error_response();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get("allow").map(|v| v.as_bytes()), Some(&b"GET, POST"[..]));
        assert!(SimError::forbidden().error_response().headers().get("allow").is_none());
    }

    #[test]
    fn a_shed_call_is_503_with_retry_after() {
        let shed = ClientError::<MessageError>::Overloaded {
            service: "message-service",
            body: ErrorBody::new("overloaded", "every connection is busy"),
        };
        let res = SimError::from(shed).error_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get("retry-after").map(|v| v.as_bytes()), Some(&b"1"[..]));
    }
}
