//! `/v1/webhook-endpoints`: where the service sends its events (admin only).

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{
    DeliveryFilter, DeliveryView, EndpointPatch, EndpointView, EndpointWithSecret, NewEndpoint,
};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/webhook-endpoints route: registers an endpoint. The answer carries
/// its signing secret, shown only this once.
#[utoipa::path(
    tag = "webhooks",
    request_body = NewEndpoint,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The endpoint, with its signing secret", body = EndpointWithSecret),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/webhook-endpoints")]
pub async fn create_endpoint(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewEndpoint>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/webhook-endpoints", &new)?;
    let settings = &state.config.webhooks;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| {
            let created = service::create(conn, &ctx, new, settings).await?;
            Ok((StatusCode::CREATED, created))
        },
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/webhook-endpoints route.
#[utoipa::path(
    tag = "webhooks",
    params(PageParams),
    responses(
        (status = 200, description = "A page of webhook endpoints", body = Page<EndpointView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/webhook-endpoints")]
pub async fn list_endpoints(
    state: web::Data<AppState>,
    ctx: Ctx,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        |r| EndpointView::from(&r),
    )))
}

/// Handles the GET /v1/webhook-endpoints/{id} route.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses(
        (status = 200, description = "The endpoint; its version is the ETag", body = EndpointView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/webhook-endpoints/{id}")]
pub async fn get_endpoint(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        row.version,
        &EndpointView::from(&row),
    ))
}

/// Handles the PATCH /v1/webhook-endpoints/{id} route: changes the URL, the event types, the
/// description, or enables and disables the endpoint.
#[utoipa::path(
    tag = "webhooks",
    request_body = EndpointPatch,
    params(
        ("id" = Uuid, Path, description = "Webhook endpoint id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed endpoint", body = EndpointView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/webhook-endpoints/{id}")]
pub async fn update_endpoint(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<EndpointPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let (id, settings) = (id.into_inner(), &state.config.webhooks);
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update(conn, &ctx, id, patch, expected, settings).await
    })
    .await?;
    Ok(stored.into_response())
}

/// Handles the DELETE /v1/webhook-endpoints/{id} route: removes the endpoint with its
/// deliveries and their log; the events stay.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "Webhook endpoint id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being removed (optional)"),
    ),
    responses(
        (status = 204, description = "The endpoint was removed; the audit log keeps it"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[delete("/webhook-endpoints/{id}")]
pub async fn delete_endpoint(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let expected = Expected::optional(&req)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| service::delete(conn, &ctx, id, expected).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Handles the POST /v1/webhook-endpoints/{id}/rotate-secret route: a new signing secret,
/// shown only in this answer. The one it replaces signs deliveries beside it for 24 hours.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "Webhook endpoint id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The endpoint, with its new signing secret", body = EndpointWithSecret),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let expected = Expected::optional(&req)?;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint("POST", &format!("webhook_secret {id}"), &())?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| {
            let rotated = service::rotate_secret(conn, &ctx, id, expected).await?;
            Ok((StatusCode::OK, rotated))
        },
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/webhook-endpoints/{id}/deliveries route: the endpoint's deliveries,
/// newest first, each with its log of attempts.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Webhook endpoint id"), DeliveryFilter, PageParams),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<DeliveryView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    filter: ApiQuery<DeliveryFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let limit = page.0.limit()?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    store::find(&mut conn, id).await?;
    let rows = store::deliveries(&mut conn, id, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |(row, _, _)| row.seq,
        service::delivery_view,
    )))
}

/// Handles the POST /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/resend route: sends a
/// failed (or delivered) delivery again, with the same event id, at the next poll.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "Webhook endpoint id"),
        ("delivery_id" = Uuid, Path, description = "Delivery id"),
    ),
    responses(
        (status = 200, description = "The delivery, pending again", body = DeliveryView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []))
)]
#[post("/webhook-endpoints/{id}/deliveries/{delivery_id}/resend")]
pub async fn resend_delivery(
    state: web::Data<AppState>,
    ctx: Ctx,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::WebhooksManage)?;
    let (id, delivery_id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let view = conn
        .transaction(async |conn| service::resend(conn, &ctx, id, delivery_id).await)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
