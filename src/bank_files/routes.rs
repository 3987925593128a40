//! HTTP handlers of bank files: import one (its credits become matched payments, its returns
//! returns), read a file's match-rate report and transactions, work the suspense queue of
//! unidentified cash.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{
    AssignPayment, BankFileView, BankTransactionView, ImportParams, TransactionFilter,
};
use super::{service, store, upload};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/bank-files route: imports a bank file.
///
/// The body is the file (at most 20 MiB): BAI2 (`application/x-bai2`), camt.053 or camt.054
/// (`application/xml`; the root tells which), NACHA returns (`application/vnd.nacha`) or
/// lockbox CSV (`text/csv`); or any of them with `format=` (and `application/octet-stream`).
/// A malformed file, or one whose trailer totals or counts disagree with its records, is
/// refused whole (422 naming the line or XML path and the reason). Each credit becomes a
/// payment matched by the rules in order (remittance, references in the text, the payer and
/// the amount), or unidentified cash in the suspense queue; each return returns the payment
/// it names. The same file again is recognised by its SHA-256 and answered with its first
/// import (200); a transaction already reported by an earlier file records nothing again.
#[utoipa::path(
    tag = "bank files",
    request_body(
        description = "The bank file, at most 20 MiB",
        content(("application/x-bai2"), ("application/xml"), ("application/vnd.nacha"), ("text/csv"), ("application/octet-stream")),
    ),
    params(
        ImportParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The file is imported; its match-rate report", body = BankFileView),
        (status = 200, description = "The same file was imported before: that import", body = BankFileView),
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
#[post("")]
pub async fn import_bank_file(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    params: ApiQuery<ImportParams>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let content = upload::body(body)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = upload::format_of(content_type, params.0.format, &content)?;
    if content.is_empty() {
        return Err(ApiError::field("body", "required", "the file is empty"));
    }
    let file = content.clone();
    let entries = web::block(move || upload::read(format, &file))
        .await
        .map_err(ApiError::internal)?
        .map_err(upload::refusal)?;
    let fingerprint = format!(
        "POST /v1/bank-files {} {}",
        format.as_str(),
        crate::contracts::documents::sha256_hex(&content)
    );
    let setup = service::Setup {
        numbering: &state.config.billing.numbering,
        unmatched: state.config.bank_files.unmatched_cash,
        fee: state.config.payments.returned_payment_fee.as_ref(),
    };
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::import(conn, &ctx, &setup, format, &content, entries).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/bank-files route: imported files, newest first.
#[utoipa::path(
    tag = "bank files",
    params(PageParams),
    responses(
        (status = 200, description = "A page of bank files with their match-rate reports", body = Page<BankFileView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("")]
pub async fn list_bank_files(
    state: web::Data<AppState>,
    ctx: Ctx,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let (limit, after) = (page.0.limit()?, page.0.after::<Uuid>()?);
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list_files(&mut conn, after, limit).await?;
    let views = service::views(&mut conn, rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(views, limit, |v| v.id, |v| v)))
}

/// Handles the GET /v1/bank-files/{id} route: a file and its match-rate report (matched
/// automatically by rule, suggested, unidentified, returns; counts and amounts).
#[utoipa::path(
    tag = "bank files",
    params(("id" = Uuid, Path, description = "Bank file id")),
    responses(
        (status = 200, description = "The file and its match-rate report", body = BankFileView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/{id}")]
pub async fn get_bank_file(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let file = store::find_file(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(service::view(&mut conn, file).await?))
}

/// Handles the GET /v1/bank-files/{id}/transactions route: the file's transactions in file
/// order, each with its raw fields and what became of it (rule, confidence, explanation).
#[utoipa::path(
    tag = "bank files",
    params(("id" = Uuid, Path, description = "Bank file id"), TransactionFilter, PageParams),
    responses(
        (status = 200, description = "A page of the file's transactions", body = Page<BankTransactionView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/{id}/transactions")]
pub async fn list_bank_transactions(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    filter: ApiQuery<TransactionFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let (limit, after) = (page.0.limit()?, page.0.after::<Uuid>()?);
    let mut conn = crate::db::conn(&state.pool).await?;
    let file = store::find_file(&mut conn, id.into_inner()).await?;
    let rows = store::transactions(&mut conn, file.id, filter.0.outcome, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        BankTransactionView::from,
    )))
}

/// Handles the GET /v1/unidentified-payments route: the suspense queue, cash no rule could
/// tie to a payer, oldest first, each with ranked suggestions (account, invoices, reason).
#[utoipa::path(
    tag = "bank files",
    params(PageParams),
    responses(
        (status = 200, description = "A page of unidentified cash", body = Page<BankTransactionView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/unidentified-payments")]
pub async fn list_unidentified_payments(
    state: web::Data<AppState>,
    ctx: Ctx,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let (limit, after) = (page.0.limit()?, page.0.after::<Uuid>()?);
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::unidentified(&mut conn, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        BankTransactionView::from,
    )))
}

/// Handles the POST /v1/unidentified-payments/{id}/assign route: settles unidentified cash
/// by hand.
///
/// Records its payment on the account given, applied as asked (remittance, `auto` or
/// `none`, as `POST /v1/payments`), and learns the payer's bank account and name for that
/// account so that its next payment is identified. 409 when the cash is no longer
/// unidentified; 422 for an account in another currency.
#[utoipa::path(
    tag = "bank files",
    request_body = AssignPayment,
    params(
        ("id" = Uuid, Path, description = "Bank transaction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The transaction, assigned, with its payment", body = BankTransactionView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/unidentified-payments/{id}/assign")]
pub async fn assign_unidentified_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<AssignPayment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let how = body.0;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/unidentified-payments/{id}/assign"),
        &how,
    )?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::assign(conn, &ctx, id, &how).await,
    )
    .await?;
    Ok(stored.into_response())
}
