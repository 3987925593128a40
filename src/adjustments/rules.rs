//! Adjustment rules, free of SQL: late-fee amounts, write-offs and recoveries, and their
//! ledger entries (document: the adjustment).

use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{NewAdjustment, NewAdjustmentKind};
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::ledger::model::{DocumentType, EntryRow, LedgerKind, Stamp, Target};
use crate::money::Currency;
use crate::payments::rules::check_amount;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// Checks the fields a kind of adjustment needs and refuses the others.
pub fn check_new(new: &NewAdjustment, e: &mut Errors) {
    e.text("reason", &new.reason, 500);
    let not_allowed = |e: &mut Errors, field: &str| {
        e.add(
            field,
            "not_allowed",
            format!("is not used by a {}", new.kind.as_str()),
        )
    };
    if new.kind != NewAdjustmentKind::BadDebtWriteOff {
        if new.include_not_yet_due {
            not_allowed(e, "include_not_yet_due");
        }
        if new.not_yet_due_reason.is_some() {
            not_allowed(e, "not_yet_due_reason");
        }
    }
    match new.kind {
        NewAdjustmentKind::LateFee => {
            if new.account_id.is_none() {
                e.add(
                    "account_id",
                    "required",
                    "a late fee is billed to an account",
                );
            }
            match (new.amount, new.percentage) {
                (Some(a), None) => check_amount("amount", a, None, e),
                (None, Some(p)) => {
                    if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED || p.normalize().scale() > 4 {
                        e.add(
                            "percentage",
                            "out_of_range",
                            "must be more than 0 and at most 100, with up to 4 decimals",
                        );
                    }
                }
                _ => e.add("amount", "one_of", "give either amount or percentage"),
            }
        }
        NewAdjustmentKind::SmallBalanceWriteOff => {
            if new.invoice_id.is_none() {
                e.add("invoice_id", "required", "a write-off is of an invoice");
            }
            if new.percentage.is_some() {
                not_allowed(e, "percentage");
            }
            if let Some(a) = new.amount {
                check_amount("amount", a, None, e);
            }
        }
        NewAdjustmentKind::BadDebtWriteOff => {
            match (new.include_not_yet_due, new.not_yet_due_reason.as_deref()) {
                (true, None) => e.add(
                    "not_yet_due_reason",
                    "required",
                    "say why invoices not yet due are written off",
                ),
                (true, Some(reason)) => e.text("not_yet_due_reason", reason, 2000),
                (false, Some(_)) => e.add(
                    "not_yet_due_reason",
                    "not_allowed",
                    "only with include_not_yet_due",
                ),
                (false, None) => {}
            }
            if new.invoice_id.is_some() == new.account_id.is_some() {
                e.add(
                    "invoice_id",
                    "one_of",
                    "give either invoice_id or account_id (every open invoice)",
                );
            }
            if new.amount.is_some() {
                not_allowed(e, "amount");
            }
            if new.percentage.is_some() {
                not_allowed(e, "percentage");
            }
        }
    }
}

fn on_invoice(invoice: &InvoiceRow) -> Target {
    Target {
        account_id: invoice.account_id,
        invoice_id: Some(invoice.id),
        currency: invoice.currency,
    }
}

fn touch(invoice: &mut InvoiceRow, stamp: &Stamp) {
    crate::payments::rules::settle_status(invoice);
    invoice.version += 1;
    invoice.updated_at = stamp.now;
}

/// A late fee: the amount given, or `percentage` percent of `past_due` rounded half-up to
/// the currency's minor unit.
pub fn late_fee(
    amount: Option<Decimal>,
    percentage: Option<Decimal>,
    past_due: Decimal,
    currency: Currency,
) -> Decimal {
    match (amount, percentage) {
        (Some(a), _) => a,
        (None, Some(p)) => currency.round(past_due * p / Decimal::ONE_HUNDRED),
        (None, None) => Decimal::ZERO,
    }
}

