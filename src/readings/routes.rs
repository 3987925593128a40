//! HTTP handlers of meter readings: post one, post a batch, list a meter's readings, void or
//! correct a wrong one.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{
    BatchReport, CorrectReading, NewReading, ReadingBatch, ReadingFilter, ReadingView, VoidReading,
};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Most readings in one batch.
pub const MAX_BATCH: usize = 1000;

/// Handles the POST /v1/meters/{id}/readings route: records an actual reading.
///
/// Refused (422, naming the field): a value below the last actual reading without a
/// `reset`, a date in the future, before the installation, or not after the last actual
/// reading. Partner tokens post readings for their accounts' meters only.
#[utoipa::path(
    tag = "meter-readings",
    request_body = NewReading,
    params(
        ("id" = Uuid, Path, description = "Meter id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The reading was recorded", body = ReadingView),
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
#[post("/meters/{id}/readings")]
pub async fn create_reading(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewReading>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReadingsWrite)?;
    let meter_id = id.into_inner();
    let new = body.0;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/meters/{meter_id}/readings"), &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::record(conn, &ctx, meter_id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/meter-readings/batch route: up to 1,000 readings, each accepted or
/// refused with its own reasons (the same rules as one reading). Accepted readings are
/// recorded even when others are refused.
#[utoipa::path(
    tag = "meter-readings",
    request_body = ReadingBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 200, description = "What became of each reading", body = BatchReport),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/meter-readings/batch")]
pub async fn create_reading_batch(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<ReadingBatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReadingsWrite)?;
    let batch = body.0;
    if batch.readings.is_empty() || batch.readings.len() > MAX_BATCH {
        return Err(ApiError::field(
            "readings",
            "out_of_range",
            format!("must hold 1 to {MAX_BATCH} readings"),
        ));
    }
    let fingerprint = idempotency::fingerprint("POST", "/v1/meter-readings/batch", &batch)?;
    let stored =
        service::record_batch_once(&state.pool, &ctx, key.0.as_deref(), &fingerprint, &batch)
            .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/meters/{id}/readings route: a meter's readings, actual and estimated,
/// in the order they were recorded.
#[utoipa::path(
    tag = "meter-readings",
    params(("id" = Uuid, Path, description = "Meter id"), ReadingFilter, PageParams),
    responses(
        (status = 200, description = "A page of readings", body = Page<ReadingView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/meters/{id}/readings")]
pub async fn list_readings(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    filter: ApiQuery<ReadingFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)
        .or_else(|_| ctx.require(Permission::ReadingsWrite))?;
    let limit = page.0.limit()?;
    let meter_id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let states = store::meter_states(&mut conn, &[meter_id]).await?;
    states
        .get(&meter_id)
        .filter(|m| m.visible_to(ctx.partner_scope()))
        .ok_or(ApiError::NotFound("meter"))?;
    let rows = store::list(&mut conn, meter_id, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, ReadingView::from)))
}

/// Handles the POST /v1/meter-readings/{id}/void route: voids a reading recorded in error.
///
/// The reading is kept (with who voided it, when and why) and counts for nothing: not for
/// billing, estimates or the next reading's checks. Only a reading no billed period has
/// reached may be voided (409 `reading_billed`; correct a billed one instead).
#[utoipa::path(
    tag = "meter-readings",
    request_body = VoidReading,
    params(
        ("id" = Uuid, Path, description = "Reading id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The voided reading", body = ReadingView),
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
#[post("/meter-readings/{id}/void")]
pub async fn void_reading(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<VoidReading>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReadingsCorrect)?;
    let request = body.0;
    let reason = request.reason.clone();
    let mut e = crate::validate::Errors::default();
    e.text("reason", &reason, 500);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/meter-readings/{id}/void"), &request)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::void(conn, &ctx, id, &reason).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/meter-readings/{id}/correct route: replaces a wrong reading with the
/// value (and, while unbilled, the date) it should have had.
///
/// The correction is a new reading naming the one it replaces (`replaces_id`); the old one is
/// voided and kept. It must fit between the meter's readings before and after it. A reading
/// no billed period has reached changes nothing else. The end reading of the meter's latest
/// billed period may be corrected too: the next invoice re-rates that period to the corrected
/// value and credits what was charged too much, on a credit memo when it is more than that
/// invoice can take (a value corrected upwards is billed with the next period's usage, as an
/// under-estimate is). A reading billed periods were billed from
/// stays (409 `reading_billed`).
#[utoipa::path(
    tag = "meter-readings",
    request_body = CorrectReading,
    params(
        ("id" = Uuid, Path, description = "Reading id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The correcting reading", body = ReadingView),
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
#[post("/meter-readings/{id}/correct")]
pub async fn correct_reading(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<CorrectReading>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReadingsCorrect)?;
    let fix = body.0;
    let mut e = crate::validate::Errors::default();
    e.text("reason", &fix.reason, 500);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/meter-readings/{id}/correct"), &fix)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::correct(conn, &ctx, id, &fix).await,
    )
    .await?;
    Ok(stored.into_response())
}
