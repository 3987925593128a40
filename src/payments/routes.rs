//! HTTP handlers of payments: record one (applying it by its remittance, oldest due first, or
//! not at all), apply it by hand, reverse an application, refund, return, read and list.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::PaymentView;
use super::requests::{
    NewApplication, NewPayment, NewRefund, PaymentFilter, ReturnPayment, ReverseApplication,
};
use super::rules;
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the POST /v1/payments route: records a payment and applies it.
///
/// With a remittance, each line pays the invoice it names (by id or number); a line paying
/// less than the undisputed balance leaves a deduction with its reason. Without one, `auto`
/// (the default) pays the account's open invoices oldest due date first, then oldest invoice
/// date, skipping disputed amounts; `none` leaves it all unapplied. Whatever is not applied
/// stays as unapplied cash on the account.
#[utoipa::path(
    tag = "payments",
    request_body = NewPayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The payment, with its applications and deductions", body = PaymentView),
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
#[post("/payments")]
pub async fn create_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPayment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let new = body.0;
    let mut e = Errors::default();
    let mode = rules::check_new(&new, ctx.now.date(), &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/payments", &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::record(conn, &ctx, &new, mode).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/payments/{id}/applications route: applies part of the payment's
/// unapplied amount to an invoice of its account.
///
/// Refused (422 naming the field) above the payment's unapplied amount or the invoice's
/// balance, for another account's invoice, another currency, a draft, void or written-off
/// invoice; 409 for a returned payment.
#[utoipa::path(
    tag = "payments",
    request_body = NewApplication,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The payment with the new application", body = PaymentView),
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
#[post("/payments/{id}/applications")]
pub async fn create_application(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewApplication>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    let field = match (&new.invoice_id, &new.invoice_number) {
        (Some(_), None) => "invoice_id",
        (None, Some(n)) => {
            e.text("invoice_number", n, 40);
            "invoice_number"
        }
        _ => {
            e.add(
                "invoice_id",
                "one_of",
                "give exactly one of invoice_id and invoice_number",
            );
            "invoice_id"
        }
    };
    rules::check_amount("amount", new.amount, None, &mut e);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/payments/{id}/applications"), &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::apply(conn, &ctx, id, &new, field).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/payments/{id}/applications/{application_id}/reverse route: reverses
/// one application. The application stays in the history, dated and with the reason; the
/// amount goes back to the invoice's balance (reopening it) and to the payment's unapplied
/// cash. Open deductions the payment left on that invoice are cancelled.
#[utoipa::path(
    tag = "payments",
    request_body = ReverseApplication,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("application_id" = Uuid, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The payment with the application reversed", body = PaymentView),
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
#[post("/payments/{id}/applications/{application_id}/reverse")]
pub async fn reverse_application(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<ReverseApplication>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let (id, application_id) = path.into_inner();
    let reverse = body.0;
    let mut e = Errors::default();
    e.text("reason", &reverse.reason, 500);
    e.finish()?;
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/payments/{id}/applications/{application_id}/reverse"),
        &reverse,
    )?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::reverse_application(conn, &ctx, id, application_id, &reverse).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/payments/{id}/refunds route: sends part of the payment's unapplied
/// amount back to the customer (never more than is unapplied).
#[utoipa::path(
    tag = "payments",
    request_body = NewRefund,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The payment with the refund", body = PaymentView),
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
#[post("/payments/{id}/refunds")]
pub async fn create_refund(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewRefund>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRefund)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    rules::check_amount("amount", new.amount, None, &mut e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.optional_text("reason", new.reason.as_deref(), 500);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/payments/{id}/refunds"), &new)?;
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

/// Handles the POST /v1/payments/{id}/return route: the bank gave the payment back (NSF, ACH
/// return with its code, chargeback).
///
/// Every application is reversed and those invoices reopen; the deductions it left are
/// cancelled; the money comes off the account; with `charge_fee`, the configured
/// returned-payment fee is billed on a new issued invoice. The payment counts in the
/// account's returned-payment history and can no longer be applied or refunded. A payment
/// with refunds cannot be returned (409).
#[utoipa::path(
    tag = "payments",
    request_body = ReturnPayment,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The returned payment", body = PaymentView),
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
#[post("/payments/{id}/return")]
pub async fn return_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<ReturnPayment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let how = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    e.optional_text("return_code", how.return_code.as_deref(), 20);
    e.optional_text("note", how.note.as_deref(), 1000);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", &format!("/v1/payments/{id}/return"), &how)?;
    let fee = state.config.payments.returned_payment_fee.as_ref();
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| {
            service::return_payment(conn, &ctx, id, &how, fee, &state.config.billing.numbering)
                .await
        },
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/payments/{id} route: the payment with its applications (reversed ones
/// too), refunds, deductions and return.
#[utoipa::path(
    tag = "payments",
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/payments/{id}")]
pub async fn get_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(store::view(&mut conn, row).await?))
}

/// Handles the GET /v1/payments route: payments, newest first, filtered.
#[utoipa::path(
    tag = "payments",
    params(PaymentFilter, PageParams),
    responses(
        (status = 200, description = "A page of payments", body = Page<PaymentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/payments")]
pub async fn list_payments(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<PaymentFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    let views = store::views(&conn, rows).await?;
    let page = Page::from_rows(views, limit, |v: &PaymentView| v.id, |v| v);
    Ok(HttpResponse::Ok().json(page))
}
