//! HTTP handlers of adjustments: late fees, small-balance and bad-debt write-offs, and the
//! list of every adjustment (recoveries included).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{
    AdjustmentFilter, AdjustmentResult, AdjustmentView, NewAdjustment, NewAdjustmentKind,
};
use super::{rules, service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the POST /v1/adjustments route: a late fee, a small-balance write-off or a
/// bad-debt write-off.
///
/// Late fees (`adjustments:write`) are billed on a new issued invoice under a `fee` code:
/// an `amount`, or a `percentage` of the past-due balance (disputed amounts excluded).
/// Small-balance write-offs (`adjustments:write`) are at most `SMALL_BALANCE_TOLERANCE`.
/// Bad-debt write-offs (`adjustments:bad_debt`: collections manager and admin) write the whole
/// balance of a past-due invoice, or of every past-due invoice of an account, off under a
/// `write_off` code: the invoices become `uncollectible` (a disputed one is refused), and an
/// account left with nothing open gets the collections status `written_off`. Invoices not yet
/// past due only with `include_not_yet_due` and a `not_yet_due_reason`. A later payment applied to an uncollectible
/// invoice is recorded as a recovery.
#[utoipa::path(
    tag = "adjustments",
    request_body = NewAdjustment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The adjustments made (one per invoice)", body = AdjustmentResult),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/adjustments")]
pub async fn create_adjustment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewAdjustment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AdjustmentsWrite)?;
    let new = body.0;
    if new.kind == NewAdjustmentKind::BadDebtWriteOff {
        ctx.require(Permission::AdjustmentsBadDebt)?;
    }
    let mut e = Errors::default();
    rules::check_new(&new, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/adjustments", &new)?;
    let numbering = &state.config.billing.numbering;
    let tolerance = state.config.payments.small_balance_tolerance;
    // One request makes several adjustments, each with its own audit entry.
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| {
            let made = service::create(conn, &ctx, &new, numbering, tolerance).await?;
            Ok((StatusCode::CREATED, made))
        },
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/adjustments/{id} route.
#[utoipa::path(
    tag = "adjustments",
    params(("id" = Uuid, Path, description = "Adjustment id")),
    responses(
        (status = 200, description = "The adjustment", body = AdjustmentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/adjustments/{id}")]
pub async fn get_adjustment(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AdjustmentsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AdjustmentView::from(row)))
}

/// Handles the GET /v1/adjustments route: adjustments newest first, filtered.
#[utoipa::path(
    tag = "adjustments",
    params(AdjustmentFilter, PageParams),
    responses(
        (status = 200, description = "A page of adjustments", body = Page<AdjustmentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/adjustments")]
pub async fn list_adjustments(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<AdjustmentFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AdjustmentsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AdjustmentView::from)))
}
