//! HTTP handlers of service orders: make one by hand, send, complete, cancel, read, list.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{CancelOrder, CompleteOrder, NewOrder, OrderFilter, OrderView};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey, OptionalJson};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

/// The fingerprint of a POST to `/v1/service-orders/{id}/{verb}`.
fn move_fingerprint(
    id: Uuid,
    verb: &str,
    body: &impl serde::Serialize,
) -> Result<String, ApiError> {
    idempotency::fingerprint("POST", &format!("/v1/service-orders/{id}/{verb}"), body)
}

/// Handles the POST /v1/service-orders route: an order made by hand. 409 when one of its
/// kind is already open for the account (and contract).
#[utoipa::path(
    tag = "collections",
    request_body = NewOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The order was created, pending", body = OrderView),
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
#[post("/service-orders")]
pub async fn create_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewOrder>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ServiceOrdersWrite)?;
    let new = body.0;
    let mut e = Errors::default();
    e.text("reason", &new.reason, 2000);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/service-orders", &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create_manual(conn, &ctx, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/service-orders/{id}/send route: the order went to the field team or
/// provisioning (pending → sent).
#[utoipa::path(
    tag = "collections",
    params(
        ("id" = Uuid, Path, description = "Service order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The order, sent", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []))
)]
#[post("/service-orders/{id}/send")]
pub async fn send_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ServiceOrdersWrite)?;
    let id = id.into_inner();
    let fingerprint = move_fingerprint(id, "send", &())?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::send(conn, &ctx, id).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/service-orders/{id}/complete route: the work was done (sent →
/// completed). A suspension suspends the account and its active contracts; a termination
/// terminates them and orders the pick-up of their equipment; a restore resumes them; a
/// pick-up marks the equipment removed.
#[utoipa::path(
    tag = "collections",
    request_body(content = Option<CompleteOrder>),
    params(
        ("id" = Uuid, Path, description = "Service order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The order, completed", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/service-orders/{id}/complete")]
pub async fn complete_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<CompleteOrder>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ServiceOrdersWrite)?;
    let on = body.0.completed_on.unwrap_or(ctx.now.date());
    let id = id.into_inner();
    let fingerprint = move_fingerprint(id, "complete", &body.0)?;
    let settings = &state.config.billing;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::complete(conn, &ctx, settings, id, on).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/service-orders/{id}/cancel route: the order is not to be carried out
/// (pending or sent → cancelled); equipment awaiting its pick-up is no longer.
#[utoipa::path(
    tag = "collections",
    request_body = CancelOrder,
    params(
        ("id" = Uuid, Path, description = "Service order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The order, cancelled", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/service-orders/{id}/cancel")]
pub async fn cancel_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<CancelOrder>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let mut e = Errors::default();
    e.text("reason", &request.reason, 2000);
    e.finish()?;
    ctx.require(Permission::ServiceOrdersWrite)?;
    let id = id.into_inner();
    let fingerprint = move_fingerprint(id, "cancel", &request)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::cancel(conn, &ctx, id, &request).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/service-orders/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Service order id")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/service-orders/{id}")]
pub async fn get_order(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(row)))
}

/// Handles the GET /v1/service-orders route: orders in creation order, filtered.
#[utoipa::path(
    tag = "collections",
    params(OrderFilter, PageParams),
    responses(
        (status = 200, description = "A page of orders", body = Page<OrderView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/service-orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<OrderFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, OrderView::from)))
}
