//! Cash application rules, free of SQL: what a payment has left, the order of auto
//! application, when an application is refused, and the ledger entries of every movement.
//!
//! Ledger postings (signed: `+` raises what the account owes):
//! - receipt: `−amount` on the account (no invoice): unapplied cash;
//! - application of `x`: `+x` on the account and `−x` on the invoice: the cash moves from
//!   unapplied to the invoice, the account's balance does not change;
//! - reversal of an application: the same pair with opposite signs;
//! - refund of `r`: `+r` on the account (the unapplied cash goes back);
//! - return: every live application reversed, then `+amount` on the account.

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{ApplicationMode, NewPayment};
use super::model::{
    ApplicationRow, ApplicationSource, DeductionReason, DeductionRow, DeductionStatus, PaymentRow,
    PaymentStatus, RefundRow, ReturnPayment,
};
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
pub use crate::ledger::model::Stamp;
use crate::ledger::model::{DocumentType, EntryRow, LedgerKind, Target};
use crate::money::Currency;
use crate::refusal::{FieldError, Refusal};
use crate::validate::Errors;

/// The account-level side of a payment's entries (its unapplied cash).
fn cash(p: &PaymentRow) -> Target<'_> {
    Target {
        account_id: p.account_id,
        invoice_id: None,
        currency: &p.currency,
    }
}

/// The invoice side of a payment's entries.
fn on_invoice<'a>(p: &'a PaymentRow, invoice: &InvoiceRow) -> Target<'a> {
    Target {
        account_id: p.account_id,
        invoice_id: Some(invoice.id),
        currency: &p.currency,
    }
}

/// The status a payment's amounts put it in.
pub fn status_of(p: &PaymentRow) -> PaymentStatus {
    if p.returned_on.is_some() {
        return PaymentStatus::Returned;
    }
    let left = p.amount - p.amount_applied - p.amount_refunded;
    match (p.amount_applied.is_zero(), left.is_zero()) {
        (true, false) => PaymentStatus::Unapplied,
        (false, false) => PaymentStatus::PartiallyApplied,
        (false, true) => PaymentStatus::Applied,
        (true, true) => PaymentStatus::Refunded,
    }
}

/// The part of an invoice's balance that auto application may pay: the balance less what is
/// under open dispute.
pub fn payable(invoice: &InvoiceRow) -> Decimal {
    if invoice.status != InvoiceStatus::Open {
        return Decimal::ZERO;
    }
    (invoice.balance_due - invoice.disputed_amount).max(Decimal::ZERO)
}

/// Auto application: oldest due date first, then oldest invoice date (then number), each
/// invoice paid up to its undisputed balance, until `available` is used up.
pub fn auto_plan<'a>(
    available: Decimal,
    invoices: impl IntoIterator<Item = &'a InvoiceRow>,
) -> Vec<(Uuid, Decimal)> {
    let mut order: Vec<&InvoiceRow> = invoices.into_iter().collect();
    order.sort_by(|a, b| {
        (a.due_date, a.invoice_date, &a.number, a.id).cmp(&(
            b.due_date,
            b.invoice_date,
            &b.number,
            b.id,
        ))
    });
    let mut left = available;
    let mut plan = Vec::new();
    for invoice in order {
        if left <= Decimal::ZERO {
            break;
        }
        let amount = payable(invoice).min(left);
        if amount > Decimal::ZERO {
            plan.push((invoice.id, amount));
            left -= amount;
        }
    }
    plan
}

