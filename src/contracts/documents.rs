//! The original paperwork of a contract (signed agreement, addenda, amendments): uploaded as
//! the raw request body, kept in the database with its SHA-256, listed and downloaded.

use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiQuery, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::schema::contract_documents::dsl as d;
use crate::validate::{is_forbidden_char, is_visible, Errors};
use crate::AppState;

/// The largest document accepted: 10 MiB. The upload routes get their own `PayloadConfig`
/// with this limit (the application's default is the much smaller JSON limit).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

crate::text_enum! {
    /// What a contract document is.
    DocumentKind {
        SignedAgreement => "signed_agreement",
        Addendum => "addendum",
        Amendment => "amendment",
        Other => "other",
    }
}

crate::text_enum! {
    /// The media types a contract document may have.
    DocumentContentType {
        Pdf => "application/pdf",
        Png => "image/png",
        Jpeg => "image/jpeg",
        Tiff => "image/tiff",
    }
}

impl DocumentContentType {
    /// The type named by a `Content-Type` header value (parameters and case ignored).
    pub fn from_header(value: &str) -> Option<DocumentContentType> {
        let essence = value.split(';').next().unwrap_or("").trim();
        DocumentContentType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(essence))
    }

    /// Whether `content` starts with this type's magic number.
    pub fn matches(self, content: &[u8]) -> bool {
        match self {
            DocumentContentType::Pdf => content.starts_with(b"%PDF-"),
            DocumentContentType::Png => content.starts_with(b"\x89PNG\r\n\x1a\n"),
            DocumentContentType::Jpeg => content.starts_with(&[0xFF, 0xD8, 0xFF]),
            DocumentContentType::Tiff => {
                content.starts_with(b"II*\0") || content.starts_with(b"MM\0*")
            }
        }
    }
}

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

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::contract_documents)]
pub struct NewDocumentRow<'a> {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub kind: DocumentKind,
    pub filename: &'a str,
    pub content_type: DocumentContentType,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub uploaded_by: &'a str,
    pub created_at: OffsetDateTime,
}

/// A document's metadata: every column but the content.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::contract_documents)]
pub struct DocumentMetaRow {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub kind: DocumentKind,
    pub filename: String,
    pub content_type: DocumentContentType,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub created_at: OffsetDateTime,
}

/// A document attached to a contract (its content is fetched on its own).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub kind: DocumentKind,
    #[schema(example = "Master lease agreement - signed.pdf")]
    pub filename: String,
    pub content_type: DocumentContentType,
    #[schema(example = 482133)]
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of the content; also the ETag of the download.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    pub sha256: String,
    /// Token subject of whoever uploaded it.
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<DocumentMetaRow> for DocumentView {
    fn from(r: DocumentMetaRow) -> Self {
        DocumentView {
            id: r.id,
            contract_id: r.contract_id,
            kind: r.kind,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            created_at: r.created_at,
        }
    }
}

/// Query parameters of an upload. Both are checked by the handler so that a problem with
/// either is a 422 naming it, like any other field of a new document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The document's file name: 1 to 255 characters, without `/` or control characters.
    #[param(required = true, example = "Master lease agreement - signed.pdf")]
    pub filename: Option<String>,
    /// `signed_agreement`, `addendum`, `amendment` or `other` (the default).
    #[param(value_type = Option<DocumentKind>)]
    pub kind: Option<String>,
}

/// What makes two uploads "the same" for `Idempotency-Key`: the metadata and the content's hash.
#[derive(Serialize)]
struct UploadFingerprint<'a> {
    filename: &'a str,
    kind: DocumentKind,
    content_type: DocumentContentType,
    size_bytes: usize,
    sha256: &'a str,
}

/// The account of a contract, or 404 when there is no such contract.
async fn contract_account(conn: &mut Conn, contract_id: Uuid) -> Result<Uuid, ApiError> {
    use crate::schema::contracts::dsl as c;
    c::contracts
        .find(contract_id)
        .select(c::account_id)
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("contract"))
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

