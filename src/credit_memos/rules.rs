//! Credit memo rules, free of SQL: approval, issue, application, refund and void, and their
//! ledger entries.
//!
//! Ledger postings (signed: `+` raises what the account owes):
//! - issue of `T`: `−T` on the account (no invoice): unapplied credit;
//! - application of `x`: `+x` on the account and `−x` on the invoice;
//! - refund of `r`: `+r` on the account;
//! - void (nothing applied or refunded): `+T` on the account.

use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{CreditApplicationRow, CreditLineRow, CreditMemoRow, CreditMemoStatus};
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::ledger::model::{DocumentType, EntryRow, LedgerKind, Stamp, Target};
use crate::refusal::Refusal;

/// The tax a credit of `net` from an invoice's taxable amount takes off the invoice, by the
/// rule the invoice used (its rate on its taxable total, rounded half-up once): the invoice's
/// tax on what was left taxable before the credit, less its tax on what is left after. Before
/// any credit that is the invoice's own tax; credits of every taxable line leave none.
pub fn credit_tax(
    taxable: Decimal,
    credited_before: Decimal,
    net: Decimal,
    rate: Decimal,
    currency: crate::money::Currency,
) -> Decimal {
    let tax = |x: Decimal| currency.round(x * rate / Decimal::ONE_HUNDRED);
    let before = taxable - credited_before;
    (tax(before) - tax(before - net)).max(Decimal::ZERO)
}

/// What an invoice's tax rule needs to know: its taxable total, what credits have taken of it,
/// and its rate.
#[derive(Debug, Clone, Copy)]
pub struct InvoiceTax {
    pub id: Uuid,
    pub taxable: Decimal,
    pub credited: Decimal,
    pub rate: Decimal,
}

impl From<&InvoiceRow> for InvoiceTax {
    fn from(i: &InvoiceRow) -> Self {
        InvoiceTax {
            id: i.id,
            taxable: i.taxable_amount,
            credited: i.credited_taxable,
            rate: i.tax_rate,
        }
    }
}

/// Sets the tax of each taxable line of `lines` from its invoice's (of `invoices`), in line
/// order, each line after the ones before it; the memo's tax total.
pub fn tax_lines(
    lines: &mut [CreditLineRow],
    invoices: &[InvoiceTax],
    currency: crate::money::Currency,
) -> Decimal {
    let mut credited: std::collections::HashMap<Uuid, Decimal> =
        invoices.iter().map(|i| (i.id, i.credited)).collect();
    let mut total = Decimal::ZERO;
    for line in lines.iter_mut() {
        line.tax_amount = Decimal::ZERO;
        let Some(invoice) = line
            .invoice_id
            .filter(|_| line.taxable)
            .and_then(|id| invoices.iter().find(|i| i.id == id))
        else {
            continue;
        };
        let before = credited.entry(invoice.id).or_default();
        line.tax_amount = credit_tax(
            invoice.taxable,
            *before,
            line.amount,
            invoice.rate,
            currency,
        );
        *before += line.amount;
        total += line.tax_amount;
    }
    total
}

/// Per invoice, the net taxable amount the lines credit.
pub fn taxable_by_invoice(lines: &[CreditLineRow]) -> std::collections::BTreeMap<Uuid, Decimal> {
    let mut out = std::collections::BTreeMap::new();
    for l in lines.iter().filter(|l| l.taxable) {
        if let Some(invoice) = l.invoice_id {
            *out.entry(invoice).or_insert(Decimal::ZERO) += l.amount;
        }
    }
    out
}

fn on_account(m: &CreditMemoRow) -> Target {
    Target {
        account_id: m.account_id,
        invoice_id: None,
        currency: m.currency,
    }
}

fn doc(m: &CreditMemoRow) -> (DocumentType, Uuid) {
    (DocumentType::CreditMemo, m.id)
}

fn number(m: &CreditMemoRow) -> &str {
    m.number.as_deref().unwrap_or("(draft)")
}

fn touch(m: &mut CreditMemoRow, stamp: &Stamp) {
    m.version += 1;
    m.updated_at = stamp.now;
}

