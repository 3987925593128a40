//! Service orders: suspend, terminate, restore, equipment pick-up. Created by dunning steps,
//! automatically (a restore once a suspended account owes nothing past due) or by hand;
//! pending → sent → completed | cancelled. Completing one changes the account and its
//! contracts through the same amendments the contract API makes.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::model::AccountStatus;
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::contracts::model::{AmendmentKind, ContractStatus};
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey, OptionalJson};
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::schema::service_orders::dsl as so;
use crate::validate::Errors;
use crate::AppState;

crate::text_enum! {
    /// What the order does.
    OrderKind { Suspend => "suspend", Terminate => "terminate", Restore => "restore", EquipmentPickup => "equipment_pickup" }
}

crate::text_enum! {
    /// pending → sent → completed | cancelled (a pending order may be cancelled too).
    OrderStatus { Pending => "pending", Sent => "sent", Completed => "completed", Cancelled => "cancelled" }
}

crate::text_enum! {
    /// Who made the order.
    OrderSource { Manual => "manual", Dunning => "dunning", Automatic => "automatic" }
}

/// A piece of equipment to pick up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PickupItem {
    pub equipment_id: Uuid,
    pub contract_id: Uuid,
    pub serial_number: String,
    pub make: String,
    pub model: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::service_orders, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct OrderRow {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub contract_id: Option<Uuid>,
    pub kind: OrderKind,
    pub status: OrderStatus,
    pub source: OrderSource,
    pub reason: String,
    pub equipment: serde_json::Value,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub completed_on: Option<Date>,
    pub completed_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub cancel_reason: Option<String>,
    pub version: i32,
    pub updated_at: OffsetDateTime,
}

/// A service order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    #[schema(example = "SO-000001")]
    pub number: String,
    pub account_id: Uuid,
    /// The one contract the order is for; absent: all the account's contracts.
    pub contract_id: Option<Uuid>,
    pub kind: OrderKind,
    pub status: OrderStatus,
    pub source: OrderSource,
    pub reason: String,
    /// For pick-ups: the equipment to collect.
    pub equipment: Vec<PickupItem>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
    pub completed_on: Option<Date>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub cancelled_at: Option<OffsetDateTime>,
    pub cancel_reason: Option<String>,
    pub version: i32,
}

impl From<OrderRow> for OrderView {
    fn from(r: OrderRow) -> Self {
        OrderView {
            id: r.id,
            number: r.number,
            account_id: r.account_id,
            contract_id: r.contract_id,
            kind: r.kind,
            status: r.status,
            source: r.source,
            reason: r.reason,
            equipment: serde_json::from_value(r.equipment).unwrap_or_default(),
            created_by: r.created_by,
            created_at: r.created_at,
            sent_at: r.sent_at,
            completed_on: r.completed_on,
            cancelled_at: r.cancelled_at,
            cancel_reason: r.cancel_reason,
            version: r.version,
        }
    }
}

/// An order made by hand.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub account_id: Uuid,
    pub kind: OrderKind,
    /// Only this contract of the account (default all).
    pub contract_id: Option<Uuid>,
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Completing an order.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteOrder {
    /// The day the work was done (default today; not in the future).
    pub completed_on: Option<Date>,
}

/// Cancelling an order.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrder {
    #[schema(max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    pub kind: Option<OrderKind>,
}

/// Whether an order in `from` may move to `to`.
pub fn can_move(from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::*;
    matches!(
        (from, to),
        (Pending, Sent) | (Sent, Completed) | (Pending | Sent, Cancelled)
    )
}

