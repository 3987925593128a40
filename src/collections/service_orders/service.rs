//! Service orders as their commands change them, each in the caller's transaction: made by
//! dunning, automatically or by hand; sent, completed (carried out on the account and its
//! contracts, in `carry_out`) or cancelled, each move by the table of `rules`.

mod carry_out;

use time::Date;
use uuid::Uuid;

use super::model::{
    CancelOrder, NewOrder, OrderKind, OrderRow, OrderSource, OrderStatus, OrderView,
};
use super::rules::{self, OrderCommand, OrderMove};
use super::store;
use crate::accounts::model::AccountStatus;
use crate::audit;
use crate::context::Ctx;
use crate::db::Conn;
use crate::equipment::model::PickupStatus;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::outbox::{self, EventType};

/// Inserts an order unless one of its kind is already open for the account (and contract);
/// the new order, or `None`. A pick-up lists the equipment still installed and marks it
/// awaiting its pick-up.
async fn insert(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    kind: OrderKind,
    contract_id: Option<Uuid>,
    source: OrderSource,
    reason: String,
) -> Result<Option<OrderRow>, ApiError> {
    let equipment = if kind == OrderKind::EquipmentPickup {
        store::equipment_of(conn, account_id, contract_id).await?
    } else {
        Vec::new()
    };
    let number = store::next_number(conn).await?;
    let now = ctx.now;
    let row = OrderRow {
        id: Uuid::now_v7(),
        number,
        account_id,
        contract_id,
        kind,
        status: OrderStatus::Pending,
        source,
        reason,
        equipment: serde_json::to_value(&equipment)?,
        created_by: ctx.principal.subject.clone(),
        created_at: now,
        sent_at: None,
        completed_on: None,
        completed_at: None,
        cancelled_at: None,
        cancel_reason: None,
        version: 1,
        updated_at: now,
    };
    if !store::insert(conn, &row).await? {
        return Ok(None);
    }
    if kind == OrderKind::EquipmentPickup {
        store::set_pickup(conn, &equipment, None, PickupStatus::Pending, now).await?;
    }
    announce(conn, ctx, EventType::ServiceOrderCreated, &row).await?;
    Ok(Some(row))
}

/// Writes `event` about the order, carrying it as the API returns it.
async fn announce(
    conn: &mut Conn,
    ctx: &Ctx,
    event: EventType,
    row: &OrderRow,
) -> Result<(), ApiError> {
    let view = OrderView::from(row.clone());
    outbox::emit(conn, ctx.now, event, row.id, Some(row.account_id), &view).await?;
    Ok(())
}

/// Creates an order unless one of its kind is already open for the account (and contract);
/// the new order, or `None`. Audited.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    kind: OrderKind,
    contract_id: Option<Uuid>,
    source: OrderSource,
    reason: String,
) -> Result<Option<OrderRow>, ApiError> {
    let row = insert(conn, ctx, account_id, kind, contract_id, source, reason).await?;
    if let Some(row) = &row {
        let view = OrderView::from(row.clone());
        audit::changed(conn, ctx, "service_order.created", None, Some(&view)).await?;
    }
    Ok(row)
}

/// An order made by hand on an account that is not closed (and one of its contracts); 409
/// when one of its kind is already open.
pub async fn create_manual(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewOrder,
) -> Result<Written<OrderView>, ApiError> {
    let account = crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
    if account.status == AccountStatus::Closed {
        return Err(ApiError::conflict(
            "account_closed",
            "A closed account takes no service orders.",
        ));
    }
    if let Some(contract) = new.contract_id {
        let c = crate::contracts::store::find(conn, contract)
            .await
            .ok()
            .filter(|c| c.account_id == account.id);
        if c.is_none() {
            return Err(ApiError::field(
                "contract_id",
                "unknown",
                "no contract of this account has this id",
            ));
        }
    }
    let row = insert(
        conn,
        ctx,
        account.id,
        new.kind,
        new.contract_id,
        OrderSource::Manual,
        new.reason.trim().to_string(),
    )
    .await?
    .ok_or_else(|| {
        ApiError::conflict(
            "order_exists",
            format!(
                "A {} order is already open for this account.",
                new.kind.as_str()
            ),
        )
    })?;
    Ok(Written::created(
        "service_order.created",
        OrderView::from(row),
    ))
}

/// The order locked, the move `command` makes of it (or the refusal) and the order as it was.
async fn begin_move(
    conn: &mut Conn,
    id: Uuid,
    command: OrderCommand,
) -> Result<(OrderRow, OrderMove, OrderView), ApiError> {
    let row = store::lock(conn, id).await?;
    let to = rules::transition(row.status, command)?;
    let before = OrderView::from(row.clone());
    Ok((row, to, before))
}