/// Why the memo cannot be sent for issue, if it cannot.
pub fn issue_refusal(m: &CreditMemoRow) -> Option<Refusal> {
    (m.status != CreditMemoStatus::Draft).then(|| {
        Refusal::conflict(
            "invalid_status_transition",
            format!(
                "The credit memo is {}; only a draft is issued.",
                m.status.as_str()
            ),
        )
    })
}

/// Records who asked for a draft to be issued and, above their limit, sends it for approval
/// (`true` when it may be issued now).
pub fn submit(m: &mut CreditMemoRow, within_limit: bool, stamp: &Stamp) -> bool {
    m.submitted_by = Some(stamp.actor.clone());
    m.submitted_at = Some(stamp.now);
    if !within_limit {
        m.status = CreditMemoStatus::PendingApproval;
        touch(m, stamp);
    }
    within_limit
}

/// Why `stamp.actor` cannot approve or reject the memo, if they cannot.
pub fn approval_refusal(m: &CreditMemoRow, within_limit: bool, stamp: &Stamp) -> Option<Refusal> {
    if m.status != CreditMemoStatus::PendingApproval {
        return Some(Refusal::conflict(
            "invalid_status_transition",
            format!(
                "The credit memo is {}, not pending approval.",
                m.status.as_str()
            ),
        ));
    }
    if m.submitted_by.as_deref() == Some(stamp.actor.as_str()) {
        return Some(Refusal::Forbidden(
            "whoever submitted a credit memo cannot approve or reject it".into(),
        ));
    }
    if !within_limit {
        return Some(Refusal::Forbidden(format!(
            "the credit memo's total {} is above your approval limit",
            m.total
        )));
    }
    None
}

/// Issues a memo with its number: the entry that puts its credit on the account.
pub fn issue(m: &mut CreditMemoRow, assigned: String, stamp: &Stamp) -> EntryRow {
    m.number = Some(assigned);
    m.status = CreditMemoStatus::Issued;
    m.credit_date = Some(stamp.today());
    m.issued_at = Some(stamp.now);
    touch(m, stamp);
    stamp.entry(
        on_account(m),
        LedgerKind::CreditIssued,
        -m.total,
        stamp.today(),
        doc(m),
        format!("Credit memo {} issued ({})", number(m), m.reason.as_str()),
    )
}

/// What of an invoice's balance a credit may pay: the undisputed balance of an open invoice.
pub fn creditable(invoice: &InvoiceRow) -> Decimal {
    if invoice.status != InvoiceStatus::Open {
        return Decimal::ZERO;
    }
    (invoice.balance_due - invoice.disputed_amount).max(Decimal::ZERO)
}

/// Why `amount` of the memo cannot be applied to the invoice, if it cannot.
pub fn application_refusal(
    m: &CreditMemoRow,
    invoice: &InvoiceRow,
    amount: Decimal,
) -> Option<Refusal> {
    if m.status != CreditMemoStatus::Issued {
        return Some(Refusal::conflict(
            "credit_memo_not_issued",
            format!(
                "The credit memo is {}; only an issued memo is applied.",
                m.status.as_str()
            ),
        ));
    }
    let field = |code: &str, message: String| Some(Refusal::field("invoice_id", code, message));
    if invoice.account_id != m.account_id {
        return field("other_account", "is an invoice of another account".into());
    }
    if invoice.currency != m.currency {
        return field("currency_mismatch", format!("is in {}", invoice.currency));
    }
    if invoice.status != InvoiceStatus::Open {
        return field(
            "not_open",
            format!(
                "is {}; credits go to open invoices",
                invoice.status.as_str()
            ),
        );
    }
    if amount <= Decimal::ZERO {
        return Some(Refusal::field(
            "amount",
            "out_of_range",
            "must be more than zero",
        ));
    }
    let left = m.unapplied();
    if amount > left {
        return Some(Refusal::field(
            "amount",
            "exceeds_unapplied",
            format!("is more than the memo's unapplied credit ({left})"),
        ));
    }
    let room = creditable(invoice);
    if amount > room {
        return Some(Refusal::field(
            "amount",
            "exceeds_balance",
            format!("is more than the invoice's undisputed balance ({room})"),
        ));
    }
    None
}

