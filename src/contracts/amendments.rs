//! Amendments: upgrades, renewals, ownership changes, suspensions, resumptions and
//! terminations, each from an effective date and kept as the contract's history.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use time::{Date, Duration};
use uuid::Uuid;

use super::model::{
    AmendmentDetails, AmendmentKind, AmendmentRow, ContractRow, ContractStatus, ContractView,
    NewAmendment,
};
use super::routes::{refuse_credit_hold, view};
use super::{rules, store};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, Expected, IdempotencyKey};
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::{self, Begin};
use crate::openapi::responses::*;
use crate::validate::Errors;
use crate::AppState;

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

/// Whether the contract's state allows this kind of amendment.
pub fn check_state(kind: AmendmentKind, c: &ContractRow) -> Result<(), ApiError> {
    use ContractStatus::*;
    let allowed = match kind {
        AmendmentKind::Renewal => matches!(c.status, Active | Suspended | Expired),
        AmendmentKind::Resumption => c.status == Suspended,
        AmendmentKind::Suspension => c.status == Active,
        _ => matches!(c.status, Active | Suspended),
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::conflict(
        "contract_state",
        format!(
            "A {} contract cannot take a {} amendment.",
            c.status.as_str(),
            kind.as_str()
        ),
    ))
}

fn at(field: &str, i: usize, name: &str) -> String {
    format!("{field}[{i}].{name}")
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
            check_state(new.kind, &current)?;
            let before = view(conn, current.clone()).await?;
            let next = apply(conn, &ctx, &current, &new).await?;
            let row = store::update(conn, &next).await?;
            if new.kind == AmendmentKind::Termination {
                settle(conn, &ctx, &state.config.billing, &row).await?;
            }
            let after = view(conn, row).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "contract.amended",
                    entity_type: "contract",
                    entity_id: id,
                    account_id: Some(after.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &after).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Validates the amendment against the contract, writes it and its effects, and returns the
/// contract's next state.
async fn apply(
    conn: &mut Conn,
    ctx: &Ctx,
    c: &ContractRow,
    new: &NewAmendment,
) -> Result<ContractRow, ApiError> {
    let now = ctx.now;
    let effective = new.effective_date;
    let currency = c.currency();
    let mut e = Errors::default();
    for (field, date) in [
        ("effective_date", Some(effective)),
        ("end_date", new.end_date),
    ] {
        if date.is_some_and(|d| d > rules::LATEST) {
            e.add(
                field,
                "out_of_range",
                format!("must not be after {}", rules::LATEST),
            );
        }
    }
    if effective < c.start_date {
        e.add(
            "effective_date",
            "before_start",
            format!(
                "must not be before the contract's start date {}",
                c.start_date
            ),
        );
    }
    if let Some(end) = c.last_billable_day() {
        if effective > end && new.kind != AmendmentKind::Renewal {
            e.add(
                "effective_date",
                "after_end",
                format!("must not be after the contract's last billable day {end}"),
            );
        }
    }
    let retroactive = matches!(
        new.kind,
        AmendmentKind::Upgrade | AmendmentKind::OwnershipChange
    ) || (new.kind == AmendmentKind::Renewal && !new.prices.is_empty());
    if retroactive {
        if let Some(billed) = store::last_billed_day(conn, c.id).await? {
            if effective <= billed {
                e.add(
                    "effective_date",
                    "already_billed",
                    format!("periods through {billed} are billed; amend from a later date or correct them with a credit"),
                );
            }
        }
    }
    let charges = store::charges(conn, c.id).await?;
    let current_charge = |charge_id: Uuid| {
        charges.iter().find(|ch| {
            ch.id == charge_id
                && ch.effective_from < effective
                && ch.effective_to.is_none_or(|to| to >= effective)
        })
    };
    let amendment_id = Uuid::now_v7();
    let mut next = ContractRow {
        version: c.version + 1,
        updated_at: now,
        ..c.clone()
    };
    let mut amendment = AmendmentRow {
        id: amendment_id,
        contract_id: c.id,
        kind: new.kind,
        effective_date: effective,
        account_id: None,
        previous_account_id: None,
        new_end_date: None,
        previous_end_date: None,
        details: AmendmentDetails::default().to_json(),
        note: new.note.clone(),
        needs_review: matches!(
            new.kind,
            AmendmentKind::Upgrade | AmendmentKind::Renewal | AmendmentKind::OwnershipChange
        ),
        review_invoice_id: None,
        created_by: ctx.principal.subject.clone(),
        created_at: now,
    };
    let day_before = effective - Duration::days(1);
    match new.kind {
        AmendmentKind::Upgrade => {
            let account = crate::accounts::store::find_visible(conn, c.account_id, None).await?;
            rules::validate_charges("charges", &new.charges, currency, &mut e);
            let codes: Vec<(String, Uuid)> = new
                .charges
                .iter()
                .enumerate()
                .map(|(i, ch)| (at("charges", i, "financial_code_id"), ch.financial_code_id))
                .collect();
            crate::financial_codes::store::check_codes(
                conn,
                &codes,
                &[FinancialCodeKind::Revenue],
                &mut e,
            )
            .await?;
            for (i, charge_id) in new.end_charge_ids.iter().enumerate() {
                if current_charge(*charge_id).is_none() {
                    e.add(
                        &format!("end_charge_ids[{i}]"),
                        "unknown",
                        "is not a charge of this contract in effect before the effective date",
                    );
                }
            }
            let meters = crate::equipment::store::meter_ids(conn, c.id).await?;
            for (i, plan) in new.meter_plans.iter().enumerate() {
                if !meters.contains(&plan.meter_id) {
                    e.add(
                        &at("meter_plans", i, "meter_id"),
                        "unknown",
                        "is not a meter of this contract",
                    );
                }
                crate::equipment::rules::check_plan(
                    &format!("meter_plans[{i}]."),
                    plan.included_units,
                    plan.overage_rate,
                    plan.minimum_charge.unwrap_or_default(),
                    currency,
                    &mut e,
                );
            }
            e.finish()?;
            refuse_credit_hold(&account)?;
            for charge_id in &new.end_charge_ids {
                store::end_charge(conn, *charge_id, day_before).await?;
            }
            let rows = rules::charge_rows(c.id, &new.charges, effective, Some(amendment_id), now);
            let plans: Vec<_> = new
                .meter_plans
                .iter()
                .map(|p| crate::equipment::model::PlanRow {
                    id: Uuid::now_v7(),
                    meter_id: p.meter_id,
                    effective_from: effective,
                    included_units: p.included_units,
                    // Trailing zeros dropped: the column takes at most 6 decimals of scale.
                    overage_rate: p.overage_rate.normalize(),
                    minimum_charge: p.minimum_charge.unwrap_or_default(),
                    amendment_id: Some(amendment_id),
                    created_at: now,
                })
                .collect();
            amendment.details = AmendmentDetails {
                charges_added: Some(rows.iter().map(|r| r.id).collect()),
                charges_ended: Some(new.end_charge_ids.clone()),
                meter_plans: Some(new.meter_plans.clone()),
                ..Default::default()
            }
            .to_json();
            store::insert_amendment(conn, &amendment).await?;
            store::insert_charges(conn, &rows).await?;
            crate::equipment::store::insert_plans(conn, &plans).await?;
            return Ok(next);
        }
        AmendmentKind::Renewal => {
            let end = new.end_date.expect("checked");
            let floor = c.end_date.unwrap_or(c.start_date).max(effective);
            if end <= floor || (c.end_date.is_none() && end < effective) {
                e.add(
                    "end_date",
                    "not_later",
                    format!("must be after the current end date and the effective date ({floor})"),
                );
            }
            let mut repriced = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (i, price) in new.prices.iter().enumerate() {
                if !seen.insert(price.charge_id) {
                    e.add(
                        &at("prices", i, "charge_id"),
                        "duplicate",
                        "each charge is repriced once",
                    );
                }
            }
            for (i, price) in new.prices.iter().enumerate() {
                rules::check_amount(&at("prices", i, "amount"), price.amount, currency, &mut e);
                match current_charge(price.charge_id) {
                    Some(ch) => repriced.push(super::model::ChargeRow {
                        id: Uuid::now_v7(),
                        amount: price.amount,
                        effective_from: effective,
                        effective_to: None,
                        amendment_id: Some(amendment_id),
                        created_at: now,
                        ..ch.clone()
                    }),
                    None => e.add(
                        &at("prices", i, "charge_id"),
                        "unknown",
                        "is not a charge of this contract in effect before the effective date",
                    ),
                }
            }
            e.finish()?;
            amendment.new_end_date = Some(end);
            amendment.previous_end_date = c.end_date;
            amendment.details = AmendmentDetails {
                prices: Some(new.prices.clone()),
                ..Default::default()
            }
            .to_json();
            store::insert_amendment(conn, &amendment).await?;
            for price in &new.prices {
                store::end_charge(conn, price.charge_id, day_before).await?;
            }
            store::insert_charges(conn, &repriced).await?;
            next.end_date = Some(end);
            if next.status == ContractStatus::Expired {
                next.status = ContractStatus::Active;
            }
        }
        AmendmentKind::OwnershipChange => {
            let to = new.account_id.expect("checked");
            let account = crate::accounts::store::find_named(conn, to, "account_id").await?;
            if to == c.account_id {
                e.add("account_id", "unchanged", "already owns the contract");
            }
            if account.currency != c.currency {
                e.add(
                    "account_id",
                    "currency_mismatch",
                    format!(
                        "bills in {}, the contract in {}",
                        account.currency, c.currency
                    ),
                );
            }
            if matches!(
                account.status,
                crate::accounts::model::AccountStatus::Closed
                    | crate::accounts::model::AccountStatus::Terminated
            ) {
                e.add(
                    "account_id",
                    "not_active",
                    "the account is closed or terminated",
                );
            }
            e.finish()?;
            refuse_credit_hold(&account)?;
            amendment.account_id = Some(to);
            amendment.previous_account_id = Some(c.account_id);
            store::insert_amendment(conn, &amendment).await?;
            next.account_id = to;
        }
        AmendmentKind::Suspension => {
            e.finish()?;
            store::insert_amendment(conn, &amendment).await?;
            next.status = ContractStatus::Suspended;
        }
        AmendmentKind::Resumption => {
            let amendments = store::amendments(conn, c.id).await?;
            let since = suspended_since(&amendments);
            if let Some(since) = since.filter(|s| effective <= *s) {
                e.add(
                    "effective_date",
                    "before_suspension",
                    format!("must be after the suspension of {since}"),
                );
            }
            e.finish()?;
            store::insert_amendment(conn, &amendment).await?;
            next.status = ContractStatus::Active;
        }
        AmendmentKind::Termination => {
            e.finish()?;
            let serials =
                crate::equipment::store::list_for_pickup(conn, c.id, effective, now).await?;
            amendment.details = AmendmentDetails {
                equipment_for_pickup: Some(serials),
                ..Default::default()
            }
            .to_json();
            store::insert_amendment(conn, &amendment).await?;
            next.status = ContractStatus::Terminated;
            next.terminated_on = Some(effective);
        }
    }
    Ok(next)
}

/// The effective date of the suspension still in force, if any.
pub fn suspended_since(amendments: &[AmendmentRow]) -> Option<Date> {
    let mut since = None;
    for a in amendments {
        match a.kind {
            AmendmentKind::Suspension => since = Some(a.effective_date),
            AmendmentKind::Resumption => since = None,
            _ => {}
        }
    }
    since
}

/// Settles a terminated contract (see [`super::settlement`]) and records what was made on
/// its termination amendment and in the audit log.
async fn settle(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &crate::billing::engine::Settings,
    row: &ContractRow,
) -> Result<(), ApiError> {
    let settlement = super::settlement::settle(conn, ctx, settings, row).await?;
    store::record_settlement(conn, row.id, &serde_json::to_value(&settlement)?).await?;
    audit::record(
        conn,
        ctx,
        Change {
            action: "contract.settled",
            entity_type: "contract",
            entity_id: row.id,
            account_id: Some(row.account_id),
            before: None,
            after: Some(&settlement),
        },
    )
    .await
}

/// Suspends, resumes or terminates a contract on behalf of a completed service order: the
/// same amendment, checks, settlement and audit entry as `POST /contracts/{id}/amendments`.
pub async fn amend_for_order(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &crate::billing::engine::Settings,
    contract_id: Uuid,
    kind: AmendmentKind,
    effective_date: Date,
    note: String,
) -> Result<(), ApiError> {
    let current = store::lock(conn, contract_id).await?;
    check_state(kind, &current)?;
    let before = view(conn, current.clone()).await?;
    let new = NewAmendment {
        kind,
        effective_date,
        note: Some(note),
        charges: Vec::new(),
        end_charge_ids: Vec::new(),
        meter_plans: Vec::new(),
        end_date: None,
        prices: Vec::new(),
        account_id: None,
        version: None,
    };
    let next = apply(conn, ctx, &current, &new).await?;
    let row = store::update(conn, &next).await?;
    if kind == AmendmentKind::Termination {
        settle(conn, ctx, settings, &row).await?;
    }
    let after = view(conn, row).await?;
    audit::record(
        conn,
        ctx,
        Change {
            action: "contract.amended",
            entity_type: "contract",
            entity_id: contract_id,
            account_id: Some(after.account_id),
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await
}
