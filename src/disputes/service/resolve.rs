//! Resolution of an active dispute: its amount released on the invoice, and for a valid
//! one the credit memo of the approved amount, issued or sent for approval.

use uuid::Uuid;

use super::{announce, changed, locked, release};
use crate::audit;
use crate::context::Ctx;
use crate::credit_memos::settings::CreditSettings;
use crate::db::Conn;
use crate::disputes::model::{DisputeOutcome, DisputeStatus, DisputeView, ResolveDispute};
use crate::disputes::rules;
use crate::error::ApiError;
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::Written;
use crate::outbox::EventType;
use crate::validate::Errors;

/// Resolves an active dispute with its root cause and note; a valid one with an approved
/// amount makes its credit memo (whose own audit entry comes first). Resolving twice is
/// refused (409): one dispute, one credit memo.
pub async fn resolve(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    resolve: &ResolveDispute,
    settings: &CreditSettings,
) -> Result<Written<DisputeView>, ApiError> {
    use crate::credit_memos::model::CreditReason;
    use crate::credit_memos::service as credits;
    let to = match resolve.outcome {
        DisputeOutcome::Valid => DisputeStatus::ResolvedValid,
        DisputeOutcome::Invalid => DisputeStatus::ResolvedInvalid,
    };
    let (mut row, before, stamp) = locked(conn, ctx, id, None).await?;
    {
        let row = &mut row;
        let stamp = &stamp;
        if let Some(refusal) = rules::transition_refusal(row.status, to) {
            return Err(refusal.into());
        }
        let mut e = Errors::default();
        if let (Some(amount), Some(code)) = (resolve.approved_amount, resolve.financial_code_id) {
            if amount > row.amount {
                e.add(
                    "approved_amount",
                    "exceeds_disputed",
                    format!("is more than the disputed amount ({})", row.amount),
                );
            }
            if let Err(err) = row.currency.check("approved_amount", amount) {
                e.push(err);
            }
            crate::financial_codes::store::check_codes(
                conn,
                &[("financial_code_id".into(), code)],
                &[FinancialCodeKind::Credit],
                &mut e,
            )
            .await?;
        }
        e.finish()?;
        let invoice = release(conn, row, to != DisputeStatus::ResolvedValid, stamp).await?;
        row.status = to;
        row.root_cause = Some(resolve.root_cause);
        row.resolution_note = Some(resolve.note.trim().to_string());
        row.resolved_at = Some(stamp.now);
        row.resolved_by = Some(stamp.actor.clone());
        row.approved_amount = resolve
            .approved_amount
            .filter(|_| to == DisputeStatus::ResolvedValid);
        if let (Some(amount), Some(code)) = (row.approved_amount, resolve.financial_code_id) {
            let description = format!(
                "Dispute {} resolved ({}): {}",
                row.number,
                resolve.root_cause.as_str().replace('_', " "),
                row.reason.as_str().replace('_', " ")
            );
            // A dispute of a taxable line credits the line's amount and the tax on it;
            // any other credits the amount approved.
            let mut line = credits::plain_line(description, amount);
            let of_line = match row.invoice_line_id {
                Some(id) => crate::invoices::store::lines_of(conn, &[invoice.id])
                    .await?
                    .into_iter()
                    .find(|l| l.id == id),
                None => None,
            };
            if let Some(of) = of_line {
                line.invoice_id = Some(invoice.id);
                line.invoice_line_id = Some(of.id);
                line.taxable = of.taxable && !invoice.tax_rate.is_zero();
                line.period_start = of.period_start;
                line.period_end = of.period_end;
            }
            let mut lines = [line];
            crate::credit_memos::rules::tax_lines(&mut lines, &[(&invoice).into()], row.currency);
            let mut memo = credits::new_memo(
                row.account_id,
                row.currency,
                CreditReason::Dispute,
                code,
                &lines,
                Some(resolve.note.trim().to_string()),
                Some(row.id),
                stamp,
            );
            let lines = credits::line_rows(memo.id, &lines);
            let given = match lines[0].invoice_id {
                Some(_) => Vec::new(),
                None => vec![crate::credit_memos::model::CreditTarget {
                    invoice_id: invoice.id,
                    amount,
                }],
            };
            let targets = credits::targets_of_lines(memo.id, &lines, &given);
            crate::credit_memos::store::insert(conn, &memo, &lines, &targets).await?;
            credits::submit(conn, settings, ctx, &mut memo, stamp).await?;
            if memo.status == crate::credit_memos::model::CreditMemoStatus::PendingApproval {
                // Until the credit is approved, its amount stays held on the invoice.
                let mut invoice =
                    crate::invoices::store::lock_visible(conn, row.invoice_id, None).await?;
                invoice.disputed_amount += targets
                    .iter()
                    .map(|t| t.amount)
                    .sum::<rust_decimal::Decimal>();
                invoice.version += 1;
                crate::invoices::store::update(conn, &invoice).await?;
            }
            row.credit_memo_id = Some(memo.id);
            let view = crate::credit_memos::store::view(conn, memo).await?;
            audit::changed(conn, ctx, "credit_memo.created", None, Some(&view)).await?;
        }
    }
    let written = changed(conn, ctx, "dispute.resolved", before, row, &stamp).await?;
    announce(conn, ctx, EventType::DisputeResolved, &written.after).await?;
    Ok(written)
}
