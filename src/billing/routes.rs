//! HTTP handlers of billing runs: start one, follow its progress, list them.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{BillingRunView, NewBillingRun, NewRunMode};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/billing-runs route: queues a run; it runs in the background.
///
/// Every active contract period due by `as_of` is billed: recurring charges (advance or
/// arrears, prorated by days), meter usage of closed periods (estimated when no actual
/// reading closes them), minimums and tax. A period is billed at most once, however often
/// and on however many instances runs execute. With `mode: preview` nothing is queued: the
/// answer (200) is what the run would bill, computed now, with nothing written (at most
/// 1,000 contracts: narrow a larger scope with `account_id` or `contract_id`).
#[utoipa::path(
    tag = "billing-runs",
    request_body = NewBillingRun,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 202, description = "The run was queued; follow it at its Location", body = BillingRunView),
        (status = 200, description = "`mode: preview`: what the run would bill; nothing was written", body = super::preview::BillingPreview),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/billing-runs")]
pub async fn create_billing_run(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewBillingRun>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::BillingRuns)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/billing-runs", &new)?;
    let e = service::check_as_of(&new, ctx.now.date());
    if new.mode == Some(NewRunMode::Preview) {
        let mut conn = crate::db::conn(&state.pool).await?;
        let billing = &state.config.billing;
        let preview = service::preview(&mut conn, billing, &new, e, ctx.now).await?;
        return Ok(HttpResponse::Ok().json(preview));
    }
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::request(conn, &ctx, &new, e).await,
    )
    .await?;
    state.billing_wakeup.notify_one();
    Ok(located(stored))
}

/// The run's response, with its `Location` when the body names its id.
fn located(stored: idempotency::Stored) -> HttpResponse {
    let id = stored
        .body
        .get("id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let mut response = stored.into_response();
    if let Some(id) = id.and_then(|id| Uuid::parse_str(&id).ok()) {
        response.headers_mut().insert(
            actix_web::http::header::LOCATION,
            actix_web::http::header::HeaderValue::from_str(&format!("/v1/billing-runs/{id}"))
                .expect("a path is a header value"),
        );
    }
    response
}

/// Handles the GET /v1/billing-runs/{id} route: status, progress and errors.
#[utoipa::path(
    tag = "billing-runs",
    params(("id" = Uuid, Path, description = "Billing run id")),
    responses(
        (status = 200, description = "The run", body = BillingRunView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/billing-runs/{id}")]
pub async fn get_run(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_run(&mut conn, id.into_inner()).await?;
    let errors = store::run_errors(&mut conn, row.id).await?;
    Ok(HttpResponse::Ok().json(BillingRunView::new(row, errors)))
}

/// Handles the GET /v1/billing-runs route: runs in the order they were requested.
#[utoipa::path(
    tag = "billing-runs",
    params(PageParams),
    responses(
        (status = 200, description = "A page of runs (errors not included; read a run for them)", body = Page<BillingRunView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/billing-runs")]
pub async fn list_billing_runs(
    state: web::Data<AppState>,
    ctx: Ctx,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list_runs(&mut conn, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        |r| BillingRunView::new(r, Vec::new()),
    )))
}
