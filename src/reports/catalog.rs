//! Every report by its name: its parameters checked, then its figures read and its table
//! made. The GET routes and the scheduled reports build through here, so that a scheduled
//! file is what the route answers for the same parameters on the same day.
//!
//! A report is one function `fn(&Query, today) -> Result<Plan, Refusal>`: the checks run
//! when it is called (nothing is read), the returned [`Plan`] reads on a connection. Adding a
//! report to the schedules is a [`ReportName`] and one arm of [`plan_named`].

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use time::Date;
use utoipa::IntoParams;

use super::aging::{self, AgingSummary, AgingSummaryGroup, AgingSummaryQuery};
use super::cash_receipts::{self, CashReceipts, CashReceiptsQuery};
use super::collectors::{self, CollectorPerformance, CollectorPerformanceQuery};
use super::credits::{self, Credits, CreditsQuery};
use super::disputes::{self, DisputesReport, DisputesReportQuery};
use super::format::{ReportFormat, XLSX};
use super::goals::{self, GoalsReport};
use super::kpis::{self, KpiQuery, Kpis};
use super::past_due::{self, PastDue, PastDueQuery};
use super::store;
use crate::db::Conn;
use crate::error::ApiError;
use crate::export::{self, Table};
use crate::refusal::{FieldError, Refusal};
use crate::validate::Errors;

crate::text_enum! {
    /// A report that can be scheduled, by the name of its route (`/v1/reports/<name>`).
    ReportName {
        Kpis => "kpis",
        PastDue => "past-due",
        CashReceipts => "cash-receipts",
        Credits => "credits",
        Disputes => "disputes",
        CollectorPerformance => "collector-performance",
        Goals => "goals",
        AgingSummary => "aging-summary",
    }
}

/// A report whose parameters were checked, ready to read its figures on a connection.
pub type Plan =
    Box<dyn for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<BuiltReport, ApiError>> + Send>;

fn plan<F>(read: F) -> Plan
where
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<BuiltReport, ApiError>>
        + Send
        + 'static,
{
    Box::new(read)
}

/// The report named `report` with `parameters` (the route's query parameters by name, as
/// text) as of `today`: 422 naming `parameters.<name>` for an unknown or malformed
/// parameter, a parameter the report refuses, or a date (a scheduled report is as of the
/// day it runs) or `format` (the schedule's own).
pub fn plan_named(
    report: ReportName,
    parameters: &Map<String, Value>,
    today: Date,
) -> Result<Plan, Refusal> {
    plan_by_name(report, parameters, today).map_err(|refusal| match refusal {
        Refusal::Invalid(fields) => Refusal::Invalid(
            fields
                .into_iter()
                .map(|f| FieldError {
                    field: format!("parameters.{}", f.field),
                    ..f
                })
                .collect(),
        ),
        other => other,
    })
}

/// [`plan_named`] with the parameters' names as the route has them: one arm per report.
fn plan_by_name(
    report: ReportName,
    parameters: &Map<String, Value>,
    today: Date,
) -> Result<Plan, Refusal> {
    match report {
        ReportName::Kpis => kpis_report(&parse(parameters)?, today),
        ReportName::PastDue => past_due_report(&parse(parameters)?, today),
        ReportName::CashReceipts => cash_receipts_report(&parse(parameters)?, today),
        ReportName::Credits => credits_report(&parse(parameters)?, today),
        ReportName::Disputes => disputes_report(&parse(parameters)?, today),
        ReportName::CollectorPerformance => collector_performance(&parse(parameters)?, today),
        ReportName::Goals => goals_report(&parse(parameters)?, today),
        ReportName::AgingSummary => aging_summary_report(&parse(parameters)?, today),
    }
}

/// Parameters a schedule may not fix: the dates (a scheduled report is as of its run date,
/// with the route's defaults from it) and the format (the schedule's own).
const NOT_SCHEDULABLE: &[&str] = &["as_of", "from", "to", "format"];

/// A report's query from parameters given as a JSON object of texts, read as the route reads
/// its query string (field names unprefixed: [`plan_named`] prefixes them).
fn parse<Q: DeserializeOwned + IntoParams>(parameters: &Map<String, Value>) -> Result<Q, Refusal> {
    let known: Vec<String> = Q::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut e = Errors::default();
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        if NOT_SCHEDULABLE.contains(&name.as_str()) && known.contains(name) {
            let why = if name == "format" {
                "the schedule's `format` gives the file's format"
            } else {
                "a scheduled report is as of the day it runs: leave the date out"
            };
            e.add(name, "not_schedulable", why);
        } else if !known.contains(name) {
            e.add(name, "unknown_field", "is not a parameter of this report");
        } else if let Value::String(text) = value {
            pairs.append_pair(name, text);
        } else {
            e.add(
                name,
                "invalid_type",
                "must be a string, as in the report's query",
            );
        }
    }
    e.finish()?;
    let query = pairs.finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let field = err.path().to_string();
        let message = err.into_inner().to_string();
        Refusal::field(&field, "invalid", message)
    })
}

