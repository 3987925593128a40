//! Contracts as their commands change them, each in the caller's transaction: a new draft,
//! edits of a draft, activation, amendments (in `amend`, with the settlement of a termination
//! in `settlement`) and the paperwork attached to a contract (in `documents`).

mod amend;
pub mod documents;
pub mod settlement;

use uuid::Uuid;

pub use amend::{amend, amend_for_order};

use super::model::{ChargeRow, ContractRow, ContractStatus, ContractView};
use super::requests::{ContractPatch, NewContract};
use super::{rules, store};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::Written;
use crate::validate::Errors;

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

/// Creates a draft contract with its charges, in the currency of its account.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewContract,
) -> Result<Written<ContractView>, ApiError> {
    let account = crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
    let now = ctx.now;
    let row = rules::draft(new, account.currency, now);
    let currency = row.currency();
    let mut e = Errors::default();
    rules::validate(&row, &mut e);
    rules::validate_charges("charges", &new.charges, currency, &mut e);
    check_charge_codes(conn, "charges", &new.charges, &mut e).await?;
    e.finish()?;
    rules::refuse_closed_account(&account)?;
    crate::credit::refuse_hold(conn, &account).await?;
    let row = store::insert(conn, &row).await?;
    let charges = rules::charge_rows(row.id, &new.charges, row.start_date, None, now);
    store::insert_charges(conn, &charges).await?;
    let view = store::view(conn, row).await?;
    Ok(Written::created("contract.created", view))
}

/// Edits a draft when it is still the version `expected`; new charges replace every charge,
/// and a new start date moves the draft's charges with it.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &ContractPatch,
    expected: Expected,
) -> Result<Written<ContractView>, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    rules::refuse_unless_draft(&current)?;
    let now = ctx.now;
    let next = rules::apply(patch, &current, now);
    let currency = next.currency();
    let mut e = Errors::default();
    rules::validate(&next, &mut e);
    if let Some(charges) = &patch.charges {
        rules::validate_charges("charges", charges, currency, &mut e);
        check_charge_codes(conn, "charges", charges, &mut e).await?;
    }
    e.finish()?;
    let before = store::view(conn, current).await?;
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
            .map(|c| ChargeRow {
                effective_from: row.start_date,
                ..c
            })
            .collect();
        store::insert_charges(conn, &rows).await?;
    }
    let after = store::view(conn, row).await?;
    Ok(Written::changed("contract.updated", before, after))
}

/// Links a contract to the CRM's record of it (`external_crm_id`, unique), as a CRM event that
/// signs a contract does.
pub async fn link_crm(conn: &mut Conn, id: Uuid, crm_id: &str) -> Result<(), ApiError> {
    store::set_crm_id(conn, id, crm_id).await
}

/// A draft starts being billed: refused when the account is on credit hold or closed, or
/// when the contract has neither a recurring charge nor a meter.
pub async fn activate(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    expected: Expected,
) -> Result<Written<ContractView>, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    rules::refuse_unless_draft(&current)?;
    let account = crate::accounts::store::find_visible(conn, current.account_id, None).await?;
    rules::refuse_closed_account(&account)?;
    crate::credit::refuse_hold(conn, &account).await?;
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
    let before = store::view(conn, current).await?;
    let row = store::update(conn, &next).await?;
    crate::credit::check_exposure(conn, ctx, row.account_id).await?;
    let after = store::view(conn, row).await?;
    Ok(Written::changed("contract.activated", before, after))
}
