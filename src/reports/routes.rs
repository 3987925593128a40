//! HTTP handlers of the reports: parse the parameters, read, answer in the format asked for.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use super::cash_receipts::{CashReceipts, CashReceiptsQuery};
use super::catalog::{self, Plan};
use super::collectors::{CollectorPerformance, CollectorPerformanceQuery};
use super::credits::{Credits, CreditsQuery};
use super::disputes::{DisputesReport, DisputesReportQuery};
use super::format::ReportFormat;
use super::goals::GoalsReport;
use super::kpis::{KpiQuery, Kpis};
use super::past_due::{PastDue, PastDueQuery};
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
    answer(
        &state,
        query.0.format,
        catalog::kpis_report(&query.0, ctx.today())?,
    )
    .await
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
    answer(
        &state,
        query.0.format,
        catalog::past_due_report(&query.0, ctx.today())?,
    )
    .await
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
    answer(
        &state,
        query.0.format,
        catalog::cash_receipts_report(&query.0, ctx.today())?,
    )
    .await
}

/// Handles the GET /v1/reports/credits route: the credits granted from `from` (default the
/// first day of `to`'s month) to `to` (default today), at most 366 days, by source, reason and
/// financial code, with how many and how much per currency; totals per currency.
///
/// Credit memos count when their status is `issued` (whether applied, refunded or still on
/// the account), dated by the day they were issued; drafts, memos pending approval, rejected
/// and voided memos do not. Adjustments count when they are write-offs
/// (`small_balance_write_off`, `bad_debt_write_off`: their kind is their reason), dated by
/// the day they were made; late fees, recoveries and agency commissions credit nobody and are
/// not listed. Amounts are the documents' totals, tax included.
#[utoipa::path(
    tag = "reports",
    params(CreditsQuery),
    responses(
        (status = 200, description = "The credits", content(
            (Credits = "application/json"),
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
#[get("/reports/credits")]
pub async fn credits_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<CreditsQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    answer(
        &state,
        query.0.format,
        catalog::credits_report(&query.0, ctx.today())?,
    )
    .await
}

/// Handles the GET /v1/reports/disputes route: the disputes opened from `from` (default the
/// first day of `to`'s month) to `to` (default today), at most 366 days, by reason, root
/// cause (found on resolution; none while active or once withdrawn) and currency; totals per
/// currency.
///
/// `opened`: disputes opened in the period. `resolved`: of them, those resolved valid or
/// invalid by today (withdrawn ones are not resolved). `amount_disputed`: their amounts.
/// `amount_credited`: the totals, tax included, of the issued credit memos their valid
/// resolutions made. `days_to_resolve`: calendar days from opening to resolution summed over
/// the resolved ones; `average_days_to_resolve` = that ÷ `resolved`, one decimal, rounded half
/// away from zero. `resolved_within_sla`: resolved on or before the dispute's SLA due date;
/// `sla_compliance` = that ÷ `resolved` × 100, two decimals. Both are absent when nothing was
/// resolved.
#[utoipa::path(
    tag = "reports",
    params(DisputesReportQuery),
    responses(
        (status = 200, description = "The disputes by reason and root cause", content(
            (DisputesReport = "application/json"),
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
#[get("/reports/disputes")]
pub async fn disputes_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<DisputesReportQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    answer(
        &state,
        query.0.format,
        catalog::disputes_report(&query.0, ctx.today())?,
    )
    .await
}

/// Handles the GET /v1/reports/collector-performance route: per collector, month of the
/// range (default the twelve whole months before today; at most 60) and currency, the
/// collector's portfolio at the month's end and the work done on it in the month; totals per
/// currency (portfolio figures at the end of the last month, the others summed).
///
/// The portfolio at a month's end: the accounts whose collections profile names the
/// collector, assigned before the month ended (only the current assignment is kept: an
/// account reassigned later counts for its new collector from then on). `accounts`: those
/// accounts. `balance`: their invoices' balances at the end of the month's last day, from the
/// ledger (disputed amounts included, unapplied cash apart); `past_due`: of it, invoices due
/// before that day. `collected`: payments received on the accounts in the month, less those
/// since returned. `promises_made`: promises to pay made on the accounts in the month;
/// `promises_kept`: promises found kept in the month. `contacts`: collection notes logged on
/// the accounts in the month. `overdue_items`: the accounts' tasks open at the month's end
/// and due before its last day. Amounts are in the account's currency.
#[utoipa::path(
    tag = "reports",
    params(CollectorPerformanceQuery),
    responses(
        (status = 200, description = "The collectors' months", content(
            (CollectorPerformance = "application/json"),
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
#[get("/reports/collector-performance")]
pub async fn collector_performance_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<CollectorPerformanceQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    answer(
        &state,
        query.0.format,
        catalog::collector_performance(&query.0, ctx.today())?,
    )
    .await
}

/// Handles the GET /v1/reports/goals route: each monthly collection goal of the range
/// (default the twelve whole months before today; at most 60; of `collector` only when
/// given) against what was achieved, and the department's months (every collector's
/// portfolio together) as totals.
///
/// `collected`, `balance` and `past_due` are the collector-performance figures of the goal's
/// collector (a team's goal, and the department, count every collector's portfolio: the
/// service knows no team membership). `collected_percent_of_target` = collected ÷
/// `target_collected` × 100; `past_due_percent` = past due ÷ balance × 100 at the month's end
/// (a past-due goal is met when it is at most `target_past_due_percent`); both two decimals,
/// half away from zero, absent without a divisor. A department row's `target_collected` is
/// the sum of its collectors' targets.
#[utoipa::path(
    tag = "reports",
    params(CollectorPerformanceQuery),
    responses(
        (status = 200, description = "The goals against the actual figures", content(
            (GoalsReport = "application/json"),
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
#[get("/reports/goals")]
pub async fn goals_report(
    state: web::Data<AppState>,
    ctx: Ctx,
    query: ApiQuery<CollectorPerformanceQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    answer(
        &state,
        query.0.format,
        catalog::goals_report(&query.0, ctx.today())?,
    )
    .await
}

/// Reads a planned report (through the read pool, `DATABASE_READ_URL`) and answers it in
/// `format`: JSON as the API answers everywhere, CSV and Excel as attachments named after the
/// report and its parameters.
pub async fn answer(
    state: &AppState,
    format: Option<ReportFormat>,
    plan: Plan,
) -> Result<HttpResponse, ApiError> {
    let mut conn = crate::db::conn(&state.read_pool).await?;
    let report = plan(&mut conn).await?;
    let format = format.unwrap_or(ReportFormat::Json);
    if format == ReportFormat::Csv {
        // Written as it is sent: the rows are held (the JSON and the totals need them), their
        // text never whole.
        let disposition = format!("attachment; filename=\"{}.csv\"", report.name);
        let pieces = report
            .csv_pieces()
            .map(|piece| Ok::<_, ApiError>(actix_web::web::Bytes::from(piece)));
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CONTENT_DISPOSITION, disposition))
            .streaming(futures_util::stream::iter(pieces)));
    }
    let file = report.file(format)?;
    let mut response = HttpResponse::Ok();
    response.content_type(file.content_type);
    if format != ReportFormat::Json {
        let disposition = format!("attachment; filename=\"{}\"", file.file_name);
        response.insert_header((header::CONTENT_DISPOSITION, disposition));
    }
    Ok(response.body(file.bytes))
}