/// Why `amount` of `payment` cannot be applied to `invoice`, if it cannot; `field` names the
/// request field that chose the invoice.
pub fn application_refusal(
    payment: &PaymentRow,
    invoice: &InvoiceRow,
    amount: Decimal,
    field: &str,
    amount_field: &str,
) -> Option<Refusal> {
    if payment.status == PaymentStatus::Returned {
        return Some(Refusal::conflict(
            "payment_returned",
            "The payment was returned by the bank; it cannot be applied.",
        ));
    }
    let problem = |f: &str, code: &str, message: String| {
        Some(Refusal::Invalid(vec![FieldError::new(f, code, message)]))
    };
    if invoice.account_id != payment.account_id {
        return problem(
            field,
            "other_account",
            "is an invoice of another account".into(),
        );
    }
    if invoice.currency != payment.currency {
        return problem(
            field,
            "currency_mismatch",
            format!(
                "is in {}, the payment in {}",
                invoice.currency, payment.currency
            ),
        );
    }
    match invoice.status {
        InvoiceStatus::Draft => {
            return problem(field, "not_issued", "is a draft, not issued".into())
        }
        InvoiceStatus::Void => return problem(field, "void", "is void".into()),
        InvoiceStatus::Open | InvoiceStatus::Paid | InvoiceStatus::Uncollectible => {}
    }
    if amount <= Decimal::ZERO {
        return problem(
            amount_field,
            "out_of_range",
            "must be more than zero".into(),
        );
    }
    let left = payment.unapplied();
    if amount > left {
        return problem(
            amount_field,
            "exceeds_unapplied",
            format!("is more than the payment's unapplied amount ({left})"),
        );
    }
    if invoice.status == InvoiceStatus::Uncollectible {
        // A recovery: at most what was written off and not yet recovered.
        return (amount > invoice.amount_written_off).then(|| {
            Refusal::Invalid(vec![FieldError::new(
                amount_field,
                "exceeds_written_off",
                format!(
                    "is more than the invoice's written-off amount ({})",
                    invoice.amount_written_off
                ),
            )])
        });
    }
    if amount > invoice.balance_due {
        return problem(
            amount_field,
            "exceeds_balance",
            format!(
                "is more than the invoice's balance ({})",
                invoice.balance_due
            ),
        );
    }
    if amount > invoice.balance_due - invoice.disputed_amount {
        return problem(
            amount_field,
            "disputed",
            format!(
                "is more than the invoice's undisputed balance ({}); the disputed part waits for its dispute",
                invoice.balance_due - invoice.disputed_amount
            ),
        );
    }
    None
}

/// Moves an invoice between open and paid as its balance reaches or leaves zero.
pub fn settle_status(invoice: &mut InvoiceRow) {
    invoice.status = match invoice.status {
        InvoiceStatus::Open if invoice.balance_due.is_zero() => InvoiceStatus::Paid,
        InvoiceStatus::Paid if !invoice.balance_due.is_zero() => InvoiceStatus::Open,
        other => other,
    };
}

fn touch(invoice: &mut InvoiceRow, now: OffsetDateTime) {
    settle_status(invoice);
    invoice.version += 1;
    invoice.updated_at = now;
}

fn touch_payment(payment: &mut PaymentRow, now: OffsetDateTime) {
    payment.status = status_of(payment);
    payment.version += 1;
    payment.updated_at = now;
}

fn number(invoice: &InvoiceRow) -> &str {
    invoice.number.as_deref().unwrap_or("(draft)")
}

/// The entry that records a payment's receipt as unapplied cash.
pub fn receipt(payment: &PaymentRow, stamp: &Stamp) -> EntryRow {
    let reference = payment
        .reference
        .as_deref()
        .map(|r| format!(", ref {r}"))
        .unwrap_or_default();
    stamp.entry(
        cash(payment),
        LedgerKind::PaymentReceived,
        -payment.amount,
        payment.received_date,
        (DocumentType::Payment, payment.id),
        format!(
            "Payment {} received ({}{reference})",
            payment.number,
            payment.method.as_str()
        ),
    )
}

/// Applies `amount` (already checked by [`application_refusal`]) and returns the application
/// and its two entries.
pub fn apply(
    payment: &mut PaymentRow,
    invoice: &mut InvoiceRow,
    amount: Decimal,
    source: ApplicationSource,
    date: Date,
    stamp: &Stamp,
) -> (ApplicationRow, [EntryRow; 2]) {
    payment.amount_applied += amount;
    touch_payment(payment, stamp.now);
    invoice.amount_paid += amount;
    invoice.balance_due -= amount;
    touch(invoice, stamp.now);
    let application = ApplicationRow {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        invoice_id: invoice.id,
        amount,
        source,
        applied_on: date,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
        reversed_at: None,
        reversed_by: None,
        reversal_reason: None,
    };
    let text = format!("Payment {} applied to {}", payment.number, number(invoice));
    let doc = (DocumentType::Payment, payment.id);
    let entries = [
        stamp.entry(
            cash(payment),
            LedgerKind::PaymentApplied,
            amount,
            date,
            doc,
            text.clone(),
        ),
        stamp.entry(
            on_invoice(payment, invoice),
            LedgerKind::PaymentApplied,
            -amount,
            date,
            doc,
            text,
        ),
    ];
    (application, entries)
}

