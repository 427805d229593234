//! The JSON error every internal route answers with: `{"error": code, "reason": name,
//! "message": text}` (`reason` only for a service's own refusals and the rules of
//! domain values: [`minitwit_api::error`]).
//!
//! Expected failures carry a stable machine code and a status; unexpected ones keep
//! their cause chain for the access log and answer an opaque 500. A database that does
//! not answer is `503 database_unavailable` with `Retry-After: 1`; a database whose every
//! connection stays busy is `503 overloaded` with `Retry-After: 1` (load shedding).

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
pub use minitwit_api::ErrorBody;
use minitwit_api::{
    domain::DomainError,
    error::{Common, ServiceError},
};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A [`Common`] code or one of the service's own refusals ([`ServiceError`]).
    pub code: &'static str,
    /// Which refusal of those sharing the code ([`ServiceError::reason`]).
    pub reason: Option<&'static str>,
    pub message: String,
    /// Kept for the logs; never shown to the client.
    pub cause: Option<anyhow::Error>,
    /// Seconds for a `Retry-After` header, when trying again soon may work.
    pub retry_after: Option<u32>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status.as_u16(), self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, code, reason: None, message: message.into(), cause: None, retry_after: None }
    }

    /// One of the answers any route may give, with its text.
    pub fn common(common: Common, message: impl Into<String>) -> Self {
        let error = Self::new(common.status(), common.code(), message);
        match common {
            Common::DatabaseUnavailable | Common::Overloaded => Self { retry_after: Some(1), ..error },
            _ => error,
        }
    }

    /// A service's own refusal, in its status, code and text. Called by name, not
    /// through `From`: an impl per service's error here would make this crate name
    /// every service (and a blanket impl over [`ServiceError`] would overlap the other
    /// `From`s under the coherence rules).
    pub fn refused<E: ServiceError>(e: E) -> Self {
        Self { reason: Some(e.reason()), ..Self::new(e.status(), e.code(), e.to_string()) }
    }

    /// A value that broke one of its rules, found while reading the request.
    pub fn invalid(e: DomainError) -> Self {
        Self { reason: Some(e.reason()), ..Self::new(400, e.code(), e.to_string()) }
    }

    pub fn unavailable(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        Self::common(Common::Unavailable, message).with_cause(cause)
    }

    /// The database does not answer (not reached yet since start-up, a connection lost
    /// under the query, or none opened within the pool's time-out because connecting
    /// fails): 503 `database_unavailable`, `Retry-After: 1`. A pool whose connections
    /// are all busy is [`ApiError::overloaded`] instead.
    pub fn database_unavailable(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        Self::common(Common::DatabaseUnavailable, message).with_cause(cause)
    }

    /// Load shed: no database connection came free within the pool's time-out while the
    /// database answers (every connection busy): 503 `overloaded`, `Retry-After: 1`.
    pub fn overloaded(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        Self::common(Common::Overloaded, message).with_cause(cause)
    }

    /// An unexpected failure: 500 with an opaque message; the cause goes to the log.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::common(Common::Internal, "internal error").with_cause(cause)
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_string(),
            reason: self.reason.map(str::to_string),
            message: self.message.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        answer(self.status, self.retry_after).json(self.body())
    }
}

/// The start of an error answer: its status and, when trying again soon may work, a
/// `Retry-After` of that many seconds (every error type of the gateway and the
/// services answers so).
pub fn answer(status: StatusCode, retry_after: Option<u32>) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::build(status);
    if let Some(secs) = retry_after {
        res.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
    }
    res
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

/// Extractor errors (bad JSON, bad path or query) in the same JSON shape.
pub mod extract {
    use actix_web::{
        error::{JsonPayloadError, PathError, QueryPayloadError},
        HttpRequest,
    };
    use minitwit_api::{domain::DomainError, error::Common};

    use super::ApiError;

    pub fn json(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
        let api = match &err {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                ApiError::common(Common::PayloadTooLarge, err.to_string())
            }
            JsonPayloadError::ContentType => {
                ApiError::common(Common::UnsupportedMediaType, "expected Content-Type: application/json")
            }
            // A field of a domain type whose rule the value broke: that rule's code.
            JsonPayloadError::Deserialize(e) if e.is_data() => match DomainError::reported_in(&e.to_string())
            {
                Some(rule) => ApiError::invalid(rule),
                None => ApiError::common(Common::InvalidField, e.to_string()),
            },
            JsonPayloadError::Deserialize(e) => ApiError::common(Common::MalformedJson, e.to_string()),
            _ => ApiError::common(Common::BadBody, err.to_string()),
        };
        api.into()
    }

    /// A path segment of a domain type (an id) whose rule it broke: that rule's code.
    pub fn path(err: PathError, _req: &HttpRequest) -> actix_web::Error {
        let rule = match &err {
            PathError::Deserialize(e) => DomainError::reported_in(&e.to_string()),
            _ => None,
        };
        match rule {
            Some(rule) => ApiError::invalid(rule),
            None => ApiError::common(Common::InvalidPath, err.to_string()),
        }
        .into()
    }

    pub fn query(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
        ApiError::common(Common::InvalidQuery, err.to_string()).into()
    }
}

#[cfg(feature = "db")]
mod db_errors {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    use minitwit_api::error::Common;

    use super::ApiError;

    impl From<DieselError> for ApiError {
        fn from(e: DieselError) -> Self {
            match &e {
                DieselError::NotFound => ApiError::common(Common::NotFound, "no such record"),
                DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                    ApiError::common(Common::Conflict, "already exists").with_cause(e)
                }
                DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _)
                | DieselError::DatabaseError(DatabaseErrorKind::NotNullViolation, _) => {
                    ApiError::common(Common::Constraint, "the value breaks a constraint").with_cause(e)
                }
                DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                    ApiError::database_unavailable("the database is not reachable", e)
                }
                DieselError::DatabaseError(_, info) if is_busy(info.message()) => {
                    ApiError::unavailable("the database is busy, try again", e)
                }
                _ => ApiError::internal(e),
            }
        }
    }

    fn is_busy(message: &str) -> bool {
        message.contains("database is locked")
            || message.contains("canceling statement due to statement timeout")
    }

    impl From<r2d2::Error> for ApiError {
        fn from(e: r2d2::Error) -> Self {
            ApiError::database_unavailable("no database connection available", e)
        }
    }

    #[cfg(test)]
    mod tests {
        use actix_web::ResponseError;

        use super::*;

        /// A connection closed under a query (the pool's time-out is covered by the
        /// services' tests: follow-service `losing_its_database_...`).
        #[test]
        fn a_closed_connection_is_database_unavailable_with_retry_after() {
            let info = Box::new("server closed the connection unexpectedly".to_string());
            let error = ApiError::from(DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info));
            assert_eq!(error.code, "database_unavailable");
            let res = error.error_response();
            assert_eq!(res.status(), 503);
            assert_eq!(res.headers().get("retry-after").map(|v| v.as_bytes()), Some(&b"1"[..]));
        }
    }
}
