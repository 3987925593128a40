//! One meter billed: the periods it closed, their readings (actual or estimated), usage,
//! overage and minimums.

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::true_up::{settle_final_estimate, true_up_lines};
use super::*;
use crate::billing::rules::{self, BilledUsage, ExpectedVolume, Period, Plan, Point};
use crate::equipment::model::PlanRow;
use crate::invoices::model::{LineKind, LineRow};
use crate::money::Currency;
use crate::readings::model::{ReadingRow, ReadingSource};

/// The plan in effect on `day`: the latest starting on or before it, else the first.
fn plan_on(plans: &[PlanRow], day: Date) -> Option<&PlanRow> {
    plans
        .iter()
        .filter(|p| p.effective_from <= day)
        .max_by_key(|p| p.effective_from)
        .or_else(|| plans.iter().min_by_key(|p| p.effective_from))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn bill_meter(
    m: &MeterInput,
    periods: &[Period],
    as_of: Date,
    terminated_on: Option<Date>,
    run_id: Uuid,
    settings: &Settings,
    currency: Currency,
    owners: &[(Date, Uuid)],
    drafts: &mut Drafts,
    bill: &mut ContractBill,
    now: OffsetDateTime,
) -> Result<(), BillError> {
    let meter = &m.meter;
    let name = format!(
        "{} meter of {}",
        meter.meter_type, m.equipment.serial_number
    );
    // The billed chain: persisted periods, then those billed in this run.
    let mut chain: Vec<MeterPeriodRow> = m.billed.clone();
    let persisted = chain.len();
    let last_billed_start = chain.last().map(|b| b.period_start);
    let mut last: Option<ChainPoint> = chain.last().map(|b| ChainPoint {
        on: b.end_read_on,
        value: b.current_end(),
        estimated: b.end_estimated,
    });
    // The last billed period's end reading was corrected below what was billed: the next
    // invoice re-rates it (and any estimates before it above the corrected value).
    let mut pending_correction = chain
        .last()
        .and_then(|b| b.corrected_end_value.filter(|v| *v < b.current_end()));
    for p in periods {
        let boundary = p.boundary();
        if boundary > as_of || last_billed_start.is_some_and(|s| p.start <= s) {
            continue;
        }
        let installed = m.equipment.installed_on <= p.end
            && m.equipment.removed_on.is_none_or(|r| r >= p.start);
        if !installed {
            continue;
        }
        if let Some(corrected) = pending_correction.take() {
            let (read_on, billed_value) = chain
                .last()
                .map(|b| (b.end_read_on, b.current_end()))
                .expect("a correction is of a billed period");
            let mut billed: Vec<BilledUsage> =
                chain.iter().map(MeterPeriodRow::as_billed).collect();
            if let Some(revised) = billed.last_mut() {
                // Its end is revised, as an estimate's is by the actual reading.
                revised.end_estimated = true;
            }
            let end = ChainPoint {
                on: read_on,
                value: corrected,
                estimated: false,
            };
            let account = owner_on(owners, p.start);
            let invoice_id = drafts.for_account(account).id;
            let rerates = rules::true_up(&billed, corrected, currency);
            let why = format!(
                "the reading of {read_on} was corrected from {billed_value} to {corrected}"
            );
            let lines = &mut drafts.for_account(account).lines;
            true_up_lines(
                &mut chain, rerates, end, &why, &name, meter, currency, invoice_id, lines,
            );
            last = Some(end);
        }
        let start = match last {
            Some(point) => point,
            None => {
                let first = m
                    .actuals
                    .iter()
                    .filter(|r| r.read_on <= p.start)
                    .max_by_key(|r| r.read_on)
                    .or_else(|| m.actuals.iter().find(|r| r.read_on < boundary));
                match first {
                    Some(r) => ChainPoint {
                        on: r.read_on,
                        value: r.value,
                        estimated: false,
                    },
                    None => {
                        return Err(BillError {
                            code: "no_start_reading",
                            reason: format!(
                                "the {name} has no reading to start from; post its reading at installation"
                            ),
                        })
                    }
                }
            }
        };
        // Actual readings since the start, up to as_of.
        let since: Vec<&ReadingRow> = m
            .actuals
            .iter()
            .filter(|r| r.read_on > start.on && r.read_on <= as_of)
            .collect();
        let w = settings.reading_window_days;
        // The final period of a terminated contract ends at the pick-up reading (the first
        // actual reading after the termination) when there is none near its end.
        let is_final = terminated_on == Some(p.end);
        let end_actual = since
            .iter()
            .filter(|r| (r.read_on - boundary).whole_days().abs() <= w)
            .min_by_key(|r| ((r.read_on - boundary).whole_days().abs(), r.read_on))
            .or_else(|| {
                since
                    .iter()
                    .filter(|r| is_final && r.read_on > boundary)
                    .min_by_key(|r| r.read_on)
            });
        let plan_row = plan_on(&m.plans, p.start).ok_or_else(|| BillError {
            code: "no_meter_plan",
            reason: format!("the {name} has no plan"),
        })?;
        let plan = Plan {
            included_units: plan_row.included_units,
            overage_rate: plan_row.overage_rate,
            minimum_charge: plan_row.minimum_charge,
        }
        .prorated(p.days(), p.full_days(), currency);
        let (end, end_id, estimate_method, estimate_note) = match end_actual {
            Some(r) => (
                ChainPoint {
                    on: r.read_on,
                    value: r.value,
                    estimated: false,
                },
                r.id,
                None,
                None,
            ),
            None => {
                // Actual readings since the last register reset, for the average.
                let reset_at = m
                    .actuals
                    .iter()
                    .rposition(|r| r.reset.is_some() && r.read_on < boundary);
                let basis: Vec<Point> = m.actuals[reset_at.unwrap_or(0)..]
                    .iter()
                    .filter(|r| r.read_on < boundary)
                    .map(|r| Point {
                        on: r.read_on,
                        value: r.value,
                    })
                    .collect();
                let expected = meter.expected_monthly_volume.map(|v| ExpectedVolume {
                    monthly_units: v,
                    period_months: months_of(p),
                    full_period_days: p.full_days(),
                });
                let from = Point {
                    on: start.on,
                    value: start.value,
                };
                let est = rules::estimate(
                    &basis,
                    boundary,
                    settings.estimate_readings,
                    from,
                    expected,
                )
                .ok_or_else(|| BillError {
                    code: "no_basis_for_estimate",
                    reason: format!(
                        "no basis for estimate: the {name} has no actual reading closing the period ending {} and neither enough history nor an expected monthly volume",
                        p.end
                    ),
                })?;
                let id = Uuid::now_v7();
                bill.estimates.push(ReadingRow {
                    id,
                    meter_id: meter.id,
                    read_on: boundary,
                    value: est.value,
                    source: ReadingSource::Estimated,
                    reset: None,
                    starting_value: None,
                    final_value: None,
                    estimate_method: Some(est.method.as_str().into()),
                    estimate_basis: Some(
                        serde_json::to_value(&est.basis).expect("an estimate basis serialises"),
                    ),
                    billing_run_id: Some(run_id),
                    note: Some(est.explanation.clone()),
                    created_by: format!("billing-run:{run_id}"),
                    created_at: now,
                    voided_at: None,
                    voided_by: None,
                    void_reason: None,
                    replaces_id: None,
                });
                (
                    ChainPoint {
                        on: boundary,
                        value: est.value,
                        estimated: true,
                    },
                    id,
                    Some(est.method.as_str().to_string()),
                    Some(est.explanation),
                )
            }
        };
        let account = owner_on(owners, p.start);
        let invoice_id = drafts.for_account(account).id;
        // Usage: through any register reset, else end − start, else a true-up.
        let resets: Vec<&&ReadingRow> = since
            .iter()
            .filter(|r| r.reset.is_some() && r.read_on <= end.on)
            .collect();
        let mut start_value = start.value;
        let usage = if !resets.is_empty() {
            let mut cur = start.value;
            let mut used = 0;
            for r in since.iter().filter(|r| r.read_on <= end.on) {
                if r.reset.is_some() {
                    used += (r.final_value.unwrap_or(cur) - cur).max(0);
                    cur = r.starting_value.unwrap_or(0);
                }
                used += (r.value - cur).max(0);
                cur = r.value;
            }
            used
        } else if end.value >= start.value {
            end.value - start.value
        } else {
            // An actual below the billed estimate: re-rate the over-estimated periods.
            let billed: Vec<BilledUsage> = chain.iter().map(MeterPeriodRow::as_billed).collect();
            let rerates = rules::true_up(&billed, end.value, currency);
            let why = format!(
                "the actual reading {} of {} is below the billed estimate",
                end.value, end.on
            );
            let lines = &mut drafts.for_account(account).lines;
            true_up_lines(
                &mut chain, rerates, end, &why, &name, meter, currency, invoice_id, lines,
            );
            start_value = end.value;
            0
        };
        let rated = rules::rate_usage(usage, plan, currency);
        let draft = drafts.for_account(account);
        draft.lines.push(LineRow {
            kind: LineKind::Usage.as_str().into(),
            description: format!(
                "{} usage, {} – {}{}",
                meter.meter_type,
                fmt_date(p.start),
                fmt_date(p.end),
                if end.estimated { " (estimated)" } else { "" }
            ),
            quantity: Decimal::from(rated.overage_units),
            unit_price: plan.overage_rate,
            amount: rated.overage_amount,
            financial_code_id: meter.financial_code_id,
            taxable: true,
            meter_id: Some(meter.id),
            meter_type: Some(meter.meter_type.clone()),
            period_start: Some(p.start),
            period_end: Some(p.end),
            billed_days: Some(p.days() as i32),
            period_days: Some(p.full_days() as i32),
            start_reading: Some(start_value),
            start_read_on: Some(start.on),
            start_estimated: Some(start.estimated),
            end_reading: Some(end.value),
            end_read_on: Some(end.on),
            end_estimated: Some(end.estimated),
            estimate_method: estimate_method.clone(),
            usage: Some(usage),
            included_units: Some(plan.included_units),
            overage_units: Some(rated.overage_units),
            overage_rate: Some(plan.overage_rate),
            explanation: Some(format!(
                "usage {usage} = {} − {start_value}; overage {} = max(usage − {} included, 0) × {} = {}{}",
                end.value,
                rated.overage_units,
                plan.included_units,
                plan.overage_rate.normalize(),
                rated.overage_amount,
                estimate_note
                    .map(|n| format!("; end reading {n}"))
                    .unwrap_or_default()
                    + &if start.estimated {
                        format!("; start reading is the estimate billed for {}", start.on)
                    } else {
                        String::new()
                    }
            )),
            ..Default::default()
        });
        if rated.minimum_top_up > Decimal::ZERO {
            draft.lines.push(LineRow {
                kind: LineKind::Minimum.as_str().into(),
                description: format!(
                    "{} minimum charge, {} – {}",
                    meter.meter_type,
                    fmt_date(p.start),
                    fmt_date(p.end)
                ),
                quantity: Decimal::ONE,
                unit_price: rated.minimum_top_up,
                amount: rated.minimum_top_up,
                financial_code_id: meter.financial_code_id,
                taxable: true,
                meter_id: Some(meter.id),
                meter_type: Some(meter.meter_type.clone()),
                period_start: Some(p.start),
                period_end: Some(p.end),
                explanation: Some(format!(
                    "minimum {} less overage {}",
                    plan.minimum_charge, rated.overage_amount
                )),
                ..Default::default()
            });
        }
        chain.push(MeterPeriodRow {
            meter_id: meter.id,
            period_start: p.start,
            period_end: p.end,
            contract_id: meter.contract_id,
            invoice_id,
            start_value,
            end_value: end.value,
            end_read_on: end.on,
            end_estimated: end.estimated,
            end_reading_id: end_id,
            usage,
            included_units: plan.included_units,
            overage_rate: plan.overage_rate,
            minimum_charge: plan.minimum_charge,
            charged: rated.charged(),
            rerated_start_value: None,
            rerated_end_value: None,
            rerated_usage: None,
            rerated_charged: None,
            rerated_invoice_id: None,
            corrected_end_value: None,
        });
        last = Some(end);
    }
    settle_final_estimate(
        &mut chain,
        m,
        terminated_on,
        as_of,
        currency,
        &name,
        owners,
        drafts,
    );

    for (i, period) in chain.into_iter().enumerate() {
        if i >= persisted {
            bill.new_meter_periods.push(period);
        } else if period != m.billed[i] {
            bill.rerated.push(period);
        }
    }
    Ok(())
}

/// Months in a full period of the grid (1, 3 or 12), from its length.
fn months_of(p: &Period) -> i64 {
    match p.full_days() {
        0..=31 => 1,
        32..=92 => 3,
        _ => 12,
    }
}
