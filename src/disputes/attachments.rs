//! A dispute's attachments: the customer's evidence (photos, scans, letters), with the same
//! limits and checks as contract documents.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::service;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::contracts::documents::{checked_attachment, file_response, DocumentContentType, Upload};
use crate::error::ApiError;
use crate::extract::{ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::schema::dispute_attachments::dsl as da;
use crate::state::AppState;

/// A new attachment, its content with it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crate::schema::dispute_attachments)]
pub struct NewAttachmentRow<'a> {
    pub id: Uuid,
    pub dispute_id: Uuid,
    pub filename: &'a str,
    pub content_type: DocumentContentType,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub uploaded_by: &'a str,
    pub created_at: OffsetDateTime,
}

/// An attachment's metadata: every column but the content.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::dispute_attachments)]
pub struct AttachmentRow {
    pub id: Uuid,
    pub dispute_id: Uuid,
    pub filename: String,
    pub content_type: DocumentContentType,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub created_at: OffsetDateTime,
}

/// A file attached to a dispute (its content is fetched on its own).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: Uuid,
    pub dispute_id: Uuid,
    #[schema(example = "meter photo.jpg")]
    pub filename: String,
    pub content_type: DocumentContentType,
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of the content; also the ETag of the download.
    pub sha256: String,
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<AttachmentRow> for AttachmentView {
    fn from(r: AttachmentRow) -> Self {
        AttachmentView {
            id: r.id,
            dispute_id: r.dispute_id,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            created_at: r.created_at,
        }
    }
}

/// The file name of an upload (checked by the handler: a 422 naming it).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttachmentParams {
    /// 1 to 255 characters, without `/` or control characters.
    #[param(required = true, example = "meter photo.jpg")]
    pub filename: Option<String>,
}

/// Handles the POST /v1/disputes/{id}/attachments route: attaches a file to a dispute. The
/// body is the file itself (PDF, PNG, JPEG or TIFF, at most 10 MiB, its first bytes matching
/// its type). Partner tokens may attach to their accounts' disputes.
#[utoipa::path(
    tag = "disputes",
    request_body(
        description = "The file, at most 10 MiB; its first bytes must match its type",
        content(("application/pdf"), ("image/png"), ("image/jpeg"), ("image/tiff")),
    ),
    params(
        ("id" = Uuid, Path, description = "Dispute id"),
        AttachmentParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The file was attached", body = AttachmentView),
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
pub async fn upload_attachment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    params: ApiQuery<AttachmentParams>,
    upload: Upload,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesWrite)?;
    let dispute_id = id.into_inner();
    let (file, filename, fingerprint) = checked_attachment(
        upload,
        params.0.filename.as_deref(),
        &format!("/v1/disputes/{dispute_id}/attachments"),
    )?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::attach(conn, &ctx, dispute_id, &filename, &file).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/disputes/{id}/attachments route: the dispute's files, oldest first.
#[utoipa::path(
    tag = "disputes",
    params(("id" = Uuid, Path, description = "Dispute id"), PageParams),
    responses(
        (status = 200, description = "A page of the dispute's attachments (metadata only)", body = Page<AttachmentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("")]
pub async fn list_attachments(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let dispute_id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    super::store::find_visible(&mut conn, dispute_id, ctx.partner_scope()).await?;
    let mut query = da::dispute_attachments
        .filter(da::dispute_id.eq(dispute_id))
        .select(AttachmentRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(da::id.gt(after));
    }
    let rows = query
        .order(da::id.asc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AttachmentView::from)))
}

/// Handles the GET /v1/disputes/{id}/attachments/{attachment_id}/content route: the file as
/// it was uploaded.
#[utoipa::path(
    tag = "disputes",
    params(
        ("id" = Uuid, Path, description = "Dispute id"),
        ("attachment_id" = Uuid, Path, description = "Attachment id"),
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
#[get("/{attachment_id}/content")]
pub async fn download_attachment(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesRead)?;
    let (dispute_id, attachment_id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    super::store::find_visible(&mut conn, dispute_id, ctx.partner_scope()).await?;
    let (meta, content): (AttachmentRow, Vec<u8>) = da::dispute_attachments
        .filter(da::dispute_id.eq(dispute_id))
        .find(attachment_id)
        .select((AttachmentRow::as_select(), da::content))
        .first(&mut conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("attachment"))?;
    Ok(file_response(
        &req,
        meta.content_type,
        &meta.filename,
        &meta.sha256,
        content,
    ))
}
