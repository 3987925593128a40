//! Deductions a short payment left: written off as a small balance.

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::adjustments::model::{AdjustmentKind, AdjustmentRow};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::Written;
use crate::payments::model::{DeductionStatus, DeductionView};
use crate::payments::requests::WriteOffDeduction;
use crate::payments::{rules, store};
use crate::validate::Errors;

impl crate::audit::Audited for DeductionView {
    const ENTITY: &'static str = "deduction";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Writes an open deduction off as a small balance, up to `tolerance`: an adjustment and a
/// `write_off` ledger entry take it off its invoice's balance.
pub async fn write_off(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    write_off: &WriteOffDeduction,
    tolerance: Decimal,
) -> Result<Written<DeductionView>, ApiError> {
    let (mut invoice, mut deduction) = store::lock_deduction_with_invoice(conn, id).await?;
    let mut e = Errors::default();
    crate::financial_codes::store::check_codes(
        conn,
        &[("financial_code_id".into(), write_off.financial_code_id)],
        &[FinancialCodeKind::WriteOff],
        &mut e,
    )
    .await?;
    e.finish()?;
    if let Some(refusal) = rules::write_off_refusal(&deduction, &invoice, tolerance) {
        return Err(refusal.into());
    }
    let before = DeductionView::from(deduction.clone());
    let stamp = ctx.stamp();
    let reason = write_off
        .note
        .as_deref()
        .map(str::trim)
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "Small-balance write-off of a {} deduction",
                deduction.reason.as_str()
            )
        });
    let adjustment = AdjustmentRow {
        id: Uuid::now_v7(),
        account_id: deduction.account_id,
        invoice_id: Some(invoice.id),
        kind: AdjustmentKind::SmallBalanceWriteOff,
        amount: deduction.amount,
        currency: deduction.currency,
        financial_code_id: write_off.financial_code_id,
        reason: reason.clone(),
        deduction_id: Some(deduction.id),
        payment_id: None,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
    };
    crate::adjustments::store::insert(conn, &adjustment).await?;
    let description = format!(
        "Small-balance write-off on {}: {reason}",
        invoice.number.as_deref().unwrap_or_default()
    );
    let entry = crate::adjustments::rules::write_off(
        &mut invoice,
        deduction.amount,
        adjustment.id,
        description,
        &stamp,
    );
    let mut paid = crate::invoices::service::Paid::default();
    crate::invoices::service::save(conn, &invoice, &mut paid).await?;
    crate::ledger::store::post(conn, &[entry]).await?;
    rules::resolve(&mut deduction, DeductionStatus::WrittenOff, &stamp);
    deduction.adjustment_id = Some(adjustment.id);
    deduction.note = write_off.note.clone();
    store::update_deduction(conn, &deduction).await?;
    store::sync_deductions(conn, &[invoice.id], None, &stamp).await?;
    paid.announce(conn, stamp.now).await?;
    let after = DeductionView::from(deduction);
    Ok(Written::changed("deduction.written_off", before, after))
}
