//! SQL of credit memos, their lines, targets, applications and refunds.
//!
//! Lock order: the memo, then its invoices in id order (as payments do).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{
    CreditApplicationRow, CreditApplicationView, CreditLineRow, CreditMemoFilter, CreditMemoRow,
    CreditMemoView, CreditRefundRow, TargetRow,
};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::credit_applications::dsl as ca;
use crate::schema::credit_memo_lines::dsl as cl;
use crate::schema::credit_memo_targets::dsl as ct;
use crate::schema::credit_memos::dsl as cm;
use crate::schema::credit_refunds::dsl as cr;

pub async fn insert(
    conn: &mut Conn,
    memo: &CreditMemoRow,
    lines: &[CreditLineRow],
    targets: &[TargetRow],
) -> Result<(), ApiError> {
    diesel::insert_into(cm::credit_memos)
        .values(memo)
        .execute(conn)
        .await?;
    diesel::insert_into(cl::credit_memo_lines)
        .values(lines)
        .execute(conn)
        .await?;
    if !targets.is_empty() {
        diesel::insert_into(ct::credit_memo_targets)
            .values(targets)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<CreditMemoRow, ApiError> {
    cm::credit_memos
        .find(id)
        .select(CreditMemoRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("credit memo"))
}

pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<CreditMemoRow, ApiError> {
    cm::credit_memos
        .find(id)
        .select(CreditMemoRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("credit memo"))
}

pub async fn update(conn: &mut Conn, row: &CreditMemoRow) -> Result<(), ApiError> {
    diesel::update(cm::credit_memos.find(row.id))
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn targets_of(conn: &mut Conn, memo_id: Uuid) -> Result<Vec<TargetRow>, ApiError> {
    Ok(ct::credit_memo_targets
        .filter(ct::credit_memo_id.eq(memo_id))
        .select(TargetRow::as_select())
        .order(ct::invoice_id.asc())
        .load(conn)
        .await?)
}

pub async fn insert_applications(
    conn: &mut Conn,
    rows: &[CreditApplicationRow],
) -> Result<(), ApiError> {
    if !rows.is_empty() {
        diesel::insert_into(ca::credit_applications)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn insert_refund(conn: &mut Conn, row: &CreditRefundRow) -> Result<(), ApiError> {
    diesel::insert_into(cr::credit_refunds)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// Credit applications with the memo's and the invoice's numbers: of the given memos, or of
/// the given invoices.
pub async fn application_views(
    mut conn: &Conn,
    of_memos: Option<&[Uuid]>,
    of_invoices: Option<&[Uuid]>,
) -> Result<Vec<CreditApplicationView>, ApiError> {
    use crate::schema::invoices::dsl as i;
    let mut query = ca::credit_applications
        .inner_join(cm::credit_memos)
        .inner_join(i::invoices)
        .select((
            CreditApplicationRow::as_select(),
            cm::number,
            cm::currency,
            i::number.nullable(),
        ))
        .order(ca::id.asc())
        .into_boxed();
    if let Some(ids) = of_memos {
        query = crate::filter_ids!(query, ca::credit_memo_id, ids);
    }
    if let Some(ids) = of_invoices {
        query = crate::filter_ids!(query, ca::invoice_id, ids);
    }
    let rows: Vec<(
        CreditApplicationRow,
        Option<String>,
        crate::money::Currency,
        Option<String>,
    )> = query.load(&mut conn).await?;
    Ok(rows
        .into_iter()
        .map(|(a, memo, currency, invoice)| CreditApplicationView::new(a, currency, memo, invoice))
        .collect())
}

/// Views of memos with their lines, targets, applications and refunds: four queries whatever
/// the number of memos.
pub async fn views(
    conn: &mut Conn,
    rows: Vec<CreditMemoRow>,
) -> Result<Vec<CreditMemoView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let mut lines: HashMap<Uuid, Vec<CreditLineRow>> = HashMap::new();
    for l in cl::credit_memo_lines
        .filter(cl::credit_memo_id.eq_any(&ids))
        .select(CreditLineRow::as_select())
        .order((cl::credit_memo_id, cl::line_no))
        .load::<CreditLineRow>(conn)
        .await?
    {
        lines.entry(l.credit_memo_id).or_default().push(l);
    }
    let mut targets: HashMap<Uuid, Vec<TargetRow>> = HashMap::new();
    for t in ct::credit_memo_targets
        .filter(ct::credit_memo_id.eq_any(&ids))
        .select(TargetRow::as_select())
        .order((ct::credit_memo_id, ct::invoice_id))
        .load::<TargetRow>(conn)
        .await?
    {
        targets.entry(t.credit_memo_id).or_default().push(t);
    }
    let mut applications: HashMap<Uuid, Vec<CreditApplicationView>> = HashMap::new();
    for a in application_views(conn, Some(&ids), None).await? {
        applications.entry(a.credit_memo_id).or_default().push(a);
    }
    let mut refunds: HashMap<Uuid, Vec<CreditRefundRow>> = HashMap::new();
    for r in cr::credit_refunds
        .filter(cr::credit_memo_id.eq_any(&ids))
        .select(CreditRefundRow::as_select())
        .order(cr::id)
        .load::<CreditRefundRow>(conn)
        .await?
    {
        refunds.entry(r.credit_memo_id).or_default().push(r);
    }
    Ok(rows
        .into_iter()
        .map(|m| {
            let id = m.id;
            CreditMemoView::new(
                m,
                lines.remove(&id).unwrap_or_default(),
                targets.remove(&id).unwrap_or_default(),
                applications.remove(&id).unwrap_or_default(),
                refunds.remove(&id).unwrap_or_default(),
            )
        })
        .collect())
}

pub async fn view(conn: &mut Conn, row: CreditMemoRow) -> Result<CreditMemoView, ApiError> {
    Ok(views(conn, vec![row]).await?.remove(0))
}

pub async fn lines_of(conn: &mut Conn, memo_id: Uuid) -> Result<Vec<CreditLineRow>, ApiError> {
    Ok(cl::credit_memo_lines
        .filter(cl::credit_memo_id.eq(memo_id))
        .select(CreditLineRow::as_select())
        .order(cl::line_no)
        .load(conn)
        .await?)
}

/// Saves the taxes of a memo's lines.
pub async fn update_lines(conn: &mut Conn, lines: &[CreditLineRow]) -> Result<(), ApiError> {
    for line in lines {
        diesel::update(cl::credit_memo_lines.find(line.id))
            .set(cl::tax_amount.eq(line.tax_amount))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Sets what a memo's target invoice is to receive.
pub async fn update_target(conn: &mut Conn, target: &TargetRow) -> Result<(), ApiError> {
    diesel::update(ct::credit_memo_targets.find((target.credit_memo_id, target.invoice_id)))
        .set(ct::amount.eq(target.amount))
        .execute(conn)
        .await?;
    Ok(())
}

/// Memos matching the filter, newest first, after the cursor id.
pub async fn list(
    conn: &mut Conn,
    filter: &CreditMemoFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CreditMemoRow>, ApiError> {
    let mut query = cm::credit_memos
        .select(CreditMemoRow::as_select())
        .into_boxed();
    if let Some(v) = filter.account_id {
        query = query.filter(cm::account_id.eq(v));
    }
    if let Some(v) = filter.status {
        query = query.filter(cm::status.eq(v));
    }
    if let Some(v) = filter.reason {
        query = query.filter(cm::reason.eq(v));
    }
    if let Some(v) = filter.financial_code_id {
        query = query.filter(cm::financial_code_id.eq(v));
    }
    if let Some(v) = filter.from {
        query = query.filter(cm::created_at.ge(v.midnight().assume_utc()));
    }
    if let Some(next) = filter.to.and_then(|v| v.next_day()) {
        query = query.filter(cm::created_at.lt(next.midnight().assume_utc()));
    }
    if let Some(after) = after {
        query = query.filter(cm::id.lt(after));
    }
    Ok(query
        .order(cm::id.desc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}
