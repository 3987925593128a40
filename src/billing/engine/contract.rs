//! One contract billed: its recurring charges, its meters, and the invoices they make.

use std::collections::HashMap;

use rust_decimal::Decimal;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::meter::bill_meter;
use super::*;
use crate::billing::rules::{self};
use crate::contracts::model::{AmendmentKind, BillingTiming};
use crate::invoices::model::{InvoiceRow, InvoiceStatus, LineKind, LineRow};

/// Bills what is due on the contract as of `as_of`.
///
/// Meter periods are billed once closed by `usage_as_of` (the earlier of `as_of` and today:
/// a reading is never estimated for a day still to come).
pub fn bill_contract(
    input: &ContractInput,
    accounts: &HashMap<Uuid, AccountTerms>,
    as_of: Date,
    usage_as_of: Date,
    run_id: Uuid,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<ContractBill, BillError> {
    let c = &input.contract;
    let currency = c.currency();
    let owners = owners(c, &input.amendments);
    let suspended = suspensions(&input.amendments);
    let periods = periods_of(c, as_of);
    let mut drafts = Drafts(Vec::new());
    let mut bill = ContractBill {
        contract_id: c.id,
        ..ContractBill::default()
    };

    // Recurring charges of every period due and not billed yet.
    let charges = charges_of(&input.charges);
    for p in &periods {
        let due = match c.billing_timing {
            BillingTiming::Advance => p.start <= as_of,
            BillingTiming::Arrears => p.end < as_of,
        };
        if !due || input.billed_starts.contains(&p.start) {
            continue;
        }
        let lines = rules::charge_lines(p, &charges, &owners, &suspended, currency);
        if lines.is_empty() {
            continue;
        }
        let mut first_invoice = None;
        for l in lines {
            let draft = drafts.for_account(l.account);
            first_invoice.get_or_insert(draft.id);
            let prorated = l.billed_days != l.period_days;
            draft.lines.push(LineRow {
                kind: LineKind::Recurring.as_str().into(),
                description: format!(
                    "{}, {} – {}{}",
                    l.key.description,
                    fmt_date(l.span.from),
                    fmt_date(l.span.to),
                    if prorated {
                        format!(" ({}/{} days)", l.billed_days, l.period_days)
                    } else {
                        String::new()
                    }
                ),
                quantity: Decimal::ONE,
                unit_price: l.amount,
                amount: l.amount,
                financial_code_id: l.key.financial_code_id,
                taxable: l.key.taxable,
                charge_id: Some(l.key.id),
                period_start: Some(l.span.from),
                period_end: Some(l.span.to),
                billed_days: Some(l.billed_days as i32),
                period_days: Some(l.period_days as i32),
                explanation: Some(if prorated {
                    format!(
                        "{} × {}/{} days, rounded half-up",
                        currency.normalize(l.key.amount),
                        l.billed_days,
                        l.period_days
                    )
                } else {
                    format!("full period at {}", currency.normalize(l.key.amount))
                }),
                ..Default::default()
            });
        }
        bill.billed_periods
            .push((p.start, p.end, first_invoice.expect("a line was added")));
    }

    // Meter usage of every period that has closed and is not billed yet.
    for m in &input.meters {
        bill_meter(
            m,
            &periods,
            usage_as_of,
            c.terminated_on,
            run_id,
            settings,
            currency,
            &owners,
            &mut drafts,
            &mut bill,
            now,
        )?;
    }

    // A re-rate that left nothing to bill names no invoice: none is made for it.
    for period in bill.rerated.iter_mut() {
        let empty = period
            .rerated_invoice_id
            .is_some_and(|id| drafts.0.iter().any(|d| d.id == id && d.lines.is_empty()));
        if empty {
            period.rerated_invoice_id = None;
        }
    }

    // Assemble the invoices.
    let contract_terms = c.payment_terms_days;
    for mut draft in drafts.0 {
        let terms = accounts
            .get(&draft.account_id)
            .copied()
            .unwrap_or(AccountTerms {
                payment_terms_days: 30,
                tax_rate: Decimal::ZERO,
            });
        // An invoice never goes below zero: when its true-ups outweigh the rest, they are
        // credited against the invoices that billed the usage, and it keeps the rest.
        if crate::invoices::rules::totals(&draft.lines, terms.tax_rate, currency).3 < Decimal::ZERO
        {
            let (true_ups, rest): (Vec<LineRow>, Vec<LineRow>) = draft
                .lines
                .into_iter()
                .partition(|l| l.kind == LineKind::TrueUp.as_str());
            draft.lines = rest;
            // Their re-rates are the credit memo's now, not this invoice's.
            for period in bill.rerated.iter_mut() {
                let moved = true_ups.iter().any(|l| {
                    l.meter_id == Some(period.meter_id)
                        && l.period_start == Some(period.period_start)
                });
                if moved && period.rerated_invoice_id == Some(draft.id) {
                    period.rerated_invoice_id = None;
                }
            }
            bill.credits.push((draft.account_id, true_ups));
        }
        if draft.lines.is_empty() {
            continue;
        }
        let mut lines = draft.lines;
        for (i, l) in lines.iter_mut().enumerate() {
            l.id = Uuid::now_v7();
            l.invoice_id = draft.id;
            l.line_no = i as i32 + 1;
            l.contract_id = Some(c.id);
        }
        let (subtotal, taxable, tax_total, total) =
            crate::invoices::rules::totals(&lines, terms.tax_rate, currency);
        let days = contract_terms.unwrap_or(terms.payment_terms_days);
        let period_start = lines.iter().filter_map(|l| l.period_start).min();
        let period_end = lines.iter().filter_map(|l| l.period_end).max();
        let mut reasons = Vec::new();
        for a in &input.amendments {
            let pending = a.needs_review
                && a.review_invoice_id.is_none()
                && !bill.reviewed.iter().any(|(id, _)| *id == a.id);
            let concerns =
                a.kind != AmendmentKind::OwnershipChange || a.account_id == Some(draft.account_id);
            let after = lines
                .iter()
                .any(|l| l.period_end.is_some_and(|end| end >= a.effective_date));
            if pending && concerns && after {
                reasons.push(format!(
                    "first invoice after the {} of {} effective {}",
                    a.kind.as_str().replace('_', " "),
                    c.number,
                    a.effective_date
                ));
                bill.reviewed.push((a.id, draft.id));
            }
        }
        bill.invoices.push(InvoiceRow {
            id: draft.id,
            number: None,
            account_id: draft.account_id,
            contract_id: Some(c.id),
            billing_run_id: Some(run_id),
            status: InvoiceStatus::Draft,
            currency: c.currency,
            invoice_date: as_of,
            due_date: as_of + Duration::days(days as i64),
            payment_terms_days: days,
            period_start,
            period_end,
            subtotal,
            taxable_amount: taxable,
            tax_rate: terms.tax_rate,
            tax_total,
            total,
            review_required: !reasons.is_empty(),
            review_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
            issued_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
            po_number: None,
            reference_fields: Default::default(),
            memo: None,
            amount_paid: Decimal::ZERO,
            amount_credited: Decimal::ZERO,
            amount_written_off: Decimal::ZERO,
            balance_due: Decimal::ZERO,
            disputed_amount: Decimal::ZERO,
            voided_at: None,
            void_reason: None,
            credited_taxable: Decimal::ZERO,
        });
        bill.lines.extend(lines);
    }
    Ok(bill)
}
