//! The credit memo as a document a customer reads: the same sheet as an invoice's, with the
//! credits, where they were applied and what is left on account.

use super::model::{CreditApplicationView, CreditLineRow, CreditMemoRow, CreditMemoStatus};
use crate::accounts::model::AccountRow;
use crate::invoices::document::{bill_to, money, seller_lines, Sheet, SheetLine};
use crate::invoices::settings::Seller;

/// The sheet of `memo`, with its `lines` and the `applications` of it to invoices.
pub fn sheet(
    memo: &CreditMemoRow,
    lines: &[CreditLineRow],
    account: &AccountRow,
    applications: &[CreditApplicationView],
    seller: &Seller,
) -> Sheet {
    let currency = memo.currency;
    let amount = |d| money(d, currency);
    let number = memo.number.clone().unwrap_or_else(|| "(draft)".into());
    let mut facts = vec![
        ("Credit memo number".to_string(), number.clone()),
        (
            "Date".to_string(),
            memo.credit_date
                .map_or_else(|| "(not issued)".into(), |d| d.to_string()),
        ),
        ("Account".to_string(), account.number.clone()),
        ("Reason".to_string(), memo.reason.as_str().replace('_', " ")),
    ];
    for a in applications {
        facts.push((
            format!(
                "Applied to {}",
                a.invoice_number.as_deref().unwrap_or_default()
            ),
            amount(a.amount),
        ));
    }
    let mut totals = vec![
        ("Subtotal".to_string(), amount(memo.total - memo.tax_total)),
        ("Tax".to_string(), amount(memo.tax_total)),
        (
            format!("Total credit {}", memo.currency),
            amount(memo.total),
        ),
    ];
    if !memo.amount_applied.is_zero() {
        totals.push(("Applied to invoices".into(), amount(memo.amount_applied)));
    }
    if !memo.amount_refunded.is_zero() {
        totals.push(("Refunded".into(), amount(memo.amount_refunded)));
    }
    totals.push((
        format!("Credit on account {}", memo.currency),
        amount(memo.unapplied()),
    ));
    Sheet {
        title: format!("Credit memo {number}"),
        stamp: match memo.status {
            CreditMemoStatus::Void => Some("VOID".into()),
            CreditMemoStatus::Draft => Some("DRAFT".into()),
            CreditMemoStatus::PendingApproval => Some("PENDING APPROVAL".into()),
            CreditMemoStatus::Rejected => Some("REJECTED".into()),
            CreditMemoStatus::Issued => None,
        },
        seller: seller_lines(seller),
        bill_to: bill_to(account),
        facts,
        lines_title: "Credits".into(),
        lines: lines
            .iter()
            .map(|l| SheetLine {
                description: l.description.clone(),
                detail: Some(format!(
                    "Net {}, tax {}, total {}{}",
                    amount(l.amount),
                    amount(l.tax_amount),
                    amount(l.total()),
                    match (l.period_start, l.period_end) {
                        (Some(from), Some(to)) => format!("; period {from} to {to}"),
                        _ => String::new(),
                    }
                )),
                quantity: "1".into(),
                unit_price: amount(l.amount),
                amount: amount(l.total()),
            })
            .collect(),
        totals,
        remit_to: Vec::new(),
        how_to_pay: Vec::new(),
        memo: memo.memo.clone(),
    }
}