/// Reverses a live application: the amount goes back to the invoice's balance and the
/// payment's unapplied cash. Returns the two entries.
pub fn reverse(
    payment: &mut PaymentRow,
    invoice: &mut InvoiceRow,
    application: &mut ApplicationRow,
    reason: &str,
    date: Date,
    stamp: &Stamp,
) -> [EntryRow; 2] {
    let amount = application.amount;
    payment.amount_applied -= amount;
    touch_payment(payment, stamp.now);
    invoice.amount_paid -= amount;
    invoice.balance_due += amount;
    touch(invoice, stamp.now);
    application.reversed_at = Some(stamp.now);
    application.reversed_by = Some(stamp.actor.clone());
    application.reversal_reason = Some(reason.to_string());
    let text = format!(
        "Payment {} unapplied from {}: {reason}",
        payment.number,
        number(invoice)
    );
    let doc = (DocumentType::Payment, payment.id);
    [
        stamp.entry(
            on_invoice(payment, invoice),
            LedgerKind::PaymentReversal,
            amount,
            date,
            doc,
            text.clone(),
        ),
        stamp.entry(
            cash(payment),
            LedgerKind::PaymentReversal,
            -amount,
            date,
            doc,
            text,
        ),
    ]
}

/// Why a refund of `amount` is refused, if it is.
pub fn refund_refusal(payment: &PaymentRow, amount: Decimal) -> Option<Refusal> {
    if payment.status == PaymentStatus::Returned {
        return Some(Refusal::conflict(
            "payment_returned",
            "The payment was returned by the bank; there is nothing to refund.",
        ));
    }
    let left = payment.unapplied();
    if amount > left {
        return Some(Refusal::field(
            "amount",
            "exceeds_unapplied",
            format!("is more than the payment's unapplied amount ({left})"),
        ));
    }
    None
}

/// Records a refund (already checked by [`refund_refusal`]) and its entry.
pub fn refund(
    payment: &mut PaymentRow,
    mut row: RefundRow,
    stamp: &Stamp,
) -> (RefundRow, EntryRow) {
    payment.amount_refunded += row.amount;
    touch_payment(payment, stamp.now);
    row.payment_id = payment.id;
    let entry = stamp.entry(
        cash(payment),
        LedgerKind::Refund,
        row.amount,
        row.refunded_on,
        (DocumentType::Payment, payment.id),
        format!(
            "Refund of payment {} ({}{})",
            payment.number,
            row.method.as_str(),
            row.reference
                .as_deref()
                .map(|r| format!(", ref {r}"))
                .unwrap_or_default()
        ),
    );
    (row, entry)
}

/// Why a payment cannot be returned, if it cannot.
pub fn return_refusal(payment: &PaymentRow) -> Option<Refusal> {
    if payment.status == PaymentStatus::Returned {
        return Some(Refusal::conflict(
            "payment_returned",
            "The payment was already returned.",
        ));
    }
    if !payment.amount_refunded.is_zero() {
        return Some(Refusal::conflict(
            "payment_refunded",
            "Part of the payment was refunded to the customer; a return would leave that refund owed without a document. Bill it with a manual invoice and record the return against that.",
        ));
    }
    None
}

/// Marks a payment returned, once every application is reversed (its whole amount is
/// unapplied again by then), and returns the entry that takes its money off the account.
pub fn mark_returned(
    payment: &mut PaymentRow,
    how: &ReturnPayment,
    date: Date,
    stamp: &Stamp,
) -> EntryRow {
    payment.returned_on = Some(date);
    payment.return_reason = Some(how.reason);
    payment.return_code = how.return_code.as_deref().map(|c| c.trim().to_string());
    payment.return_note = how.note.clone();
    touch_payment(payment, stamp.now);
    let code = payment
        .return_code
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    stamp.entry(
        cash(payment),
        LedgerKind::PaymentReversal,
        payment.amount,
        date,
        (DocumentType::Payment, payment.id),
        format!(
            "Payment {} returned ({}{code})",
            payment.number,
            how.reason.as_str()
        ),
    )
}

