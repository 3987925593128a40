//! Amendments: upgrades, renewals, ownership changes, suspensions, resumptions and
//! terminations, each from an effective date and kept as the contract's history; a
//! termination settles the contract in the same transaction.

use time::{Date, Duration};
use uuid::Uuid;

use crate::audit;
use crate::billing::engine::Settings;
use crate::context::Ctx;
use crate::contracts::model::{
    AmendmentDetails, AmendmentKind, AmendmentRow, ChargeRow, ContractRow, ContractStatus,
    ContractView, NewAmendment, Settled,
};
use crate::contracts::{rules, store};
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::Written;
use crate::validate::Errors;

fn at(field: &str, i: usize, name: &str) -> String {
    format!("{field}[{i}].{name}")
}

/// Records an amendment of the contract `id` (when it is still the version `expected`) and
/// applies it; a termination also settles the contract.
pub async fn amend(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &Settings,
    id: Uuid,
    expected: Expected,
    new: &NewAmendment,
) -> Result<Written<ContractView>, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    rules::check_state(new.kind, &current)?;
    let before = store::view(conn, current.clone()).await?;
    let next = apply(conn, ctx, &current, new).await?;
    let row = store::update(conn, &next).await?;
    if new.kind == AmendmentKind::Termination {
        settle(conn, ctx, settings, &row).await?;
    }
    if new.kind == AmendmentKind::Upgrade && row.status == ContractStatus::Active {
        crate::credit::check_exposure(conn, ctx, row.account_id).await?;
    }
    let after = store::view(conn, row).await?;
    Ok(Written {
        status: actix_web::http::StatusCode::CREATED,
        action: "contract.amended",
        before: Some(before),
        after,
    })
}

/// Suspends, resumes or terminates a contract on behalf of a completed service order: the
/// same amendment, checks, settlement and audit entry as `POST /contracts/{id}/amendments`.
pub async fn amend_for_order(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &Settings,
    contract_id: Uuid,
    kind: AmendmentKind,
    effective_date: Date,
    note: String,
) -> Result<(), ApiError> {
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
    let written = amend(conn, ctx, settings, contract_id, Expected::Any, &new).await?;
    written.audit(conn, ctx).await.map(drop)
}

/// Settles a terminated contract (see [`super::settlement`]) and records what was made on
/// its termination amendment and in the audit log.
async fn settle(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &Settings,
    row: &ContractRow,
) -> Result<(), ApiError> {
    let settlement = super::settlement::settle(conn, ctx, settings, row).await?;
    store::record_settlement(conn, row.id, &serde_json::to_value(&settlement)?).await?;
    let settled = Settled {
        contract: row,
        settlement: &settlement,
    };
    audit::changed(conn, ctx, "contract.settled", None, Some(&settled)).await
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
            crate::credit::refuse_hold(conn, &account).await?;
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
                    Some(ch) => repriced.push(ChargeRow {
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
            crate::credit::refuse_hold(conn, &account).await?;
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
            let since = rules::suspended_since(&amendments);
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
