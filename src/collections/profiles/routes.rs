//! HTTP handlers of collections profiles and portfolio rules.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{CollectionsAccountView, NewRule, ProfilePatch, RuleView, RulesApplied};
use super::store::rules as rules_in_order;
use super::{rules, service};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::state::AppState;

/// Handles the GET /v1/collections/accounts/{id} route: the account's collections profile,
/// effective dunning policy, risk score with each factor's part, balances, active promise
/// and last contact.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account as collections see it", body = CollectionsAccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/collections/accounts/{id}")]
pub async fn get_collections_account(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let view = service::account_view(&mut conn, &state, id, ctx.today()).await?;
    Ok(versioned(StatusCode::OK, view.profile.version, &view))
}

/// Handles the PATCH /v1/collections/accounts/{id} route: assigns the collector by hand, sets
/// the segment, the account's own dunning policy and the do-not-dun flag (with its reason).
#[utoipa::path(
    tag = "collections",
    request_body = ProfilePatch,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the profile version being changed (optional)"),
    ),
    responses(
        (status = 200, description = "The account as collections now see it", body = CollectionsAccountView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[patch("/collections/accounts/{id}")]
pub async fn update_profile(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let patch = body.0;
    rules::check_patch(&patch)?;
    let expected = match patch.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| service::update(conn, &ctx, id, &patch, &expected).await)
        .await?;
    let view = service::account_view(&mut conn, &state, id, ctx.today()).await?;
    Ok(versioned(StatusCode::OK, view.profile.version, &view))
}

/// Handles the POST /v1/collections/assignment-rules route: adds a portfolio rule.
#[utoipa::path(
    tag = "collections",
    request_body = NewRule,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The rule was added", body = RuleView),
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
#[post("/collections/assignment-rules")]
pub async fn create_rule(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewRule>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let new = body.0;
    rules::check_new_rule(&new)?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/collections/assignment-rules", &new)?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create_rule(conn, &ctx, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/collections/assignment-rules route: the rules in the order tried.
#[utoipa::path(
    tag = "collections",
    responses(
        (status = 200, description = "The rules by position", body = Vec<RuleView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/collections/assignment-rules")]
pub async fn list_rules(state: web::Data<AppState>, ctx: Ctx) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = rules_in_order(&mut conn).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(RuleView::from).collect::<Vec<_>>()))
}

/// Handles the DELETE /v1/collections/assignment-rules/{id} route: removes a rule. Accounts
/// it assigned keep their collector until the rules are applied again.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Rule id")),
    responses(
        (status = 204, description = "The rule was removed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[delete("/collections/assignment-rules/{id}")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| service::delete_rule(conn, &ctx, id).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Handles the POST /v1/collections/assignment-rules/apply route: assigns every account not
/// assigned by hand to the collector of the first rule it matches (by partner, risk level
/// and open balance), or to none.
#[utoipa::path(
    tag = "collections",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 200, description = "The accounts whose collector changed", body = RulesApplied),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[post("/collections/assignment-rules/apply")]
pub async fn apply_rules(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsManage)?;
    let weights = &state.config.collections.risk;
    let fingerprint =
        idempotency::fingerprint("POST", "/v1/collections/assignment-rules/apply", &())?;
    let stored = idempotency::run(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::apply_rules(conn, &ctx, weights).await,
    )
    .await?;
    Ok(stored.into_response())
}
