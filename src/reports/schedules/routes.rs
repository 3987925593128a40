//! HTTP handlers of report schedules and their runs.

use actix_web::http::{header, StatusCode};
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{
    NewReportSchedule, ReportRunFilter, ReportRunView, ReportRunsDone, ReportScheduleFilter,
    ReportSchedulePatch, ReportScheduleView, ScheduleRow,
};
use super::{rules, service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/report-schedules route: builds a report monthly on a day (a shorter
/// month's last day standing for it) or weekly on a weekday, with its parameters (those of
/// its `GET /v1/reports/<report>` route, as text; dates are refused, the run date is the
/// report's today) in a format, and tells the recipients (webhook endpoints) with a
/// `report.ready` event. 422 names `report`, `parameters.<name>`, `day_of_month`, `weekday`
/// or `recipients` (unknown or disabled endpoints).
#[utoipa::path(
    tag = "reports",
    request_body = NewReportSchedule,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The schedule was created", body = ReportScheduleView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/report-schedules")]
pub async fn create_report_schedule(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewReportSchedule>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportSchedulesWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/report-schedules", &new)?;
    let row = ScheduleRow::new(new, &ctx.principal.subject, ctx.now);
    rules::check(&row, ctx.today())?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &row).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/report-schedules route: schedules in creation order, by report and
/// whether active.
#[utoipa::path(
    tag = "reports",
    params(ReportScheduleFilter, PageParams),
    responses(
        (status = 200, description = "A page of schedules", body = Page<ReportScheduleView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/report-schedules")]
pub async fn list_report_schedules(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<ReportScheduleFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (report, active) = (filter.0.report, filter.0.active);
    let rows = store::list(&mut conn, report, active, page.0.after()?, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id, ReportScheduleView::from);
    Ok(HttpResponse::Ok().json(page))
}

/// Handles the GET /v1/report-schedules/{id} route.
#[utoipa::path(
    tag = "reports",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule; its version is the ETag", body = ReportScheduleView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/report-schedules/{id}")]
pub async fn get_report_schedule(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    let version = row.version;
    Ok(versioned(
        StatusCode::OK,
        version,
        &ReportScheduleView::from(row),
    ))
}

/// Handles the PATCH /v1/report-schedules/{id} route: changes a schedule's parameters,
/// format, calendar, recipients, description or `active` (false: it runs no more) under
/// optimistic concurrency; its report stays. The whole schedule is checked again, as at
/// creation.
#[utoipa::path(
    tag = "reports",
    request_body = ReportSchedulePatch,
    params(
        ("id" = Uuid, Path, description = "Schedule id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed schedule", body = ReportScheduleView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/report-schedules/{id}")]
pub async fn update_report_schedule(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<ReportSchedulePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportSchedulesWrite)?;
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let id = id.into_inner();
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update(conn, &ctx, id, &patch, expected).await
    })
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/report-runs route (no body): runs now, as of the service's today,
/// every active schedule due today that has not run today (what the scheduled job does every
/// `REPORT_SCHEDULE_INTERVAL_MINUTES`), and answers the runs it made. Safe to repeat and to
/// call on many instances at once: a schedule runs once per date. With an `Idempotency-Key`
/// a retry answers the first request's runs.
#[utoipa::path(
    tag = "reports",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry answer the first request's runs (as they stand) instead of an empty list")),
    responses(
        (status = 200, description = "The runs this request made", body = ReportRunsDone),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[post("/report-runs")]
pub async fn run_due_reports(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportSchedulesWrite)?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/report-runs", &())?;
    let key = key.0.as_deref();
    let (done, replayed) =
        service::run_due_once(&state.pool, &ctx, ctx.today(), key, &fingerprint).await?;
    let mut response = HttpResponse::Ok();
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(done))
}

/// Handles the GET /v1/report-runs route: runs in creation order, of one schedule when
/// `schedule_id` is given.
#[utoipa::path(
    tag = "reports",
    params(ReportRunFilter, PageParams),
    responses(
        (status = 200, description = "A page of runs", body = Page<ReportRunView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/report-runs")]
pub async fn list_report_runs(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<ReportRunFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list_runs(&mut conn, filter.0.schedule_id, page.0.after()?, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id, ReportRunView::from);
    Ok(HttpResponse::Ok().json(page))
}

/// Handles the GET /v1/report-runs/{id} route: a run without its file.
#[utoipa::path(
    tag = "reports",
    params(("id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = ReportRunView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/report-runs/{id}")]
pub async fn get_report_run(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_run(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ReportRunView::from(row)))
}

/// Handles the GET /v1/report-runs/{id}/file route: the run's file as it was built, as an
/// attachment. A failed run has none (409 `report_run_failed`).
#[utoipa::path(
    tag = "reports",
    params(("id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "The file", content(
            (String = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []))
)]
#[get("/report-runs/{id}/file")]
pub async fn download_report_run(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ReportsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (bytes, content_type, name) = store::run_file(&mut conn, id.into_inner()).await?;
    let (Some(bytes), Some(content_type), Some(name)) = (bytes, content_type, name) else {
        let detail = "The run failed and has no file; its error says why.";
        return Err(ApiError::conflict("report_run_failed", detail));
    };
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .body(bytes))
}
