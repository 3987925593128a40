//! The one API error type and its RFC 9457 `application/problem+json` rendering.
//!
//! Every failure a handler can meet becomes an [`ApiError`]; `ResponseError` turns it into a
//! problem document with a stable `code`. Internal causes are logged, never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::refusal::{FieldError, Refusal};

/// RFC 9457 problem details, as every error of this API is sent.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:receivables:problem:validation_failed",
    "title": "Unprocessable Content",
    "status": 422,
    "code": "validation_failed",
    "detail": "The request has invalid fields.",
    "errors": [{"field": "currency", "code": "invalid", "message": "must be a supported ISO 4217 currency code"}],
    "request_id": "0193b1f4-6c1e-7c52-9d1a-3f2b8e0c4a11"
}))]
pub struct Problem {
    /// Stable URI of the problem kind: `urn:receivables:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the HTTP status.
    pub title: String,
    pub status: u16,
    /// Stable machine code; the last segment of `type`.
    pub code: String,
    /// What happened, for a person.
    pub detail: String,
    /// Per-field reasons, for validation failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, as in the `X-Request-Id` response header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest {
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{1}")]
    Unauthorized(&'static str, String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        field: Option<&'static str>,
    },
    #[error("the resource was changed since version {expected}; fetch it again")]
    PreconditionFailed { expected: i32 },
    #[error("updates need If-Match or a version field")]
    PreconditionRequired,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the idempotency key was already used with a different request")]
    IdempotencyMismatch,
    #[error("the database is not available")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
            field: None,
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        ApiError::Internal(err.to_string())
    }

    /// Stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized(code, _) => code,
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::PreconditionFailed { .. } => "precondition_failed",
            ApiError::PreconditionRequired => "precondition_required",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::IdempotencyMismatch => "idempotency_key_reused",
            ApiError::Unavailable(_) => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Validation(_) => "The request has invalid fields.".to_string(),
            ApiError::NotFound(what) => {
                format!("The {what} does not exist or is not visible to you.")
            }
            ApiError::Unavailable(_) => {
                "The database is not available; try again shortly.".to_string()
            }
            ApiError::Internal(_) => "An internal error occurred; it has been logged.".to_string(),
            other => other.to_string(),
        }
    }

    fn errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Validation(errors) => errors.clone(),
            ApiError::BadRequest { errors, .. } => errors.clone(),
            ApiError::Conflict {
                field: Some(field),
                detail,
                code,
            } => vec![FieldError::new(*field, code, detail.clone())],
            _ => Vec::new(),
        }
    }

    pub fn problem(&self, request_id: Option<String>) -> Problem {
        let status = self.status_code();
        Problem {
            type_: format!("urn:receivables:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            code: self.code().to_string(),
            detail: self.detail(),
            errors: self.errors(),
            request_id,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => log::error!("internal error: {cause}"),
            ApiError::Unavailable(cause) => log::warn!("database unavailable: {cause}"),
            _ => {}
        }
        let request_id = crate::observability::current_request_id();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let ApiError::Unauthorized(..) = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
        }
        if let ApiError::Unavailable(_) = self {
            // A restart or failover takes seconds; the pool reconnects on the next request.
            response.insert_header((header::RETRY_AFTER, "2"));
        }
        response.json(self.problem(request_id))
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &err {
            Error::NotFound => ApiError::NotFound("resource"),
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => ApiError::conflict(
                "concurrent_update",
                "A concurrent change won; retry the request.",
            ),
            // PostgreSQL broke a lock cycle (40P01) by aborting this transaction: nothing of it
            // was written, and a retry will go through. Logged, since lock order should avoid it.
            Error::DatabaseError(_, info) if info.message().starts_with("deadlock detected") => {
                log::warn!("deadlock: {}", info.message());
                ApiError::conflict(
                    "concurrent_update",
                    "A concurrent change won; retry the request.",
                )
            }
            Error::DatabaseError(DatabaseErrorKind::CheckViolation, info) => {
                ApiError::Validation(vec![FieldError::new(
                    info.constraint_name().unwrap_or("body"),
                    "invalid",
                    "is outside what the service accepts",
                )])
            }
            // A number beyond its column (22003); the rules should refuse it first, naming it.
            Error::DatabaseError(_, info)
                if info.message().starts_with("numeric field overflow") =>
            {
                ApiError::field(
                    "body",
                    "out_of_range",
                    "holds a number larger than the service stores",
                )
            }
            Error::DatabaseError(_, info) if info.message().contains("invalid byte sequence") => {
                ApiError::field(
                    "body",
                    "invalid",
                    "contains characters that cannot be stored",
                )
            }
            _ if connection_lost(&err) => ApiError::Unavailable(err.to_string()),
            _ => ApiError::Internal(format!("database: {err}")),
        }
    }
}

/// Whether the database went away under the request (a restart, a failover, a terminated
/// backend): nothing of its transaction was committed, and a retry will find a new
/// connection. PostgreSQL says so with SQLSTATE class 57 (operator intervention) or 08
/// (connection exception), which reach us as their messages.
fn connection_lost(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const LOST: &[&str] = &[
        "terminating connection",
        "the database system is",
        "connection closed",
        "server closed the connection",
        "connection reset",
        "broken pipe",
        "error communicating with the server",
        "could not receive data",
        "canceling statement due to conflict with recovery",
    ];
    match err {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            LOST.iter().any(|m| message.contains(m))
        }
        Error::BrokenTransactionManager => true,
        Error::RollbackErrorOnCommit { commit_error, .. } => connection_lost(commit_error),
        _ => false,
    }
}

/// A rule's refusal, sent with the status of its kind.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid(errors) => ApiError::Validation(errors),
            Refusal::Conflict {
                code,
                detail,
                field,
            } => ApiError::Conflict {
                code,
                detail,
                field,
            },
            Refusal::Forbidden(why) => ApiError::Forbidden(why),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        ApiError::Internal(format!("json: {err}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
