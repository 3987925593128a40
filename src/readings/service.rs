//! Meter readings as their commands change them, each in the caller's transaction: one
//! reading, a batch, voiding and correcting a wrong one.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{
    BatchItem, BatchReport, CorrectReading, NewReading, ReadingBatch, ReadingOutcome, ReadingRow,
    ReadingSource, ReadingView,
};
use super::{rules, store};
use crate::audit;
use crate::context::Ctx;
use crate::contracts::model::OnAccount;
use crate::db::Conn;
use crate::error::{ApiError, FieldError};
use crate::idempotency::Written;

pub fn row(meter_id: Uuid, r: &NewReading, ctx: &Ctx, now: OffsetDateTime) -> ReadingRow {
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

/// Records an actual reading of a meter the caller may see.
pub async fn record(
    conn: &mut Conn,
    ctx: &Ctx,
    meter_id: Uuid,
    new: &NewReading,
) -> Result<Written<OnAccount<ReadingView>>, ApiError> {
    let states = store::lock_meter_states(conn, &[meter_id]).await?;
    let meter = states
        .get(&meter_id)
        .filter(|m| m.visible_to(ctx.partner_scope()))
        .ok_or(ApiError::NotFound("meter"))?;
    let now = ctx.now;
    let errors = rules::check(new, &meter.state, now.date(), "");
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let row = row(meter_id, new, ctx, now);
    store::insert_many(conn, std::slice::from_ref(&row)).await?;
    let view = ReadingView::from(row);
    Ok(Written::created(
        "meter_reading.recorded",
        OnAccount {
            account_id: meter.account_id,
            view,
        },
    ))
}

/// What a batch recorded, as the audit log keeps it: the counts and the readings' ids.
#[derive(serde::Serialize)]
struct BatchSummary {
    #[serde(skip)]
    id: Uuid,
    accepted: usize,
    refused: usize,
    reading_ids: Vec<Uuid>,
}

impl audit::Audited for BatchSummary {
    const ENTITY: &'static str = "meter_reading_batch";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// Records the readings of a batch that pass the rules (each against the meter as the
/// batch leaves it) and reports what became of each one.
pub async fn record_batch(
    conn: &mut Conn,
    ctx: &Ctx,
    batch: &ReadingBatch,
) -> Result<BatchReport, ApiError> {
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
                    meter.state.last_actual = Some((item.reading.read_on, item.reading.value));
                }
                errors
            }
        };
        let (outcome, reading) = if errors.is_empty() {
            let r = row(item.meter_id, &item.reading, ctx, now);
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
    let summary = BatchSummary {
        id: Uuid::now_v7(),
        accepted: report.accepted,
        refused: report.refused,
        reading_ids: rows.iter().map(|r| r.id).collect(),
    };
    audit::changed(
        conn,
        ctx,
        "meter_readings.batch_recorded",
        None,
        Some(&summary),
    )
    .await?;
    Ok(report)
}

/// A reading about to be voided or corrected, with everything locked in billing's order (its
/// contract, then its meter, then the reading): 404 when absent, 409 `estimated_reading` for
/// an estimate (billing makes and trues up those), 409 `reading_voided` when voided already.
async fn lock_for_change(
    conn: &mut Conn,
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

/// Voids a reading recorded in error, when no billed period has reached it.
pub async fn void(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    reason: &str,
) -> Result<Written<OnAccount<ReadingView>>, ApiError> {
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
    let row = store::void(
        conn,
        &reading,
        &ctx.principal.subject,
        reason.trim(),
        ctx.now,
    )
    .await?;
    let after = ReadingView::from(row);
    let account_id = meter.account_id;
    Ok(Written::changed(
        "meter_reading.voided",
        OnAccount {
            account_id,
            view: before,
        },
        OnAccount {
            account_id,
            view: after,
        },
    ))
}

/// Replaces a wrong reading with the value (and, while unbilled, the date) it should have
/// had: a new reading naming the one it replaces, which is voided and kept.
pub async fn correct(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    fix: &CorrectReading,
) -> Result<Written<OnAccount<ReadingView>>, ApiError> {
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
    let account_id = meter.account_id;
    Ok(Written {
        status: actix_web::http::StatusCode::CREATED,
        action: "meter_reading.corrected",
        before: Some(OnAccount {
            account_id,
            view: before,
        }),
        after: OnAccount {
            account_id,
            view: after,
        },
    })
}

/// Runs a batch in one transaction under its `Idempotency-Key`: a replay answers the first
/// report. (Its audit entry records a summary, not the report it answers with: it runs
/// through `idempotency::run` and records that entry itself.)
pub async fn record_batch_once(
    pool: &crate::db::DbPool,
    ctx: &Ctx,
    key: Option<&str>,
    fingerprint: &str,
    batch: &ReadingBatch,
) -> Result<crate::idempotency::Stored, ApiError> {
    crate::idempotency::run(pool, ctx, key, fingerprint, async |conn| {
        let report = record_batch(conn, ctx, batch).await?;
        Ok((actix_web::http::StatusCode::OK, report))
    })
    .await
}