/// Why `amount` of an invoice cannot be written off as a small balance, if it cannot.
pub fn small_balance_refusal(
    invoice: &InvoiceRow,
    amount: Decimal,
    tolerance: Decimal,
) -> Option<Refusal> {
    if invoice.status != InvoiceStatus::Open {
        return Some(Refusal::field(
            "invoice_id",
            "not_open",
            format!(
                "is {}; only an open balance is written off",
                invoice.status.as_str()
            ),
        ));
    }
    if amount > tolerance {
        return Some(Refusal::conflict(
            "above_tolerance",
            format!("{amount} is above the small-balance write-off tolerance ({tolerance})."),
        ));
    }
    let room = invoice.balance_due - invoice.disputed_amount;
    (amount > room).then(|| {
        Refusal::field(
            "amount",
            "exceeds_balance",
            format!("is more than the invoice's undisputed balance ({room})"),
        )
    })
}

/// Whether the invoice is past due at the end of `today` (due before it).
pub fn past_due_on(invoice: &InvoiceRow, today: time::Date) -> bool {
    invoice.due_date < today
}

/// Why an invoice cannot be written off as bad debt, if it cannot.
pub fn bad_debt_refusal(invoice: &InvoiceRow) -> Option<Refusal> {
    let number = invoice.number.as_deref().unwrap_or_default();
    if invoice.status != InvoiceStatus::Open || invoice.balance_due.is_zero() {
        return Some(Refusal::conflict(
            "nothing_to_write_off",
            format!(
                "Invoice {number} is {} with nothing open.",
                invoice.status.as_str()
            ),
        ));
    }
    (!invoice.disputed_amount.is_zero()).then(|| {
        Refusal::conflict(
            "invoice_disputed",
            format!("Invoice {number} is under dispute; resolve or withdraw the dispute first."),
        )
    })
}

/// Writes `amount` of an invoice off (entry: `−amount` on the invoice).
pub fn write_off(
    invoice: &mut InvoiceRow,
    amount: Decimal,
    adjustment_id: Uuid,
    description: String,
    stamp: &Stamp,
) -> EntryRow {
    invoice.amount_written_off += amount;
    invoice.balance_due -= amount;
    touch(invoice, stamp);
    stamp.entry(
        on_invoice(invoice),
        LedgerKind::WriteOff,
        -amount,
        stamp.today().max(invoice.invoice_date),
        (DocumentType::Adjustment, adjustment_id),
        description,
    )
}

/// Writes an invoice's whole balance off as bad debt: it becomes uncollectible.
pub fn bad_debt(
    invoice: &mut InvoiceRow,
    adjustment_id: Uuid,
    description: String,
    stamp: &Stamp,
) -> (Decimal, EntryRow) {
    let amount = invoice.balance_due;
    invoice.status = InvoiceStatus::Uncollectible;
    (
        amount,
        write_off(invoice, amount, adjustment_id, description, stamp),
    )
}

/// Reinstates `amount` of a written-off invoice so that a payment can be applied to it (a
/// recovery): entry `+amount` on the invoice, dated as the application it makes room for.
pub fn recover(
    invoice: &mut InvoiceRow,
    amount: Decimal,
    adjustment_id: Uuid,
    date: time::Date,
    description: String,
    stamp: &Stamp,
) -> EntryRow {
    invoice.amount_written_off -= amount;
    invoice.balance_due += amount;
    stamp.entry(
        on_invoice(invoice),
        LedgerKind::Adjustment,
        amount,
        date,
        (DocumentType::Adjustment, adjustment_id),
        description,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_late_fee_rounds_half_up() {
        let usd = Currency::parse("USD").unwrap();
        // 1.5 % of 1,234.50 = 18.5175 → 18.52.
        assert_eq!(
            late_fee(
                None,
                Some(Decimal::new(15, 1)),
                Decimal::new(123450, 2),
                usd
            ),
            Decimal::new(1852, 2)
        );
        assert_eq!(
            late_fee(Some(Decimal::new(3500, 2)), None, Decimal::ZERO, usd),
            Decimal::new(3500, 2)
        );
    }
}
