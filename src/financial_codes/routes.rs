use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{
    validate, FinancialCodeFilter, FinancialCodePatch, FinancialCodeRow, FinancialCodeView,
    NewFinancialCode,
};
use super::store;
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::AppState;

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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let view = FinancialCodeView::from(store::insert(conn, &row).await?);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "financial_code.created",
                    entity_type: "financial_code",
                    entity_id: view.id,
                    account_id: None,
                    before: None,
                    after: Some(&view),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
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

/// Changes a code inside a transaction: lock, check the version, apply, validate, save, audit.
async fn change(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    expected: Expected,
    key: Option<&str>,
    action: &str,
    apply: impl FnOnce(&FinancialCodeRow) -> Result<FinancialCodeRow, ApiError> + Send,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = idempotency::fingerprint("POST", &format!("{action} {id}"), &())?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, ctx, key, &fingerprint).await? {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let current = store::lock(conn, id).await?;
            expected.check(current.version)?;
            let mut next = apply(&current)?;
            next.version = current.version + 1;
            next.updated_at = ctx.now;
            validate(&next)?;
            let before = FinancialCodeView::from(current);
            let after = FinancialCodeView::from(store::update(conn, &next).await?);
            audit::record(
                conn,
                ctx,
                Change {
                    action,
                    entity_type: "financial_code",
                    entity_id: id,
                    account_id: None,
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::OK, &after).await
        })
        .await?;
    Ok(stored.into_response())
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
    change(
        &state,
        &ctx,
        id.into_inner(),
        expected,
        None,
        "financial_code.updated",
        |current| {
            Ok(FinancialCodeRow {
                name: patch.name.unwrap_or_else(|| current.name.clone()),
                description: patch
                    .description
                    .unwrap_or_else(|| current.description.clone()),
                ..current.clone()
            })
        },
    )
    .await
}

fn set_active(
    active: bool,
) -> impl FnOnce(&FinancialCodeRow) -> Result<FinancialCodeRow, ApiError> + Send {
    move |current| {
        if current.active == active {
            let state = if active { "active" } else { "inactive" };
            return Err(ApiError::conflict(
                "no_change",
                format!("The code is already {state}."),
            ));
        }
        Ok(FinancialCodeRow {
            active,
            ..current.clone()
        })
    }
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
    change(
        &state,
        &ctx,
        id.into_inner(),
        expected,
        key.0.as_deref(),
        "financial_code.deactivated",
        set_active(false),
    )
    .await
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
    change(
        &state,
        &ctx,
        id.into_inner(),
        expected,
        key.0.as_deref(),
        "financial_code.activated",
        set_active(true),
    )
    .await
}
