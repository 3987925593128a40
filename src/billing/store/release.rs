//! What a billing run's draft gives back to its contract when it is deleted.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::db::Conn;
use crate::error::ApiError;
use crate::readings::model::ReadingSource;

/// What deleting a billing run's draft gave back to its contract: the periods billed again by
/// the next run.
#[derive(Debug, Default, serde::Serialize)]
pub struct Released {
    /// Recurring-charge periods (start, end).
    pub periods: Vec<(Date, Date)>,
    /// Meter periods (meter, start, end).
    pub meter_periods: Vec<(Uuid, Date, Date)>,
    /// Estimated readings the run made for them, removed.
    pub estimates_removed: usize,
    /// Earlier periods the draft had re-rated (a true-up), back as they were billed.
    pub rerates_undone: usize,
    /// Amendments whose first invoice it was: the next invoice is flagged for review again.
    pub reviews_reopened: usize,
    /// First-invoice review tasks of the draft, cancelled.
    pub tasks_cancelled: Vec<Uuid>,
}

/// Releases what a billing run's draft holds, before the draft is deleted: its billed and
/// metered periods (and the estimates made for them), the re-rates it made, the amendments'
/// review marks and its open review tasks. Refused (409 `later_periods_billed`) when a later
/// period of one of its meters is billed on another invoice: a meter's periods are billed in
/// order, so the later draft goes first. Call with the contract and the draft locked.
pub async fn release_draft(
    conn: &mut Conn,
    invoice: &crate::invoices::model::InvoiceRow,
    now: OffsetDateTime,
) -> Result<Released, ApiError> {
    use crate::schema::billed_periods::dsl as bp;
    use crate::schema::contract_amendments::dsl as am;
    use crate::schema::meter_periods::dsl as mp;
    use crate::schema::meter_readings::dsl as r;
    use crate::schema::tasks::dsl as t;
    let mine: Vec<(Uuid, Date)> = mp::meter_periods
        .filter(mp::invoice_id.eq(invoice.id))
        .select((mp::meter_id, mp::period_start))
        .load(conn)
        .await?;
    for (meter, start) in &mine {
        let later: i64 = mp::meter_periods
            .filter(mp::meter_id.eq(meter))
            .filter(mp::period_start.gt(start))
            .filter(mp::invoice_id.ne(invoice.id))
            .count()
            .get_result(conn)
            .await?;
        if later > 0 {
            return Err(ApiError::conflict(
                "later_periods_billed",
                format!(
                    "A later period of a meter this draft bills (after {start}) is on another invoice; meters are billed in order: delete or correct the later invoice first."
                ),
            ));
        }
    }
    let mut released = Released::default();
    let removed: Vec<(Uuid, Date, Date, Uuid, bool)> =
        diesel::delete(mp::meter_periods.filter(mp::invoice_id.eq(invoice.id)))
            .returning((
                mp::meter_id,
                mp::period_start,
                mp::period_end,
                mp::end_reading_id,
                mp::end_estimated,
            ))
            .get_results(conn)
            .await?;
    let estimates: Vec<Uuid> = removed
        .iter()
        .filter(|(.., estimated)| *estimated)
        .map(|(_, _, _, reading, _)| *reading)
        .collect();
    released.estimates_removed = diesel::delete(
        r::meter_readings
            .filter(r::id.eq_any(&estimates))
            .filter(r::source.eq(ReadingSource::Estimated)),
    )
    .execute(conn)
    .await?;
    released.meter_periods = removed
        .into_iter()
        .map(|(meter, start, end, ..)| (meter, start, end))
        .collect();
    released.rerates_undone =
        diesel::update(mp::meter_periods.filter(mp::rerated_invoice_id.eq(invoice.id)))
            .set((
                mp::rerated_start_value.eq(None::<i64>),
                mp::rerated_end_value.eq(None::<i64>),
                mp::rerated_usage.eq(None::<i64>),
                mp::rerated_charged.eq(None::<Decimal>),
                mp::rerated_invoice_id.eq(None::<Uuid>),
            ))
            .execute(conn)
            .await?;
    released.periods = diesel::delete(bp::billed_periods.filter(bp::invoice_id.eq(invoice.id)))
        .returning((bp::period_start, bp::period_end))
        .get_results(conn)
        .await?;
    released.periods.sort();
    released.reviews_reopened =
        diesel::update(am::contract_amendments.filter(am::review_invoice_id.eq(invoice.id)))
            .set(am::review_invoice_id.eq(None::<Uuid>))
            .execute(conn)
            .await?;
    released.tasks_cancelled = diesel::update(
        t::tasks
            .filter(t::subject_id.eq(invoice.id))
            .filter(t::type_.eq("first_invoice_review"))
            .filter(t::status.eq_any(["open", "in_progress"])),
    )
    .set((
        t::status.eq("cancelled"),
        t::version.eq(t::version + 1),
        t::updated_at.eq(now),
    ))
    .returning(t::id)
    .get_results(conn)
    .await?;
    Ok(released)
}
