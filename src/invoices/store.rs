//! SQL of invoices and their lines.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{InvoiceFilter, InvoiceRow, LineRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::invoice_lines::dsl as l;
use crate::schema::invoices::dsl as i;

pub async fn insert_many(
    conn: &mut Conn,
    invoices: &[InvoiceRow],
    lines: &[LineRow],
) -> Result<(), ApiError> {
    for chunk in invoices.chunks(1000) {
        diesel::insert_into(i::invoices)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for chunk in lines.chunks(1000) {
        diesel::insert_into(l::invoice_lines)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The invoice if the caller may see it: a partner token sees its partner's accounts only.
pub async fn find_visible(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<InvoiceRow, ApiError> {
    use crate::schema::accounts::dsl as a;
    let mut query = i::invoices
        .inner_join(a::accounts)
        .filter(i::id.eq(id))
        .select(InvoiceRow::as_select())
        .into_boxed();
    if let Some(partner) = partner {
        query = query.filter(a::partner_id.eq(partner));
    }
    query
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("invoice"))
}

pub async fn lines_of(conn: &mut Conn, invoice_ids: &[Uuid]) -> Result<Vec<LineRow>, ApiError> {
    Ok(l::invoice_lines
        .filter(l::invoice_id.eq_any(invoice_ids))
        .select(LineRow::as_select())
        .order((l::invoice_id.asc(), l::line_no.asc()))
        .load(conn)
        .await?)
}

pub async fn list(
    conn: &mut Conn,
    filter: &InvoiceFilter,
    partner: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, ApiError> {
    use crate::schema::accounts::dsl as a;
    let mut query = i::invoices
        .inner_join(a::accounts)
        .select(InvoiceRow::as_select())
        .into_boxed();
    if let Some(partner) = partner {
        query = query.filter(a::partner_id.eq(partner));
    }
    if let Some(account) = filter.account_id {
        query = query.filter(i::account_id.eq(account));
    }
    if let Some(contract) = filter.contract_id {
        query = query.filter(i::contract_id.eq(contract));
    }
    if let Some(run) = filter.billing_run_id {
        query = query.filter(i::billing_run_id.eq(run));
    }
    if let Some(status) = filter.status {
        query = query.filter(i::status.eq(status));
    }
    if let Some(review) = filter.review_required {
        query = query.filter(i::review_required.eq(review));
    }
    if let Some(after) = after {
        query = query.filter(i::id.gt(after));
    }
    Ok(query.order(i::id.asc()).limit(limit + 1).load(conn).await?)
}
