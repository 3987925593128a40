//! Request extractors that turn every malformed input into a clear problem: JSON bodies,
//! query strings, path segments, `If-Match` and `Idempotency-Key`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON body: content type checked, size limited, unknown fields and wrong types named.
pub struct ApiJson<T>(pub T);

/// Splits a serde error message into the field it names and a stable code.
fn describe(path: &str, message: &str) -> FieldError {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    if let Some(name) = quoted("unknown field `") {
        return FieldError::new(
            join(&name),
            "unknown_field",
            "is not a field of this request",
        );
    }
    if let Some(name) = quoted("missing field `") {
        return FieldError::new(join(&name), "required", "is required");
    }
    let field = if path.is_empty() || path == "." {
        "body".to_string()
    } else {
        path.to_string()
    };
    let code = if message.starts_with("invalid type") {
        "invalid_type"
    } else {
        "invalid"
    };
    FieldError::new(field, code, message)
}

/// Whether a JSON text escapes a NUL character (`\u0000`), which PostgreSQL cannot store.
fn escapes_nul(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(i, w)| {
        w.eq_ignore_ascii_case(b"\\u0000")
            && body[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if escapes_nul(body) {
        return Err(ApiError::field(
            "body",
            "invalid",
            "strings must not contain the NUL character",
        ));
    }
    let malformed = |inner: &serde_json::Error| ApiError::BadRequest {
        code: "malformed_json",
        detail: format!("The body is not valid JSON: {inner}."),
        errors: Vec::new(),
    };
    let mut document: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| malformed(&e))?;
    // Every body is an object, or `null` where it is optional (serde would also read a
    // struct from an array of its fields).
    if !document.is_object() && !document.is_null() {
        return Err(ApiError::field(
            "body",
            "invalid_type",
            "must be a JSON object",
        ));
    }
    // Text is what it looks like: no control or invisible characters, stored as NFC.
    let mut errors = crate::validate::Errors::default();
    crate::validate::clean_json_text(&mut document, "", &mut errors);
    errors.finish()?;
    serde_path_to_error::deserialize(document).map_err(|err| {
        let path = err.path().to_string();
        ApiError::Validation(vec![describe(&path, &err.into_inner().to_string())])
    })
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

/// The largest JSON body the application accepts, in bytes (app data; 256 KiB without it).
#[derive(Debug, Clone, Copy)]
pub struct JsonLimit(pub usize);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<JsonLimit>()
            .map(|l| l.0)
            .unwrap_or(256 * 1024);
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(ApiError::UnsupportedMediaType(
                    "The body must be JSON, sent with Content-Type: application/json.".into(),
                ));
            }
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::BadRequest {
                    code: "unreadable_body",
                    detail: format!("The body could not be read: {e}."),
                    errors: Vec::new(),
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(ApiJson)
        })
    }
}

/// A JSON body that may be left out (an action whose options all have defaults): no body, or
/// `null`, gives `T::default()`; a body is read as [`ApiJson`] would.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let typed = req.headers().contains_key(header::CONTENT_TYPE);
        if length == Some(0) || (length.is_none() && !typed) {
            return Box::pin(async { Ok(OptionalJson(T::default())) });
        }
        let json = ApiJson::<Option<T>>::from_request(req, payload);
        Box::pin(async move { json.await.map(|j| OptionalJson(j.0.unwrap_or_default())) })
    }
}

/// A query string deserialised field by field, so an error names the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = form_urlencoded::parse(req.query_string().as_bytes());
        if let Some((name, _)) = parsed
            .clone()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return std::future::ready(Err(ApiError::BadRequest {
                code: "invalid_query",
                detail: "Query parameters must not contain the NUL character.".into(),
                errors: vec![FieldError::new(
                    name.replace('\0', ""),
                    "invalid",
                    "contains the NUL character",
                )],
            }));
        }
        let de = serde_urlencoded::Deserializer::new(parsed);
        let result = serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                let mut field = describe(&path, &message);
                if field.field == "body" {
                    field.field = "query".into();
                }
                ApiError::BadRequest {
                    code: "invalid_query",
                    detail: format!(
                        "The query parameter {} is invalid: {}.",
                        field.field, field.message
                    ),
                    errors: vec![field],
                }
            });
        std::future::ready(result)
    }
}

/// Error handler for path segments (`/v1/accounts/{id}` with something that is not a UUID).
/// A segment that is the literal path of another method's route (`DELETE
/// /v1/collections/assignment-rules/apply`) is 405, not a parameter that failed to parse.
pub fn path_error(err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let routes = req.app_data::<actix_web::web::Data<crate::openapi::RouteTable>>();
    if let Some(methods) = routes.and_then(|r| r.literal(req.path())) {
        if !methods.contains(req.method()) {
            let response = crate::openapi::method_not_allowed(req, &methods);
            return actix_web::error::InternalError::from_response(err, response).into();
        }
    }
    ApiError::BadRequest {
        code: "invalid_path_parameter",
        detail: format!("A path parameter is invalid: {err}."),
        errors: vec![FieldError::new("path", "invalid", err.to_string())],
    }
    .into()
}

/// The version an update expects to change, from `If-Match` or the body's `version`.
#[derive(Debug, Clone, Copy)]
pub enum Expected {
    /// `If-Match` with this version (a stale one is 412).
    Header(i32),
    /// A `version` field in the body (a stale one is 409).
    Body(i32),
    /// `If-Match: *`.
    Any,
}

