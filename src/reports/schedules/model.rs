//! Report schedules and runs: their rows and JSON shapes.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::reports::catalog::ReportName;
use crate::reports::format::ReportFormat;

crate::text_enum! {
    /// How often a schedule runs: `monthly` on `day_of_month`, `weekly` on `weekday`.
    ReportCadence { Monthly => "monthly", Weekly => "weekly" }
}

crate::text_enum! {
    /// A day of the week.
    ScheduleWeekday {
        Monday => "monday",
        Tuesday => "tuesday",
        Wednesday => "wednesday",
        Thursday => "thursday",
        Friday => "friday",
        Saturday => "saturday",
        Sunday => "sunday",
    }
}

crate::text_enum! {
    /// What became of a run: `succeeded` (its file is stored) or `failed` (its `error` says
    /// why; it is not retried).
    ReportRunStatus { Running => "running", Succeeded => "succeeded", Failed => "failed" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::report_schedules, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ScheduleRow {
    pub id: Uuid,
    pub report: ReportName,
    pub parameters: Value,
    pub format: ReportFormat,
    pub cadence: ReportCadence,
    pub day_of_month: Option<i32>,
    pub weekday: Option<ScheduleWeekday>,
    pub recipients: Vec<Option<Uuid>>,
    pub description: Option<String>,
    pub active: bool,
    pub created_by: String,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl ScheduleRow {
    /// The row of a new schedule (to be checked by `rules::check`), created by `actor`.
    pub fn new(new: NewReportSchedule, actor: &str, now: OffsetDateTime) -> ScheduleRow {
        ScheduleRow {
            id: Uuid::now_v7(),
            report: new.report,
            parameters: Value::Object(new.parameters.unwrap_or_default()),
            format: new.format,
            cadence: new.cadence,
            day_of_month: new.day_of_month,
            weekday: new.weekday,
            recipients: new
                .recipients
                .unwrap_or_default()
                .into_iter()
                .map(Some)
                .collect(),
            description: new.description.map(|d| d.trim().to_string()),
            active: true,
            created_by: actor.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn recipient_ids(&self) -> Vec<Uuid> {
        self.recipients.iter().flatten().copied().collect()
    }

    pub fn parameter_map(&self) -> Map<String, Value> {
        self.parameters.as_object().cloned().unwrap_or_default()
    }
}

/// A report built on a calendar and sent to webhook endpoints.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportScheduleView {
    pub id: Uuid,
    pub report: ReportName,
    /// The report's query parameters by name, as text; never a date (a scheduled report is
    /// as of the day it runs) nor `format`.
    #[schema(value_type = BTreeMap<String, String>, example = json!({"min_days": "90"}))]
    pub parameters: Value,
    pub format: ReportFormat,
    pub cadence: ReportCadence,
    /// The day of the month of a monthly schedule (a shorter month's last day stands for
    /// 29, 30 and 31).
    pub day_of_month: Option<i32>,
    /// The weekday of a weekly schedule.
    pub weekday: Option<ScheduleWeekday>,
    /// Webhook endpoints the `report.ready` event goes to; empty: none.
    pub recipients: Vec<Uuid>,
    pub description: Option<String>,
    /// Whether the schedule runs.
    pub active: bool,
    pub created_by: String,
    /// Optimistic-concurrency version; also sent as the ETag.
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<ScheduleRow> for ReportScheduleView {
    fn from(r: ScheduleRow) -> Self {
        ReportScheduleView {
            recipients: r.recipient_ids(),
            id: r.id,
            report: r.report,
            parameters: r.parameters,
            format: r.format,
            cadence: r.cadence,
            day_of_month: r.day_of_month,
            weekday: r.weekday,
            description: r.description,
            active: r.active,
            created_by: r.created_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new schedule: the report, its parameters and format, monthly on `day_of_month` or
/// weekly on `weekday`, and the webhook endpoints to tell.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"report": "past-due", "parameters": {"min_days": "60"},
    "format": "xlsx", "cadence": "monthly", "day_of_month": 1,
    "description": "Balances over 10,000 at 60 days, for management and sales"}))]
pub struct NewReportSchedule {
    pub report: ReportName,
    /// The report's query parameters (as in `GET /v1/reports/<report>`) by name, as text;
    /// dates and `format` are refused.
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub parameters: Option<Map<String, Value>>,
    pub format: ReportFormat,
    pub cadence: ReportCadence,
    /// 1 to 31, for a monthly schedule (a shorter month runs on its last day).
    #[schema(minimum = 1, maximum = 31)]
    pub day_of_month: Option<i32>,
    /// For a weekly schedule.
    pub weekday: Option<ScheduleWeekday>,
    /// Webhook endpoint ids (at most 20, enabled): the only endpoints the `report.ready`
    /// event goes to. Empty or absent: none.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub recipients: Option<Vec<Uuid>>,
    #[schema(max_length = 200)]
    pub description: Option<String>,
}

/// Changes to a schedule (its report stays). Giving `cadence` gives the day again:
/// `day_of_month` for monthly, `weekday` for weekly.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false, "version": 1}))]
pub struct ReportSchedulePatch {
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub parameters: Option<Map<String, Value>>,
    pub format: Option<ReportFormat>,
    pub cadence: Option<ReportCadence>,
    #[schema(minimum = 1, maximum = 31)]
    pub day_of_month: Option<i32>,
    pub weekday: Option<ScheduleWeekday>,
    #[schema(max_items = 20)]
    pub recipients: Option<Vec<Uuid>>,
    #[schema(max_length = 200)]
    pub description: Option<String>,
    pub active: Option<bool>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl ReportSchedulePatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.parameters.is_none()
            && self.format.is_none()
            && self.cadence.is_none()
            && self.day_of_month.is_none()
            && self.weekday.is_none()
            && self.recipients.is_none()
            && self.description.is_none()
            && self.active.is_none()
    }
}

/// Filters of the schedule list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportScheduleFilter {
    /// Only the schedules of this report.
    #[param(inline)]
    pub report: Option<ReportName>,
    /// Only active (`true`) or inactive (`false`) schedules.
    pub active: Option<bool>,
}

/// A run without its file.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::report_runs)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RunRow {
    pub id: Uuid,
    pub schedule_id: Uuid,
    pub run_date: Date,
    pub report: ReportName,
    pub parameters: Value,
    pub format: ReportFormat,
    pub status: ReportRunStatus,
    pub content_type: Option<String>,
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
    pub event_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

/// One run of a schedule: the report built for one date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportRunView {
    pub id: Uuid,
    pub schedule_id: Uuid,
    /// The day the report was built as of.
    pub run_date: Date,
    pub report: ReportName,
    #[schema(value_type = BTreeMap<String, String>)]
    pub parameters: Value,
    pub format: ReportFormat,
    pub status: ReportRunStatus,
    /// Where the file is (`GET`), when the run succeeded.
    #[schema(example = "/v1/report-runs/01a246b3-0b37-72c7-8b7a-915ca38711f9/file")]
    pub file_path: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    /// The file's size in bytes.
    pub size_bytes: Option<i64>,
    /// Why a failed run failed.
    pub error: Option<String>,
    /// The `report.ready` event written with the run.
    pub event_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<RunRow> for ReportRunView {
    fn from(r: RunRow) -> Self {
        ReportRunView {
            file_path: (r.status == ReportRunStatus::Succeeded)
                .then(|| format!("/v1/report-runs/{}/file", r.id)),
            id: r.id,
            schedule_id: r.schedule_id,
            run_date: r.run_date,
            report: r.report,
            parameters: r.parameters,
            format: r.format,
            status: r.status,
            file_name: r.file_name,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            error: r.error,
            event_id: r.event_id,
            created_at: r.created_at,
        }
    }
}

/// What a look for due schedules ran.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportRunsDone {
    /// The day the schedules were due (the service's today).
    pub run_date: Date,
    /// The runs this request made (a schedule another instance ran that day is not here).
    pub data: Vec<ReportRunView>,
}

/// Filters of the run list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportRunFilter {
    /// Only the runs of this schedule.
    pub schedule_id: Option<Uuid>,
}

/// The `data` of a `report.ready` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportReadyEvent {
    pub run_id: Uuid,
    pub schedule_id: Uuid,
    pub report: ReportName,
    pub format: ReportFormat,
    pub run_date: Date,
    pub file_path: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}
