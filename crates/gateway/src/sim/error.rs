//! The one error shape of the simulator API: `{"status": N, "error_msg": "..."}`.
//!
//! Handlers return [`SimError`]; it is an actix `ResponseError`, so the access log of
//! the kit's middleware records its cause (5xx as errors).

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use minitwit_api::client::ClientError;
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
}

#[derive(Serialize)]
struct Body<'a> {
    status: u16,
    error_msg: &'a str,
}

impl SimError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), cause: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
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
    pub fn upstream(e: ClientError) -> Self {
        match &e {
            ClientError::Api { status, body, .. } if (400..500).contains(status) => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
                Self::new(status, body.message.clone()).with_cause(&e)
            }
            ClientError::Timeout { service }
            | ClientError::Unavailable { service, .. }
            | ClientError::Api { service, .. }
            | ClientError::Protocol { service, .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{service} is unavailable, please try again"),
            )
            .with_cause(&e),
        }
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

impl From<ClientError> for SimError {
    fn from(e: ClientError) -> Self {
        Self::upstream(e)
    }
}

impl ResponseError for SimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(Body { status: self.status.as_u16(), error_msg: &self.message })
    }
}

#[cfg(test)]
mod tests {
    use minitwit_api::ErrorBody;

    use super::*;

    #[test]
    fn upstream_failures_are_503_and_client_errors_keep_their_status() {
        let down = ClientError::Timeout { service: "user-service" };
        assert_eq!(SimError::from(down).status, StatusCode::SERVICE_UNAVAILABLE);
        let broken = ClientError::Api {
            service: "follow-service",
            status: 500,
            body: ErrorBody { error: "internal".into(), message: "internal error".into() },
        };
        assert_eq!(SimError::from(broken).status, StatusCode::SERVICE_UNAVAILABLE);
        let garbled = ClientError::Protocol { service: "user-service", reason: "eof".into() };
        assert_eq!(SimError::from(garbled).status, StatusCode::SERVICE_UNAVAILABLE);
        let refused = ClientError::Api {
            service: "message-service",
            status: 400,
            body: ErrorBody { error: "invalid_text".into(), message: "The message is empty".into() },
        };
        let e = SimError::from(refused);
        assert_eq!((e.status, e.message.as_str()), (StatusCode::BAD_REQUEST, "The message is empty"));
    }
}
