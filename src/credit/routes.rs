//! HTTP handlers of credit management: reviews and their decisions, reviews due, an account's
//! credit standing, and credit holds.

use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use super::model::{
    CreditProfile, Decision, DueAccount, DueFilter, HoldView, NewReview, PlaceHold, ReleaseHold,
    ReviewFilter, ReviewView,
};
use super::rules::Verdict;
use super::service::{self, Job};
use super::store;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey, OptionalJson};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

fn job(state: &AppState) -> Job {
    Job::of(&state.config)
}

/// Handles the POST /v1/accounts/{id}/credit-reviews route: asks for a credit review of the
/// account (a limit and terms). The service computes and stores with it the account's payment
/// history as of today, each figure explained.
#[utoipa::path(
    tag = "credit",
    request_body = NewReview,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The review, pending a decision", body = ReviewView),
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
#[post("/accounts/{id}/credit-reviews")]
pub async fn create_credit_review(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewReview>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditReviewsRequest)?;
    let (id, new, job) = (id.into_inner(), body.0, job(&state));
    let path = format!("/v1/accounts/{id}/credit-reviews");
    let fingerprint = idempotency::fingerprint("POST", &path, &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::open_review(conn, &ctx, &job, id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/accounts/{id}/credit-reviews route: the account's reviews, oldest first.
#[utoipa::path(
    tag = "credit",
    params(("id" = Uuid, Path, description = "Account id"), PageParams),
    responses(
        (status = 200, description = "A page of the account's reviews", body = Page<ReviewView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/credit-reviews")]
pub async fn list_account_credit_reviews(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let (limit, after) = (page.0.limit()?, page.0.after::<Uuid>()?);
    let mut conn = crate::db::conn(&state.pool).await?;
    let account =
        crate::accounts::store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope())
            .await?;
    let filter = ReviewFilter {
        account_id: Some(account.id),
        ..Default::default()
    };
    let rows = store::list_reviews(&mut conn, &filter, None, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, ReviewView::from)))
}

/// Handles the GET /v1/credit-reviews route: reviews in creation order, filtered (`status=pending`
/// is the analysts' queue).
#[utoipa::path(
    tag = "credit",
    params(ReviewFilter, PageParams),
    responses(
        (status = 200, description = "A page of reviews", body = Page<ReviewView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/credit-reviews")]
pub async fn list_credit_reviews(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<ReviewFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let (limit, after) = (page.0.limit()?, page.0.after::<Uuid>()?);
    let mut conn = crate::db::conn(&state.pool).await?;
    let partner = ctx.partner_scope();
    let rows = store::list_reviews(&mut conn, &filter.0, partner, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, ReviewView::from)))
}

/// Handles the GET /v1/credit-reviews/{id} route.
#[utoipa::path(
    tag = "credit",
    params(("id" = Uuid, Path, description = "Credit review id")),
    responses(
        (status = 200, description = "The review", body = ReviewView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/credit-reviews/{id}")]
pub async fn get_credit_review(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_review(&mut conn, id.into_inner(), ctx.partner_scope(), false).await?;
    Ok(HttpResponse::Ok().json(ReviewView::from(row)))
}

/// One decision on a review, as its three routes take it.
async fn decide(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: Uuid,
    decision: Decision,
    verdict: Verdict,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditReviewsDecide)?;
    let mut e = Errors::default();
    e.optional_text("note", decision.note.as_deref(), 2000);
    e.finish()?;
    let path = format!("/v1/credit-reviews/{id}/{}", verdict.route());
    let fingerprint = idempotency::fingerprint("POST", &path, &decision)?;
    let job = job(&state);
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::decide(conn, &ctx, &job, id, verdict, &decision).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/credit-reviews/{id}/approve route: sets the requested limit and terms
/// on the account (audited) and its next review date. Needs authority for the limit (and
/// unlimited authority for a terms exception or an escalated review); the requester cannot.
#[utoipa::path(
    tag = "credit",
    request_body(content = Option<Decision>),
    params(
        ("id" = Uuid, Path, description = "Credit review id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The review, approved", body = ReviewView),
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
#[post("/credit-reviews/{id}/approve")]
pub async fn approve_credit_review(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<Decision>,
) -> Result<HttpResponse, ApiError> {
    decide(state, ctx, key, id.into_inner(), body.0, Verdict::Approve).await
}

/// Handles the POST /v1/credit-reviews/{id}/decline route: the account keeps its limit and
/// terms; its next review date moves on.
#[utoipa::path(
    tag = "credit",
    request_body(content = Option<Decision>),
    params(
        ("id" = Uuid, Path, description = "Credit review id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The review, declined", body = ReviewView),
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
#[post("/credit-reviews/{id}/decline")]
pub async fn decline_credit_review(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<Decision>,
) -> Result<HttpResponse, ApiError> {
    decide(state, ctx, key, id.into_inner(), body.0, Verdict::Decline).await
}

/// Handles the POST /v1/credit-reviews/{id}/escalate route: leaves a pending review to a role
/// with unlimited authority.
#[utoipa::path(
    tag = "credit",
    request_body(content = Option<Decision>),
    params(
        ("id" = Uuid, Path, description = "Credit review id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The review, escalated", body = ReviewView),
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
#[post("/credit-reviews/{id}/escalate")]
pub async fn escalate_credit_review(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<Decision>,
) -> Result<HttpResponse, ApiError> {
    decide(state, ctx, key, id.into_inner(), body.0, Verdict::Escalate).await
}

/// Handles the GET /v1/credit/due-reviews route: accounts whose next review date is on or
/// before `as_of` (default today), with the periodic review open for each, if any.
#[utoipa::path(
    tag = "credit",
    params(DueFilter, PageParams),
    responses(
        (status = 200, description = "A page of accounts due for review", body = Page<DueAccount>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/credit/due-reviews")]
pub async fn list_due_reviews(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<DueFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let (limit, after) = (page.0.limit()?, page.0.after::<Uuid>()?);
    let mut e = crate::validate::Errors::default();
    crate::validate::check_business_date("as_of", filter.0.as_of, &mut e);
    e.finish()?;
    let as_of = filter.0.as_of.unwrap_or(ctx.today());
    let settings = &state.config.credit_management;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::due(
        &mut conn,
        as_of,
        settings,
        ctx.partner_scope(),
        after,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.account_id, |r| r)))
}

/// Handles the GET /v1/accounts/{id}/credit route: the account's credit standing — exposure
/// against its limit, the hold in force, the next review date.
#[utoipa::path(
    tag = "credit",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account's credit standing", body = CreditProfile),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/credit")]
pub async fn get_credit_profile(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let account =
        crate::accounts::store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope())
            .await?;
    let settings = &state.config.credit_management;
    Ok(HttpResponse::Ok().json(service::profile(&mut conn, account, settings).await?))
}

/// Handles the GET /v1/accounts/{id}/credit-holds route: the account's holds, newest first.
#[utoipa::path(
    tag = "credit",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account's holds", body = Vec<HoldView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/credit-holds")]
pub async fn list_credit_holds(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let account =
        crate::accounts::store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope())
            .await?;
    let holds = store::holds_of(&mut conn, account.id).await?;
    Ok(HttpResponse::Ok().json(holds.into_iter().map(HoldView::from).collect::<Vec<_>>()))
}

/// Handles the POST /v1/accounts/{id}/credit-holds route: puts the account on credit hold with
/// a reason. New contracts, upgrades and manual invoices are refused (409 `credit_hold`) until
/// it is released.
#[utoipa::path(
    tag = "credit",
    request_body = PlaceHold,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The hold, in force", body = HoldView),
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
#[post("/accounts/{id}/credit-holds")]
pub async fn place_credit_hold(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<PlaceHold>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditHoldsWrite)?;
    let (id, hold) = (id.into_inner(), body.0);
    let mut e = Errors::default();
    e.text("reason", &hold.reason, 500);
    e.finish()?;
    let path = format!("/v1/accounts/{id}/credit-holds");
    let fingerprint = idempotency::fingerprint("POST", &path, &hold)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::place_hold_on(conn, &ctx, id, &hold.reason).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/accounts/{id}/credit-holds/release route: releases the hold in force
/// (audited); the account's credit status becomes `good`.
#[utoipa::path(
    tag = "credit",
    request_body(content = Option<ReleaseHold>),
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The hold, released", body = HoldView),
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
#[post("/accounts/{id}/credit-holds/release")]
pub async fn release_credit_hold(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<ReleaseHold>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditHoldsWrite)?;
    let (id, release) = (id.into_inner(), body.0);
    let mut e = Errors::default();
    e.optional_text("note", release.note.as_deref(), 2000);
    e.finish()?;
    let path = format!("/v1/accounts/{id}/credit-holds/release");
    let fingerprint = idempotency::fingerprint("POST", &path, &release)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::release_hold(conn, &ctx, id, release.note.as_deref()).await,
    )
    .await?;
    Ok(stored.into_response())
}
