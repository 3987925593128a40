//! Reading rows and their JSON shapes.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::refusal::FieldError;

crate::text_enum! {
    /// Who read the meter; `estimated` readings are made by billing runs only.
    ReadingSource {
        Customer => "customer",
        Portal => "portal",
        Partner => "partner",
        Device => "device",
        Technician => "technician",
        Estimated => "estimated",
    }
}

crate::text_enum! {
    /// The meter's register restarted: a new meter, or a counter that wrapped around.
    ResetKind { Replacement => "replacement", Rollover => "rollover" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::meter_readings)]
pub struct ReadingRow {
    pub id: Uuid,
    pub meter_id: Uuid,
    pub read_on: Date,
    pub value: i64,
    pub source: ReadingSource,
    pub reset: Option<ResetKind>,
    pub starting_value: Option<i64>,
    pub final_value: Option<i64>,
    pub estimate_method: Option<String>,
    pub estimate_basis: Option<serde_json::Value>,
    pub billing_run_id: Option<Uuid>,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub voided_at: Option<OffsetDateTime>,
    pub voided_by: Option<String>,
    pub void_reason: Option<String>,
    /// The reading this one corrects.
    pub replaces_id: Option<Uuid>,
}

/// A meter reading.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingView {
    pub id: Uuid,
    pub meter_id: Uuid,
    pub read_on: Date,
    #[schema(example = 127350)]
    pub value: i64,
    pub source: ReadingSource,
    pub estimated: bool,
    pub reset: Option<ResetKind>,
    pub starting_value: Option<i64>,
    pub final_value: Option<i64>,
    /// For estimates: `average_daily_usage` or `expected_volume`.
    pub estimate_method: Option<String>,
    /// For estimates: the readings, days and volumes the estimate was made from.
    #[schema(value_type = Option<crate::billing::rules::EstimateBasis>)]
    pub estimate_basis: Option<serde_json::Value>,
    pub billing_run_id: Option<Uuid>,
    pub note: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// A voided reading is kept as history and counts for nothing.
    #[serde(with = "time::serde::rfc3339::option")]
    pub voided_at: Option<OffsetDateTime>,
    pub voided_by: Option<String>,
    pub void_reason: Option<String>,
    /// For a correction: the reading it replaces.
    pub replaces_id: Option<Uuid>,
}

impl crate::audit::Audited for crate::contracts::model::OnAccount<ReadingView> {
    const ENTITY: &'static str = "meter_reading";

    fn entity_id(&self) -> Uuid {
        self.view.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

impl From<ReadingRow> for ReadingView {
    fn from(r: ReadingRow) -> Self {
        ReadingView {
            id: r.id,
            meter_id: r.meter_id,
            read_on: r.read_on,
            value: r.value,
            estimated: r.source == ReadingSource::Estimated,
            source: r.source,
            reset: r.reset,
            starting_value: r.starting_value,
            final_value: r.final_value,
            estimate_method: r.estimate_method,
            estimate_basis: r.estimate_basis,
            billing_run_id: r.billing_run_id,
            note: r.note,
            created_by: r.created_by,
            created_at: r.created_at,
            voided_at: r.voided_at,
            voided_by: r.voided_by,
            void_reason: r.void_reason,
            replaces_id: r.replaces_id,
        }
    }
}

/// Voids a reading that should not have been recorded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidReading {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Corrects a reading: the value (and, while it is not billed, the date) it should have had.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": 37650, "reason": "typed 376,500 for 37,650"}))]
pub struct CorrectReading {
    /// Whole units, not negative.
    pub value: i64,
    /// Default the reading's own date; only an unbilled reading's date may change.
    pub read_on: Option<Date>,
    #[schema(max_length = 500)]
    pub reason: String,
}

/// An actual reading.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"read_on": "2026-11-01", "value": 127350, "source": "customer"}))]
pub struct NewReading {
    /// Not in the future, not before the equipment's installation, after the last actual reading.
    pub read_on: Date,
    /// Whole units; not below the last actual reading unless `reset` is given.
    pub value: i64,
    pub source: ReadingSource,
    /// The register restarted at `starting_value` since the last reading.
    pub reset: Option<ResetKind>,
    /// Required with `reset`: the new register's first value.
    pub starting_value: Option<i64>,
    /// With `reset`, optional: the old register's last value, so its usage is billed too.
    pub final_value: Option<i64>,
    pub note: Option<String>,
}

/// One reading of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchReading {
    pub meter_id: Uuid,
    #[serde(flatten)]
    pub reading: NewReading,
}

/// Up to 1,000 readings; each is accepted or refused on its own.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingBatch {
    pub readings: Vec<BatchReading>,
}

crate::text_enum! {
    ReadingOutcome { Accepted => "accepted", Refused => "refused" }
}

/// What became of one reading of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// Position in the batch, from 0.
    pub index: usize,
    pub meter_id: Uuid,
    pub outcome: ReadingOutcome,
    pub reading: Option<ReadingView>,
    /// Why it was refused.
    pub errors: Vec<FieldError>,
}

/// The outcome of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchReport {
    pub accepted: usize,
    pub refused: usize,
    pub results: Vec<BatchItem>,
}

/// Filters of a meter's readings.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadingFilter {
    /// Only estimates (`true`) or only actual readings (`false`).
    pub estimated: Option<bool>,
}
