//! Credit memos as other domains make them: the rows of a new memo, and its issue and
//! application, in the caller's transaction. (What follows when credit moves, for collections,
//! is the caller's to set off, except in `submit` and `issued`, which tell collections.)
//! And the commands of credit memos themselves: a new draft (`draft`) and the changes after
//! it (`change`), each returning what it wrote for the audit log and the response.

mod change;
mod draft;

use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{CreditLineRow, CreditMemoRow, CreditMemoStatus, CreditReason, TargetRow};
use super::settings::CreditSettings;
use super::{rules, store};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::ledger::model::Stamp;
use crate::money::Currency;
use crate::outbox::{self, EventType};

pub use change::{apply, approve, issue, refund, reject, void};
pub use draft::create;

/// A new draft memo row.
#[allow(clippy::too_many_arguments)]
pub fn new_memo(
    account_id: Uuid,
    currency: Currency,
    reason: CreditReason,
    financial_code_id: Uuid,
    lines: &[CreditLineRow],
    memo: Option<String>,
    dispute_id: Option<Uuid>,
    stamp: &Stamp,
) -> CreditMemoRow {
    CreditMemoRow {
        id: Uuid::now_v7(),
        number: None,
        account_id,
        status: CreditMemoStatus::Draft,
        reason,
        financial_code_id,
        currency,
        total: lines.iter().map(CreditLineRow::total).sum(),
        tax_total: lines.iter().map(|l| l.tax_amount).sum(),
        amount_applied: Decimal::ZERO,
        amount_refunded: Decimal::ZERO,
        dispute_id,
        memo,
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
        created_by: stamp.actor.clone(),
        version: 1,
        created_at: stamp.now,
        updated_at: stamp.now,
    }
}

/// A credit line of `amount` naming no invoice line: the amount is what is credited.
pub fn plain_line(description: String, amount: Decimal) -> CreditLineRow {
    CreditLineRow {
        description,
        amount,
        ..Default::default()
    }
}

/// The memo's lines, numbered, with their ids.
pub fn line_rows(memo_id: Uuid, lines: &[CreditLineRow]) -> Vec<CreditLineRow> {
    lines
        .iter()
        .enumerate()
        .map(|(k, l)| CreditLineRow {
            id: Uuid::now_v7(),
            credit_memo_id: memo_id,
            line_no: k as i32 + 1,
            ..l.clone()
        })
        .collect()
}

/// The targets of a memo: those given by hand, and each invoice its lines credit for their
/// totals.
pub fn targets_of_lines(
    memo_id: Uuid,
    lines: &[CreditLineRow],
    given: &[super::model::CreditTarget],
) -> Vec<TargetRow> {
    let mut out: Vec<TargetRow> = given
        .iter()
        .map(|t| TargetRow {
            credit_memo_id: memo_id,
            invoice_id: t.invoice_id,
            amount: t.amount,
        })
        .collect();
    for l in lines {
        let Some(invoice) = l.invoice_id else {
            continue;
        };
        match out.iter_mut().find(|t| t.invoice_id == invoice) {
            Some(t) => t.amount += l.total(),
            None => out.push(TargetRow {
                credit_memo_id: memo_id,
                invoice_id: invoice,
                amount: l.total(),
            }),
        }
    }
    out
}

/// Sends a draft for issue on behalf of `ctx`: issued and applied now when its total is within
/// the caller's approval limit, else pending approval.
pub async fn submit(
    conn: &mut Conn,
    credits: &CreditSettings,
    ctx: &Ctx,
    memo: &mut CreditMemoRow,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    let within = credits.within_limit(ctx.principal.role, memo.total);
    if rules::submit(memo, within, stamp) {
        issued(conn, ctx, memo, stamp).await
    } else {
        store::update(conn, memo).await
    }
}

/// Issues and applies a memo, and tells collections when credit moved.
pub async fn issued(
    conn: &mut Conn,
    ctx: &Ctx,
    memo: &mut CreditMemoRow,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    if issue_and_apply(conn, memo, stamp).await? {
        crate::collections::events::cash_moved(conn, ctx, memo.account_id, false).await?;
    }
    Ok(())
}

