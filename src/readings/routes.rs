//! HTTP handlers of meter readings: post one, post a batch, list a meter's readings, void or
//! correct a wrong one.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel_async::AsyncConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{
    BatchItem, BatchReport, CorrectReading, NewReading, ReadingBatch, ReadingFilter,
    ReadingOutcome, ReadingRow, ReadingSource, ReadingView, VoidReading,
};
use super::{rules, store};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::{ApiError, FieldError};
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::AppState;

/// Most readings in one batch.
pub const MAX_BATCH: usize = 1000;

fn row(meter_id: Uuid, r: &NewReading, ctx: &Ctx, now: OffsetDateTime) -> ReadingRow {
    ReadingRow {
        id: Uuid::now_v7(),
        meter_id,
        read_on: r.read_on,
        value: r.value,
        source: r.source,
        reset: r.reset,
        starting_value: r.starting_value,
        final_value: r.final_value,
        estimate_method: None,
        estimate_basis: None,
        billing_run_id: None,
        note: r.note.clone(),
        created_by: ctx.principal.subject.clone(),
        created_at: now,
        voided_at: None,
        voided_by: None,
        void_reason: None,
        replaces_id: None,
    }
}

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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let states = store::lock_meter_states(conn, &[meter_id]).await?;
            let meter = states
                .get(&meter_id)
                .filter(|m| m.visible_to(ctx.partner_scope()))
                .ok_or(ApiError::NotFound("meter"))?;
            let now = ctx.now;
            let errors = rules::check(&new, &meter.state, now.date(), "");
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let row = row(meter_id, &new, &ctx, now);
            store::insert_many(conn, std::slice::from_ref(&row)).await?;
            let view = ReadingView::from(row);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "meter_reading.recorded",
                    entity_type: "meter_reading",
                    entity_id: view.id,
                    account_id: Some(meter.account_id),
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let mut ids: Vec<Uuid> = batch.readings.iter().map(|r| r.meter_id).collect();
            ids.sort();
            ids.dedup();
            let mut states = store::lock_meter_states(conn, &ids).await?;
            let now = ctx.now;
            let mut rows = Vec::new();
            let mut results = Vec::with_capacity(batch.readings.len());
            for (index, item) in batch.readings.iter().enumerate() {
                let prefix = format!("readings[{index}].");
                let visible = states
                    .get_mut(&item.meter_id)
                    .filter(|m| m.visible_to(ctx.partner_scope()));
                let errors = match visible {
                    None => vec![FieldError::new(
                        format!("{prefix}meter_id"),
                        "unknown",
                        "no meter has this id",
                    )],
                    Some(meter) => {
                        let errors = rules::check(&item.reading, &meter.state, now.date(), &prefix);
                        if errors.is_empty() {
                            meter.state.last_actual =
                                Some((item.reading.read_on, item.reading.value));
                        }
                        errors
                    }
                };
                let (outcome, reading) = if errors.is_empty() {
                    let r = row(item.meter_id, &item.reading, &ctx, now);
                    rows.push(r.clone());
                    (ReadingOutcome::Accepted, Some(ReadingView::from(r)))
                } else {
                    (ReadingOutcome::Refused, None)
                };
                results.push(BatchItem {
                    index,
                    meter_id: item.meter_id,
                    outcome,
                    reading,
                    errors,
                });
            }
            store::insert_many(conn, &rows).await?;
            let report = BatchReport {
                accepted: rows.len(),
                refused: results.len() - rows.len(),
                results,
            };
            let summary = serde_json::json!({
                "accepted": report.accepted,
                "refused": report.refused,
                "reading_ids": rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            });
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "meter_readings.batch_recorded",
                    entity_type: "meter_reading_batch",
                    entity_id: Uuid::now_v7(),
                    account_id: None,
                    before: None,
                    after: Some(&summary),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::OK, &report).await
        })
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

/// A reading about to be voided or corrected, with everything locked in billing's order (its
/// contract, then its meter, then the reading): 404 when absent, 409 `estimated_reading` for
/// an estimate (billing makes and trues up those), 409 `reading_voided` when voided already.
async fn lock_for_change(
    conn: &mut crate::db::Conn,
    id: Uuid,
) -> Result<(ReadingRow, store::MeterOwner, rules::Billed), ApiError> {
    let contract = store::contract_of(conn, id).await?;
    crate::contracts::store::lock(conn, contract).await?;
    let reading = store::lock(conn, id).await?;
    let states = store::lock_meter_states(conn, &[reading.meter_id]).await?;
    let meter = *states
        .get(&reading.meter_id)
        .ok_or(ApiError::NotFound("meter"))?;
    if reading.source == ReadingSource::Estimated {
        return Err(ApiError::conflict(
            "estimated_reading",
            "Estimated readings are made by billing runs and trued up by the next actual reading; post that reading instead.",
        ));
    }
    if reading.voided_at.is_some() {
        return Err(ApiError::conflict(
            "reading_voided",
            "The reading was voided already.",
        ));
    }
    let billed = store::billed(conn, &reading).await?;
    Ok((reading, meter, billed))
}

fn refuse_billed(reading: &ReadingRow) -> ApiError {
    ApiError::conflict(
        "reading_billed",
        format!(
            "The reading of {} is billed and later periods were billed from it; correct the invoice with a credit memo instead.",
            reading.read_on
        ),
    )
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let (reading, meter, billed) = lock_for_change(conn, id).await?;
            match billed {
                rules::Billed::No => {}
                rules::Billed::LatestEnd => {
                    return Err(ApiError::conflict(
                        "reading_billed",
                        "The reading ends a billed period; correct it instead, and the next invoice trues the period up.",
                    ))
                }
                rules::Billed::Earlier => return Err(refuse_billed(&reading)),
            }
            let before = ReadingView::from(reading.clone());
            let row =
                store::void(conn, &reading, &ctx.principal.subject, reason.trim(), ctx.now).await?;
            let after = ReadingView::from(row);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "meter_reading.voided",
                    entity_type: "meter_reading",
                    entity_id: id,
                    account_id: Some(meter.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::OK, &after).await
        })
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let (old, meter, billed) = lock_for_change(conn, id).await?;
            if billed == rules::Billed::Earlier {
                return Err(refuse_billed(&old));
            }
            let read_on = fix.read_on.unwrap_or(old.read_on);
            let around = store::neighbours(conn, &old).await?;
            let errors = rules::check_correction(
                &old,
                fix.value,
                read_on,
                billed,
                around,
                meter.state.installed_on,
                ctx.today(),
            );
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let reason = fix.reason.trim();
            let before = ReadingView::from(old.clone());
            store::void(
                conn,
                &old,
                &ctx.principal.subject,
                &format!("corrected: {reason}"),
                ctx.now,
            )
            .await?;
            let row = ReadingRow {
                id: Uuid::now_v7(),
                read_on,
                value: fix.value,
                note: Some(format!("correction of {} ({reason})", old.value)),
                created_by: ctx.principal.subject.clone(),
                created_at: ctx.now,
                replaces_id: Some(old.id),
                ..old.clone()
            };
            store::insert_many(conn, std::slice::from_ref(&row)).await?;
            if billed == rules::Billed::LatestEnd {
                store::mark_period_corrected(conn, &old, fix.value).await?;
            }
            let after = ReadingView::from(row);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "meter_reading.corrected",
                    entity_type: "meter_reading",
                    entity_id: after.id,
                    account_id: Some(meter.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &after).await
        })
        .await?;
    Ok(stored.into_response())
}
