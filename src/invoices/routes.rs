//! HTTP handlers of invoices: manual drafts (create, edit, delete), issue, void, read, list.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{
    InvoiceFilter, InvoicePatch, InvoiceSort, InvoiceView, IssueInvoice, NewInvoice, VoidInvoice,
};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey, OptionalJson};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the POST /v1/invoices route: a manual invoice for one-off charges, as a draft.
#[utoipa::path(
    tag = "invoices",
    request_body = NewInvoice,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The draft invoice", body = InvoiceView),
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
#[post("/invoices")]
pub async fn create_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewInvoice>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/invoices", &new)?;
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

/// Handles the PATCH /v1/invoices/{id} route: edits a draft (lines of manual drafts only).
#[utoipa::path(
    tag = "invoices",
    request_body = InvoicePatch,
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed draft", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/invoices/{id}")]
pub async fn update_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<InvoicePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesWrite)?;
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

/// Handles the DELETE /v1/invoices/{id} route: deletes a draft.
///
/// A draft made by a billing run gives its contract's periods back: its recurring and meter
/// periods become due again (the estimates made for them go), the re-rates it made are
/// undone, amendments it was the first invoice after are flagged again, and its review tasks
/// are cancelled; the next run bills them again (rebill after a contract correction). Refused
/// (409 `later_periods_billed`) while a later period of one of its meters is on another
/// invoice.
#[utoipa::path(
    tag = "invoices",
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being deleted (optional)"),
    ),
    responses(
        (status = 204, description = "The draft was deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[delete("/invoices/{id}")]
pub async fn delete_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesWrite)?;
    let expected = Expected::optional(&req)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| service::delete(conn, &ctx, id, expected).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Handles the POST /v1/invoices/{id}/issue route: numbers, dates and posts a draft.
///
/// Takes the next number of the series (`INV-2026-000001`, gapless under concurrency), sets
/// the due date from the payment terms and posts the total to the ledger. Refused (422, naming
/// what is missing) when the account's presentment preferences are not met, e.g. a required
/// PO number, or when the total is negative.
#[utoipa::path(
    tag = "invoices",
    request_body(content = Option<IssueInvoice>),
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being issued (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The issued invoice", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/invoices/{id}/issue")]
pub async fn issue_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<IssueInvoice>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesIssue)?;
    let issue = body.0;
    let expected = match issue.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/invoices/{id}/issue"), &issue)?;
    let numbering = &state.config.billing.numbering;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::issue(conn, &ctx, id, &issue, expected, numbering).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/invoices/{id}/void route: voids an issued invoice with nothing
/// applied. The number stays used; the ledger reverses the balance.
#[utoipa::path(
    tag = "invoices",
    request_body = VoidInvoice,
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being voided (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The void invoice", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/invoices/{id}/void")]
pub async fn void_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<VoidInvoice>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesIssue)?;
    let void = body.0;
    let expected = match void.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let mut e = Errors::default();
    e.text("reason", &void.reason, 500);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint("POST", &format!("/v1/invoices/{id}/void"), &void)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::void(conn, &ctx, id, &void, expected).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/invoices/{id} route: the invoice, its lines and their meter facts.
#[utoipa::path(
    tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice; its version is the ETag", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/invoices/{id}")]
pub async fn get_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let conn = crate::db::conn(&state.pool).await?;
    let view = service::find_view(&conn, id.into_inner(), ctx.partner_scope(), ctx.today()).await?;
    Ok(versioned(StatusCode::OK, view.version, &view))
}

/// Handles the GET /v1/invoices route: invoices with their lines, filtered and sorted.
#[utoipa::path(
    tag = "invoices",
    params(InvoiceFilter, PageParams),
    responses(
        (status = 200, description = "A page of invoices (a partner token sees its own accounts' only)", body = Page<InvoiceView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/invoices")]
pub async fn list_invoices(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<InvoiceFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let limit = page.0.limit()?;
    let sort = filter.0.sort.unwrap_or(InvoiceSort::Created);
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(
        &mut conn,
        &filter.0,
        ctx.partner_scope(),
        page.0.after()?,
        limit,
        ctx.now.date(),
    )
    .await?;
    let cursors: HashMap<Uuid, String> = rows
        .iter()
        .map(|r| (r.id, store::cursor_of(r, sort)))
        .collect();
    let views = service::views(&conn, rows, ctx.today()).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        views,
        limit,
        |v| cursors[&v.id].clone(),
        |v| v,
    )))
}
