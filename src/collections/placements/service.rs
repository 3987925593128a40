//! Agency placements as their commands change them, each in the caller's transaction:
//! placing an account's past-due invoices, recording what the agency recovered (a payment
//! through the payments service, and the agency's commission), and recalling.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{
    NewPlacement, NewRecovery, PlacementRow, PlacementStatus, PlacementView, Recall, RecoveryRow,
};
use super::{rules, store};
use crate::accounts::model::CollectionsStatus;
use crate::adjustments::model::{AdjustmentKind, AdjustmentRow, AdjustmentView};
use crate::audit;
use crate::collections::{set_status, status_after_arrangement};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::ledger::model::Stamp;
use crate::payments::model::{PaymentMethod, PaymentRow};
use crate::validate::Errors;

/// Places the account's past-due invoices (their undisputed balances) with an agency on
/// `placed_on`; the account becomes `with_agency`.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewPlacement,
    placed_on: time::Date,
) -> Result<Written<PlacementView>, ApiError> {
    let today = ctx.now.date();
    let account = crate::accounts::store::lock_named(conn, new.account_id, "account_id").await?;
    if let Some(code) = new.commission_financial_code_id {
        let mut e = Errors::default();
        crate::financial_codes::store::check_codes(
            conn,
            &[("commission_financial_code_id".into(), code)],
            &[crate::financial_codes::model::FinancialCodeKind::Expense],
            &mut e,
        )
        .await?;
        e.finish()?;
    }
    rules::check_may_place(account.collections_status)?;
    let promised = !crate::collections::promises::active_views(conn, &[account.id])
        .await?
        .is_empty();
    rules::check_no_promise(promised)?;
    let placed = store::lock_past_due(conn, account.id, today).await?;
    let amount: Decimal = placed.iter().map(|p| p.amount).sum();
    rules::check_placed_amount(amount)?;
    let currency = account.currency;
    let now = ctx.now;
    let row = PlacementRow {
        id: Uuid::now_v7(),
        account_id: account.id,
        agency: new.agency.trim().to_string(),
        placed_on,
        currency,
        amount_placed: amount,
        commission_rate: new.commission_rate,
        status: PlacementStatus::Active,
        recovered: Decimal::ZERO,
        commission: Decimal::ZERO,
        recalled_on: None,
        recall_reason: None,
        created_by: ctx.principal.subject.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
        commission_financial_code_id: new.commission_financial_code_id,
    };
    store::insert(conn, &row, &placed).await?;
    set_status(
        conn,
        ctx,
        account.id,
        &[
            CollectionsStatus::None,
            CollectionsStatus::InDunning,
            CollectionsStatus::Promised,
        ],
        CollectionsStatus::WithAgency,
    )
    .await?;
    let view = store::view(conn, row).await?;
    Ok(Written::created("agency_placement.created", view))
}

/// Records what the agency collected (received on `received`) as a payment on the account,
/// applied oldest due first, and the agency's commission on it.
pub async fn recover(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &NewRecovery,
    received: time::Date,
) -> Result<Written<PlacementView>, ApiError> {
    let today = ctx.now.date();
    let mut row = store::lock(conn, id).await?;
    rules::check_takes_recovery(row.status)?;
    let currency = row.currency;
    let mut e = Errors::default();
    crate::payments::rules::check_amount("amount", new.amount, Some(currency), &mut e);
    rules::check_received(received, row.placed_on, today, &mut e);
    e.finish()?;
    let before = store::view(conn, row.clone()).await?;
    let stamp = ctx.stamp();
    let fee = rules::commission(new.amount, row.commission_rate, currency);
    let number = crate::payments::store::next_number(conn).await?;
    let mut payment = PaymentRow {
        reference: new.reference.as_deref().map(|r| r.trim().to_string()),
        memo: Some(format!("Recovery by {} (commission {fee})", row.agency)),
        ..PaymentRow::received(
            number,
            row.account_id,
            new.amount,
            currency,
            new.method.unwrap_or(PaymentMethod::Wire),
            received,
            stamp.actor.clone(),
            stamp.now,
        )
    };
    let payment_view =
        crate::payments::service::receive(conn, ctx, &mut payment, None, &stamp).await?;
    audit::changed(conn, ctx, "payment.received", None, Some(&payment_view)).await?;
    let commission_adjustment = match fee.is_zero() {
        true => None,
        false => Some(post_commission(conn, ctx, &row, &payment, fee, &stamp).await?),
    };
    store::insert_recovery(
        conn,
        &RecoveryRow {
            id: Uuid::now_v7(),
            placement_id: id,
            payment_id: payment.id,
            amount: new.amount,
            commission: fee,
            received_date: received,
            created_by: stamp.actor.clone(),
            created_at: stamp.now,
            commission_adjustment_id: commission_adjustment,
        },
    )
    .await?;
    row.recovered += new.amount;
    row.commission += fee;
    row.version += 1;
    row.updated_at = stamp.now;
    store::update(conn, &row).await?;
    let after = store::view(conn, row).await?;
    // A recovery is made (201) on the placement it changes.
    Ok(Written {
        before: Some(before),
        ..Written::created("agency_placement.recovered", after)
    })
}

/// Posts the agency's commission on a recovery: an `agency_commission` adjustment on the
/// account under the placement's `expense` code, tied to the recovery's payment. It moves no
/// invoice (the gross payment settled them) and is audited; its id.
async fn post_commission(
    conn: &mut Conn,
    ctx: &Ctx,
    placement: &PlacementRow,
    payment: &PaymentRow,
    fee: Decimal,
    stamp: &Stamp,
) -> Result<Uuid, ApiError> {
    let code = rules::commission_code(placement.commission_financial_code_id)?;
    let row = AdjustmentRow {
        id: Uuid::now_v7(),
        account_id: placement.account_id,
        invoice_id: None,
        kind: AdjustmentKind::AgencyCommission,
        amount: fee,
        currency: placement.currency,
        financial_code_id: code,
        reason: format!(
            "Commission of {} ({}%) on recovery {}",
            placement.agency,
            placement.commission_rate.normalize(),
            payment.number
        ),
        deduction_id: None,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
        payment_id: Some(payment.id),
    };
    crate::adjustments::store::insert_many(conn, std::slice::from_ref(&row)).await?;
    let view = AdjustmentView::from(row.clone());
    audit::changed(conn, ctx, "adjustment.created", None, Some(&view)).await?;
    Ok(row.id)
}

/// Takes the account back from the agency; it returns to dunning while anything is past due.
pub async fn recall(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    request: &Recall,
) -> Result<Written<PlacementView>, ApiError> {
    let mut row = store::lock(conn, id).await?;
    rules::check_recallable(row.status)?;
    let before = store::view(conn, row.clone()).await?;
    let today = ctx.now.date();
    row.status = PlacementStatus::Recalled;
    row.recalled_on = Some(today);
    row.recall_reason = Some(request.reason.trim().to_string());
    row.version += 1;
    row.updated_at = ctx.now;
    store::update(conn, &row).await?;
    let next = status_after_arrangement(conn, row.account_id, today).await?;
    set_status(
        conn,
        ctx,
        row.account_id,
        &[CollectionsStatus::WithAgency],
        next,
    )
    .await?;
    let after = store::view(conn, row).await?;
    Ok(Written::changed("agency_placement.recalled", before, after))
}
