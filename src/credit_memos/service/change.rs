//! Changes of a credit memo after its draft, each under the memo's lock: issue, approval,
//! rejection, application, refund and void.

use actix_web::http::StatusCode;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{issued, submit};
use crate::context::Ctx;
use crate::credit_memos::model::{
    CreditMemoRow, CreditMemoStatus, CreditMemoView, CreditRefundRow, NewCreditApplication,
    NewCreditRefund,
};
use crate::credit_memos::settings::CreditSettings;
use crate::credit_memos::{rules, store};
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::ledger::model::Stamp;
use crate::payments::rules::check_amount;
use crate::validate::Errors;

/// Voiding an issued memo gives back to its invoices the taxable amount its lines credited.
async fn give_back_taxable(
    conn: &mut Conn,
    memo: &CreditMemoRow,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    if memo.status != CreditMemoStatus::Issued {
        return Ok(());
    }
    let credited = rules::taxable_by_invoice(&store::lines_of(conn, memo.id).await?);
    if credited.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = credited.keys().copied().collect();
    for mut invoice in crate::invoices::store::lock_many(conn, &ids).await? {
        invoice.credited_taxable -= credited[&invoice.id];
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        crate::invoices::store::update(conn, &invoice).await?;
    }
    Ok(())
}

/// A memo of a valid dispute that waits for approval keeps its amount held on the disputed
/// invoice (not auto-applied, not dunned); approval, rejection or void releases it.
pub async fn release_dispute_hold(
    conn: &mut Conn,
    memo: &CreditMemoRow,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    if memo.dispute_id.is_none() || memo.status != CreditMemoStatus::PendingApproval {
        return Ok(());
    }
    let targets = store::targets_of(conn, memo.id).await?;
    let ids: Vec<Uuid> = targets.iter().map(|t| t.invoice_id).collect();
    for mut invoice in crate::invoices::store::lock_many(conn, &ids).await? {
        let held: Decimal = targets
            .iter()
            .filter(|t| t.invoice_id == invoice.id)
            .map(|t| t.amount)
            .sum();
        invoice.disputed_amount = (invoice.disputed_amount - held).max(Decimal::ZERO);
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        crate::invoices::store::update(conn, &invoice).await?;
    }
    Ok(())
}

/// The memo under its lock and its view as it was, with the stamp of the change.
async fn locked(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
) -> Result<(CreditMemoRow, CreditMemoView, Stamp), ApiError> {
    let memo = store::lock(conn, id).await?;
    let before = store::view(conn, memo.clone()).await?;
    Ok((memo, before, ctx.stamp()))
}

/// What the change `action` did to the memo, answered with `status`.
async fn written(
    conn: &mut Conn,
    action: &'static str,
    status: StatusCode,
    before: CreditMemoView,
    memo: CreditMemoRow,
) -> Result<Written<CreditMemoView>, ApiError> {
    let after = store::view(conn, memo).await?;
    Ok(Written {
        status,
        action,
        before: Some(before),
        after,
    })
}

/// Issues a draft, or sends it for approval when its total is above the caller's limit.
pub async fn issue(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    credits: &CreditSettings,
) -> Result<Written<CreditMemoView>, ApiError> {
    let (mut memo, before, stamp) = locked(conn, ctx, id).await?;
    if let Some(refusal) = rules::issue_refusal(&memo) {
        return Err(refusal.into());
    }
    submit(conn, credits, ctx, &mut memo, &stamp).await?;
    written(conn, "credit_memo.submitted", StatusCode::OK, before, memo).await
}

/// Approves a memo pending approval, within the approver's own limit, which issues it.
pub async fn approve(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    note: Option<&str>,
    credits: &CreditSettings,
) -> Result<Written<CreditMemoView>, ApiError> {
    let (mut memo, before, stamp) = locked(conn, ctx, id).await?;
    let within = credits.within_limit(ctx.principal.role, memo.total);
    if let Some(refusal) = rules::approval_refusal(&memo, within, &stamp) {
        return Err(refusal.into());
    }
    release_dispute_hold(conn, &memo, &stamp).await?;
    memo.approved_by = Some(stamp.actor.clone());
    memo.approved_at = Some(stamp.now);
    memo.approval_note = note.map(str::to_string);
    issued(conn, ctx, &mut memo, &stamp).await?;
    written(conn, "credit_memo.approved", StatusCode::OK, before, memo).await
}

