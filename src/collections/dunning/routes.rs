//! HTTP handlers of dunning policies: create, list, read (at a version) and change (making a
//! new version).

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{NewPolicy, PolicyPatch, PolicyView, VersionQuery};
use super::rules::{check_policy_fields, step_rows};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::state::AppState;
use crate::validate::Errors;

/// Handles the POST /v1/collections/dunning-policies route: creates a policy at version 1.
#[utoipa::path(
    tag = "collections",
    request_body = NewPolicy,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The policy was created", body = PolicyView),
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
#[post("/collections/dunning-policies")]
pub async fn create_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    let id = Uuid::now_v7();
    let mut e = Errors::default();
    check_policy_fields(&new.name, new.segment.as_deref(), &mut e);
    let steps = step_rows(id, 1, &new.steps, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/dunning-policies", &new)?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &ctx, id, &new, &steps).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/dunning-policies route: every policy at its newest
/// version, by name.
#[utoipa::path(
    tag = "collections",
    responses(
        (status = 200, description = "The policies", body = Vec<PolicyView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/dunning-policies")]
pub async fn list_policies(state: web::Data<AppState>, ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let views = store::views(&mut conn).await?;
    Ok(HttpResponse::Ok().json(views))
}

/// Handles the GET /v1/collections/dunning-policies/{id} route: a policy at its newest
/// version, or at `version`.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Policy id"), VersionQuery),
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/dunning-policies/{id}")]
pub async fn get_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    let latest = row.version;
    let version = query.0.version.unwrap_or(latest);
    if !(1..=latest).contains(&version) {
        return Err(ApiError::NotFound("dunning policy version"));
    }
    let view = store::view(&mut conn, row, version).await?;
    Ok(versioned(StatusCode::OK, latest, &view))
}

/// Handles the PATCH /v1/collections/dunning-policies/{id} route: makes a new version with
/// the changes; steps given replace the steps. Earlier versions stay readable.
#[utoipa::path(
    tag = "collections",
    request_body = PolicyPatch,
    params(
        ("id" = Uuid, Path, description = "Policy id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed"),
    ),
    responses(
        (status = 200, description = "The policy at its new version", body = PolicyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/collections/dunning-policies/{id}")]
pub async fn update_policy(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<PolicyPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let view = conn
        .transaction(async |conn| service::update(conn, &ctx, id, &patch, &expected).await)
        .await?;
    Ok(versioned(StatusCode::OK, view.version, &view))
}
