use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{
    validate, FinancialCodeFilter, FinancialCodePatch, FinancialCodeRow, FinancialCodeView,
    NewFinancialCode,
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

/// Handles the POST /v1/financial-codes route: adds a code to the chart.
#[utoipa::path(
    tag = "financial-codes",
    request_body = NewFinancialCode,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The code was created", body = FinancialCodeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/financial-codes")]
pub async fn create_financial_code(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewFinancialCode>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::FinancialCodesWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/financial-codes", &new)?;
    let now = ctx.now;
    let row = FinancialCodeRow {
        id: Uuid::now_v7(),
        code: new.code,
        name: new.name,
        kind: new.kind,
        description: new.description,
        active: true,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    validate(&row)?;
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

/// Handles the GET /v1/financial-codes route: the chart of codes.
#[utoipa::path(
    tag = "financial-codes",
    params(FinancialCodeFilter, PageParams),
    responses(
        (status = 200, description = "A page of financial codes", body = Page<FinancialCodeView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/financial-codes")]
pub async fn list_financial_codes(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<FinancialCodeFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::FinancialCodesRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        FinancialCodeView::from,
    )))
}

/// Handles the GET /v1/financial-codes/{id} route.
#[utoipa::path(
    tag = "financial-codes",
    params(("id" = Uuid, Path, description = "Financial code id")),
    responses(
        (status = 200, description = "The financial code; its version is the ETag", body = FinancialCodeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/financial-codes/{id}")]
pub async fn get_financial_code(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::FinancialCodesRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        row.version,
        &FinancialCodeView::from(row),
    ))
}

/// Handles the PATCH /v1/financial-codes/{id} route: renames or re-describes a code.
#[utoipa::path(
    tag = "financial-codes",
    request_body = FinancialCodePatch,
    params(
        ("id" = Uuid, Path, description = "Financial code id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed code", body = FinancialCodeView),
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
#[patch("/financial-codes/{id}")]
pub async fn update_financial_code(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<FinancialCodePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::FinancialCodesWrite)?;
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let id = id.into_inner();
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update(conn, &ctx, id, patch, expected).await
    })
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/financial-codes/{id}/deactivate route: retires a code. Codes are never
/// deleted; documents that carry it keep it.
#[utoipa::path(
    tag = "financial-codes",
    params(
        ("id" = Uuid, Path, description = "Financial code id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The deactivated code", body = FinancialCodeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[post("/financial-codes/{id}/deactivate")]
pub async fn deactivate_financial_code(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::FinancialCodesWrite)?;
    let expected = Expected::optional(&req)?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("financial_code.deactivated {id}"), &())?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::set_active(conn, &ctx, id, false, expected).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/financial-codes/{id}/activate route: brings a retired code back.
#[utoipa::path(
    tag = "financial-codes",
    params(
        ("id" = Uuid, Path, description = "Financial code id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The reactivated code", body = FinancialCodeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[post("/financial-codes/{id}/activate")]
pub async fn activate_financial_code(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::FinancialCodesWrite)?;
    let expected = Expected::optional(&req)?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("financial_code.activated {id}"), &())?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::set_active(conn, &ctx, id, true, expected).await,
    )
    .await?;
    Ok(stored.into_response())
}
