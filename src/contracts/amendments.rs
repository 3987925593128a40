//! Amendments: upgrades, renewals, ownership changes, suspensions, resumptions and
//! terminations, each from an effective date and kept as the contract's history.

use actix_web::{post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{AmendmentKind, ContractView, NewAmendment};
use super::service;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{ApiJson, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::state::AppState;
use crate::validate::Errors;

/// Fields that belong to another kind of amendment are refused, not ignored.
pub fn check_fields(a: &NewAmendment, e: &mut Errors) {
    use AmendmentKind::*;
    let given = [
        ("charges", !a.charges.is_empty(), &[Upgrade][..]),
        (
            "end_charge_ids",
            !a.end_charge_ids.is_empty(),
            &[Upgrade][..],
        ),
        ("meter_plans", !a.meter_plans.is_empty(), &[Upgrade][..]),
        ("end_date", a.end_date.is_some(), &[Renewal][..]),
        ("prices", !a.prices.is_empty(), &[Renewal][..]),
        ("account_id", a.account_id.is_some(), &[OwnershipChange][..]),
    ];
    for (field, present, kinds) in given {
        if present && !kinds.contains(&a.kind) {
            e.add(
                field,
                "not_allowed",
                format!("does not apply to an amendment of kind {}", a.kind.as_str()),
            );
        }
    }
    match a.kind {
        Upgrade
            if a.charges.is_empty() && a.end_charge_ids.is_empty() && a.meter_plans.is_empty() =>
        {
            e.add(
                "charges",
                "required",
                "an upgrade adds charges, ends charges or changes meter plans",
            )
        }
        Renewal if a.end_date.is_none() => {
            e.add("end_date", "required", "a renewal sets a new end date")
        }
        OwnershipChange if a.account_id.is_none() => {
            e.add("account_id", "required", "names the new owner")
        }
        _ => {}
    }
    e.optional_text("note", a.note.as_deref(), 2000);
}

/// Handles the POST /v1/contracts/{id}/amendments route: records an amendment and applies it.
///
/// Upgrades, renewals with new prices and ownership changes cannot reach back into periods
/// already billed (amend from a later date, or correct with a credit). Upgrades and ownership
/// changes to an account on credit hold are refused. The first invoice after an upgrade,
/// renewal or ownership change is flagged for review.
#[utoipa::path(
    tag = "contracts",
    request_body = NewAmendment,
    params(
        ("id" = Uuid, Path, description = "Contract id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being amended (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The amended contract, with the amendment last in its history", body = ContractView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/contracts/{id}/amendments")]
pub async fn create_amendment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<NewAmendment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::ContractsWrite)?;
    let new = body.0;
    let expected = match new.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let mut e = Errors::default();
    check_fields(&new, &mut e);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/contracts/{id}/amendments"), &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::amend(conn, &ctx, &state.config.billing, id, expected, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}
