//! HTTP handlers of the reports: parse the parameters, read, answer in the format asked for.

use actix_web::{get, web, HttpResponse};

use super::cash_receipts::{self, CashReceipts, CashReceiptsQuery};
use super::format::respond;
use super::kpis::{self, KpiQuery, Kpis};
use super::past_due::{self, PastDue, PastDueQuery};
use super::store;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::openapi::responses::*;
use crate::state::AppState;

/// Handles the GET /v1/reports/kpis route: DSO (standard and count-back), CEI, best possible
/// DSO, average days delinquent and bad-debt write-offs for each month of a range (default
/// the twelve whole months before today), per currency, with every input beside them.
///
/// Formulas: DSO = closing A/R ÷ credit sales × days; count-back DSO = the days of sales,
/// counted back from the month's end, that the closing A/R is made of; CEI = (opening A/R +
/// credit sales − closing A/R) ÷ (opening A/R + credit sales − closing current A/R) × 100;
/// best possible DSO = closing current A/R ÷ credit sales × days; average days delinquent =
/// DSO − best possible DSO. A/R is the invoices' balances; credit sales are invoices issued
/// less voided in the month; a figure whose divisor is zero is absent.
#[utoipa::path(
    tag = "reports",
    params(KpiQuery),
    responses(
        (status = 200, description = "The KPIs", content(
            (Kpis = "application/json"),
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
#[get("/reports/kpis")]
pub async fn kpi_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<KpiQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let (from, to) = kpis::range(&query.0, ctx.now.date())?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let movements = store::monthly_movements(&mut conn, to).await?;
    let current = store::closing_current(&mut conn, from, to).await?;
    let report = kpis::build(from, to, &movements, &current);
    let name = format!("kpis-{}-{}", report.from, report.to);
    respond(query.0.format, &name, &report, || report.table())
}

/// Handles the GET /v1/reports/past-due route: the accounts owing at least `threshold`
/// (default 10000.00) on invoices `min_days` (default 60) or more days past due at the end of
/// `as_of` (default today), both limits inclusive, with the collector, the last contact, the
/// open promise and the disputed part; totals per currency.
#[utoipa::path(
    tag = "reports",
    params(PastDueQuery),
    responses(
        (status = 200, description = "The past-due accounts", content(
            (PastDue = "application/json"),
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
#[get("/reports/past-due")]
pub async fn past_due_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<PastDueQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let parameters = past_due::parameters(&query.0, ctx.now.date())?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::past_due(&mut conn, &parameters).await?;
    let report = past_due::build(parameters, rows);
    let name = format!("past-due-{}", parameters.as_of);
    respond(query.0.format, &name, &report, || report.table())
}

/// Handles the GET /v1/reports/cash-receipts route: payments received from `from` (default 30
/// days before `to`) to `to` (default today), at most 366 days, by day, method and account:
/// how many, how much, and what became of it as it stands (applied, refunded, returned by the
/// bank, unapplied; received is their sum); totals per currency.
#[utoipa::path(
    tag = "reports",
    params(CashReceiptsQuery),
    responses(
        (status = 200, description = "The cash receipts", content(
            (CashReceipts = "application/json"),
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
#[get("/reports/cash-receipts")]
pub async fn cash_receipts_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<CashReceiptsQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let parameters = cash_receipts::parameters(&query.0, ctx.now.date())?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::cash_receipts(&mut conn, &parameters).await?;
    let report = cash_receipts::build(parameters, rows);
    let name = format!("cash-receipts-{}-{}", parameters.from, parameters.to);
    respond(query.0.format, &name, &report, || report.table())
}