/// Applies `amount` (already checked) and returns the application and its two entries.
pub fn apply(
    m: &mut CreditMemoRow,
    invoice: &mut InvoiceRow,
    amount: Decimal,
    date: Date,
    stamp: &Stamp,
) -> (CreditApplicationRow, [EntryRow; 2]) {
    m.amount_applied += amount;
    touch(m, stamp);
    invoice.amount_credited += amount;
    invoice.balance_due -= amount;
    crate::payments::rules::settle_status(invoice);
    invoice.version += 1;
    invoice.updated_at = stamp.now;
    let text = format!(
        "Credit memo {} applied to {}",
        number(m),
        invoice.number.as_deref().unwrap_or_default()
    );
    let entries = [
        stamp.entry(
            on_account(m),
            LedgerKind::CreditApplied,
            amount,
            date,
            doc(m),
            text.clone(),
        ),
        stamp.entry(
            Target {
                account_id: m.account_id,
                invoice_id: Some(invoice.id),
                currency: m.currency,
            },
            LedgerKind::CreditApplied,
            -amount,
            date,
            doc(m),
            text,
        ),
    ];
    let application = CreditApplicationRow {
        id: Uuid::now_v7(),
        credit_memo_id: m.id,
        invoice_id: invoice.id,
        amount,
        applied_on: date,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
    };
    (application, entries)
}

/// Why a refund of `amount` is refused, if it is.
pub fn refund_refusal(m: &CreditMemoRow, amount: Decimal) -> Option<Refusal> {
    if m.status != CreditMemoStatus::Issued {
        return Some(Refusal::conflict(
            "credit_memo_not_issued",
            format!(
                "The credit memo is {}; only an issued memo is refunded.",
                m.status.as_str()
            ),
        ));
    }
    let left = m.unapplied();
    (amount > left).then(|| {
        Refusal::field(
            "amount",
            "exceeds_unapplied",
            format!("is more than the memo's unapplied credit ({left})"),
        )
    })
}

/// Refunds `amount` (already checked): the entry.
pub fn refund(m: &mut CreditMemoRow, amount: Decimal, stamp: &Stamp) -> EntryRow {
    m.amount_refunded += amount;
    touch(m, stamp);
    stamp.entry(
        on_account(m),
        LedgerKind::Refund,
        amount,
        stamp.today(),
        doc(m),
        format!("Refund of credit memo {}", number(m)),
    )
}

/// Why the memo cannot be voided, if it cannot: an issued memo only while nothing of it is
/// applied or refunded.
pub fn void_refusal(m: &CreditMemoRow) -> Option<Refusal> {
    let why = match m.status {
        CreditMemoStatus::Void => "The credit memo is already void.",
        CreditMemoStatus::Issued
            if !(m.amount_applied.is_zero() && m.amount_refunded.is_zero()) =>
        {
            "Part of the credit memo is applied or refunded; it can no longer be voided."
        }
        _ => return None,
    };
    Some(Refusal::conflict("credit_memo_not_voidable", why))
}

