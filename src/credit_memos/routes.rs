//! HTTP handlers of credit memos: drafts, issue (or approval above the issuer's limit),
//! approve, reject, apply, refund, void, read, list and the document.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{
    ApprovalNote, CreditMemoFilter, CreditMemoView, NewCreditApplication, NewCreditMemo,
    NewCreditRefund, Rejection, VoidCreditMemo,
};
use super::{document, service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey, OptionalJson};
use crate::idempotency;
use crate::invoices::document::DocumentQuery;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::payments::rules::check_amount;
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the POST /v1/credit-memos route: a credit memo draft.
///
/// Lines (or one `amount`), a reason, an active financial code of kind `credit`, and
/// optionally the invoices of the account it goes to (each target at most the invoice's
/// undisputed balance; together at most the total).
#[utoipa::path(
    tag = "credit memos",
    request_body = NewCreditMemo,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The draft", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos")]
pub async fn create_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewCreditMemo>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/credit-memos", &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &ctx, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/credit-memos/{id}/issue route: issues a draft, or sends it for
/// approval when its total is above the caller's approval limit (`CREDIT_APPROVAL_LIMITS`).
///
/// Issuing takes the next number of the year's gapless series (`CM-2026-000001`), puts the
/// credit on the account and applies it to its targets, each up to the invoice's undisputed
/// balance.
#[utoipa::path(
    tag = "credit memos",
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The memo, issued or pending approval", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/issue")]
pub async fn issue_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/issue"), &())?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::issue(conn, &ctx, id, &state.config.credits).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/credit-memos/{id}/approve route: approves a memo pending approval,
/// which issues and applies it. Not by whoever submitted it (403), and only within the
/// approver's own limit (403).
#[utoipa::path(
    tag = "credit memos",
    request_body(content = Option<ApprovalNote>),
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The issued memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/approve")]
pub async fn approve_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<ApprovalNote>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosApprove)?;
    let note = body.0.note;
    let mut e = Errors::default();
    e.optional_text("note", note.as_deref(), 1000);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/approve"), &note)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::approve(conn, &ctx, id, note.as_deref(), &state.config.credits).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/credit-memos/{id}/reject route: rejects a memo pending approval, with
/// a note. Not by whoever submitted it (403).
#[utoipa::path(
    tag = "credit memos",
    request_body = Rejection,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The rejected memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/reject")]
pub async fn reject_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<Rejection>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosApprove)?;
    let note = body.0.note;
    let mut e = Errors::default();
    e.text("note", &note, 1000);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/reject"), &note)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::reject(conn, &ctx, id, &note).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/credit-memos/{id}/applications route: applies part of an issued memo's
/// unapplied credit to an open invoice of its account (never above the invoice's undisputed
/// balance or the memo's unapplied credit).
#[utoipa::path(
    tag = "credit memos",
    request_body = NewCreditApplication,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The memo with the new application", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/applications")]
pub async fn apply_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewCreditApplication>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    check_amount("amount", new.amount, None, &mut e);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/applications"), &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::apply(conn, &ctx, id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/credit-memos/{id}/refunds route: pays part of an issued memo's
/// unapplied credit back to the customer.
#[utoipa::path(
    tag = "credit memos",
    request_body = NewCreditRefund,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The memo with the refund", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/refunds")]
pub async fn refund_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewCreditRefund>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRefund)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    check_amount("amount", new.amount, None, &mut e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/refunds"), &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::refund(conn, &ctx, id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/credit-memos/{id}/void route: voids a draft, a memo pending approval,
/// or an issued memo of which nothing is applied or refunded (its credit comes off the
/// account; its number stays used).
#[utoipa::path(
    tag = "credit memos",
    request_body = VoidCreditMemo,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The void memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/void")]
pub async fn void_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<VoidCreditMemo>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let reason = body.0.reason;
    let mut e = Errors::default();
    e.text("reason", &reason, 500);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/void"), &reason)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::void(conn, &ctx, id, &reason).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/credit-memos/{id} route.
#[utoipa::path(
    tag = "credit memos",
    params(("id" = Uuid, Path, description = "Credit memo id")),
    responses(
        (status = 200, description = "The memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/credit-memos/{id}")]
pub async fn get_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(store::view(&mut conn, row).await?))
}

/// Handles the GET /v1/credit-memos route: memos newest first, filtered.
#[utoipa::path(
    tag = "credit memos",
    params(CreditMemoFilter, PageParams),
    responses(
        (status = 200, description = "A page of credit memos", body = Page<CreditMemoView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/credit-memos")]
pub async fn list_credit_memos(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<CreditMemoFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    let views = store::views(&mut conn, rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        views,
        limit,
        |v: &CreditMemoView| v.id,
        |v| v,
    )))
}

/// Handles the GET /v1/credit-memos/{id}/document route: the memo as the customer receives
/// it, HTML or PDF.
#[utoipa::path(
    tag = "credit memos",
    params(("id" = Uuid, Path, description = "Credit memo id"), DocumentQuery),
    responses(
        (status = 200, description = "The document", content(
            (String = "text/html"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/credit-memos/{id}/document")]
pub async fn credit_memo_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<DocumentQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let memo = store::find(&mut conn, id.into_inner()).await?;
    let lines = store::lines_of(&mut conn, memo.id).await?;
    let account = crate::accounts::store::find_visible(&mut conn, memo.account_id, None).await?;
    let applications = store::application_views(&conn, Some(&[memo.id]), None).await?;
    let sheet = document::sheet(&memo, &lines, &account, &applications, &state.config.seller);
    let name = memo
        .number
        .clone()
        .unwrap_or_else(|| format!("draft-{}", memo.id));
    Ok(crate::invoices::document::respond(
        &sheet,
        query.0.format,
        &name,
    ))
}
