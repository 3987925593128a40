//! Service orders as stored and as shown: their row, the requests that make and move them,
//! and their view.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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

impl OrderRow {
    /// The equipment a pick-up order is for.
    pub fn pickup_items(&self) -> Vec<PickupItem> {
        serde_json::from_value(self.equipment.clone()).unwrap_or_default()
    }
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

impl crate::audit::Audited for OrderView {
    const ENTITY: &'static str = "service_order";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
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