/// Voids the memo; the entry that takes an issued memo's credit back off the account.
pub fn void(m: &mut CreditMemoRow, reason: &str, stamp: &Stamp) -> Option<EntryRow> {
    let was_issued = m.status == CreditMemoStatus::Issued;
    m.status = CreditMemoStatus::Void;
    m.voided_at = Some(stamp.now);
    m.void_reason = Some(reason.trim().to_string());
    touch(m, stamp);
    (was_issued && !m.total.is_zero()).then(|| {
        stamp.entry(
            on_account(m),
            LedgerKind::CreditReversal,
            m.total,
            stamp.today(),
            doc(m),
            format!("Credit memo {} voided: {}", number(m), reason.trim()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credit_memos::model::CreditReason;
    use time::OffsetDateTime;

    fn memo(total: i64) -> CreditMemoRow {
        let now = OffsetDateTime::now_utc();
        CreditMemoRow {
            id: Uuid::now_v7(),
            number: None,
            account_id: Uuid::nil(),
            status: CreditMemoStatus::Draft,
            reason: CreditReason::Goodwill,
            financial_code_id: Uuid::nil(),
            currency: crate::money::Currency::USD,
            total: Decimal::new(total, 2),
            amount_applied: Decimal::ZERO,
            amount_refunded: Decimal::ZERO,
            dispute_id: None,
            memo: None,
            credit_date: None,
            submitted_by: None,
            submitted_at: None,
            approved_by: None,
            approved_at: None,
            approval_note: None,
            rejected_by: None,
            rejection_note: None,
            issued_at: None,
            voided_at: None,
            void_reason: None,
            created_by: "billing-user".into(),
            version: 1,
            created_at: now,
            updated_at: now,
            tax_total: Decimal::ZERO,
        }
    }

    #[test]
    fn a_credit_takes_the_tax_the_invoice_charged_on_what_it_credits() {
        let usd = crate::money::Currency::parse("USD").unwrap();
        let r = Decimal::new(825, 2);
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        // Taxable 150.00 at 8.25 %: tax 12.375 → 12.38. A whole 100.00 line: 12.38 − 4.13.
        assert_eq!(
            credit_tax(d("150.00"), d("0"), d("100.00"), r, usd),
            d("8.25")
        );
        // Then the other 50.00: the rest of the tax, to the cent.
        assert_eq!(
            credit_tax(d("150.00"), d("100.00"), d("50.00"), r, usd),
            d("4.13")
        );
        // Two 0.10 lines at 5 %: tax 0.01 in all, credited once, never twice.
        let five = Decimal::new(5, 0);
        assert_eq!(
            credit_tax(d("0.20"), d("0"), d("0.10"), five, usd),
            d("0.00")
        );
        assert_eq!(
            credit_tax(d("0.20"), d("0.10"), d("0.10"), five, usd),
            d("0.01")
        );
        // No rate, no tax.
        assert_eq!(
            credit_tax(d("100"), d("0"), d("40"), Decimal::ZERO, usd),
            d("0")
        );
    }

    #[test]
    fn memo_lines_take_their_tax_one_after_another() {
        let usd = crate::money::Currency::parse("USD").unwrap();
        let invoice_id = Uuid::now_v7();
        let invoice = InvoiceTax {
            id: invoice_id,
            taxable: Decimal::new(15000, 2),
            credited: Decimal::ZERO,
            rate: Decimal::new(825, 2),
        };
        let line = |amount: i64, taxable: bool| CreditLineRow {
            invoice_id: Some(invoice_id),
            taxable,
            amount: Decimal::new(amount, 2),
            ..Default::default()
        };
        let mut lines = [line(10000, true), line(5000, true), line(2000, false)];
        let tax = tax_lines(&mut lines, &[invoice], usd);
        let taxes: Vec<String> = lines.iter().map(|l| l.tax_amount.to_string()).collect();
        assert_eq!(taxes, ["8.25", "4.13", "0"]);
        assert_eq!(tax, Decimal::new(1238, 2));
    }

    fn stamp(actor: &str) -> Stamp {
        Stamp {
            now: OffsetDateTime::now_utc(),
            actor: actor.into(),
            request_id: None,
        }
    }

    #[test]
    fn above_the_limit_a_memo_waits_for_someone_else() {
        let mut m = memo(60_000);
        assert!(!submit(&mut m, false, &stamp("billing-user")));
        assert_eq!(m.status, CreditMemoStatus::PendingApproval);
        assert!(matches!(
            approval_refusal(&m, true, &stamp("billing-user")),
            Some(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            approval_refusal(&m, false, &stamp("manager")),
            Some(Refusal::Forbidden(_))
        ));
        assert!(approval_refusal(&m, true, &stamp("manager")).is_none());
        let entry = issue(&mut m, "CM-2026-000001".into(), &stamp("manager"));
        assert_eq!(entry.amount, Decimal::new(-60_000, 2));
        assert_eq!(m.unapplied(), Decimal::new(60_000, 2));
        assert!(issue_refusal(&m).is_some());
    }

    #[test]
    fn only_an_untouched_memo_is_voided() {
        let mut m = memo(1_000);
        issue(&mut m, "CM-2026-000001".into(), &stamp("a"));
        assert!(void_refusal(&m).is_none());
        m.amount_refunded = Decimal::ONE;
        assert!(void_refusal(&m).is_some());
        m.amount_refunded = Decimal::ZERO;
        let entry = void(&mut m, "issued twice", &stamp("a")).unwrap();
        assert_eq!(entry.amount, Decimal::new(1_000, 2));
        assert_eq!(m.unapplied(), Decimal::ZERO);
        assert!(void_refusal(&m).is_some());
    }
}