/// Rejects a memo pending approval, with a note.
pub async fn reject(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    note: &str,
) -> Result<Written<CreditMemoView>, ApiError> {
    let (mut memo, before, stamp) = locked(conn, ctx, id).await?;
    if let Some(refusal) = rules::approval_refusal(&memo, true, &stamp) {
        return Err(refusal.into());
    }
    release_dispute_hold(conn, &memo, &stamp).await?;
    memo.status = CreditMemoStatus::Rejected;
    memo.rejected_by = Some(stamp.actor.clone());
    memo.rejection_note = Some(note.to_string());
    memo.version += 1;
    memo.updated_at = stamp.now;
    store::update(conn, &memo).await?;
    written(conn, "credit_memo.rejected", StatusCode::OK, before, memo).await
}

/// Applies part of an issued memo's unapplied credit to an open invoice of its account.
pub async fn apply(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &NewCreditApplication,
) -> Result<Written<CreditMemoView>, ApiError> {
    let (mut memo, before, stamp) = locked(conn, ctx, id).await?;
    let mut e = Errors::default();
    check_amount("amount", new.amount, Some(memo.currency), &mut e);
    e.finish()?;
    let mut invoice =
        crate::invoices::store::lock_named(conn, new.invoice_id, "invoice_id").await?;
    if let Some(refusal) = rules::application_refusal(&memo, &invoice, new.amount) {
        return Err(refusal.into());
    }
    let date = stamp.today().max(invoice.invoice_date);
    let (application, entries) = rules::apply(&mut memo, &mut invoice, new.amount, date, &stamp);
    store::update(conn, &memo).await?;
    let mut paid = crate::invoices::service::Paid::default();
    crate::invoices::service::save(conn, &invoice, &mut paid).await?;
    store::insert_applications(conn, &[application]).await?;
    crate::payments::store::sync_deductions(conn, &[invoice.id], None, &stamp).await?;
    crate::ledger::store::post(conn, &entries).await?;
    paid.announce(conn, stamp.now).await?;
    crate::collections::events::cash_moved(conn, ctx, memo.account_id, false).await?;
    written(
        conn,
        "credit_memo.applied",
        StatusCode::CREATED,
        before,
        memo,
    )
    .await
}

/// Pays part of an issued memo's unapplied credit back to the customer.
pub async fn refund(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &NewCreditRefund,
) -> Result<Written<CreditMemoView>, ApiError> {
    let (mut memo, before, stamp) = locked(conn, ctx, id).await?;
    let mut e = Errors::default();
    check_amount("amount", new.amount, Some(memo.currency), &mut e);
    e.finish()?;
    if let Some(refusal) = rules::refund_refusal(&memo, new.amount) {
        return Err(refusal.into());
    }
    let entry = rules::refund(&mut memo, new.amount, &stamp);
    store::update(conn, &memo).await?;
    store::insert_refund(
        conn,
        &CreditRefundRow {
            id: Uuid::now_v7(),
            credit_memo_id: memo.id,
            amount: new.amount,
            method: new.method,
            reference: new.reference.as_deref().map(|r| r.trim().to_string()),
            refunded_on: stamp.today(),
            created_by: stamp.actor.clone(),
            created_at: stamp.now,
        },
    )
    .await?;
    crate::ledger::store::post(conn, &[entry]).await?;
    written(
        conn,
        "credit_memo.refunded",
        StatusCode::CREATED,
        before,
        memo,
    )
    .await
}

/// Voids a draft, a memo pending approval, or an issued memo of which nothing is applied or
/// refunded.
pub async fn void(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    reason: &str,
) -> Result<Written<CreditMemoView>, ApiError> {
    let (mut memo, before, stamp) = locked(conn, ctx, id).await?;
    if let Some(refusal) = rules::void_refusal(&memo) {
        return Err(refusal.into());
    }
    release_dispute_hold(conn, &memo, &stamp).await?;
    give_back_taxable(conn, &memo, &stamp).await?;
    let entry = rules::void(&mut memo, reason, &stamp);
    store::update(conn, &memo).await?;
    crate::ledger::store::post(conn, entry.as_slice()).await?;
    written(conn, "credit_memo.voided", StatusCode::OK, before, memo).await
}
