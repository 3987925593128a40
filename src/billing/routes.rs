//! HTTP handlers of billing runs: start one, follow its progress, list them.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel_async::AsyncConnection;
use time::Duration;
use uuid::Uuid;

use super::model::{BillingRunStatus, BillingRunView, NewBillingRun, NewRunMode, RunMode, RunRow};
use super::store;
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::validate::Errors;
use crate::AppState;

/// How far ahead a run may bill (advance charges of the coming period).
const MAX_DAYS_AHEAD: i64 = 31;

/// The account and contract a run names exist.
async fn check_scope(
    conn: &mut crate::db::Conn,
    new: &NewBillingRun,
    e: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(account) = new.account_id {
        if let Err(ApiError::NotFound(_)) =
            crate::accounts::store::find_visible(conn, account, None).await
        {
            e.add("account_id", "unknown", "no account has this id");
        }
    }
    if let Some(contract) = new.contract_id {
        if let Err(ApiError::NotFound(_)) = crate::contracts::store::find(conn, contract).await {
            e.add("contract_id", "unknown", "no contract has this id");
        }
    }
    Ok(())
}

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
    let now = ctx.now;
    let mut e = Errors::default();
    if new.as_of > now.date() + Duration::days(MAX_DAYS_AHEAD) {
        e.add(
            "as_of",
            "too_far_ahead",
            format!("must be at most {MAX_DAYS_AHEAD} days after today"),
        );
    }
    let mut conn = crate::db::conn(&state.pool).await?;
    if new.mode == Some(NewRunMode::Preview) {
        // One snapshot, and a transaction that cannot write.
        let preview = conn
            .build_transaction()
            .read_only()
            .repeatable_read()
            .run(async |conn| {
                check_scope(conn, &new, &mut e).await?;
                std::mem::take(&mut e).finish()?;
                super::preview::preview(
                    conn,
                    &state.config.billing,
                    new.as_of,
                    new.account_id,
                    new.contract_id,
                    now,
                )
                .await
            })
            .await?;
        return Ok(HttpResponse::Ok().json(preview));
    }
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            check_scope(conn, &new, &mut e).await?;
            std::mem::take(&mut e).finish()?;
            let row = store::insert_run(
                conn,
                &RunRow {
                    id: Uuid::now_v7(),
                    as_of: new.as_of,
                    account_id: new.account_id,
                    contract_id: new.contract_id,
                    mode: match new.mode {
                        Some(NewRunMode::Issue) => RunMode::Issue,
                        _ => RunMode::Draft,
                    },
                    status: BillingRunStatus::Queued,
                    contracts_total: None,
                    contracts_done: 0,
                    invoices_created: 0,
                    errors_count: 0,
                    failure: None,
                    requested_by: ctx.principal.subject.clone(),
                    request_id: ctx.request_id.clone(),
                    claimed_by: None,
                    heartbeat_at: None,
                    created_at: now,
                    started_at: None,
                    finished_at: None,
                },
            )
            .await?;
            let view = BillingRunView::new(row, Vec::new());
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "billing_run.requested",
                    entity_type: "billing_run",
                    entity_id: view.id,
                    account_id: view.account_id,
                    before: None,
                    after: Some(&view),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::ACCEPTED, &view).await
        })
        .await?;
    state.billing_wakeup.notify_one();
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
    Ok(response)
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
