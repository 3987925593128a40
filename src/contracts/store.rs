//! SQL of contracts, their charges and amendments.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{AmendmentRow, BilledBy, BilledLine, ChargeRow, ContractRow, ContractView};
use super::requests::ContractFilter;
use super::rules::contract_number;
use crate::db::{next_number, Conn};
use crate::error::ApiError;
use crate::invoices::model::InvoiceStatus;
use crate::schema::contract_amendments::dsl as am;
use crate::schema::contract_charges::dsl as ch;
use crate::schema::contracts::dsl as c;

pub async fn insert(conn: &mut Conn, row: &ContractRow) -> Result<ContractRow, ApiError> {
    let mut row = row.clone();
    row.number = contract_number(next_number(conn, "contract").await?);
    Ok(diesel::insert_into(c::contracts)
        .values(&row)
        .returning(ContractRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn update(conn: &mut Conn, row: &ContractRow) -> Result<ContractRow, ApiError> {
    Ok(diesel::update(c::contracts.find(row.id))
        .set(row)
        .returning(ContractRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<ContractRow, ApiError> {
    c::contracts
        .find(id)
        .select(ContractRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("contract"))
}

/// Like [`find`], locking the row for the rest of the transaction.
pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<ContractRow, ApiError> {
    c::contracts
        .find(id)
        .select(ContractRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("contract"))
}

/// The contract the CRM knows by `crm_id` (`external_crm_id`), if any.
pub async fn find_by_crm_id(
    conn: &mut Conn,
    crm_id: &str,
) -> Result<Option<ContractRow>, ApiError> {
    Ok(c::contracts
        .filter(c::external_crm_id.eq(crm_id))
        .select(ContractRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Names the contract by the CRM's id; another contract with that id is a 409
/// `duplicate_external_crm_id`.
pub async fn set_crm_id(conn: &mut Conn, id: Uuid, crm_id: &str) -> Result<(), ApiError> {
    diesel::update(c::contracts.find(id))
        .set(c::external_crm_id.eq(crm_id))
        .execute(conn)
        .await
        .map_err(|err| match crate::db::unique_violation(&err) {
            Some("contracts_external_crm_id_key") => ApiError::Conflict {
                code: "duplicate_external_crm_id",
                detail: "Another contract has this CRM id.".into(),
                field: Some("external_crm_id"),
            },
            _ => err.into(),
        })?;
    Ok(())
}

/// The contract with its charges and history, as every contract endpoint returns it.
pub async fn view(conn: &mut Conn, row: ContractRow) -> Result<ContractView, ApiError> {
    let charges = charges(conn, row.id).await?;
    let amendments = amendments(conn, row.id).await?;
    Ok(ContractView::new(row, charges, amendments))
}

pub async fn charges(conn: &mut Conn, contract_id: Uuid) -> Result<Vec<ChargeRow>, ApiError> {
    Ok(ch::contract_charges
        .filter(ch::contract_id.eq(contract_id))
        .select(ChargeRow::as_select())
        .order((ch::effective_from.asc(), ch::id.asc()))
        .load(conn)
        .await?)
}

pub async fn insert_charges(conn: &mut Conn, rows: &[ChargeRow]) -> Result<(), ApiError> {
    if !rows.is_empty() {
        diesel::insert_into(ch::contract_charges)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Removes a draft's charges (a draft's charges are replaced whole).
pub async fn delete_charges(conn: &mut Conn, contract_id: Uuid) -> Result<(), ApiError> {
    diesel::delete(ch::contract_charges.filter(ch::contract_id.eq(contract_id)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn end_charge(
    conn: &mut Conn,
    charge_id: Uuid,
    last_day: time::Date,
) -> Result<(), ApiError> {
    diesel::update(ch::contract_charges.find(charge_id))
        .set(ch::effective_to.eq(last_day))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn amendments(conn: &mut Conn, contract_id: Uuid) -> Result<Vec<AmendmentRow>, ApiError> {
    Ok(am::contract_amendments
        .filter(am::contract_id.eq(contract_id))
        .select(AmendmentRow::as_select())
        .order((am::effective_date.asc(), am::created_at.asc()))
        .load(conn)
        .await?)
}

/// Adds what the termination settled to the contract's termination amendment.
pub async fn record_settlement(
    conn: &mut Conn,
    contract_id: Uuid,
    settlement: &serde_json::Value,
) -> Result<(), ApiError> {
    use crate::schema::contract_amendments::dsl as am;
    let (id, mut details): (Uuid, serde_json::Value) = am::contract_amendments
        .filter(am::contract_id.eq(contract_id))
        .filter(am::kind.eq(super::model::AmendmentKind::Termination))
        .select((am::id, am::details))
        .first(conn)
        .await?;
    if let Some(fields) = details.as_object_mut() {
        fields.insert("settlement".into(), settlement.clone());
    }
    diesel::update(am::contract_amendments.find(id))
        .set(am::details.eq(details))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_amendment(conn: &mut Conn, row: &AmendmentRow) -> Result<(), ApiError> {
    diesel::insert_into(am::contract_amendments)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list(
    conn: &mut Conn,
    filter: &ContractFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ContractRow>, ApiError> {
    let mut query = c::contracts.select(ContractRow::as_select()).into_boxed();
    if let Some(account) = filter.account_id {
        query = query.filter(c::account_id.eq(account));
    }
    if let Some(status) = filter.status {
        query = query.filter(c::status.eq(status));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(c::kind.eq(kind));
    }
    if let Some(before) = filter.ending_before {
        query = query.filter(c::end_date.lt(before));
    }
    if let Some(crm_id) = &filter.external_crm_id {
        query = query.filter(c::external_crm_id.eq(crm_id));
    }
    if let Some(after) = after {
        query = query.filter(c::id.gt(after));
    }
    Ok(query.order(c::id.asc()).limit(limit + 1).load(conn).await?)
}

/// The last day whose recurring charges are billed, if any are.
pub async fn last_billed_day(
    conn: &mut Conn,
    contract_id: Uuid,
) -> Result<Option<time::Date>, ApiError> {
    use crate::schema::billed_periods::dsl as b;
    Ok(b::billed_periods
        .filter(b::contract_id.eq(contract_id))
        .select(diesel::dsl::max(b::period_end))
        .first(conn)
        .await?)
}

/// A recurring line as read: its id, period start, amount, and its invoice's id, number,
/// status and balance.
type LineOnInvoice = (
    Uuid,
    Option<Date>,
    Decimal,
    Uuid,
    Option<String>,
    InvoiceStatus,
    Decimal,
);

/// The contract's recurring lines on invoices that are not void, each with what issued credit
/// memos credited back of it: two statements.
pub async fn billed_lines(
    conn: &mut Conn,
    contract: &ContractRow,
) -> Result<Vec<BilledLine>, ApiError> {
    use crate::credit_memos::model::CreditMemoStatus;
    use crate::schema::credit_memo_lines::dsl as cl;
    use crate::schema::credit_memos::dsl as cm;
    use crate::schema::invoice_lines::dsl as l;
    use crate::schema::invoices::dsl as i;
    let rows: Vec<LineOnInvoice> = l::invoice_lines
        .inner_join(i::invoices)
        .filter(l::contract_id.eq(contract.id))
        .filter(l::kind.eq("recurring"))
        .filter(i::status.ne(InvoiceStatus::Void))
        .select((
            l::id,
            l::period_start,
            l::amount,
            i::id,
            i::number,
            i::status,
            i::balance_due,
        ))
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let credited: Vec<(Option<Uuid>, Decimal)> = cl::credit_memo_lines
        .inner_join(cm::credit_memos)
        .filter(cl::invoice_line_id.eq_any(&ids))
        .filter(cm::status.eq(CreditMemoStatus::Issued))
        .select((cl::invoice_line_id, cl::amount))
        .load(conn)
        .await?;
    let currency = contract.currency;
    Ok(rows
        .into_iter()
        .filter_map(|(id, start, amount, invoice_id, number, status, balance)| {
            Some(BilledLine {
                period_start: start?,
                amount,
                credited: credited
                    .iter()
                    .filter(|(line, _)| *line == Some(id))
                    .map(|(_, a)| *a)
                    .sum(),
                invoice: BilledBy {
                    invoice_id,
                    number,
                    status,
                    amount: Decimal::ZERO,
                    balance_due: currency.normalize(balance),
                },
            })
        })
        .collect())
}