/// What a remittance line leaves short on an invoice: the invoice's one open deduction, made
/// or brought to what is still owed apart from what is disputed (the line's reason replaces
/// the old one when given). `None` when nothing is short.
pub fn deduction(
    payment: &PaymentRow,
    invoice: &InvoiceRow,
    reason: Option<DeductionReason>,
    open: Option<DeductionRow>,
    stamp: &Stamp,
) -> Option<DeductionRow> {
    let short = invoice.balance_due - invoice.disputed_amount;
    if short <= Decimal::ZERO {
        return None;
    }
    Some(match open {
        Some(mut d) => {
            d.amount = short;
            d.reason = reason.unwrap_or(d.reason);
            d.version += 1;
            d.updated_at = stamp.now;
            d
        }
        None => DeductionRow {
            id: Uuid::now_v7(),
            account_id: payment.account_id,
            payment_id: payment.id,
            invoice_id: invoice.id,
            amount: short,
            currency: payment.currency.clone(),
            reason: reason.unwrap_or(DeductionReason::Other),
            status: DeductionStatus::Open,
            note: None,
            resolved_at: None,
            resolved_by: None,
            adjustment_id: None,
            settled_by_payment_id: None,
            version: 1,
            created_at: stamp.now,
            updated_at: stamp.now,
            dispute_id: None,
        },
    })
}

/// Closes an open deduction with `status`.
pub fn resolve(d: &mut DeductionRow, status: DeductionStatus, stamp: &Stamp) {
    d.status = status;
    d.resolved_at = Some(stamp.now);
    d.resolved_by = Some(stamp.actor.clone());
    d.version += 1;
    d.updated_at = stamp.now;
}

/// Why a deduction cannot be written off as a small balance, if it cannot.
pub fn write_off_refusal(
    d: &DeductionRow,
    invoice: &InvoiceRow,
    tolerance: Decimal,
) -> Option<Refusal> {
    if d.status != DeductionStatus::Open {
        return Some(Refusal::conflict(
            "deduction_not_open",
            format!("The deduction is {}, not open.", d.status.as_str()),
        ));
    }
    if d.amount > tolerance {
        return Some(Refusal::conflict(
            "above_tolerance",
            format!(
                "The deduction ({}) is above the small-balance write-off tolerance ({tolerance}); turn it into a dispute or collect it.",
                d.amount
            ),
        ));
    }
    if invoice.status != InvoiceStatus::Open
        || invoice.balance_due - invoice.disputed_amount < d.amount
    {
        return Some(Refusal::conflict(
            "balance_changed",
            format!(
                "The invoice's balance ({}) no longer holds the deduction ({}).",
                invoice.balance_due, d.amount
            ),
        ));
    }
    None
}

/// Most lines in a remittance.
pub const MAX_REMITTANCE_LINES: usize = 500;

/// The largest amount a payment, refund or application may have.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A positive amount with no more decimals than the currency has.
pub fn check_amount(field: &str, amount: Decimal, currency: Option<Currency>, e: &mut Errors) {
    if amount <= Decimal::ZERO {
        e.add(field, "out_of_range", "must be more than zero");
    } else if amount > MAX_AMOUNT {
        e.add(
            field,
            "out_of_range",
            format!("must be at most {MAX_AMOUNT}"),
        );
    } else if let Some(c) = currency {
        if let Err(err) = c.check(field, amount) {
            e.push(err);
        }
    }
}

/// A date a payment event happened on: not in the future, not before `earliest`.
pub fn check_date(field: &str, date: Date, earliest: Date, today: Date, e: &mut Errors) {
    if date > today {
        e.add(field, "in_future", "must not be in the future");
    } else if date < earliest {
        e.add(
            field,
            "out_of_range",
            format!("must not be before {earliest}"),
        );
    }
}

