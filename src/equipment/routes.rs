//! HTTP handlers of equipment and meters.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{
    EquipmentPatch, EquipmentRow, EquipmentView, MeterRow, MeterView, NewEquipment, NewMeter,
    PlanRow,
};
use super::{rules, store};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::contracts::model::{ContractRow, ContractStatus};
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, Expected, IdempotencyKey};
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::readings::model::{ReadingRow, ReadingSource};
use crate::validate::Errors;
use crate::AppState;

fn refuse_ended(c: &ContractRow) -> Result<(), ApiError> {
    if matches!(
        c.status,
        ContractStatus::Terminated | ContractStatus::Expired
    ) {
        return Err(ApiError::conflict(
            "contract_ended",
            "The contract is terminated or expired; it takes no new equipment or meters.",
        ));
    }
    Ok(())
}

/// Validates new meters (fields under `field[i]`) and builds their rows, plans and initial
/// readings.
async fn meter_rows(
    conn: &mut Conn,
    ctx: &Ctx,
    field: &str,
    meters: &[NewMeter],
    equipment: &EquipmentRow,
    contract: &ContractRow,
    e: &mut Errors,
) -> Result<(Vec<MeterRow>, Vec<PlanRow>, Vec<ReadingRow>), ApiError> {
    let now = ctx.now;
    let mut codes = Vec::new();
    let (mut out, mut plans, mut readings) = (Vec::new(), Vec::new(), Vec::new());
    for (i, m) in meters.iter().enumerate() {
        let at = if field.is_empty() {
            String::new()
        } else {
            format!("{field}[{i}].")
        };
        rules::check_meter(&at, m, contract.currency(), e);
        codes.push((format!("{at}financial_code_id"), m.financial_code_id));
        let meter = MeterRow {
            id: Uuid::now_v7(),
            equipment_id: equipment.id,
            contract_id: contract.id,
            meter_type: m.meter_type.clone(),
            financial_code_id: m.financial_code_id,
            expected_monthly_volume: m.expected_monthly_volume,
            created_at: now,
        };
        plans.push(PlanRow {
            id: Uuid::now_v7(),
            meter_id: meter.id,
            effective_from: equipment.installed_on,
            included_units: m.included_units,
            // Trailing zeros dropped: the column takes at most 6 decimals of scale.
            overage_rate: m.overage_rate.normalize(),
            minimum_charge: m.minimum_charge.unwrap_or_default(),
            amendment_id: None,
            created_at: now,
        });
        if let Some(value) = m.initial_reading {
            readings.push(ReadingRow {
                id: Uuid::now_v7(),
                meter_id: meter.id,
                read_on: equipment.installed_on,
                value,
                source: ReadingSource::Technician,
                reset: None,
                starting_value: None,
                final_value: None,
                estimate_method: None,
                estimate_basis: None,
                billing_run_id: None,
                note: Some("reading at installation".into()),
                created_by: ctx.principal.subject.clone(),
                created_at: now,
                voided_at: None,
                voided_by: None,
                void_reason: None,
                replaces_id: None,
            });
        }
        out.push(meter);
    }
    let mut types: Vec<&str> = meters.iter().map(|m| m.meter_type.as_str()).collect();
    types.sort();
    if types.windows(2).any(|w| w[0] == w[1]) {
        e.add(
            field,
            "duplicate_meter_type",
            "each meter type appears once per equipment",
        );
    }
    crate::financial_codes::store::check_codes(conn, &codes, &[FinancialCodeKind::Revenue], e)
        .await?;
    Ok((out, plans, readings))
}

async fn equipment_view(conn: &mut Conn, row: EquipmentRow) -> Result<EquipmentView, ApiError> {
    let (meters, plans) = store::meters_of(conn, &[row.id]).await?;
    Ok(EquipmentView::new(row, &meters, &plans))
}

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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let contract = crate::contracts::store::lock(conn, contract_id).await?;
            let now = ctx.now;
            let row = EquipmentRow {
                id: Uuid::now_v7(),
                contract_id,
                serial_number: new.serial_number.trim().to_string(),
                make: new.make.trim().to_string(),
                model: new.model.trim().to_string(),
                install_address: new.install_address.clone(),
                installed_on: new.installed_on,
                removed_on: None,
                pickup_status: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            let mut e = Errors::default();
            rules::validate(&row, &mut e);
            rules::validate_address(row.install_address.as_ref(), &mut e);
            let (meters, plans, readings) =
                meter_rows(conn, &ctx, "meters", &new.meters, &row, &contract, &mut e).await?;
            e.finish()?;
            refuse_ended(&contract)?;
            let row = store::insert(conn, &row).await?;
            store::insert_meters(conn, &meters).await?;
            store::insert_plans(conn, &plans).await?;
            crate::readings::store::insert_many(conn, &readings).await?;
            let view = EquipmentView::new(row, &meters, &plans);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "equipment.installed",
                    entity_type: "equipment",
                    entity_id: view.id,
                    account_id: Some(contract.account_id),
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
        &equipment_view(&mut conn, row).await?,
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let (version, view) = conn
        .transaction(async |conn| {
            let current = store::lock(conn, id).await?;
            expected.check(current.version)?;
            let c = current.clone();
            let next = EquipmentRow {
                make: patch.make.clone().map_or(c.make, |m| m.trim().to_string()),
                model: patch
                    .model
                    .clone()
                    .map_or(c.model, |m| m.trim().to_string()),
                install_address: patch.install_address.clone().unwrap_or(c.install_address),
                removed_on: patch.removed_on.unwrap_or(c.removed_on),
                pickup_status: patch.pickup_status.unwrap_or(c.pickup_status),
                version: c.version + 1,
                updated_at: ctx.now,
                ..c
            };
            let mut e = Errors::default();
            rules::validate(&next, &mut e);
            rules::validate_address(
                patch.install_address.as_ref().and_then(Option::as_ref),
                &mut e,
            );
            e.finish()?;
            let contract = crate::contracts::store::find(conn, current.contract_id).await?;
            let before = equipment_view(conn, current).await?;
            let row = store::update(conn, &next).await?;
            let version = row.version;
            let after = equipment_view(conn, row).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "equipment.updated",
                    entity_type: "equipment",
                    entity_id: id,
                    account_id: Some(contract.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            Ok::<_, ApiError>((version, after))
        })
        .await?;
    Ok(versioned(StatusCode::OK, version, &view))
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let equipment = store::lock(conn, id).await?;
            let contract = crate::contracts::store::find(conn, equipment.contract_id).await?;
            let mut e = Errors::default();
            let (meters, plans, readings) = meter_rows(
                conn,
                &ctx,
                "",
                std::slice::from_ref(&new),
                &equipment,
                &contract,
                &mut e,
            )
            .await?;
            e.finish()?;
            refuse_ended(&contract)?;
            store::insert_meters(conn, &meters).await?;
            store::insert_plans(conn, &plans).await?;
            crate::readings::store::insert_many(conn, &readings).await?;
            let view = MeterView::new(meters[0].clone(), plans);
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "meter.added",
                    entity_type: "meter",
                    entity_id: view.id,
                    account_id: Some(contract.account_id),
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