/// Numbers and issues a memo, then applies it to its targets (each up to the invoice's
/// undisputed balance; the rest stays on account). Everything in the caller's transaction;
/// whether any credit was applied (cash moved: the caller tells collections).
pub async fn issue_and_apply(
    conn: &mut Conn,
    memo: &mut CreditMemoRow,
    stamp: &Stamp,
) -> Result<bool, ApiError> {
    // Invoices before the number's counter: the order dispute resolution takes them in.
    let mut targets = store::targets_of(conn, memo.id).await?;
    let ids: Vec<Uuid> = targets.iter().map(|t| t.invoice_id).collect();
    let mut invoices = crate::invoices::store::lock_many(conn, &ids).await?;
    fix_taxes(conn, memo, &mut targets, &mut invoices).await?;
    let year = stamp.today().year();
    let n = crate::db::next_number(conn, &format!("CM-{year}")).await?;
    let mut entries = vec![rules::issue(memo, format!("CM-{year}-{n:06}"), stamp)];
    let mut applications = Vec::new();
    for target in &targets {
        let Some(invoice) = invoices.iter_mut().find(|i| i.id == target.invoice_id) else {
            continue;
        };
        let amount = target
            .amount
            .min(rules::creditable(invoice))
            .min(memo.unapplied());
        if amount > Decimal::ZERO {
            let date = stamp.today().max(invoice.invoice_date);
            let (application, pair) = rules::apply(memo, invoice, amount, date, stamp);
            applications.push(application);
            entries.extend(pair);
        }
    }
    store::update(conn, memo).await?;
    let mut paid = crate::invoices::service::Paid::default();
    for invoice in &invoices {
        crate::invoices::service::save(conn, invoice, &mut paid).await?;
    }
    store::insert_applications(conn, &applications).await?;
    crate::payments::store::sync_deductions(conn, &ids, None, stamp).await?;
    crate::ledger::store::post(conn, &entries).await?;
    let view = store::view(conn, memo.clone()).await?;
    outbox::emit(
        conn,
        stamp.now,
        EventType::CreditMemoIssued,
        view.id,
        Some(view.account_id),
        &view,
    )
    .await?;
    paid.announce(conn, stamp.now).await?;
    Ok(!applications.is_empty())
}

/// Fixes the tax of a memo's lines of taxable invoice lines as it is issued, against its
/// (locked) invoices as they stand now, and records the taxable amount credited on them; the
/// memo's total and its targets follow. 409 `exceeds_taxable` when earlier credits have left
/// less of an invoice taxable than the lines credit.
async fn fix_taxes(
    conn: &mut Conn,
    memo: &mut CreditMemoRow,
    targets: &mut [TargetRow],
    invoices: &mut [crate::invoices::model::InvoiceRow],
) -> Result<(), ApiError> {
    let mut lines = store::lines_of(conn, memo.id).await?;
    if lines.iter().all(|l| l.invoice_id.is_none()) {
        return Ok(());
    }
    let currency = memo.currency;
    let credited = rules::taxable_by_invoice(&lines);
    for invoice in invoices.iter() {
        let Some(net) = credited.get(&invoice.id) else {
            continue;
        };
        let left = invoice.taxable_amount - invoice.credited_taxable;
        if *net > left {
            return Err(ApiError::conflict(
                "exceeds_taxable",
                format!(
                    "The memo credits {net} of invoice {}'s taxable lines, of which earlier credits have left {left}.",
                    invoice.number.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    let before: Vec<Decimal> = lines.iter().map(|l| l.tax_amount).collect();
    let taxes: Vec<rules::InvoiceTax> = invoices.iter().map(|i| i.into()).collect();
    memo.tax_total = rules::tax_lines(&mut lines, &taxes, currency);
    memo.total = lines.iter().map(CreditLineRow::total).sum();
    if lines.iter().zip(&before).any(|(l, b)| l.tax_amount != *b) {
        store::update_lines(conn, &lines).await?;
    }
    for target in targets.iter_mut() {
        let of_lines: Vec<&CreditLineRow> = lines
            .iter()
            .filter(|l| l.invoice_id == Some(target.invoice_id))
            .collect();
        if of_lines.is_empty() {
            continue;
        }
        let amount = of_lines.iter().map(|l| l.total()).sum();
        if amount != target.amount {
            target.amount = amount;
            store::update_target(conn, target).await?;
        }
    }
    for invoice in invoices.iter_mut() {
        if let Some(net) = credited.get(&invoice.id) {
            invoice.credited_taxable += *net;
        }
    }
    Ok(())
}
