//! HTTP handlers of a review's documents (the agency's report behind an external score): the
//! same upload rules, limits and download as contract documents.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{DocumentParams, ReviewDocumentView};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::contracts::documents::{checked_attachment, file_response, Upload};
use crate::error::ApiError;
use crate::extract::{ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/credit-reviews/{id}/documents route: keeps a file with an open review
/// (the credit agency's report, say). The body is the file itself (PDF, PNG, JPEG or TIFF, at
/// most 10 MiB, its first bytes matching its type).
#[utoipa::path(
    tag = "credit",
    request_body(
        description = "The file, at most 10 MiB; its first bytes must match its type",
        content(("application/pdf"), ("image/png"), ("image/jpeg"), ("image/tiff")),
    ),
    params(
        ("id" = Uuid, Path, description = "Credit review id"),
        DocumentParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The file is kept with the review", body = ReviewDocumentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("")]
pub async fn upload_review_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    params: ApiQuery<DocumentParams>,
    upload: Upload,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditReviewsRequest)?;
    let review_id = id.into_inner();
    let (file, filename, fingerprint) = checked_attachment(
        upload,
        params.0.filename.as_deref(),
        &format!("/v1/credit-reviews/{review_id}/documents"),
    )?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::attach_document(conn, &ctx, review_id, &filename, &file).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/credit-reviews/{id}/documents route: the review's files, oldest first.
#[utoipa::path(
    tag = "credit",
    params(("id" = Uuid, Path, description = "Credit review id"), PageParams),
    responses(
        (status = 200, description = "A page of the review's documents (metadata only)", body = Page<ReviewDocumentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("")]
pub async fn list_review_documents(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let (limit, after) = (page.0.limit()?, page.0.after::<Uuid>()?);
    let mut conn = crate::db::conn(&state.pool).await?;
    let review = store::find_review(&mut conn, id.into_inner(), ctx.partner_scope(), false).await?;
    let rows = store::documents(&mut conn, review.id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        ReviewDocumentView::from,
    )))
}

/// Handles the GET /v1/credit-reviews/{id}/documents/{document_id}/content route: the file as
/// it was uploaded.
#[utoipa::path(
    tag = "credit",
    params(
        ("id" = Uuid, Path, description = "Credit review id"),
        ("document_id" = Uuid, Path, description = "Document id"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy already held: 304 when it is still current"),
    ),
    responses(
        (status = 200, description = "The file, with its media type; the ETag is its SHA-256",
            content(("application/pdf"), ("image/png"), ("image/jpeg"), ("image/tiff"))),
        (status = 304, description = "The copy named by If-None-Match is current"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/{document_id}/content")]
pub async fn download_review_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let (review_id, document_id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    store::find_review(&mut conn, review_id, ctx.partner_scope(), false).await?;
    let (meta, content) = store::document_content(&mut conn, review_id, document_id).await?;
    Ok(file_response(
        &req,
        meta.content_type,
        &meta.filename,
        &meta.sha256,
        content,
    ))
}
