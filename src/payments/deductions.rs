//! HTTP handlers of deductions: what short payments left unpaid, listed, read and written
//! off when within the small-balance tolerance.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::DeductionView;
use super::requests::{DeductionFilter, WriteOffDeduction};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the GET /v1/deductions route: deductions in creation order, filtered.
#[utoipa::path(
    tag = "deductions",
    params(DeductionFilter, PageParams),
    responses(
        (status = 200, description = "A page of deductions", body = Page<DeductionView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/deductions")]
pub async fn list_deductions(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<DeductionFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list_deductions(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |d| d.id, DeductionView::from)))
}

/// Handles the GET /v1/deductions/{id} route.
#[utoipa::path(
    tag = "deductions",
    params(("id" = Uuid, Path, description = "Deduction id")),
    responses(
        (status = 200, description = "The deduction", body = DeductionView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/deductions/{id}")]
pub async fn get_deduction(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_deduction(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DeductionView::from(row)))
}

/// Handles the POST /v1/deductions/{id}/write-off route: writes an open deduction off as a
/// small balance.
///
/// Only up to the configured tolerance (`SMALL_BALANCE_TOLERANCE`, default 5.00; above it:
/// 409 `above_tolerance`), with an active financial code of kind `write_off`. The invoice's
/// balance goes down by the deduction through a `write_off` ledger entry and an adjustment
/// document; the invoice is paid when nothing is left.
#[utoipa::path(
    tag = "deductions",
    request_body = WriteOffDeduction,
    params(
        ("id" = Uuid, Path, description = "Deduction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The written-off deduction", body = DeductionView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/deductions/{id}/write-off")]
pub async fn write_off_deduction(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<WriteOffDeduction>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DeductionsWriteOff)?;
    let write_off = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    e.optional_text("note", write_off.note.as_deref(), 1000);
    e.finish()?;
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/deductions/{id}/write-off"),
        &write_off,
    )?;
    let tolerance = state.config.payments.small_balance_tolerance;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::deductions::write_off(conn, &ctx, id, &write_off, tolerance).await,
    )
    .await?;
    Ok(stored.into_response())
}
