//! What completing an order does: a suspension suspends the account and its active
//! contracts; a termination terminates them and orders the pick-up of their equipment; a
//! restore resumes them; a pick-up marks the equipment removed.

use time::Date;

use super::super::model::{OrderKind, OrderRow, OrderSource};
use super::super::store;
use crate::accounts::model::AccountStatus;
use crate::collections::set_account_status;
use crate::context::Ctx;
use crate::contracts::model::{AmendmentKind, ContractStatus};
use crate::contracts::service::amend_for_order;
use crate::db::Conn;
use crate::equipment::model::PickupStatus;
use crate::error::ApiError;

/// The effects of completing an order on `on`.
pub async fn carry_out(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &crate::billing::engine::Settings,
    order: &OrderRow,
    on: Date,
) -> Result<(), ApiError> {
    let note = format!("service order {}", order.number);
    match order.kind {
        OrderKind::Suspend => {
            for id in store::contracts_for(conn, order, &[ContractStatus::Active], on).await? {
                let kind = AmendmentKind::Suspension;
                amend_for_order(conn, ctx, settings, id, kind, on, note.clone()).await?;
            }
            if order.contract_id.is_none() {
                set_account_status(
                    conn,
                    ctx,
                    order.account_id,
                    &[AccountStatus::Active],
                    AccountStatus::Suspended,
                )
                .await?;
            }
        }
        OrderKind::Restore => {
            for id in store::contracts_for(conn, order, &[ContractStatus::Suspended], on).await? {
                let amendments = crate::contracts::store::amendments(conn, id).await?;
                let since = crate::contracts::rules::suspended_since(&amendments);
                // A suspension and its restore on one day: service resumes the next day.
                let effective = match since {
                    Some(s) if s >= on => s.next_day().unwrap_or(s),
                    _ => on,
                };
                let kind = AmendmentKind::Resumption;
                amend_for_order(conn, ctx, settings, id, kind, effective, note.clone()).await?;
            }
            if order.contract_id.is_none() {
                set_account_status(
                    conn,
                    ctx,
                    order.account_id,
                    &[AccountStatus::Suspended],
                    AccountStatus::Active,
                )
                .await?;
            }
        }
        OrderKind::Terminate => {
            let statuses = [ContractStatus::Active, ContractStatus::Suspended];
            for id in store::contracts_for(conn, order, &statuses, on).await? {
                let kind = AmendmentKind::Termination;
                amend_for_order(conn, ctx, settings, id, kind, on, note.clone()).await?;
            }
            if order.contract_id.is_none() {
                set_account_status(
                    conn,
                    ctx,
                    order.account_id,
                    &[AccountStatus::Active, AccountStatus::Suspended],
                    AccountStatus::Terminated,
                )
                .await?;
            }
            // What the terminated contracts hold is to be collected.
            super::create(
                conn,
                ctx,
                order.account_id,
                OrderKind::EquipmentPickup,
                order.contract_id,
                OrderSource::Automatic,
                format!("equipment of terminated contracts ({})", order.number),
            )
            .await?;
        }
        OrderKind::EquipmentPickup => {
            let items = order.pickup_items();
            store::set_pickup(conn, &items, None, PickupStatus::Completed, ctx.now).await?;
            store::mark_removed(conn, &items, on).await?;
        }
    }
    Ok(())
}
