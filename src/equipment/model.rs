//! Equipment, meter and plan rows and their JSON shapes.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::model::Address;
use crate::contracts::model::OnAccount;
use crate::validate::double_option;

crate::text_enum! {
    /// Equipment to be collected from the customer after a termination.
    PickupStatus { Pending => "pending", Completed => "completed", Cancelled => "cancelled" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::equipment, treat_none_as_null = true)]
pub struct EquipmentRow {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub serial_number: String,
    pub make: String,
    pub model: String,
    pub install_address: Option<Address>,
    pub installed_on: Date,
    pub removed_on: Option<Date>,
    pub pickup_status: Option<PickupStatus>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::meters)]
pub struct MeterRow {
    pub id: Uuid,
    pub equipment_id: Uuid,
    pub contract_id: Uuid,
    pub meter_type: String,
    pub financial_code_id: Uuid,
    pub expected_monthly_volume: Option<i64>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::meter_plans)]
pub struct PlanRow {
    pub id: Uuid,
    pub meter_id: Uuid,
    pub effective_from: Date,
    pub included_units: i64,
    pub overage_rate: Decimal,
    pub minimum_charge: Decimal,
    pub amendment_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

/// A meter plan from a date: the plan of a billing period is the latest one in effect on its
/// first day.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub effective_from: Date,
    /// Units included in each full period (prorated by days in a partial one).
    #[schema(example = 5000)]
    pub included_units: i64,
    /// Price of each unit above the allowance.
    #[schema(value_type = crate::money::DecimalString, example = "0.0085")]
    pub overage_rate: Decimal,
    /// Least the meter bills per full period.
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub minimum_charge: Decimal,
    pub amendment_id: Option<Uuid>,
}

/// A meter and its plans.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterView {
    pub id: Uuid,
    pub equipment_id: Uuid,
    pub contract_id: Uuid,
    #[schema(example = "bw")]
    pub meter_type: String,
    /// Revenue code of the meter's usage lines.
    pub financial_code_id: Uuid,
    /// Used to estimate a reading when there are too few actual readings.
    pub expected_monthly_volume: Option<i64>,
    pub plans: Vec<PlanView>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl MeterView {
    pub fn new(m: MeterRow, plans: Vec<PlanRow>) -> MeterView {
        MeterView {
            id: m.id,
            equipment_id: m.equipment_id,
            contract_id: m.contract_id,
            meter_type: m.meter_type,
            financial_code_id: m.financial_code_id,
            expected_monthly_volume: m.expected_monthly_volume,
            plans: plans
                .into_iter()
                .filter(|p| p.meter_id == m.id)
                .map(|p| PlanView {
                    effective_from: p.effective_from,
                    included_units: p.included_units,
                    overage_rate: p.overage_rate.normalize(),
                    minimum_charge: p.minimum_charge,
                    amendment_id: p.amendment_id,
                })
                .collect(),
            created_at: m.created_at,
        }
    }
}

impl crate::audit::Audited for OnAccount<MeterView> {
    const ENTITY: &'static str = "meter";

    fn entity_id(&self) -> Uuid {
        self.view.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// A piece of equipment with its meters.
#[derive(Debug, Serialize, ToSchema)]
pub struct EquipmentView {
    pub id: Uuid,
    pub contract_id: Uuid,
    #[schema(example = "XR7-2231-8812")]
    pub serial_number: String,
    #[schema(example = "Ricoh")]
    pub make: String,
    #[schema(example = "IM C3000")]
    pub model: String,
    pub install_address: Option<Address>,
    pub installed_on: Date,
    pub removed_on: Option<Date>,
    /// Set to `pending` when the contract is terminated with the equipment still installed.
    pub pickup_status: Option<PickupStatus>,
    pub version: i32,
    pub meters: Vec<MeterView>,
}

impl EquipmentView {
    pub fn new(e: EquipmentRow, meters: &[MeterRow], plans: &[PlanRow]) -> EquipmentView {
        EquipmentView {
            id: e.id,
            contract_id: e.contract_id,
            serial_number: e.serial_number,
            make: e.make,
            model: e.model,
            install_address: e.install_address,
            installed_on: e.installed_on,
            removed_on: e.removed_on,
            pickup_status: e.pickup_status,
            version: e.version,
            meters: meters
                .iter()
                .filter(|m| m.equipment_id == e.id)
                .map(|m| MeterView::new(m.clone(), plans.to_vec()))
                .collect(),
        }
    }
}

/// A new meter with its first plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085", "financial_code_id": "0192f1d2-0000-7000-8000-000000000001", "initial_reading": 120000}))]
pub struct NewMeter {
    /// Lowercase code such as `bw`, `color`, `scan`; unique on the equipment.
    pub meter_type: String,
    pub included_units: i64,
    /// Up to 6 decimals.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "0.0085")]
    pub overage_rate: Decimal,
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "0.00")]
    pub minimum_charge: Option<Decimal>,
    /// An active code of kind `revenue`.
    pub financial_code_id: Uuid,
    pub expected_monthly_volume: Option<i64>,
    /// The meter's value at installation, recorded as a technician reading on the install date.
    pub initial_reading: Option<i64>,
}

/// New equipment under a contract, with its meters.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"serial_number": "XR7-2231-8812", "make": "Ricoh", "model": "IM C3000", "installed_on": "2026-10-01",
    "meters": [{"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085", "financial_code_id": "0192f1d2-0000-7000-8000-000000000001", "initial_reading": 120000}]}))]
pub struct NewEquipment {
    /// Unique across all equipment.
    #[schema(max_length = 64)]
    pub serial_number: String,
    #[schema(max_length = 100)]
    pub make: String,
    #[schema(max_length = 100)]
    pub model: String,
    pub install_address: Option<Address>,
    pub installed_on: Date,
    #[serde(default)]
    pub meters: Vec<NewMeter>,
}

impl crate::audit::Audited for OnAccount<EquipmentView> {
    const ENTITY: &'static str = "equipment";

    fn entity_id(&self) -> Uuid {
        self.view.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Changes to equipment. Absent fields stay; `null` clears an optional field.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"removed_on": "2027-03-31", "pickup_status": "completed", "version": 2}))]
pub struct EquipmentPatch {
    #[schema(max_length = 100)]
    pub make: Option<String>,
    #[schema(max_length = 100)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Address>)]
    pub install_address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Date>)]
    pub removed_on: Option<Option<Date>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<PickupStatus>)]
    pub pickup_status: Option<Option<PickupStatus>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl EquipmentPatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.make.is_none()
            && self.model.is_none()
            && self.install_address.is_none()
            && self.removed_on.is_none()
            && self.pickup_status.is_none()
    }
}
