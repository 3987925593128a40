//! Reusable error responses; every one is a problem document. The types exist for the
//! document only, so their field is never read.
#![allow(dead_code)]

use crate::error::Problem;
use utoipa::ToResponse;

/// Malformed JSON, query parameter, path parameter or header.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:invalid_query", "title": "Bad Request", "status": 400,
    "code": "invalid_query", "detail": "The query parameter limit is invalid: must be between 1 and 200.",
    "errors": [{"field": "limit", "code": "invalid", "message": "must be between 1 and 200"}]
}))]
pub struct BadRequest(Problem);

/// No token, or an expired, malformed or wrongly signed one.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:token_expired", "title": "Unauthorized", "status": 401,
    "code": "token_expired", "detail": "The token has expired."
}))]
pub struct Unauthorized(Problem);

/// The token's role lacks the permission.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:forbidden", "title": "Forbidden", "status": 403,
    "code": "forbidden", "detail": "role viewer lacks the permission accounts:write"
}))]
pub struct Forbidden(Problem);

/// No such resource, or not visible to this caller.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:not_found", "title": "Not Found", "status": 404,
    "code": "not_found", "detail": "The account does not exist or is not visible to you."
}))]
pub struct NotFound(Problem);

/// A uniqueness or state conflict, or a stale `version` field.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:version_conflict", "title": "Conflict", "status": 409,
    "code": "version_conflict", "detail": "The resource is at version 3, not 2: it changed since you read it.",
    "errors": [{"field": "version", "code": "version_conflict", "message": "The resource is at version 3, not 2: it changed since you read it."}]
}))]
pub struct Conflict(Problem);

/// `If-Match` names a version that is no longer current.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:precondition_failed", "title": "Precondition Failed", "status": 412,
    "code": "precondition_failed", "detail": "the resource was changed since version 2; fetch it again"
}))]
pub struct PreconditionFailed(Problem);

/// An update came with neither `If-Match` nor `version`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:precondition_required", "title": "Precondition Required", "status": 428,
    "code": "precondition_required", "detail": "updates need If-Match or a version field"
}))]
pub struct PreconditionRequired(Problem);

/// The body is over the configured limit.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:payload_too_large", "title": "Payload Too Large", "status": 413,
    "code": "payload_too_large", "detail": "the request body is larger than 262144 bytes"
}))]
pub struct PayloadTooLarge(Problem);

/// The body is not sent as `application/json`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:unsupported_media_type", "title": "Unsupported Media Type", "status": 415,
    "code": "unsupported_media_type", "detail": "The body must be JSON, sent with Content-Type: application/json."
}))]
pub struct UnsupportedMediaType(Problem);

/// Fields that are missing, unknown, of the wrong type or out of range; or an
/// `Idempotency-Key` reused with another body.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:validation_failed", "title": "Unprocessable Entity", "status": 422,
    "code": "validation_failed", "detail": "The request has invalid fields.",
    "errors": [{"field": "credit_limit", "code": "too_many_decimals", "message": "USD allows at most 2 decimals"}]
}))]
pub struct ValidationFailed(Problem);

/// The database cannot be reached.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:receivables:problem:service_unavailable", "title": "Service Unavailable", "status": 503,
    "code": "service_unavailable", "detail": "The database is not available; try again shortly."
}))]
pub struct ServiceUnavailable(Problem);
