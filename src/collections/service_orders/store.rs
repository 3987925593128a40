//! SQL of service orders, and of the equipment and contracts they act on.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{OrderFilter, OrderKind, OrderRow, OrderSource, OrderStatus, PickupItem};
use crate::contracts::model::ContractStatus;
use crate::db::Conn;
use crate::equipment::model::PickupStatus;
use crate::error::ApiError;
use crate::schema::equipment::dsl as eq;
use crate::schema::service_orders::dsl as so;

#[derive(diesel::QueryableByName)]
struct Next {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The next order number, `SO-000001` on.
pub async fn next_number(conn: &mut Conn) -> Result<String, ApiError> {
    let next: Next = diesel::sql_query("SELECT nextval('service_order_numbers') AS n")
        .get_result(conn)
        .await?;
    Ok(format!("SO-{:06}", next.n))
}

/// Inserts the order unless one of its kind is already open for the account (and contract);
/// whether it was.
pub async fn insert(conn: &mut Conn, row: &OrderRow) -> Result<bool, ApiError> {
    let inserted = diesel::insert_into(so::service_orders)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted > 0)
}

/// Saves the order's row.
pub async fn update(conn: &mut Conn, row: &OrderRow) -> Result<(), ApiError> {
    diesel::update(so::service_orders.find(row.id))
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// The order, or 404.
pub async fn find(conn: &mut Conn, id: Uuid) -> Result<OrderRow, ApiError> {
    so::service_orders
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("service order"))
}

/// The order locked for a change, or 404.
pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<OrderRow, ApiError> {
    so::service_orders
        .find(id)
        .select(OrderRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("service order"))
}

/// A page of orders in creation order, filtered.
pub async fn list(
    conn: &mut Conn,
    f: &OrderFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<OrderRow>, ApiError> {
    let mut query = so::service_orders
        .select(OrderRow::as_select())
        .order(so::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = f.account_id {
        query = query.filter(so::account_id.eq(a));
    }
    if let Some(s) = f.status {
        query = query.filter(so::status.eq(s));
    }
    if let Some(k) = f.kind {
        query = query.filter(so::kind.eq(k));
    }
    if let Some(after) = after {
        query = query.filter(so::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

/// Whether the account has a pending or sent suspension or termination made by dunning (a
/// prepared query: it runs whenever cash moves).
pub async fn has_open_dunning_orders(conn: &mut Conn, account_id: Uuid) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        so::service_orders
            .filter(so::account_id.eq(account_id))
            .filter(so::status.eq_any([OrderStatus::Pending, OrderStatus::Sent]))
            .filter(so::source.eq(OrderSource::Dunning))
            .filter(so::kind.eq_any([OrderKind::Suspend, OrderKind::Terminate])),
    ))
    .get_result(conn)
    .await?)
}

/// The account's pending and sent suspensions and terminations made by dunning, locked.
pub async fn lock_open_dunning_orders(
    conn: &mut Conn,
    account_id: Uuid,
) -> Result<Vec<OrderRow>, ApiError> {
    Ok(so::service_orders
        .filter(so::account_id.eq(account_id))
        .filter(so::status.eq_any([OrderStatus::Pending, OrderStatus::Sent]))
        .filter(so::source.eq(OrderSource::Dunning))
        .filter(so::kind.eq_any([OrderKind::Suspend, OrderKind::Terminate]))
        .select(OrderRow::as_select())
        .order(so::id)
        .for_update()
        .load(conn)
        .await?)
}

/// The equipment still installed under the account's contracts (or one contract).
pub async fn equipment_of(
    conn: &mut Conn,
    account_id: Uuid,
    contract_id: Option<Uuid>,
) -> Result<Vec<PickupItem>, ApiError> {
    use crate::schema::contracts::dsl as c;
    let mut query = eq::equipment
        .inner_join(c::contracts)
        .filter(c::account_id.eq(account_id))
        .filter(eq::removed_on.is_null())
        .select((
            eq::id,
            eq::contract_id,
            eq::serial_number,
            eq::make,
            eq::model,
        ))
        .order(eq::serial_number)
        .into_boxed();
    if let Some(contract) = contract_id {
        query = query.filter(eq::contract_id.eq(contract));
    }
    let rows: Vec<(Uuid, Uuid, String, String, String)> = query.load(conn).await?;
    Ok(rows
        .into_iter()
        .map(
            |(equipment_id, contract_id, serial_number, make, model)| PickupItem {
                equipment_id,
                contract_id,
                serial_number,
                make,
                model,
            },
        )
        .collect())
}

/// Sets the pick-up status of the equipment given (only of those in `only_from`, when
/// given), a new version of each.
pub async fn set_pickup(
    conn: &mut Conn,
    items: &[PickupItem],
    only_from: Option<PickupStatus>,
    to: PickupStatus,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|e| e.equipment_id).collect();
    let changes = (
        eq::pickup_status.eq(to),
        eq::version.eq(eq::version + 1),
        eq::updated_at.eq(now),
    );
    match only_from {
        None => {
            diesel::update(eq::equipment.filter(eq::id.eq_any(&ids)))
                .set(changes)
                .execute(conn)
                .await?
        }
        Some(from) => {
            diesel::update(
                eq::equipment
                    .filter(eq::id.eq_any(&ids))
                    .filter(eq::pickup_status.eq(from)),
            )
            .set(changes)
            .execute(conn)
            .await?
        }
    };
    Ok(())
}

/// Marks the equipment given removed on `on` (those not removed already).
pub async fn mark_removed(conn: &mut Conn, items: &[PickupItem], on: Date) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|i| i.equipment_id).collect();
    diesel::update(
        eq::equipment
            .filter(eq::id.eq_any(&ids))
            .filter(eq::removed_on.is_null()),
    )
    .set(eq::removed_on.eq(on))
    .execute(conn)
    .await?;
    Ok(())
}

/// The contracts an order acts on: the one named, or all the account's in `statuses`.
pub async fn contracts_for(
    conn: &mut Conn,
    order: &OrderRow,
    statuses: &[ContractStatus],
    on: Date,
) -> Result<Vec<Uuid>, ApiError> {
    use crate::schema::contracts::dsl as c;
    let mut query = c::contracts
        .filter(c::account_id.eq(order.account_id))
        .filter(c::status.eq_any(statuses))
        .filter(c::start_date.le(on))
        .select(c::id)
        .order(c::id)
        .into_boxed();
    if let Some(contract) = order.contract_id {
        query = query.filter(c::id.eq(contract));
    }
    Ok(query.load(conn).await?)
}
