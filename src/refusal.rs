//! Why a rule refuses a request, in the domain's words: a stable code, the field it concerns
//! and a message. Rules return these and know nothing of HTTP; `error.rs` maps each kind to
//! its status in one place.

use serde::Serialize;
use utoipa::ToSchema;

/// One offending field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the field in the request (`billing_address.country`, `limit`).
    #[schema(example = "currency")]
    pub field: String,
    /// Stable machine code of the reason (`required`, `invalid`, `too_long`, `out_of_range`, ...).
    #[schema(example = "invalid")]
    pub code: String,
    /// What is wrong, for a person.
    #[schema(example = "must be a supported ISO 4217 currency code")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// A rule's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request itself is wrong: these fields, these reasons (sent as 422).
    Invalid(Vec<FieldError>),
    /// The request is well formed but the resource's state does not allow it (sent as 409),
    /// optionally naming the field that meets the state.
    Conflict {
        code: &'static str,
        detail: String,
        field: Option<&'static str>,
    },
    /// The caller may not do this to this resource, whatever its role (sent as 403).
    Forbidden(String),
}

impl Refusal {
    /// One invalid field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Refusal::Invalid(vec![FieldError::new(field, code, message)])
    }

    /// The stable code the problem document carries.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Invalid(_) => "validation_failed",
            Refusal::Conflict { code, .. } => code,
            Refusal::Forbidden(_) => "forbidden",
        }
    }

    /// A state that does not allow the request.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Refusal::Conflict {
            code,
            detail: detail.into(),
            field: None,
        }
    }
}