/// A report's figures, ready to be written as JSON, CSV or Excel.
pub struct BuiltReport {
    /// The file name without its extension: the report and its parameters
    /// (`kpis-2025-12-2026-11`).
    pub name: String,
    output: Box<dyn Output + Send>,
}

/// A report written as a file.
pub struct ReportFile {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub file_name: String,
}

trait Output {
    fn json(&self) -> Result<Vec<u8>, serde_json::Error>;
    fn table(&self) -> Table;
}

struct Of<R> {
    report: R,
    table: fn(&R) -> Table,
}

impl<R: Serialize> Output for Of<R> {
    fn json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.report)
    }
    fn table(&self) -> Table {
        (self.table)(&self.report)
    }
}

impl BuiltReport {
    pub fn new<R: Serialize + Send + 'static>(
        name: String,
        report: R,
        table: fn(&R) -> Table,
    ) -> BuiltReport {
        BuiltReport {
            name,
            output: Box::new(Of { report, table }),
        }
    }

    /// The report's table as CSV in pieces of about 64 KiB, each written when it is sent.
    pub fn csv_pieces(&self) -> impl Iterator<Item = String> + 'static {
        export::csv_pieces(self.output.table(), 64 * 1024)
    }

    /// The report as JSON (the route's answer), or its table as CSV or an Excel workbook.
    pub fn file(&self, format: ReportFormat) -> Result<ReportFile, ApiError> {
        let (bytes, content_type, ext) = match format {
            ReportFormat::Json => (self.output.json()?, "application/json", "json"),
            ReportFormat::Csv => (
                export::csv(&self.output.table()).into_bytes(),
                "text/csv; charset=utf-8",
                "csv",
            ),
            ReportFormat::Xlsx => (
                export::xlsx(&self.output.table())
                    .map_err(|e| ApiError::internal(format!("the workbook: {e}")))?,
                XLSX,
                "xlsx",
            ),
        };
        Ok(ReportFile {
            bytes,
            content_type,
            file_name: format!("{}.{ext}", self.name),
        })
    }
}

pub fn kpis_report(q: &KpiQuery, today: Date) -> Result<Plan, Refusal> {
    let (from, to) = kpis::range(q, today)?;
    Ok(plan(move |conn| {
        Box::pin(async move {
            let movements = store::monthly_movements(conn, to).await?;
            let current = store::closing_current(conn, from, to).await?;
            let report = kpis::build(from, to, &movements, &current);
            let name = format!("kpis-{}-{}", report.from, report.to);
            Ok(BuiltReport::new(name, report, Kpis::table))
        })
    }))
}

pub fn past_due_report(q: &PastDueQuery, today: Date) -> Result<Plan, Refusal> {
    let parameters = past_due::parameters(q, today)?;
    Ok(plan(move |conn| {
        Box::pin(async move {
            let rows = store::past_due(conn, &parameters).await?;
            let report = past_due::build(parameters, rows);
            let name = format!("past-due-{}", parameters.as_of);
            Ok(BuiltReport::new(name, report, PastDue::table))
        })
    }))
}

pub fn cash_receipts_report(q: &CashReceiptsQuery, today: Date) -> Result<Plan, Refusal> {
    let parameters = cash_receipts::parameters(q, today)?;
    Ok(plan(move |conn| {
        Box::pin(async move {
            let rows = store::cash_receipts(conn, &parameters).await?;
            let report = cash_receipts::build(parameters, rows);
            let name = format!("cash-receipts-{}-{}", parameters.from, parameters.to);
            Ok(BuiltReport::new(name, report, CashReceipts::table))
        })
    }))
}

pub fn credits_report(q: &CreditsQuery, today: Date) -> Result<Plan, Refusal> {
    let period = credits::period(q.from, q.to, today)?;
    Ok(plan(move |conn| {
        Box::pin(async move {
            let rows = store::credits(conn, &period).await?;
            let report = credits::build(period, rows);
            let name = format!("credits-{}-{}", period.from, period.to);
            Ok(BuiltReport::new(name, report, Credits::table))
        })
    }))
}

