//! HTTP handlers of agency placements: place, record a recovery, recall, read, list.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{NewPlacement, NewRecovery, PlacementFilter, PlacementView, Recall};
use super::{rules, service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the POST /v1/collections/placements route: places the account's past-due
/// invoices (their undisputed balances) with an agency. 409 when the account is already
/// with an agency, written off, or has an active promise.
#[utoipa::path(
    tag = "collections",
    request_body = NewPlacement,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The placement", body = PlacementView),
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
#[post("/collections/placements")]
pub async fn create_placement(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPlacement>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    let today = ctx.now.date();
    let placed_on = new.placed_on.unwrap_or(today);
    let mut e = Errors::default();
    rules::check_placement(&new, placed_on, today, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/placements", &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &ctx, &new, placed_on).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/collections/placements/{id}/recoveries route: records what the
/// agency collected as a payment on the account (applied oldest due first) and the agency's
/// commission on it.
#[utoipa::path(
    tag = "collections",
    request_body = NewRecovery,
    params(
        ("id" = Uuid, Path, description = "Placement id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The placement with the recovery", body = PlacementView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/placements/{id}/recoveries")]
pub async fn create_recovery(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewRecovery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    ctx.require(Permission::CollectionsWrite)?;
    let id = id.into_inner();
    let new = body.0;
    let received = new.received_date.unwrap_or(ctx.now.date());
    let mut e = Errors::default();
    crate::payments::rules::check_amount("amount", new.amount, None, &mut e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.finish()?;
    let path = format!("/v1/collections/placements/{id}/recoveries");
    let fingerprint = idempotency::fingerprint("POST", &path, &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::recover(conn, &ctx, id, &new, received).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/collections/placements/{id}/recall route: takes the account back from
/// the agency; it returns to dunning while anything is past due.
#[utoipa::path(
    tag = "collections",
    request_body = Recall,
    params(
        ("id" = Uuid, Path, description = "Placement id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The placement, recalled", body = PlacementView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/placements/{id}/recall")]
pub async fn recall_placement(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<Recall>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let request = body.0;
    let mut e = Errors::default();
    e.text("reason", &request.reason, 2000);
    e.finish()?;
    let id = id.into_inner();
    let path = format!("/v1/collections/placements/{id}/recall");
    let fingerprint = idempotency::fingerprint("POST", &path, &request)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::recall(conn, &ctx, id, &request).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/placements/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Placement id")),
    responses(
        (status = 200, description = "The placement", body = PlacementView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/placements/{id}")]
pub async fn get_placement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(store::view(&mut conn, row).await?))
}

/// Handles the GET /v1/collections/placements route: placements in creation order.
#[utoipa::path(
    tag = "collections",
    params(PlacementFilter, PageParams),
    responses(
        (status = 200, description = "A page of placements", body = Page<PlacementView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/placements")]
pub async fn list_placements(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<PlacementFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, after, limit).await?;
    let views = store::views(&mut conn, rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(views, limit, |v| v.id, |v| v)))
}
