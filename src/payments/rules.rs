//! Cash application rules, free of SQL: what a payment has left, the order of auto
//! application, when an application is refused, and the ledger entries of every movement.
//!
//! Ledger postings (signed: `+` raises what the account owes):
//! - receipt: `−amount` on the account (no invoice): unapplied cash;
//! - application of `x`: `+x` on the account and `−x` on the invoice: the cash moves from
//!   unapplied to the invoice, the account's balance does not change; when the invoice is of
//!   an account under the payer's (a site paid by its head office), the `−x` is on that
//!   account, so each account's balance stays what its own invoices, cash and credits make it;
//! - reversal of an application: the same pair with opposite signs;
//! - refund of `r`: `+r` on the account (the unapplied cash goes back);
//! - return: every live application reversed, then `+amount` on the account.

use std::collections::HashSet;

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{
    ApplicationRow, ApplicationSource, DeductionReason, DeductionRow, DeductionStatus, PaymentRow,
    PaymentStatus, RefundRow,
};
use super::requests::ReturnPayment;
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
pub use crate::ledger::model::Stamp;
use crate::ledger::model::{DocumentType, EntryRow, LedgerKind, Target};
use crate::refusal::{FieldError, Refusal};

mod requests;
#[cfg(test)]
mod tests;

pub use requests::{check_amount, check_date, check_new, MAX_AMOUNT, MAX_REMITTANCE_LINES};

/// The account-level side of a payment's entries (its unapplied cash).
fn cash(p: &PaymentRow) -> Target {
    Target {
        account_id: p.account_id,
        invoice_id: None,
        currency: p.currency,
    }
}

/// The invoice side of a payment's entries, on the invoice's account.
fn on_invoice(p: &PaymentRow, invoice: &InvoiceRow) -> Target {
    Target {
        account_id: invoice.account_id,
        invoice_id: Some(invoice.id),
        currency: p.currency,
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
/// request field that chose the invoice. A payment pays invoices of its own account and of the
/// accounts under it (`under_payer`).
pub fn application_refusal(
    payment: &PaymentRow,
    invoice: &InvoiceRow,
    under_payer: &HashSet<Uuid>,
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
    if invoice.account_id != payment.account_id && !under_payer.contains(&invoice.account_id) {
        return problem(
            field,
            "other_account",
            "is an invoice of another account, not one under the payer's".into(),
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
            account_id: invoice.account_id,
            payment_id: payment.id,
            invoice_id: invoice.id,
            amount: short,
            currency: payment.currency,
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
