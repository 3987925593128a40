//! True-ups: billed meter periods re-rated when a reading below what was billed revises them.

use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::*;
use crate::billing::rules::{self, BilledUsage};
use crate::equipment::model::MeterRow;
use crate::invoices::model::{LineKind, LineRow};
use crate::money::Currency;

/// Re-rates the billed periods of `rerates` as if they had ended at `end`, marking them
/// re-rated by `invoice_id`, and adds a `true_up` line crediting each over-charge; `why`
/// says what revised them.
#[allow(clippy::too_many_arguments)]
pub(super) fn true_up_lines(
    chain: &mut [MeterPeriodRow],
    rerates: Vec<rules::Rerate>,
    end: ChainPoint,
    why: &str,
    name: &str,
    meter: &MeterRow,
    currency: Currency,
    invoice_id: Uuid,
    lines: &mut Vec<LineRow>,
) {
    for r in rerates {
        let period = &mut chain[r.index];
        let old_usage = period.as_billed();
        period.rerated_start_value = Some(r.start_value);
        period.rerated_end_value = Some(r.end_value);
        period.rerated_usage = Some(r.rated.usage);
        period.rerated_charged = Some(r.rated.charged());
        period.rerated_invoice_id = Some(invoice_id);
        if r.credit <= Decimal::ZERO {
            continue;
        }
        lines.push(LineRow {
            kind: LineKind::TrueUp.as_str().into(),
            description: format!(
                "True-up of the {name}, {} – {}: billed usage {} re-rated to {}",
                fmt_date(period.period_start),
                fmt_date(period.period_end),
                old_usage.end_value - old_usage.start_value,
                r.rated.usage
            ),
            quantity: Decimal::ONE,
            unit_price: -r.credit,
            amount: -r.credit,
            financial_code_id: meter.financial_code_id,
            taxable: true,
            meter_id: Some(meter.id),
            meter_type: Some(meter.meter_type.clone()),
            period_start: Some(period.period_start),
            period_end: Some(period.period_end),
            start_reading: Some(r.start_value),
            end_reading: Some(r.end_value),
            end_read_on: Some(end.on),
            end_estimated: Some(false),
            usage: Some(r.rated.usage),
            included_units: Some(period.included_units),
            overage_units: Some(r.rated.overage_units),
            overage_rate: Some(period.overage_rate),
            explanation: Some(format!(
                "{why}; charged {} then, {} now: {} credited",
                currency.normalize(old_usage.charged),
                currency.normalize(r.rated.charged()),
                currency.normalize(r.credit)
            )),
            ..Default::default()
        });
    }
}

/// A terminated contract's final period billed on an estimate is settled by the pick-up
/// reading (the first actual reading after the estimate, by `as_of`): the period is re-rated
/// to it, and the difference credited (a `true_up` line) or charged (a `usage` line), once.
#[allow(clippy::too_many_arguments)]
pub(super) fn settle_final_estimate(
    chain: &mut [MeterPeriodRow],
    m: &MeterInput,
    terminated_on: Option<Date>,
    as_of: Date,
    currency: Currency,
    name: &str,
    owners: &[(Date, Uuid)],
    drafts: &mut Drafts,
) {
    let Some(k) = chain.len().checked_sub(1) else {
        return;
    };
    let last = &chain[k];
    let settles = terminated_on == Some(last.period_end)
        && last.end_estimated
        && last.rerated_end_value.is_none();
    if !settles {
        return;
    }
    let Some(reading) = m
        .actuals
        .iter()
        .filter(|r| r.read_on > last.end_read_on && r.read_on <= as_of)
        .min_by_key(|r| r.read_on)
    else {
        return;
    };
    let account = owner_on(owners, last.period_start);
    let invoice_id = drafts.for_account(account).id;
    let end = ChainPoint {
        on: reading.read_on,
        value: reading.value,
        estimated: false,
    };
    let billed = last.as_billed();
    let why = format!(
        "the final period was billed on an estimate of {}; the pick-up reading of {} is {}",
        billed.end_value, reading.read_on, reading.value
    );
    if reading.value < billed.end_value {
        let all: Vec<BilledUsage> = chain.iter().map(MeterPeriodRow::as_billed).collect();
        let rerates = rules::true_up(&all, reading.value, currency);
        let lines = &mut drafts.for_account(account).lines;
        true_up_lines(
            chain, rerates, end, &why, name, &m.meter, currency, invoice_id, lines,
        );
        return;
    }
    let usage = reading.value - billed.start_value;
    let rated = rules::rate_usage(usage, billed.plan, currency);
    let extra = rated.charged() - billed.charged;
    let last = &mut chain[k];
    last.rerated_start_value = Some(billed.start_value);
    last.rerated_end_value = Some(reading.value);
    last.rerated_usage = Some(usage);
    last.rerated_charged = Some(rated.charged());
    last.rerated_invoice_id = Some(invoice_id);
    if extra <= Decimal::ZERO {
        return;
    }
    drafts.for_account(account).lines.push(LineRow {
        kind: LineKind::Usage.as_str().into(),
        description: format!(
            "Final usage of the {name}, {} – {}: estimated {} re-rated to {usage}",
            fmt_date(last.period_start),
            fmt_date(last.period_end),
            billed.end_value - billed.start_value
        ),
        quantity: Decimal::ONE,
        unit_price: extra,
        amount: extra,
        financial_code_id: m.meter.financial_code_id,
        taxable: true,
        meter_id: Some(m.meter.id),
        meter_type: Some(m.meter.meter_type.clone()),
        period_start: Some(last.period_start),
        period_end: Some(last.period_end),
        start_reading: Some(billed.start_value),
        end_reading: Some(reading.value),
        end_read_on: Some(reading.read_on),
        end_estimated: Some(false),
        usage: Some(usage),
        included_units: Some(last.included_units),
        overage_units: Some(rated.overage_units),
        overage_rate: Some(last.overage_rate),
        explanation: Some(format!(
            "{why}; charged {} then, {} now: {} more",
            currency.normalize(billed.charged),
            currency.normalize(rated.charged()),
            currency.normalize(extra)
        )),
        ..Default::default()
    });
}
