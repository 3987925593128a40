//! HTTP handlers of contracts: create a draft, read, list, edit while draft, activate.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{
    ContractFilter, ContractPatch, ContractRow, ContractStatus, ContractSummary, ContractView,
    NewContract,
};
use super::{rules, store};
use crate::accounts::model::{AccountRow, AccountStatus, CreditStatus};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::{self, Begin};
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::validate::Errors;
use crate::AppState;

/// The contract with its charges and history, as every contract endpoint returns it.
pub async fn view(conn: &mut Conn, row: ContractRow) -> Result<ContractView, ApiError> {
    let charges = store::charges(conn, row.id).await?;
    let amendments = store::amendments(conn, row.id).await?;
    Ok(ContractView::new(row, charges, amendments))
}

/// A credit hold blocks new contracts and upgrades.
pub fn refuse_credit_hold(account: &AccountRow) -> Result<(), ApiError> {
    if account.credit_status == CreditStatus::Hold {
        return Err(ApiError::conflict(
            "credit_hold",
            "The account is on credit hold: no new contracts or upgrades until credit releases it.",
        ));
    }
    Ok(())
}

fn refuse_closed_account(account: &AccountRow) -> Result<(), ApiError> {
    if matches!(
        account.status,
        AccountStatus::Closed | AccountStatus::Terminated
    ) {
        return Err(ApiError::conflict(
            "account_not_active",
            "The account is closed or terminated; it takes no contracts.",
        ));
    }
    Ok(())
}

/// Revenue codes named by charges must be active codes of kind `revenue`.
async fn check_charge_codes(
    conn: &mut Conn,
    field: &str,
    charges: &[super::model::NewCharge],
    e: &mut Errors,
) -> Result<(), ApiError> {
    let codes: Vec<(String, Uuid)> = charges
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                format!("{field}[{i}].financial_code_id"),
                c.financial_code_id,
            )
        })
        .collect();
    crate::financial_codes::store::check_codes(conn, &codes, &[FinancialCodeKind::Revenue], e).await
}

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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let account =
                crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
            let now = ctx.now;
            let row = rules::draft(&new, &account.currency, now);
            let currency = row.currency();
            let mut e = Errors::default();
            rules::validate(&row, &mut e);
            rules::validate_charges("charges", &new.charges, currency, &mut e);
            check_charge_codes(conn, "charges", &new.charges, &mut e).await?;
            e.finish()?;
            refuse_closed_account(&account)?;
            refuse_credit_hold(&account)?;
            let row = store::insert(conn, &row).await?;
            let charges = rules::charge_rows(row.id, &new.charges, row.start_date, None, now);
            store::insert_charges(conn, &charges).await?;
            let view = view(conn, row).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "contract.created",
                    entity_type: "contract",
                    entity_id: view.id,
                    account_id: Some(view.account_id),
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
        &view(&mut conn, row).await?,
    ))
}

pub fn refuse_unless_draft(row: &ContractRow) -> Result<(), ApiError> {
    if row.status != ContractStatus::Draft {
        return Err(ApiError::conflict(
            "contract_not_draft",
            "Only a draft contract is edited; an active contract changes by amendment.",
        ));
    }
    Ok(())
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let (version, view) = conn
        .transaction(async |conn| {
            let current = store::lock(conn, id).await?;
            expected.check(current.version)?;
            refuse_unless_draft(&current)?;
            let now = ctx.now;
            let next = rules::apply(&patch, &current, now);
            let currency = Currency::parse(&next.currency).expect("a stored currency");
            let mut e = Errors::default();
            rules::validate(&next, &mut e);
            if let Some(charges) = &patch.charges {
                rules::validate_charges("charges", charges, currency, &mut e);
                check_charge_codes(conn, "charges", charges, &mut e).await?;
            }
            e.finish()?;
            let before = view(conn, current).await?;
            let row = store::update(conn, &next).await?;
            if let Some(charges) = &patch.charges {
                store::delete_charges(conn, id).await?;
                let rows = rules::charge_rows(id, charges, row.start_date, None, now);
                store::insert_charges(conn, &rows).await?;
            } else if patch.start_date.is_some() {
                // A draft's charges start with the contract.
                let charges = store::charges(conn, id).await?;
                store::delete_charges(conn, id).await?;
                let rows: Vec<_> = charges
                    .into_iter()
                    .map(|c| super::model::ChargeRow {
                        effective_from: row.start_date,
                        ..c
                    })
                    .collect();
                store::insert_charges(conn, &rows).await?;
            }
            let version = row.version;
            let after = view(conn, row).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "contract.updated",
                    entity_type: "contract",
                    entity_id: id,
                    account_id: Some(after.account_id),
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
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let current = store::lock(conn, id).await?;
            expected.check(current.version)?;
            refuse_unless_draft(&current)?;
            let account =
                crate::accounts::store::find_visible(conn, current.account_id, None).await?;
            refuse_closed_account(&account)?;
            refuse_credit_hold(&account)?;
            let charges = store::charges(conn, id).await?;
            let meters = crate::equipment::store::meter_count(conn, id).await?;
            if charges.is_empty() && meters == 0 {
                return Err(ApiError::conflict(
                    "nothing_to_bill",
                    "The contract has no recurring charge and no meter; add one before activating.",
                ));
            }
            let now = ctx.now;
            let next = ContractRow {
                status: ContractStatus::Active,
                activated_at: Some(now),
                updated_at: now,
                version: current.version + 1,
                ..current.clone()
            };
            let before = view(conn, current).await?;
            let row = store::update(conn, &next).await?;
            let after = view(conn, row).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "contract.activated",
                    entity_type: "contract",
                    entity_id: id,
                    account_id: Some(after.account_id),
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
