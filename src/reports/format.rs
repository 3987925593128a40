//! A report in the format asked for: JSON as the API answers everywhere, CSV and Excel from
//! its table, each named after the report and its parameters.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;

use crate::error::ApiError;
use crate::export::{self, Table};

crate::text_enum! {
    /// The format of a report: `json` (default), `csv` (RFC 4180, UTF-8, a header row) or
    /// `xlsx` (an Excel workbook).
    ReportFormat { Json => "json", Csv => "csv", Xlsx => "xlsx" }
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Answers `report` as JSON, or its table as a CSV or Excel attachment `<name>.<ext>`.
pub fn respond<R: Serialize>(
    format: Option<ReportFormat>,
    name: &str,
    report: &R,
    table: impl FnOnce() -> Table,
) -> Result<HttpResponse, ApiError> {
    let attachment = |ext: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.{ext}\""),
        )
    };
    Ok(match format.unwrap_or(ReportFormat::Json) {
        ReportFormat::Json => HttpResponse::Ok().json(report),
        ReportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(attachment("csv"))
            .body(export::csv(&table())),
        ReportFormat::Xlsx => HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header(attachment("xlsx"))
            .body(
                export::xlsx(&table())
                    .map_err(|e| ApiError::internal(format!("the workbook: {e}")))?,
            ),
    })
}
