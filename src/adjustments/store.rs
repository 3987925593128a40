//! SQL of adjustments.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{AdjustmentFilter, AdjustmentKind, AdjustmentRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::adjustments::dsl as a;

pub async fn insert(conn: &mut Conn, row: &AdjustmentRow) -> Result<(), ApiError> {
    insert_many(conn, std::slice::from_ref(row)).await
}

pub async fn insert_many(conn: &mut Conn, rows: &[AdjustmentRow]) -> Result<(), ApiError> {
    if !rows.is_empty() {
        diesel::insert_into(a::adjustments)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<AdjustmentRow, ApiError> {
    a::adjustments
        .find(id)
        .select(AdjustmentRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("adjustment"))
}

/// The code the invoice's bad debt was written off under (recoveries carry it too).
pub async fn bad_debt_code(conn: &mut Conn, invoice_id: Uuid) -> Result<Option<Uuid>, ApiError> {
    Ok(a::adjustments
        .filter(a::invoice_id.eq(invoice_id))
        .filter(a::kind.eq(AdjustmentKind::BadDebtWriteOff))
        .select(a::financial_code_id)
        .order(a::id.desc())
        .first(conn)
        .await
        .optional()?)
}

/// What a payment recovered on an invoice and still holds: its recoveries less the amounts
/// written off again when its applications were reversed.
pub async fn recovered_by(
    conn: &mut Conn,
    payment_id: Uuid,
    invoice_id: Uuid,
) -> Result<rust_decimal::Decimal, ApiError> {
    let rows: Vec<(AdjustmentKind, rust_decimal::Decimal)> = a::adjustments
        .filter(a::payment_id.eq(payment_id))
        .filter(a::invoice_id.eq(invoice_id))
        .select((a::kind, a::amount))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, amount)| match kind {
            AdjustmentKind::Recovery => amount,
            _ => -amount,
        })
        .sum())
}

/// Adjustments matching the filter, newest first, after the cursor id.
pub async fn list(
    conn: &mut Conn,
    filter: &AdjustmentFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AdjustmentRow>, ApiError> {
    let mut query = a::adjustments
        .select(AdjustmentRow::as_select())
        .into_boxed();
    if let Some(v) = filter.kind {
        query = query.filter(a::kind.eq(v));
    }
    if let Some(v) = filter.account_id {
        query = query.filter(a::account_id.eq(v));
    }
    if let Some(v) = filter.invoice_id {
        query = query.filter(a::invoice_id.eq(v));
    }
    if let Some(v) = filter.financial_code_id {
        query = query.filter(a::financial_code_id.eq(v));
    }
    if let Some(v) = filter.from {
        query = query.filter(a::created_at.ge(v.midnight().assume_utc()));
    }
    if let Some(next) = filter.to.and_then(|v| v.next_day()) {
        query = query.filter(a::created_at.lt(next.midnight().assume_utc()));
    }
    if let Some(after) = after {
        query = query.filter(a::id.lt(after));
    }
    Ok(query
        .order(a::id.desc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}

/// What an account has past due and undisputed on `today`.
pub async fn past_due(
    conn: &mut Conn,
    account_id: Uuid,
    today: time::Date,
) -> Result<rust_decimal::Decimal, ApiError> {
    use crate::schema::invoices::dsl as i;
    let sum: Option<rust_decimal::Decimal> = i::invoices
        .filter(i::account_id.eq(account_id))
        .filter(i::status.eq(crate::invoices::model::InvoiceStatus::Open))
        .filter(i::due_date.lt(today))
        .select(diesel::dsl::sum(i::balance_due - i::disputed_amount))
        .first(conn)
        .await?;
    Ok(sum.unwrap_or_default())
}
