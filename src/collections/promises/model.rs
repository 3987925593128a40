//! Promises to pay as stored and as shown: their rows, the requests that make and cancel
//! them, and their views.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;

crate::text_enum! {
    /// active → kept | broken | cancelled.
    PromiseStatus { Active => "active", Kept => "kept", Broken => "broken", Cancelled => "cancelled" }
}

crate::text_enum! {
    /// pending until its date plus grace; kept when covered; missed when not by then.
    InstalmentStatus { Pending => "pending", Kept => "kept", Missed => "missed" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::promises, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PromiseRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: PromiseStatus,
    pub currency: Currency,
    pub total: Decimal,
    pub grace_days: i32,
    pub promised_on: Date,
    pub note: Option<String>,
    pub closed_on: Option<Date>,
    pub close_reason: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::promise_instalments)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct InstalmentRow {
    pub promise_id: Uuid,
    pub seq: i32,
    pub due_date: Date,
    pub amount: Decimal,
    pub status: InstalmentStatus,
}

/// One instalment as promised.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstalment {
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "500.00")]
    pub amount: Decimal,
    pub due_date: Date,
}

/// A promise to record.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPromise {
    pub account_id: Uuid,
    /// 1 to 24, dates in increasing order from today on.
    pub instalments: Vec<NewInstalment>,
    /// Days after each date that payments still count (default `PROMISE_GRACE_DAYS`, 3).
    pub grace_days: Option<i32>,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPromise {
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// An instalment and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstalmentView {
    pub seq: i32,
    pub due_date: Date,
    /// The last day payments count for it: its date plus grace.
    pub deadline: Date,
    #[schema(value_type = crate::money::DecimalString, example = "500.00")]
    pub amount: Decimal,
    pub status: InstalmentStatus,
}

/// A promise to pay.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromiseView {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: PromiseStatus,
    pub currency: Currency,
    #[schema(value_type = crate::money::DecimalString, example = "1000.00")]
    pub total: Decimal,
    pub grace_days: i32,
    /// Payments received from this day on count.
    pub promised_on: Date,
    pub instalments: Vec<InstalmentView>,
    /// The past-due invoices the promise covers: not dunned while it is active.
    pub invoice_ids: Vec<Uuid>,
    pub note: Option<String>,
    pub closed_on: Option<Date>,
    pub close_reason: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub version: i32,
}

impl crate::audit::Audited for PromiseView {
    const ENTITY: &'static str = "promise";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PromiseFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<PromiseStatus>,
}