#[derive(diesel::QueryableByName)]
struct Next {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The equipment still installed under the account's contracts (or one contract).
async fn equipment_of(
    conn: &mut Conn,
    account_id: Uuid,
    contract_id: Option<Uuid>,
) -> Result<Vec<PickupItem>, ApiError> {
    use crate::schema::contracts::dsl as c;
    use crate::schema::equipment::dsl as eq;
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
    let equipment = if kind == OrderKind::EquipmentPickup {
        equipment_of(conn, account_id, contract_id).await?
    } else {
        Vec::new()
    };
    let next: Next = diesel::sql_query("SELECT nextval('service_order_numbers') AS n")
        .get_result(conn)
        .await?;
    let now = ctx.now;
    let row = OrderRow {
        id: Uuid::now_v7(),
        number: format!("SO-{:06}", next.n),
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
    let inserted = diesel::insert_into(so::service_orders)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    if kind == OrderKind::EquipmentPickup {
        use crate::schema::equipment::dsl as eq;
        let ids: Vec<Uuid> = equipment.iter().map(|e| e.equipment_id).collect();
        diesel::update(eq::equipment.filter(eq::id.eq_any(&ids)))
            .set((
                eq::pickup_status.eq(crate::equipment::model::PickupStatus::Pending),
                eq::version.eq(eq::version + 1),
                eq::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
    }
    audit_order(conn, ctx, "service_order.created", None, &row).await?;
    Ok(Some(row))
}

async fn audit_order(
    conn: &mut Conn,
    ctx: &Ctx,
    action: &str,
    before: Option<&OrderView>,
    row: &OrderRow,
) -> Result<(), ApiError> {
    let after = OrderView::from(row.clone());
    audit::record(
        conn,
        ctx,
        Change {
            action,
            entity_type: "service_order",
            entity_id: row.id,
            account_id: Some(row.account_id),
            before,
            after: Some(&after),
        },
    )
    .await
}

async fn lock(conn: &mut Conn, id: Uuid) -> Result<OrderRow, ApiError> {
    so::service_orders
        .find(id)
        .select(OrderRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("service order"))
}

/// Whether the order acts on the account because of what it owes: a suspension or
/// termination made by dunning. Such an order follows the account, not the day it was made.
pub fn follows_past_due(row: &OrderRow) -> bool {
    row.source == OrderSource::Dunning
        && matches!(row.kind, OrderKind::Suspend | OrderKind::Terminate)
}

/// 409 `order_obsolete` when a dunning order's reason is gone (see [`follows_past_due`]).
async fn refuse_obsolete(conn: &mut Conn, row: &OrderRow, today: Date) -> Result<(), ApiError> {
    if !follows_past_due(row) {
        return Ok(());
    }
    let parts = super::past_due_parts(conn, row.account_id, today).await?;
    match parts.obsolete_because() {
        None => Ok(()),
        Some(why) => Err(ApiError::conflict(
            "order_obsolete",
            format!(
                "Order {} was made by dunning and its reason is gone: {why}. Cancel it.",
                row.number
            ),
        )),
    }
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

/// Cancels the account's pending and sent suspension and termination orders made by dunning,
/// with `reason`, each audited (`service_order.cancelled`, on the account's timeline); the
/// orders cancelled.
pub async fn cancel_obsolete(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    reason: &str,
) -> Result<Vec<OrderRow>, ApiError> {
    let open: Vec<OrderRow> = so::service_orders
        .filter(so::account_id.eq(account_id))
        .filter(so::status.eq_any([OrderStatus::Pending, OrderStatus::Sent]))
        .filter(so::source.eq(OrderSource::Dunning))
        .filter(so::kind.eq_any([OrderKind::Suspend, OrderKind::Terminate]))
        .select(OrderRow::as_select())
        .order(so::id)
        .for_update()
        .load(conn)
        .await?;
    let mut cancelled = Vec::new();
    for mut row in open {
        let before = OrderView::from(row.clone());
        row.status = OrderStatus::Cancelled;
        row.cancelled_at = Some(ctx.now);
        row.cancel_reason = Some(format!("cancelled automatically: {reason}"));
        row.version += 1;
        row.updated_at = ctx.now;
        diesel::update(so::service_orders.find(row.id))
            .set(&row)
            .execute(conn)
            .await?;
        audit_order(conn, ctx, "service_order.cancelled", Some(&before), &row).await?;
        cancelled.push(row);
    }
    Ok(cancelled)
}

fn refuse_move(row: &OrderRow, to: OrderStatus) -> Result<(), ApiError> {
    if can_move(row.status, to) {
        return Ok(());
    }
    Err(ApiError::conflict(
        "order_state",
        format!(
            "A {} order cannot become {}.",
            row.status.as_str(),
            to.as_str()
        ),
    ))
}

/// The contracts an order acts on: the one named, or all the account's in `statuses`.
async fn contracts_for(
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

/// The effects of completing an order on `on`.
async fn carry_out(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &crate::billing::engine::Settings,
    order: &OrderRow,
    on: Date,
) -> Result<(), ApiError> {
    let note = format!("service order {}", order.number);
    match order.kind {
        OrderKind::Suspend => {
            for id in contracts_for(conn, order, &[ContractStatus::Active], on).await? {
                crate::contracts::amendments::amend_for_order(
                    conn,
                    ctx,
                    settings,
                    id,
                    AmendmentKind::Suspension,
                    on,
                    note.clone(),
                )
                .await?;
            }
            if order.contract_id.is_none() {
                super::set_account_status(
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
            for id in contracts_for(conn, order, &[ContractStatus::Suspended], on).await? {
                let amendments = crate::contracts::store::amendments(conn, id).await?;
                let since = crate::contracts::amendments::suspended_since(&amendments);
                // A suspension and its restore on one day: service resumes the next day.
                let effective = match since {
                    Some(s) if s >= on => s.next_day().unwrap_or(s),
                    _ => on,
                };
                crate::contracts::amendments::amend_for_order(
                    conn,
                    ctx,
                    settings,
                    id,
                    AmendmentKind::Resumption,
                    effective,
                    note.clone(),
                )
                .await?;
            }
            if order.contract_id.is_none() {
                super::set_account_status(
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
            for id in contracts_for(conn, order, &statuses, on).await? {
                crate::contracts::amendments::amend_for_order(
                    conn,
                    ctx,
                    settings,
                    id,
                    AmendmentKind::Termination,
                    on,
                    note.clone(),
                )
                .await?;
            }
            if order.contract_id.is_none() {
                super::set_account_status(
                    conn,
                    ctx,
                    order.account_id,
                    &[AccountStatus::Active, AccountStatus::Suspended],
                    AccountStatus::Terminated,
                )
                .await?;
            }
            // What the terminated contracts hold is to be collected.
            create(
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
            use crate::schema::equipment::dsl as eq;
            let items: Vec<PickupItem> =
                serde_json::from_value(order.equipment.clone()).unwrap_or_default();
            let ids: Vec<Uuid> = items.iter().map(|i| i.equipment_id).collect();
            diesel::update(eq::equipment.filter(eq::id.eq_any(&ids)))
                .set((
                    eq::pickup_status.eq(crate::equipment::model::PickupStatus::Completed),
                    eq::version.eq(eq::version + 1),
                    eq::updated_at.eq(ctx.now),
                ))
                .execute(conn)
                .await?;
            diesel::update(
                eq::equipment
                    .filter(eq::id.eq_any(&ids))
                    .filter(eq::removed_on.is_null()),
            )
            .set(eq::removed_on.eq(on))
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Handles the POST /v1/service-orders route: an order made by hand. 409 when one of its
/// kind is already open for the account (and contract).
#[utoipa::path(
    tag = "collections",
    request_body = NewOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The order was created, pending", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/service-orders")]
pub async fn create_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ServiceOrdersWrite)?;
    let new = body.0;
    let mut e = Errors::default();
    e.text("reason", &new.reason, 2000);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/service-orders", &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let account =
                crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
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
            let row = create(
                conn,
                &ctx,
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
            claim
                .finish(conn, StatusCode::CREATED, &OrderView::from(row))
                .await
        })
        .await?;
    Ok(stored.into_response())
}

/// Moves an order to `to`, with `effect` run on the locked row before it is saved.
macro_rules! order_move {
    ($state:expr, $ctx:expr, $key:expr, $id:expr, $verb:literal, $request:expr, $to:expr, $action:literal, |$conn:ident, $row:ident| $effect:block) => {{
        $ctx.require(Permission::ServiceOrdersWrite)?;
        let id = $id.into_inner();
        let fingerprint = idempotency::fingerprint(
            "POST",
            &format!(concat!("/v1/service-orders/{}/", $verb), id),
            $request,
        )?;
        let mut conn = crate::db::conn(&$state.pool).await?;
        let stored = conn
            .transaction(async |$conn| {
                let claim =
                    match idempotency::begin($conn, &$ctx, $key.0.as_deref(), &fingerprint).await? {
                        Begin::Replay(stored) => return Ok(stored),
                        Begin::Fresh(claim) => claim,
                    };
                let mut $row = lock($conn, id).await?;
                refuse_move(&$row, $to)?;
                let before = OrderView::from($row.clone());
                $effect
                $row.status = $to;
                $row.version += 1;
                $row.updated_at = $ctx.now;
                diesel::update(so::service_orders.find(id))
                    .set(&$row)
                    .execute($conn)
                    .await?;
                audit_order($conn, &$ctx, $action, Some(&before), &$row).await?;
                claim.finish($conn, StatusCode::OK, &OrderView::from($row)).await
            })
            .await?;
        Ok(stored.into_response())
    }};
}

/// Handles the POST /v1/service-orders/{id}/send route: the order went to the field team or
/// provisioning (pending → sent).
#[utoipa::path(
    tag = "collections",
    params(
        ("id" = Uuid, Path, description = "Service order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The order, sent", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []))
)]
#[post("/service-orders/{id}/send")]
pub async fn send_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    order_move!(
        state,
        ctx,
        key,
        id,
        "send",
        &(),
        OrderStatus::Sent,
        "service_order.sent",
        |conn, row| {
            refuse_obsolete(conn, &row, ctx.today()).await?;
            row.sent_at = Some(ctx.now);
        }
    )
}

/// Handles the POST /v1/service-orders/{id}/complete route: the work was done (sent →
/// completed). A suspension suspends the account and its active contracts; a termination
/// terminates them and orders the pick-up of their equipment; a restore resumes them; a
/// pick-up marks the equipment removed.
#[utoipa::path(
    tag = "collections",
    request_body(content = Option<CompleteOrder>),
    params(
        ("id" = Uuid, Path, description = "Service order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The order, completed", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/service-orders/{id}/complete")]
pub async fn complete_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<CompleteOrder>,
) -> Result<HttpResponse, ApiError> {
    let today = ctx.now.date();
    let on = body.0.completed_on.unwrap_or(today);
    order_move!(
        state,
        ctx,
        key,
        id,
        "complete",
        &body.0,
        OrderStatus::Completed,
        "service_order.completed",
        |conn, row| {
            if on > today || on < row.created_at.date() {
                return Err(ApiError::field(
                    "completed_on",
                    "out_of_range",
                    "must be between the order's creation and today",
                ));
            }
            refuse_obsolete(conn, &row, today).await?;
            carry_out(conn, &ctx, &state.config.billing, &row, on).await?;
            row.completed_on = Some(on);
            row.completed_at = Some(ctx.now);
        }
    )
}

/// Handles the POST /v1/service-orders/{id}/cancel route: the order is not to be carried out
/// (pending or sent → cancelled); equipment awaiting its pick-up is no longer.
#[utoipa::path(
    tag = "collections",
    request_body = CancelOrder,
    params(
        ("id" = Uuid, Path, description = "Service order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The order, cancelled", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/service-orders/{id}/cancel")]
pub async fn cancel_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<CancelOrder>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let mut e = Errors::default();
    e.text("reason", &request.reason, 2000);
    e.finish()?;
    let reason = request.reason.clone();
    order_move!(
        state,
        ctx,
        key,
        id,
        "cancel",
        &request,
        OrderStatus::Cancelled,
        "service_order.cancelled",
        |conn, row| {
            if row.kind == OrderKind::EquipmentPickup {
                use crate::schema::equipment::dsl as eq;
                let items: Vec<PickupItem> =
                    serde_json::from_value(row.equipment.clone()).unwrap_or_default();
                let ids: Vec<Uuid> = items.iter().map(|i| i.equipment_id).collect();
                diesel::update(
                    eq::equipment.filter(eq::id.eq_any(&ids)).filter(
                        eq::pickup_status.eq(crate::equipment::model::PickupStatus::Pending),
                    ),
                )
                .set((
                    eq::pickup_status.eq(crate::equipment::model::PickupStatus::Cancelled),
                    eq::version.eq(eq::version + 1),
                    eq::updated_at.eq(ctx.now),
                ))
                .execute(conn)
                .await?;
            }
            row.cancelled_at = Some(ctx.now);
            row.cancel_reason = Some(reason.trim().to_string());
        }
    )
}

/// Handles the GET /v1/service-orders/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Service order id")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/service-orders/{id}")]
pub async fn get_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row: OrderRow = so::service_orders
        .find(id.into_inner())
        .select(OrderRow::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("service order"))?;
    Ok(HttpResponse::Ok().json(OrderView::from(row)))
}

/// Handles the GET /v1/service-orders route: orders in creation order, filtered.
#[utoipa::path(
    tag = "collections",
    params(OrderFilter, PageParams),
    responses(
        (status = 200, description = "A page of orders", body = Page<OrderView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/service-orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<OrderFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let f = filter.0;
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows: Vec<OrderRow> = query.load(&mut conn).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, OrderView::from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_move_pending_sent_completed_or_cancelled() {
        use OrderStatus::*;
        assert!(can_move(Pending, Sent));
        assert!(can_move(Sent, Completed));
        assert!(can_move(Pending, Cancelled));
        assert!(can_move(Sent, Cancelled));
        assert!(!can_move(Pending, Completed));
        assert!(!can_move(Completed, Cancelled));
        assert!(!can_move(Cancelled, Sent));
    }
}
