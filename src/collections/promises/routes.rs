//! HTTP handlers of promises to pay: make, cancel, read, list.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{CancelPromise, NewPromise, PromiseFilter, PromiseView};
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

/// Handles the POST /v1/collections/promises route: records a promise to pay (or a payment
/// arrangement of several instalments) for past-due invoices. The total may not exceed the
/// account's undisputed past-due balance; the account has at most one active promise. Its
/// past-due invoices are not dunned while the promise is active.
#[utoipa::path(
    tag = "collections",
    request_body = NewPromise,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The promise was recorded", body = PromiseView),
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
#[post("/collections/promises")]
pub async fn create_promise(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPromise>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsWrite)?;
    let new = body.0;
    let grace = new
        .grace_days
        .unwrap_or(state.config.collections.promise_grace_days);
    let mut e = Errors::default();
    if !(0..=60).contains(&grace) {
        e.add("grace_days", "out_of_range", "must be 0 to 60");
    }
    e.optional_text("note", new.note.as_deref(), 2000);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/promises", &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &ctx, &new, grace).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/collections/promises/{id}/cancel route: withdraws an active promise;
/// dunning of its invoices resumes.
#[utoipa::path(
    tag = "collections",
    request_body = CancelPromise,
    params(
        ("id" = Uuid, Path, description = "Promise id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The promise, cancelled", body = PromiseView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/collections/promises/{id}/cancel")]
pub async fn cancel_promise(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<CancelPromise>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsWrite)?;
    let request = body.0;
    let mut e = Errors::default();
    e.text("reason", &request.reason, 2000);
    e.finish()?;
    let id = id.into_inner();
    let path = format!("/v1/collections/promises/{id}/cancel");
    let fingerprint = idempotency::fingerprint("POST", &path, &request)?;
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

/// Handles the GET /v1/collections/promises/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Promise id")),
    responses(
        (status = 200, description = "The promise", body = PromiseView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/promises/{id}")]
pub async fn get_promise(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(store::view(&mut conn, row).await?))
}

/// Handles the GET /v1/collections/promises route: promises in creation order, filtered.
#[utoipa::path(
    tag = "collections",
    params(PromiseFilter, PageParams),
    responses(
        (status = 200, description = "A page of promises", body = Page<PromiseView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/promises")]
pub async fn list_promises(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<PromiseFilter>,
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