/// Saves the order in its new status, a new version of it.
async fn finish_move(
    conn: &mut Conn,
    ctx: &Ctx,
    mut row: OrderRow,
    to: OrderMove,
    before: OrderView,
) -> Result<Written<OrderView>, ApiError> {
    row.status = to.to;
    row.version += 1;
    row.updated_at = ctx.now;
    store::update(conn, &row).await?;
    Ok(Written::changed(to.action, before, OrderView::from(row)))
}

/// 409 `order_obsolete` when a dunning order's reason is gone.
async fn refuse_obsolete(conn: &mut Conn, row: &OrderRow, today: Date) -> Result<(), ApiError> {
    if !rules::follows_past_due(row) {
        return Ok(());
    }
    let parts = crate::collections::past_due_parts(conn, row.account_id, today).await?;
    Ok(rules::check_not_obsolete(row, &parts)?)
}

/// The order went to the field team or provisioning (pending → sent).
pub async fn send(conn: &mut Conn, ctx: &Ctx, id: Uuid) -> Result<Written<OrderView>, ApiError> {
    let (mut row, to, before) = begin_move(conn, id, OrderCommand::Send).await?;
    refuse_obsolete(conn, &row, ctx.today()).await?;
    row.sent_at = Some(ctx.now);
    finish_move(conn, ctx, row, to, before).await
}

/// The work was done on `on` (sent → completed), carried out on the account and its
/// contracts.
pub async fn complete(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &crate::billing::engine::Settings,
    id: Uuid,
    on: Date,
) -> Result<Written<OrderView>, ApiError> {
    let today = ctx.now.date();
    let (mut row, to, before) = begin_move(conn, id, OrderCommand::Complete).await?;
    rules::check_completed_on(on, row.created_at.date(), today)?;
    refuse_obsolete(conn, &row, today).await?;
    carry_out::carry_out(conn, ctx, settings, &row, on).await?;
    row.completed_on = Some(on);
    row.completed_at = Some(ctx.now);
    finish_move(conn, ctx, row, to, before).await
}

/// The order is not to be carried out (pending or sent → cancelled); equipment awaiting its
/// pick-up is no longer.
pub async fn cancel(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    request: &CancelOrder,
) -> Result<Written<OrderView>, ApiError> {
    let (mut row, to, before) = begin_move(conn, id, OrderCommand::Cancel).await?;
    if row.kind == OrderKind::EquipmentPickup {
        let items = row.pickup_items();
        store::set_pickup(
            conn,
            &items,
            Some(PickupStatus::Pending),
            PickupStatus::Cancelled,
            ctx.now,
        )
        .await?;
    }
    row.cancelled_at = Some(ctx.now);
    row.cancel_reason = Some(request.reason.trim().to_string());
    let written = finish_move(conn, ctx, row, to, before).await?;
    let view = &written.after;
    outbox::emit(
        conn,
        ctx.now,
        EventType::ServiceOrderCancelled,
        view.id,
        Some(view.account_id),
        view,
    )
    .await?;
    Ok(written)
}

/// Whether the account has a pending or sent suspension or termination made by dunning.
pub async fn has_open_dunning_orders(conn: &mut Conn, account_id: Uuid) -> Result<bool, ApiError> {
    store::has_open_dunning_orders(conn, account_id).await
}

/// Cancels the account's pending and sent suspension and termination orders made by dunning,
/// with `reason`, each audited (`service_order.cancelled`, on the account's timeline); the
/// orders cancelled.
pub async fn cancel_obsolete(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    reason: &str,
) -> Result<Vec<OrderRow>, ApiError> {
    let open = store::lock_open_dunning_orders(conn, account_id).await?;
    let mut cancelled = Vec::new();
    for mut row in open {
        let to = rules::transition(row.status, OrderCommand::Cancel)?;
        let before = OrderView::from(row.clone());
        row.status = to.to;
        row.cancelled_at = Some(ctx.now);
        row.cancel_reason = Some(format!("cancelled automatically: {reason}"));
        row.version += 1;
        row.updated_at = ctx.now;
        store::update(conn, &row).await?;
        let after = OrderView::from(row.clone());
        audit::changed(conn, ctx, to.action, Some(&before), Some(&after)).await?;
        announce(conn, ctx, EventType::ServiceOrderCancelled, &row).await?;
        cancelled.push(row);
    }
    Ok(cancelled)
}
