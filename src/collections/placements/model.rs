//! Agency placements as stored and as shown: their rows and recoveries, the requests that
//! place, recover and recall, and their views.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;
use crate::payments::model::PaymentMethod;

crate::text_enum! {
    PlacementStatus { Active => "active", Recalled => "recalled" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::agency_placements, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PlacementRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub agency: String,
    pub placed_on: Date,
    pub currency: Currency,
    pub amount_placed: Decimal,
    pub commission_rate: Decimal,
    pub status: PlacementStatus,
    pub recovered: Decimal,
    pub commission: Decimal,
    pub recalled_on: Option<Date>,
    pub recall_reason: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i32,
    /// The `expense` code the agency's commission is posted under.
    pub commission_financial_code_id: Option<Uuid>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::placement_recoveries)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RecoveryRow {
    pub id: Uuid,
    pub placement_id: Uuid,
    pub payment_id: Uuid,
    pub amount: Decimal,
    pub commission: Decimal,
    pub received_date: Date,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub commission_adjustment_id: Option<Uuid>,
}

/// A recovery the agency reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryView {
    pub id: Uuid,
    /// The payment recording the whole amount collected.
    pub payment_id: Uuid,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "400.00")]
    pub amount: Decimal,
    /// The agency's fee: the amount × the commission rate, rounded half-up to the cent.
    #[schema(value_type = crate::money::DecimalString, example = "100.00")]
    pub commission: Decimal,
    /// What the agency remits: amount − commission.
    #[schema(value_type = crate::money::DecimalString, example = "300.00")]
    pub net: Decimal,
    pub received_date: Date,
    /// The `agency_commission` adjustment that posts the commission (none when it is zero).
    pub commission_adjustment_id: Option<Uuid>,
}

/// A placed invoice and the amount placed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacedInvoice {
    pub invoice_id: Uuid,
    #[schema(value_type = crate::money::DecimalString, example = "1200.00")]
    pub amount: Decimal,
}

/// An agency placement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacementView {
    pub id: Uuid,
    pub account_id: Uuid,
    #[schema(example = "Midwest Recovery Partners")]
    pub agency: String,
    pub placed_on: Date,
    pub currency: Currency,
    #[schema(value_type = crate::money::DecimalString, example = "1200.00")]
    pub amount_placed: Decimal,
    /// Percent of each recovery the agency keeps.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "25")]
    pub commission_rate: Decimal,
    /// The `expense` code the commission is posted under.
    pub commission_financial_code_id: Option<Uuid>,
    pub status: PlacementStatus,
    #[schema(value_type = crate::money::DecimalString, example = "400.00")]
    pub recovered: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "100.00")]
    pub commission: Decimal,
    pub invoices: Vec<PlacedInvoice>,
    pub recoveries: Vec<RecoveryView>,
    pub recalled_on: Option<Date>,
    pub recall_reason: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub version: i32,
}

/// A placement to make.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlacement {
    pub account_id: Uuid,
    #[schema(max_length = 200)]
    pub agency: String,
    /// Default today; not in the future.
    pub placed_on: Option<Date>,
    /// Percent, 0 to 100, up to 4 decimals.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "25")]
    pub commission_rate: Decimal,
    /// An active `expense` code to post the agency's commission under; required unless the
    /// rate is zero.
    pub commission_financial_code_id: Option<Uuid>,
}

/// A recovery to record.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecovery {
    /// The whole amount the agency collected from the customer.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "400.00")]
    pub amount: Decimal,
    /// Default today; not in the future nor before the placement.
    pub received_date: Option<Date>,
    /// The agency's remittance reference.
    #[schema(max_length = 100)]
    pub reference: Option<String>,
    /// How the agency remitted (default wire).
    pub method: Option<PaymentMethod>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recall {
    #[schema(max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlacementFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<PlacementStatus>,
}

impl crate::audit::Audited for PlacementView {
    const ENTITY: &'static str = "agency_placement";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}