pub fn disputes_report(q: &DisputesReportQuery, today: Date) -> Result<Plan, Refusal> {
    let period = credits::period(q.from, q.to, today)?;
    Ok(plan(move |conn| {
        Box::pin(async move {
            let counts = store::disputes(conn, &period).await?;
            let report = disputes::build(period, counts);
            let name = format!("disputes-{}-{}", period.from, period.to);
            Ok(BuiltReport::new(name, report, DisputesReport::table))
        })
    }))
}

pub fn collector_performance(q: &CollectorPerformanceQuery, today: Date) -> Result<Plan, Refusal> {
    let p = collectors::parameters(&q.from, &q.to, &q.collector, today)?;
    Ok(plan(move |conn| {
        Box::pin(async move {
            let collector = p.collector.as_deref();
            let months = store::collector_months(conn, p.first, p.last, collector).await?;
            let name = format!("collector-performance-{}-{}", p.from, p.to);
            let report = collectors::build(p, months);
            Ok(BuiltReport::new(name, report, CollectorPerformance::table))
        })
    }))
}

pub fn goals_report(q: &CollectorPerformanceQuery, today: Date) -> Result<Plan, Refusal> {
    let p = collectors::parameters(&q.from, &q.to, &q.collector, today)?;
    Ok(plan(move |conn| {
        Box::pin(async move {
            let collector = p.collector.as_deref();
            let goals =
                crate::collections::goals::store::of_months(conn, p.first, p.last, collector);
            let goals = goals.await?;
            let months = store::collector_months(conn, p.first, p.last, None).await?;
            let name = format!("goals-{}-{}", p.from, p.to);
            let report = goals::build(p, &goals, &months);
            Ok(BuiltReport::new(name, report, GoalsReport::table))
        })
    }))
}

pub fn aging_summary_report(q: &AgingSummaryQuery, today: Date) -> Result<Plan, Refusal> {
    let collector = q.collector.as_deref();
    let parameters = aging::parameters(q.as_of, q.partner_id, collector, q.risk_level, today)?;
    let group_by = q.group_by.unwrap_or(AgingSummaryGroup::Account);
    Ok(plan(move |conn| {
        Box::pin(async move {
            let rows = store::aging_summary(conn, &parameters, group_by).await?;
            let report = aging::summary(parameters, group_by, rows);
            let name = format!("aging-summary-{}", report.parameters.as_of);
            Ok(BuiltReport::new(name, report, AgingSummary::table))
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(report: ReportName, parameters: Value) -> Vec<FieldError> {
        let today = time::macros::date!(2026 - 11 - 25);
        match plan_named(report, parameters.as_object().unwrap(), today) {
            Err(Refusal::Invalid(fields)) => fields,
            Err(other) => panic!("{other:?}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn parameters_are_the_routes_query_parameters_less_dates_and_format() {
        let ok = json!({"min_days": "90", "threshold": "5000.00"});
        assert!(refused(ReportName::PastDue, ok).is_empty());
        assert!(refused(ReportName::Kpis, json!({})).is_empty());
        let cases = [
            (
                ReportName::PastDue,
                json!({"min_days": "0"}),
                "parameters.min_days",
                "out_of_range",
            ),
            (
                ReportName::PastDue,
                json!({"min_days": "x"}),
                "parameters.min_days",
                "invalid",
            ),
            (
                ReportName::PastDue,
                json!({"min_days": 90}),
                "parameters.min_days",
                "invalid_type",
            ),
            (
                ReportName::PastDue,
                json!({"as_of": "2026-11-01"}),
                "parameters.as_of",
                "not_schedulable",
            ),
            (
                ReportName::Kpis,
                json!({"from": "2026-01"}),
                "parameters.from",
                "not_schedulable",
            ),
            (
                ReportName::Credits,
                json!({"format": "csv"}),
                "parameters.format",
                "not_schedulable",
            ),
            (
                ReportName::Credits,
                json!({"colour": "red"}),
                "parameters.colour",
                "unknown_field",
            ),
            (
                ReportName::CashReceipts,
                json!({"method": "barter"}),
                "parameters.method",
                "invalid",
            ),
            (
                ReportName::AgingSummary,
                json!({"group_by": "planet"}),
                "parameters.group_by",
                "invalid",
            ),
            (
                ReportName::AgingSummary,
                json!({"as_of": "2026-11-01"}),
                "parameters.as_of",
                "not_schedulable",
            ),
        ];
        for (report, parameters, field, code) in cases {
            let fields = refused(report, parameters.clone());
            assert_eq!(fields.len(), 1, "{parameters}: {fields:?}");
            assert_eq!(
                (fields[0].field.as_str(), fields[0].code.as_str()),
                (field, code)
            );
        }
    }
}
