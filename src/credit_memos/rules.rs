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

use super::model::{CreditApplicationRow, CreditMemoRow, CreditMemoStatus};
use crate::error::ApiError;
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::ledger::model::{DocumentType, EntryRow, LedgerKind, Stamp, Target};

/// What is left of an issued memo to apply or refund.
pub fn unapplied(m: &CreditMemoRow) -> Decimal {
    if m.status == CreditMemoStatus::Issued {
        m.total - m.amount_applied - m.amount_refunded
    } else {
        Decimal::ZERO
    }
}

fn on_account(m: &CreditMemoRow) -> Target<'_> {
    Target {
        account_id: m.account_id,
        invoice_id: None,
        currency: &m.currency,
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
pub fn issue_refusal(m: &CreditMemoRow) -> Option<ApiError> {
    (m.status != CreditMemoStatus::Draft).then(|| {
        ApiError::conflict(
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
pub fn approval_refusal(m: &CreditMemoRow, within_limit: bool, stamp: &Stamp) -> Option<ApiError> {
    if m.status != CreditMemoStatus::PendingApproval {
        return Some(ApiError::conflict(
            "invalid_status_transition",
            format!(
                "The credit memo is {}, not pending approval.",
                m.status.as_str()
            ),
        ));
    }
    if m.submitted_by.as_deref() == Some(stamp.actor.as_str()) {
        return Some(ApiError::Forbidden(
            "whoever submitted a credit memo cannot approve or reject it".into(),
        ));
    }
    if !within_limit {
        return Some(ApiError::Forbidden(format!(
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
) -> Option<ApiError> {
    if m.status != CreditMemoStatus::Issued {
        return Some(ApiError::conflict(
            "credit_memo_not_issued",
            format!(
                "The credit memo is {}; only an issued memo is applied.",
                m.status.as_str()
            ),
        ));
    }
    let field = |code: &str, message: String| Some(ApiError::field("invoice_id", code, message));
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
        return Some(ApiError::field(
            "amount",
            "out_of_range",
            "must be more than zero",
        ));
    }
    let left = unapplied(m);
    if amount > left {
        return Some(ApiError::field(
            "amount",
            "exceeds_unapplied",
            format!("is more than the memo's unapplied credit ({left})"),
        ));
    }
    let room = creditable(invoice);
    if amount > room {
        return Some(ApiError::field(
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
                currency: &m.currency,
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
pub fn refund_refusal(m: &CreditMemoRow, amount: Decimal) -> Option<ApiError> {
    if m.status != CreditMemoStatus::Issued {
        return Some(ApiError::conflict(
            "credit_memo_not_issued",
            format!(
                "The credit memo is {}; only an issued memo is refunded.",
                m.status.as_str()
            ),
        ));
    }
    let left = unapplied(m);
    (amount > left).then(|| {
        ApiError::field(
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
pub fn void_refusal(m: &CreditMemoRow) -> Option<ApiError> {
    let why = match m.status {
        CreditMemoStatus::Void => "The credit memo is already void.",
        CreditMemoStatus::Issued
            if !(m.amount_applied.is_zero() && m.amount_refunded.is_zero()) =>
        {
            "Part of the credit memo is applied or refunded; it can no longer be voided."
        }
        _ => return None,
    };
    Some(ApiError::conflict("credit_memo_not_voidable", why))
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
            currency: "USD".into(),
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
        }
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
            Some(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            approval_refusal(&m, false, &stamp("manager")),
            Some(ApiError::Forbidden(_))
        ));
        assert!(approval_refusal(&m, true, &stamp("manager")).is_none());
        let entry = issue(&mut m, "CM-2026-000001".into(), &stamp("manager"));
        assert_eq!(entry.amount, Decimal::new(-60_000, 2));
        assert_eq!(unapplied(&m), Decimal::new(60_000, 2));
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
        assert_eq!(unapplied(&m), Decimal::ZERO);
        assert!(void_refusal(&m).is_some());
    }
}