/// Checks a new payment's fields (the account is checked later); returns how to apply it.
pub fn check_new(new: &NewPayment, today: Date, e: &mut Errors) -> ApplicationMode {
    let currency = Currency::parse(&new.currency);
    if currency.is_none() {
        e.add(
            "currency",
            "invalid",
            "must be a supported ISO 4217 currency code",
        );
    }
    check_amount("amount", new.amount, currency, e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.optional_text("memo", new.memo.as_deref(), 1000);
    check_date(
        "received_date",
        new.received_date,
        today - time::Duration::days(3660),
        today,
        e,
    );
    let mode = match (&new.remittance, new.application_mode) {
        (Some(_), None | Some(ApplicationMode::Remittance)) => ApplicationMode::Remittance,
        (Some(_), Some(other)) => {
            e.add(
                "application_mode",
                "conflicts_with_remittance",
                format!(
                    "is {}, but a remittance is given; leave it out or send remittance",
                    other.as_str()
                ),
            );
            other
        }
        (None, Some(ApplicationMode::Remittance)) => {
            e.add(
                "remittance",
                "required",
                "is needed with application_mode remittance",
            );
            ApplicationMode::Remittance
        }
        (None, mode) => mode.unwrap_or(ApplicationMode::Auto),
    };
    if let Some(lines) = &new.remittance {
        if lines.is_empty() || lines.len() > MAX_REMITTANCE_LINES {
            e.add(
                "remittance",
                "out_of_range",
                format!("must have 1 to {MAX_REMITTANCE_LINES} lines"),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut total = Decimal::ZERO;
        for (k, line) in lines.iter().enumerate() {
            let field = |f: &str| format!("remittance[{k}].{f}");
            match (&line.invoice_id, &line.invoice_number) {
                (Some(_), Some(_)) | (None, None) => e.add(
                    &field("invoice_id"),
                    "one_of",
                    "give exactly one of invoice_id and invoice_number",
                ),
                (Some(id), None) => {
                    if !seen.insert(id.to_string()) {
                        e.add(
                            &field("invoice_id"),
                            "duplicate",
                            "names an invoice already in the remittance",
                        );
                    }
                }
                (None, Some(number)) => {
                    e.text(&field("invoice_number"), number, 40);
                    if !seen.insert(number.trim().to_string()) {
                        e.add(
                            &field("invoice_number"),
                            "duplicate",
                            "names an invoice already in the remittance",
                        );
                    }
                }
            }
            check_amount(&field("amount"), line.amount, currency, e);
            total += line.amount.max(Decimal::ZERO);
        }
        if total > new.amount && new.amount > Decimal::ZERO {
            e.add(
                "remittance",
                "exceeds_amount",
                format!(
                    "lines total {total}, more than the payment's amount {}",
                    new.amount
                ),
            );
        }
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use time::macros::date;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn invoice(number: &str, due: Date, balance: &str, disputed: &str) -> InvoiceRow {
        let now = OffsetDateTime::now_utc();
        InvoiceRow {
            id: Uuid::now_v7(),
            number: Some(number.into()),
            account_id: Uuid::nil(),
            contract_id: None,
            billing_run_id: None,
            status: InvoiceStatus::Open,
            currency: "USD".into(),
            invoice_date: due - time::Duration::days(30),
            due_date: due,
            payment_terms_days: 30,
            period_start: None,
            period_end: None,
            subtotal: d(balance),
            taxable_amount: Decimal::ZERO,
            tax_rate: Decimal::ZERO,
            tax_total: Decimal::ZERO,
            total: d(balance),
            review_required: false,
            review_reason: None,
            issued_at: Some(now),
            version: 2,
            created_at: now,
            updated_at: now,
            po_number: None,
            reference_fields: Default::default(),
            memo: None,
            amount_paid: Decimal::ZERO,
            amount_credited: Decimal::ZERO,
            amount_written_off: Decimal::ZERO,
            balance_due: d(balance),
            disputed_amount: d(disputed),
            voided_at: None,
            void_reason: None,
            credited_taxable: Decimal::ZERO,
        }
    }

    fn payment(amount: &str) -> PaymentRow {
        let now = OffsetDateTime::now_utc();
        PaymentRow {
            id: Uuid::now_v7(),
            number: "PMT-2026-000001".into(),
            account_id: Uuid::nil(),
            amount: d(amount),
            currency: "USD".into(),
            method: super::super::model::PaymentMethod::Check,
            reference: Some("10442".into()),
            received_date: date!(2026 - 11 - 20),
            application_mode: super::super::model::ApplicationMode::Auto,
            memo: None,
            amount_applied: Decimal::ZERO,
            amount_refunded: Decimal::ZERO,
            status: PaymentStatus::Unapplied,
            returned_on: None,
            return_reason: None,
            return_code: None,
            return_note: None,
            return_fee_invoice_id: None,
            version: 1,
            created_by: "test".into(),
            created_at: now,
            updated_at: now,
        }
    }

    fn stamp() -> Stamp {
        Stamp {
            now: OffsetDateTime::now_utc(),
            actor: "test".into(),
            request_id: None,
        }
    }

    fn amounts(plan: &[(Uuid, Decimal)], invoices: &[InvoiceRow]) -> Vec<(String, Decimal)> {
        plan.iter()
            .map(|(id, a)| {
                let i = invoices.iter().find(|i| i.id == *id).unwrap();
                (i.number.clone().unwrap(), *a)
            })
            .collect()
    }

    #[test]
    fn auto_pays_oldest_due_first_and_keeps_the_rest() {
        // The worked example: A 1,000 due 1 Oct, B 500 due 15 Oct, C 250 due 1 Nov.
        let invoices = vec![
            invoice("C", date!(2026 - 11 - 01), "250.00", "0"),
            invoice("A", date!(2026 - 10 - 01), "1000.00", "0"),
            invoice("B", date!(2026 - 10 - 15), "500.00", "0"),
        ];
        let plan = auto_plan(d("1600.00"), &invoices);
        assert_eq!(
            amounts(&plan, &invoices),
            vec![
                ("A".into(), d("1000.00")),
                ("B".into(), d("500.00")),
                ("C".into(), d("100.00"))
            ]
        );
    }

    #[test]
    fn auto_skips_the_disputed_part() {
        let invoices = vec![
            invoice("A", date!(2026 - 10 - 01), "1000.00", "0"),
            invoice("B", date!(2026 - 10 - 15), "500.00", "200.00"),
            invoice("C", date!(2026 - 11 - 01), "250.00", "0"),
        ];
        let plan = auto_plan(d("1600.00"), &invoices);
        assert_eq!(
            amounts(&plan, &invoices),
            vec![
                ("A".into(), d("1000.00")),
                ("B".into(), d("300.00")),
                ("C".into(), d("250.00"))
            ]
        );
        let used: Decimal = plan.iter().map(|(_, a)| *a).sum();
        assert_eq!(d("1600.00") - used, d("50.00"));
    }

    #[test]
    fn same_due_date_goes_by_invoice_date() {
        let mut older = invoice("X2", date!(2026 - 10 - 01), "10.00", "0");
        older.invoice_date = date!(2026 - 08 - 01);
        let newer = invoice("X1", date!(2026 - 10 - 01), "10.00", "0");
        let invoices = vec![newer, older];
        let plan = auto_plan(d("10.00"), &invoices);
        assert_eq!(amounts(&plan, &invoices), vec![("X2".into(), d("10.00"))]);
    }

    #[test]
    fn status_follows_the_amounts() {
        let mut p = payment("100.00");
        assert_eq!(status_of(&p), PaymentStatus::Unapplied);
        p.amount_applied = d("40.00");
        assert_eq!(status_of(&p), PaymentStatus::PartiallyApplied);
        p.amount_refunded = d("60.00");
        assert_eq!(status_of(&p), PaymentStatus::Applied);
        p.amount_applied = Decimal::ZERO;
        p.amount_refunded = d("100.00");
        assert_eq!(status_of(&p), PaymentStatus::Refunded);
        p.returned_on = Some(date!(2026 - 11 - 21));
        assert_eq!(status_of(&p), PaymentStatus::Returned);
    }

    #[test]
    fn applications_are_refused_beyond_what_is_left() {
        let mut p = payment("100.00");
        let mut i = invoice("A", date!(2026 - 10 - 01), "80.00", "0");
        let refused = |p: &PaymentRow, i: &InvoiceRow, a: &str| {
            application_refusal(p, i, d(a), "invoice_id", "amount").map(|e| match e {
                Refusal::Invalid(errors) => errors[0].code.clone(),
                other => other.code().to_string(),
            })
        };
        assert_eq!(refused(&p, &i, "80.01").as_deref(), Some("exceeds_balance"));
        assert_eq!(refused(&p, &i, "0").as_deref(), Some("out_of_range"));
        assert_eq!(refused(&p, &i, "80.00"), None);
        let (_, entries) = apply(
            &mut p,
            &mut i,
            d("80.00"),
            ApplicationSource::Manual,
            date!(2026 - 11 - 20),
            &stamp(),
        );
        assert_eq!(entries.iter().map(|e| e.amount).sum::<Decimal>(), d("0"));
        assert_eq!(i.status, InvoiceStatus::Paid);
        assert_eq!(p.status, PaymentStatus::PartiallyApplied);
        let j = invoice("B", date!(2026 - 10 - 01), "80.00", "0");
        assert_eq!(
            refused(&p, &j, "20.01").as_deref(),
            Some("exceeds_unapplied")
        );
        let mut other = j.clone();
        other.account_id = Uuid::now_v7();
        assert_eq!(refused(&p, &other, "1").as_deref(), Some("other_account"));
        let mut void = j.clone();
        void.status = InvoiceStatus::Void;
        assert_eq!(refused(&p, &void, "1").as_deref(), Some("void"));
        p.returned_on = Some(date!(2026 - 11 - 21));
        p.status = PaymentStatus::Returned;
        assert_eq!(refused(&p, &j, "1").as_deref(), Some("payment_returned"));
    }

    #[test]
    fn a_reversal_restores_both_sides() {
        let mut p = payment("100.00");
        let mut i = invoice("A", date!(2026 - 10 - 01), "100.00", "0");
        let s = stamp();
        let (mut app, _) = apply(
            &mut p,
            &mut i,
            d("100.00"),
            ApplicationSource::Auto,
            s.today(),
            &s,
        );
        assert_eq!(
            (i.status, p.status),
            (InvoiceStatus::Paid, PaymentStatus::Applied)
        );
        let entries = reverse(&mut p, &mut i, &mut app, "wrong invoice", s.today(), &s);
        assert_eq!(entries.iter().map(|e| e.amount).sum::<Decimal>(), d("0"));
        assert_eq!(i.balance_due, d("100.00"));
        assert_eq!(i.status, InvoiceStatus::Open);
        assert_eq!(p.status, PaymentStatus::Unapplied);
        assert!(app.reversed_at.is_some());
    }

    #[test]
    fn a_short_line_leaves_the_undisputed_rest_as_a_deduction() {
        let p = payment("950.00");
        let mut i = invoice("A", date!(2026 - 10 - 01), "1000.00", "0");
        i.balance_due = d("50.00");
        let ded = deduction(&p, &i, Some(DeductionReason::Pricing), None, &stamp()).unwrap();
        assert_eq!(
            (ded.amount, ded.reason),
            (d("50.00"), DeductionReason::Pricing)
        );
        // A second short payment brings the invoice's open deduction down, keeping its reason.
        i.balance_due = d("20.00");
        let again = deduction(&p, &i, None, Some(ded.clone()), &stamp()).unwrap();
        assert_eq!((again.id, again.amount), (ded.id, d("20.00")));
        assert_eq!(again.reason, DeductionReason::Pricing);
        i.disputed_amount = d("20.00");
        assert!(deduction(&p, &i, None, None, &stamp()).is_none());
    }

    /// Random sequences of applications, reversals and refunds keep every payment's
    /// applied + refunded + unapplied equal to its amount and no balance below zero.
    #[test]
    fn amounts_always_add_up() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let s = stamp();
        for _ in 0..200 {
            let mut p = payment("500.00");
            let mut invoices: Vec<InvoiceRow> = (0..3)
                .map(|k| invoice(&format!("I{k}"), date!(2026 - 10 - 01), "200.00", "0"))
                .collect();
            let mut apps: Vec<(usize, ApplicationRow)> = Vec::new();
            for _ in 0..30 {
                let amount = Decimal::new(next(25_000) as i64 + 1, 2);
                match next(3) {
                    0 => {
                        let k = next(3) as usize;
                        if application_refusal(&p, &invoices[k], amount, "i", "a").is_none() {
                            let (a, _) = apply(
                                &mut p,
                                &mut invoices[k],
                                amount,
                                ApplicationSource::Manual,
                                s.today(),
                                &s,
                            );
                            apps.push((k, a));
                        }
                    }
                    1 if !apps.is_empty() => {
                        let (k, mut a) = apps.remove(next(apps.len() as u64) as usize);
                        reverse(&mut p, &mut invoices[k], &mut a, "test", s.today(), &s);
                    }
                    _ => {
                        if refund_refusal(&p, amount).is_none() {
                            let row = RefundRow {
                                id: Uuid::now_v7(),
                                payment_id: p.id,
                                amount,
                                method: super::super::model::RefundMethod::Check,
                                reference: None,
                                refunded_on: s.today(),
                                reason: None,
                                created_by: "test".into(),
                                created_at: s.now,
                            };
                            refund(&mut p, row, &s);
                        }
                    }
                }
                assert!(p.amount_applied + p.amount_refunded <= p.amount);
                assert!(p.unapplied() >= Decimal::ZERO);
                let live: Decimal = apps.iter().map(|(_, a)| a.amount).sum();
                assert_eq!(live, p.amount_applied);
                for i in &invoices {
                    assert!(i.balance_due >= Decimal::ZERO);
                    assert_eq!(i.balance_due, i.total - i.amount_paid);
                }
            }
        }
    }
}
