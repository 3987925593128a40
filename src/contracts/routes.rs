//! HTTP handlers of contracts: create a draft, read, list, edit while draft, activate.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{ContractSummary, ContractView};
use super::requests::{ContractFilter, ContractPatch, NewContract};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/contracts route: creates a draft contract with its charges.
#[utoipa::path(
    tag = "contracts",
    request_body = NewContract,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The draft contract", body = ContractView),
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
#[post("/contracts")]
pub async fn create_contract(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewContract>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/contracts", &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &ctx, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/contracts route: contracts in creation order, filtered.
#[utoipa::path(
    tag = "contracts",
    params(ContractFilter, PageParams),
    responses(
        (status = 200, description = "A page of contracts", body = Page<ContractSummary>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/contracts")]
pub async fn list_contracts(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<ContractFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        ContractSummary::from,
    )))
}

/// Handles the GET /v1/contracts/{id} route: the contract, its charges and its history.
#[utoipa::path(
    tag = "contracts",
    params(("id" = Uuid, Path, description = "Contract id")),
    responses(
        (status = 200, description = "The contract; its version is the ETag", body = ContractView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/contracts/{id}")]
pub async fn get_contract(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    let version = row.version;
    Ok(versioned(
        StatusCode::OK,
        version,
        &store::view(&mut conn, row).await?,
    ))
}

/// Handles the PATCH /v1/contracts/{id} route: edits a draft under optimistic concurrency.
#[utoipa::path(
    tag = "contracts",
    request_body = ContractPatch,
    params(
        ("id" = Uuid, Path, description = "Contract id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed draft", body = ContractView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/contracts/{id}")]
pub async fn update_contract(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<ContractPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
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

/// Handles the POST /v1/contracts/{id}/activate route: a draft starts being billed.
///
/// Refused when the account is on credit hold or closed, or when the contract has neither a
/// recurring charge nor a meter.
#[utoipa::path(
    tag = "contracts",
    params(
        ("id" = Uuid, Path, description = "Contract id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being activated (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The active contract", body = ContractView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[post("/contracts/{id}/activate")]
pub async fn activate_contract(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
    let expected = Expected::optional(&req)?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/contracts/{id}/activate"), &())?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::activate(conn, &ctx, id, expected).await,
    )
    .await?;
    Ok(stored.into_response())
}
