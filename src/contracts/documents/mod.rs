//! The original paperwork of a contract (signed agreement, addenda, amendments): uploaded as
//! the raw request body, kept in the database with its SHA-256, listed and downloaded.

mod file;
pub mod model;
pub mod store;
#[cfg(test)]
mod tests;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

pub use file::{
    check_content, check_filename, checked_attachment, content_disposition, file_response,
    filename_problem, read_body, sha256_hex, upload_type, Upload, UploadedFile, MAX_DOCUMENT_BYTES,
};
pub use model::{DocumentContentType, DocumentKind, DocumentView, UploadParams};

use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;
use model::{NewDocumentRow, UploadFingerprint};

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
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    params: ApiQuery<UploadParams>,
    upload: Upload,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
    let file = upload.file()?;
    let (filename, kind) = check_upload(&params.0, file.content_type, &file.content)?;
    let contract_id = id.into_inner();
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/contracts/{contract_id}/documents"),
        &UploadFingerprint {
            filename: &filename,
            kind,
            content_type: file.content_type,
            size_bytes: file.content.len(),
            sha256: &file.sha256,
        },
    )?;
    let row = NewDocumentRow::new(contract_id, kind, &filename, &file, &ctx);
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| crate::contracts::service::documents::attach(conn, &row).await,
    )
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
    store::contract_account(&mut conn, contract_id).await?;
    let rows = store::list(&mut conn, contract_id, after, limit).await?;
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
    let (meta, content) = store::with_content(&mut conn, contract_id, document_id).await?;
    Ok(file_response(
        &req,
        meta.content_type,
        &meta.filename,
        &meta.sha256,
        content,
    ))
}
