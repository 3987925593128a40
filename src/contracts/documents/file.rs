//! Uploaded files, for contract documents and dispute attachments alike: the checks of a
//! name, a media type and content, and a stored file as a download.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::model::DocumentContentType;
use crate::error::ApiError;
use crate::idempotency;
use crate::validate::{is_forbidden_char, is_visible, Errors};

/// The largest document accepted: 10 MiB. The upload routes get their own `PayloadConfig`
/// with this limit (the application's default is the much smaller JSON limit).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// Why a filename is refused, if it is: 1 to 255 characters with at least one that shows,
/// without `/`, control characters (it is sent back in a header) or the invisible formatting
/// characters the text rules refuse everywhere (`validate::is_forbidden_char`).
pub fn filename_problem(name: &str) -> Option<(&'static str, &'static str)> {
    if !name.chars().any(is_visible) {
        Some(("required", "must not be blank"))
    } else if name.chars().count() > 255 {
        Some(("too_long", "must be at most 255 characters"))
    } else if name.contains('/') {
        Some(("invalid", "must not contain '/'"))
    } else if name.chars().any(|c| c.is_control() || is_forbidden_char(c)) {
        Some((
            "invalid_character",
            "must not contain control or invisible formatting characters",
        ))
    } else {
        None
    }
}

/// `Content-Disposition: attachment` naming `filename`: an ASCII `filename` with `"` and `\`
/// escaped (other characters replaced by `_`) and, when the name is not plain ASCII, the exact
/// name as RFC 5987 `filename*`.
pub fn content_disposition(filename: &str) -> String {
    let mut fallback = String::with_capacity(filename.len());
    for c in filename.chars() {
        match c {
            '"' | '\\' => {
                fallback.push('\\');
                fallback.push(c);
            }
            ' '..='~' => fallback.push(c),
            _ => fallback.push('_'),
        }
    }
    let mut value = format!("attachment; filename=\"{fallback}\"");
    if !filename.chars().all(|c| (' '..='~').contains(&c)) {
        value.push_str("; filename*=UTF-8''");
        for b in filename.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                value.push(b as char);
            } else {
                value.push_str(&format!("%{b:02X}"));
            }
        }
    }
    value
}

/// Lowercase hex SHA-256 of `content`.
pub fn sha256_hex(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The body as read under the route's `PayloadConfig`: too large is a 413 problem.
pub fn read_body(body: Result<web::Bytes, actix_web::Error>) -> Result<web::Bytes, ApiError> {
    body.map_err(|err| match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge {
            limit: MAX_DOCUMENT_BYTES,
        },
        _ => ApiError::BadRequest {
            code: "unreadable_body",
            detail: format!("The body could not be read: {err}."),
            errors: Vec::new(),
        },
    })
}

/// Checks an uploaded file's name, adding its problem to `e`; the name, in Unicode NFC like
/// every stored text.
pub fn check_filename(filename: Option<&str>, e: &mut Errors) -> String {
    use unicode_normalization::UnicodeNormalization;
    match filename {
        None => e.add("filename", "required", "is required"),
        Some(name) => {
            if let Some((code, message)) = filename_problem(name) {
                e.add("filename", code, message);
            }
        }
    }
    filename.unwrap_or_default().nfc().collect()
}

/// Checks an uploaded file's content against its type, adding its problem to `e`.
pub fn check_content(content_type: DocumentContentType, content: &[u8], e: &mut Errors) {
    if content.is_empty() {
        e.add("content", "required", "the document is empty");
    } else if !content_type.matches(content) {
        e.add(
            "content",
            "content_mismatch",
            format!("is not a {} file", content_type.as_str()),
        );
    }
}

/// The media type of an upload, from its `Content-Type` (415 for any other).
pub fn upload_type(req: &HttpRequest) -> Result<DocumentContentType, ApiError> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(DocumentContentType::from_header)
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType(
                "A document must be sent with Content-Type application/pdf, image/png, \
                 image/jpeg or image/tiff."
                    .into(),
            )
        })
}

/// A file sent as the request body: its media type (from `Content-Type`), its bytes (read
/// under the route's `PayloadConfig`) and their SHA-256.
pub struct UploadedFile {
    pub content_type: DocumentContentType,
    pub content: web::Bytes,
    pub sha256: String,
}

/// The extractor of an [`UploadedFile`]. It never refuses the request itself: the handler
/// takes the file with [`Upload::file`] after its permission check, so that a caller without
/// the permission hears 403 whatever it sent, and others 415 for another media type or 413
/// for a file over the limit.
pub struct Upload(Result<UploadedFile, ApiError>);

impl Upload {
    pub fn file(self) -> Result<UploadedFile, ApiError> {
        self.0
    }
}

impl FromRequest for Upload {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = upload_type(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let file = match content_type {
                Err(e) => Err(e),
                Ok(content_type) => read_body(body.await).map(|content| UploadedFile {
                    content_type,
                    sha256: sha256_hex(&content),
                    content,
                }),
            };
            Ok(Upload(file))
        })
    }
}

/// A stored file as a download: its media type, `attachment` name, its SHA-256 as the ETag
/// (304 when `If-None-Match` names it).
pub fn file_response(
    req: &HttpRequest,
    content_type: DocumentContentType,
    filename: &str,
    sha256: &str,
    content: Vec<u8>,
) -> HttpResponse {
    let etag = header::EntityTag::new_strong(sha256.to_string());
    let quoted = etag.to_string();
    let current = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == quoted)
        });
    if current {
        return HttpResponse::NotModified()
            .insert_header(header::ETag(etag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(content_type.as_str())
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(filename)))
        .insert_header(header::ETag(etag))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(content)
}

/// What makes two uploads of an attachment (a dispute's, a credit review's) "the same" for
/// `Idempotency-Key`: its name, media type and content.
#[derive(serde::Serialize)]
struct AttachmentFingerprint<'a> {
    filename: &'a str,
    content_type: DocumentContentType,
    sha256: &'a str,
}

/// An attachment as its upload route receives it at `path`: the file and its name, checked
/// (422 naming each problem), and the request's idempotency fingerprint.
pub fn checked_attachment(
    upload: Upload,
    filename: Option<&str>,
    path: &str,
) -> Result<(UploadedFile, String, String), ApiError> {
    let file = upload.file()?;
    let mut e = Errors::default();
    let filename = check_filename(filename, &mut e);
    check_content(file.content_type, &file.content, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint(
        "POST",
        path,
        &AttachmentFingerprint {
            filename: &filename,
            content_type: file.content_type,
            sha256: &file.sha256,
        },
    )?;
    Ok((file, filename, fingerprint))
}
