//! HTTP handlers of collection goals.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{
    CollectionGoalFilter, CollectionGoalPatch, CollectionGoalView, NewCollectionGoal,
};
use super::{rules, service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/collections/goals route: sets a monthly collection goal of a
/// collector (the token subject collection profiles name) or a team, for a month and a
/// currency: a target amount collected and/or a target share past due at the month's end
/// (at least one). One goal per collector or team, month and currency (409 `goal_exists`).
#[utoipa::path(
    tag = "collections",
    request_body = NewCollectionGoal,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The goal was set", body = CollectionGoalView),
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
#[post("/collections/goals")]
pub async fn create_collection_goal(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewCollectionGoal>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionGoalsWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/goals", &new)?;
    let month = rules::check_new(&new)?;
    let row = new.into_row(month, &ctx.principal.subject, ctx.now);
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &row).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/goals route: goals in creation order, by month (`YYYY-MM`),
/// collector or team.
#[utoipa::path(
    tag = "collections",
    params(CollectionGoalFilter, PageParams),
    responses(
        (status = 200, description = "A page of goals", body = Page<CollectionGoalView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/collections/goals")]
pub async fn list_collection_goals(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<CollectionGoalFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let f = &filter.0;
    let month = rules::month_filter(&f.month)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (collector, team) = (f.collector.as_deref(), f.team.as_deref());
    let rows = store::list(&mut conn, month, collector, team, page.0.after()?, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id, CollectionGoalView::from);
    Ok(HttpResponse::Ok().json(page))
}

/// Handles the GET /v1/collections/goals/{id} route.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Goal id")),
    responses(
        (status = 200, description = "The goal; its version is the ETag", body = CollectionGoalView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/goals/{id}")]
pub async fn get_collection_goal(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    let version = row.version;
    Ok(versioned(
        StatusCode::OK,
        version,
        &CollectionGoalView::from(row),
    ))
}

/// Handles the PATCH /v1/collections/goals/{id} route: changes a goal's targets under
/// optimistic concurrency (`null` clears one; one must remain). Who, month and currency stay.
#[utoipa::path(
    tag = "collections",
    request_body = CollectionGoalPatch,
    params(
        ("id" = Uuid, Path, description = "Goal id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed goal", body = CollectionGoalView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/collections/goals/{id}")]
pub async fn update_collection_goal(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<CollectionGoalPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionGoalsWrite)?;
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
