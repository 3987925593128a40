//! HTTP handlers of equipment and meters.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{EquipmentPatch, EquipmentView, MeterView, NewEquipment, NewMeter};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// Handles the POST /v1/contracts/{id}/equipment route: installs equipment with its meters.
#[utoipa::path(
    tag = "equipment",
    request_body = NewEquipment,
    params(
        ("id" = Uuid, Path, description = "Contract id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The equipment and its meters", body = EquipmentView),
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
#[post("/contracts/{id}/equipment")]
pub async fn create_equipment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewEquipment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
    let contract_id = id.into_inner();
    let new = body.0;
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/contracts/{contract_id}/equipment"),
        &new,
    )?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::install(conn, &ctx, contract_id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/contracts/{id}/equipment route: the contract's equipment and meters.
#[utoipa::path(
    tag = "equipment",
    params(("id" = Uuid, Path, description = "Contract id"), PageParams),
    responses(
        (status = 200, description = "A page of equipment", body = Page<EquipmentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/contracts/{id}/equipment")]
pub async fn list_equipment(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: crate::extract::ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let limit = page.0.limit()?;
    let contract_id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    crate::contracts::store::find(&mut conn, contract_id).await?;
    let rows = store::list(&mut conn, contract_id, page.0.after()?, limit).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let (meters, plans) = store::meters_of(&mut conn, &ids).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        |r| EquipmentView::new(r, &meters, &plans),
    )))
}

/// Handles the GET /v1/equipment/{id} route.
#[utoipa::path(
    tag = "equipment",
    params(("id" = Uuid, Path, description = "Equipment id")),
    responses(
        (status = 200, description = "The equipment and its meters; its version is the ETag", body = EquipmentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/equipment/{id}")]
pub async fn get_equipment(
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

/// Handles the PATCH /v1/equipment/{id} route: make, model, address, removal, pick-up.
#[utoipa::path(
    tag = "equipment",
    request_body = EquipmentPatch,
    params(
        ("id" = Uuid, Path, description = "Equipment id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed equipment", body = EquipmentView),
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
#[patch("/equipment/{id}")]
pub async fn update_equipment(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<EquipmentPatch>,
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

/// Handles the POST /v1/equipment/{id}/meters route: adds a meter with its plan.
#[utoipa::path(
    tag = "equipment",
    request_body = NewMeter,
    params(
        ("id" = Uuid, Path, description = "Equipment id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The meter", body = MeterView),
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
#[post("/equipment/{id}/meters")]
pub async fn create_meter(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewMeter>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
    let new = body.0;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/equipment/{id}/meters"), &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::add_meter(conn, &ctx, id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/meters/{id} route: the meter and its plans over time.
#[utoipa::path(
    tag = "equipment",
    params(("id" = Uuid, Path, description = "Meter id")),
    responses(
        (status = 200, description = "The meter", body = MeterView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/meters/{id}")]
pub async fn get_meter(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let meter = store::find_meter(&mut conn, id.into_inner()).await?;
    let plans = store::plans_of(&mut conn, &[meter.id]).await?;
    Ok(HttpResponse::Ok().json(MeterView::new(meter, plans)))
}