/// Checks the metadata and content of an upload, collecting every problem.
fn check_upload(
    params: &UploadParams,
    content_type: DocumentContentType,
    content: &[u8],
) -> Result<(String, DocumentKind), ApiError> {
    let mut e = Errors::default();
    let filename = check_filename(params.filename.as_deref(), &mut e);
    let kind = match params.kind.as_deref() {
        None => DocumentKind::Other,
        Some(text) => text.parse().unwrap_or_else(|_| {
            e.add(
                "kind",
                "invalid",
                "must be signed_agreement, addendum, amendment or other",
            );
            DocumentKind::Other
        }),
    };
    check_content(content_type, content, &mut e);
    e.finish()?;
    Ok((filename, kind))
}

/// Handles the POST /v1/contracts/{id}/documents route: attaches a document to a contract.
/// The request body is the file itself, sent with its media type.
#[utoipa::path(
    tag = "contracts",
    request_body(
        description = "The file, at most 10 MiB; its first bytes must match its type",
        content(("application/pdf"), ("image/png"), ("image/jpeg"), ("image/tiff")),
    ),
    params(
        ("id" = Uuid, Path, description = "Contract id"),
        UploadParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The document was attached", body = DocumentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("")]
pub async fn upload_contract_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    params: ApiQuery<UploadParams>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
    let content_type = upload_type(&req)?;
    let content = read_body(body)?;
    let (filename, kind) = check_upload(&params.0, content_type, &content)?;
    let contract_id = id.into_inner();
    let sha256 = sha256_hex(&content);
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/contracts/{contract_id}/documents"),
        &UploadFingerprint {
            filename: &filename,
            kind,
            content_type,
            size_bytes: content.len(),
            sha256: &sha256,
        },
    )?;
    let row = NewDocumentRow {
        id: Uuid::now_v7(),
        contract_id,
        kind,
        filename: &filename,
        content_type,
        size_bytes: content.len() as i64,
        sha256: &sha256,
        content: &content[..],
        uploaded_by: &ctx.principal.subject,
        created_at: ctx.now,
    };
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let account_id = contract_account(conn, contract_id).await?;
            let view = DocumentView::from(
                diesel::insert_into(d::contract_documents)
                    .values(&row)
                    .returning(DocumentMetaRow::as_returning())
                    .get_result(conn)
                    .await?,
            );
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "contract.document_attached",
                    entity_type: "contract",
                    entity_id: contract_id,
                    account_id: Some(account_id),
                    before: None,
                    after: Some(&view),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/contracts/{id}/documents route: the contract's documents, oldest first.
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "Contract id"), PageParams),
    responses(
        (status = 200, description = "A page of the contract's documents (metadata only)", body = Page<DocumentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("")]
pub async fn list_contract_documents(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let contract_id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    contract_account(&mut conn, contract_id).await?;
    let mut query = d::contract_documents
        .filter(d::contract_id.eq(contract_id))
        .select(DocumentMetaRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(d::id.gt(after));
    }
    let rows = query
        .order(d::id.asc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, DocumentView::from)))
}