impl Expected {
    pub fn from_request(
        req: &HttpRequest,
        body_version: Option<i32>,
    ) -> Result<Expected, ApiError> {
        // An empty header carries no precondition.
        let given = req
            .headers()
            .get(header::IF_MATCH)
            .map(|v| v.to_str().unwrap_or("\u{0}").trim())
            .filter(|v| !v.is_empty());
        if let Some(raw) = given {
            if raw == "*" {
                return Ok(Expected::Any);
            }
            // An entity tag is quoted (RFC 9110): `"3"` or `W/"3"`.
            let tag = raw
                .strip_prefix("W/")
                .unwrap_or(raw)
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| t.len() <= 9 && t.bytes().all(|b| b.is_ascii_digit()));
            return tag
                .and_then(|t| t.parse().ok())
                .map(Expected::Header)
                .ok_or_else(|| ApiError::BadRequest {
                    code: "invalid_if_match",
                    detail: "If-Match must be the ETag of the resource, like \"3\".".into(),
                    errors: vec![FieldError::new(
                        "If-Match",
                        "invalid",
                        "is not an ETag of this API",
                    )],
                });
        }
        body_version
            .map(Expected::Body)
            .ok_or(ApiError::PreconditionRequired)
    }

    /// For actions where a precondition is welcome but not required (close, delete).
    pub fn optional(req: &HttpRequest) -> Result<Expected, ApiError> {
        match Expected::from_request(req, None) {
            Err(ApiError::PreconditionRequired) => Ok(Expected::Any),
            other => other,
        }
    }

    pub fn check(self, current: i32) -> Result<(), ApiError> {
        match self {
            Expected::Any => Ok(()),
            Expected::Header(v) if v == current => Ok(()),
            Expected::Body(v) if v == current => Ok(()),
            Expected::Header(expected) => Err(ApiError::PreconditionFailed { expected }),
            Expected::Body(expected) => Err(ApiError::Conflict {
                code: "version_conflict",
                detail: format!(
                    "The resource is at version {current}, not {expected}: it changed since you read it."
                ),
                field: Some("version"),
            }),
        }
    }
}

/// The ETag of a versioned resource.
pub fn etag(version: i32) -> header::EntityTag {
    header::EntityTag::new_strong(version.to_string())
}

/// The optional `Idempotency-Key` header of a POST.
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get("idempotency-key") {
            None => Ok(IdempotencyKey(None)),
            Some(value) => match value.to_str() {
                Ok(key)
                    if (1..=255).contains(&key.len())
                        && key.bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    Ok(IdempotencyKey(Some(key.to_string())))
                }
                _ => Err(ApiError::BadRequest {
                    code: "invalid_idempotency_key",
                    detail: "Idempotency-Key must be 1 to 255 visible ASCII characters.".into(),
                    errors: vec![FieldError::new(
                        "Idempotency-Key",
                        "invalid",
                        "1 to 255 visible ASCII characters",
                    )],
                }),
            },
        };
        std::future::ready(result)
    }
}

/// A JSON response carrying the resource's version as its ETag.
pub fn versioned(
    status: actix_web::http::StatusCode,
    version: i32,
    body: &impl serde::Serialize,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .insert_header(header::ETag(etag(version)))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        country: String,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        count: i32,
        address: Inner,
    }

    fn field_of(body: &str) -> FieldError {
        match parse_json::<Outer>(body.as_bytes()) {
            Err(ApiError::Validation(errors)) => errors[0].clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let e = field_of(r#"{"name":"a","count":1,"address":{"country":"US","zip":"1"}}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("address.zip", "unknown_field")
        );
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let e = field_of(r#"{"name":"a","address":{"country":"US"}}"#);
        assert_eq!((e.field.as_str(), e.code.as_str()), ("count", "required"));
        let e = field_of(r#"{"name":"a","count":"x","address":{"country":"US"}}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("count", "invalid_type")
        );
    }

    #[test]
    fn nul_characters_are_refused_but_escaped_backslashes_are_not() {
        assert!(escapes_nul(br#"{"name":"a\u0000b"}"#));
        assert!(escapes_nul(br#"{"name":"a\U0000b"}"#));
        assert!(!escapes_nul(br#"{"name":"a\\u0000b"}"#));
        assert!(matches!(
            parse_json::<Outer>(br#"{"name":"\u0000"}"#),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert!(matches!(
            parse_json::<Outer>(b"{\"name\":"),
            Err(ApiError::BadRequest {
                code: "malformed_json",
                ..
            })
        ));
        assert!(matches!(
            parse_json::<Outer>(br#"{"name":"a","count":1,"address":{"country":"US"}} trailing"#),
            Err(ApiError::BadRequest {
                code: "malformed_json",
                ..
            })
        ));
    }

    #[test]
    fn stale_versions_are_refused_by_kind() {
        assert!(Expected::Header(2).check(2).is_ok());
        assert!(matches!(
            Expected::Header(1).check(2),
            Err(ApiError::PreconditionFailed { .. })
        ));
        assert!(matches!(
            Expected::Body(1).check(2),
            Err(ApiError::Conflict {
                code: "version_conflict",
                ..
            })
        ));
        assert!(Expected::Any.check(7).is_ok());
    }
}
