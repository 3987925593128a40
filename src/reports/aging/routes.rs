//! HTTP handlers of the aging reports.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use super::detail::{AgingDetail, AgingDetailQuery};
use super::{AgingSummary, AgingSummaryQuery};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::openapi::responses::*;
use crate::reports::format::{ReportFormat, XLSX};
use crate::state::AppState;

/// Handles the GET /v1/reports/aging-summary route: what was open at the end of `as_of`
/// (default today) in current, 1–30, 31–60, 61–90, 91–120 and over 120 days past due, with
/// the disputed part (in the buckets) and the cash and credits on no invoice (`unapplied`,
/// not in them; `net` = total − unapplied is the ledger balance), grouped by account (default),
/// partner, collector, family or not at all (`total`), for the accounts the filters keep;
/// largest total first, totals per currency.
///
/// Past dates are reconstructed from the ledger: a payment, credit or write-off dated after
/// `as_of` does not count, nor a dispute opened after it or closed by then. The risk level
/// and the collector are the accounts' as they stand now.
#[utoipa::path(
    tag = "reports",
    params(AgingSummaryQuery),
    responses(
        (status = 200, description = "The aging summary", content(
            (AgingSummary = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/reports/aging-summary")]
pub async fn aging_summary_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<AgingSummaryQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let plan = crate::reports::catalog::aging_summary_report(&query.0, ctx.today())?;
    crate::reports::routes::answer(&state, query.0.format, plan).await
}

/// Handles the GET /v1/reports/aging-detail route: every invoice open at the end of `as_of`
/// (default today) with its dates, days past due, bucket, balance and disputed part, and each
/// account's cash and credits on no invoice on a line of its own (`kind: unapplied`), by
/// account number, then due date; totals per currency as the summary grouped by `total`
/// gives them. Filters as the summary's.
///
/// The whole book can be asked for: the file is streamed as the database reads it (JSON, CSV)
/// or built a row at a time on disk (Excel), never held whole in memory.
#[utoipa::path(
    tag = "reports",
    params(AgingDetailQuery),
    responses(
        (status = 200, description = "The aging detail", content(
            (AgingDetail = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/reports/aging-detail")]
pub async fn aging_detail_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<AgingDetailQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let q = query.0;
    let parameters = super::parameters(
        q.as_of,
        q.partner_id,
        q.collector.as_deref(),
        q.risk_level,
        ctx.now.date(),
    )?;
    let format = q.format.unwrap_or(ReportFormat::Json);
    let name = format!("aging-detail-{}", parameters.as_of);
    let conn = crate::db::conn(&state.read_pool).await?;
    let body = super::stream::detail(conn, parameters, format).await?;
    let mut response = HttpResponse::Ok();
    match format {
        ReportFormat::Json => response.content_type("application/json"),
        ReportFormat::Csv => response.content_type("text/csv; charset=utf-8"),
        ReportFormat::Xlsx => response.content_type(XLSX),
    };
    if format != ReportFormat::Json {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.{}\"", format.as_str()),
        ));
    }
    Ok(response.streaming(body))
}