/// Handles the GET /v1/contracts/{id}/documents/{document_id}/content route: the file as it
/// was uploaded.
#[utoipa::path(
    tag = "contracts",
    params(
        ("id" = Uuid, Path, description = "Contract id"),
        ("document_id" = Uuid, Path, description = "Document id"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy already held: 304 when it is still current"),
    ),
    responses(
        (status = 200, description = "The file, with its media type; the ETag is its SHA-256",
            content(("application/pdf"), ("image/png"), ("image/jpeg"), ("image/tiff")),
            headers(
                ("Content-Disposition" = String, description = "`attachment` with the file name"),
                ("ETag" = String, description = "The quoted SHA-256 of the content"),
            )),
        (status = 304, description = "The copy named by If-None-Match is current"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/{document_id}/content")]
pub async fn download_contract_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let (contract_id, document_id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let (meta, content): (DocumentMetaRow, Vec<u8>) = d::contract_documents
        .filter(d::contract_id.eq(contract_id))
        .find(document_id)
        .select((DocumentMetaRow::as_select(), d::content))
        .first(&mut conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("document"))?;
    Ok(file_response(
        &req,
        meta.content_type,
        &meta.filename,
        &meta.sha256,
        content,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_are_checked_per_type() {
        use DocumentContentType::*;
        assert!(Pdf.matches(b"%PDF-1.7\n..."));
        assert!(!Pdf.matches(b"%PDF"));
        assert!(!Pdf.matches(b"<html>"));
        assert!(Png.matches(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert!(!Png.matches(b"\x89PNG\n"));
        assert!(Jpeg.matches(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]));
        assert!(!Jpeg.matches(&[0xFF, 0xD8]));
        assert!(Tiff.matches(b"II*\0\x08\0\0\0"));
        assert!(Tiff.matches(b"MM\0*\0\0\0\x08"));
        assert!(!Tiff.matches(b"II\0*"));
        assert!(!Tiff.matches(b"%PDF-1.4"));
        for t in DocumentContentType::ALL {
            assert!(!t.matches(b""), "{} refuses empty content", t.as_str());
        }
    }

    #[test]
    fn content_types_are_read_from_the_header() {
        assert_eq!(
            DocumentContentType::from_header("application/pdf"),
            Some(DocumentContentType::Pdf)
        );
        assert_eq!(
            DocumentContentType::from_header("Image/PNG; name=scan.png"),
            Some(DocumentContentType::Png)
        );
        assert_eq!(DocumentContentType::from_header("image/gif"), None);
        assert_eq!(DocumentContentType::from_header("application/json"), None);
        assert_eq!(DocumentContentType::from_header(""), None);
    }

    #[test]
    fn filenames_are_checked() {
        assert_eq!(filename_problem("Agreement signed 2026-11-02.pdf"), None);
        assert_eq!(filename_problem("Vertrag \u{fc}ber Leasing.pdf"), None);
        assert_eq!(filename_problem(&"a".repeat(255)), None);
        assert_eq!(filename_problem(&"\u{e9}".repeat(255)), None);
        assert_eq!(filename_problem(&"a".repeat(256)).unwrap().0, "too_long");
        assert_eq!(filename_problem("").unwrap().0, "required");
        assert_eq!(filename_problem("   ").unwrap().0, "required");
        assert_eq!(filename_problem("../etc/passwd").unwrap().0, "invalid");
        assert_eq!(filename_problem("a\0b.pdf").unwrap().0, "invalid_character");
        assert_eq!(
            filename_problem("a\r\nSet-Cookie: x").unwrap().0,
            "invalid_character"
        );
        assert_eq!(
            filename_problem("invoice\u{202E}fdp.exe").unwrap().0,
            "invalid_character"
        );
        assert_eq!(
            filename_problem("a\u{200B}.pdf").unwrap().0,
            "invalid_character"
        );
        assert_eq!(filename_problem("\u{3164}\u{200B}").unwrap().0, "required");
    }

    #[test]
    fn content_disposition_quotes_safely() {
        assert_eq!(
            content_disposition("lease.pdf"),
            "attachment; filename=\"lease.pdf\""
        );
        assert_eq!(
            content_disposition("the \"final\" copy\\v2.pdf"),
            "attachment; filename=\"the \\\"final\\\" copy\\\\v2.pdf\""
        );
        assert_eq!(
            content_disposition("Vertrag \u{fc}.pdf"),
            "attachment; filename=\"Vertrag _.pdf\"; filename*=UTF-8''Vertrag%20%C3%BC.pdf"
        );
        for name in [
            "a;b=c.pdf",
            "x\"; filename=\"evil.exe",
            "trailing\\",
            "\\\"",
            "\u{202e}fdp.exe",
        ] {
            let value = content_disposition(name);
            assert!(
                header::HeaderValue::from_str(&value).is_ok(),
                "{value} is a valid header"
            );
            let (quoted, rest) =
                parse_quoted(value.strip_prefix("attachment; filename=\"").unwrap());
            assert!(
                rest.is_empty() || rest.starts_with("; filename*=UTF-8''"),
                "{value}: nothing follows the quoted name but filename*"
            );
            if name.is_ascii() {
                assert_eq!(quoted, name, "{value} carries the exact ASCII name");
            }
        }
    }

    /// Reads an RFC 9110 quoted-string body (after the opening quote): the unescaped text and
    /// what follows the closing quote.
    fn parse_quoted(text: &str) -> (String, &str) {
        let mut out = String::new();
        let mut chars = text.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => out.push(chars.next().expect("an escaped character").1),
                '"' => return (out, &text[i + 1..]),
                c => out.push(c),
            }
        }
        panic!("unterminated quoted string in {text}");
    }

    #[test]
    fn hashes_are_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
