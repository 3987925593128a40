//! SQL of agency placements: rows, the invoices placed, recoveries, and views.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{
    PlacedInvoice, PlacementFilter, PlacementRow, PlacementView, RecoveryRow, RecoveryView,
};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::agency_placements::dsl as ap;
use crate::schema::placement_invoices::dsl as pi;
use crate::schema::placement_recoveries::dsl as pr;

/// Views of placements: two queries whatever their number.
pub async fn views(
    conn: &mut Conn,
    rows: Vec<PlacementRow>,
) -> Result<Vec<PlacementView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let invoices: Vec<(Uuid, Uuid, Decimal)> = pi::placement_invoices
        .filter(pi::placement_id.eq_any(&ids))
        .select((pi::placement_id, pi::invoice_id, pi::amount))
        .order((pi::placement_id, pi::invoice_id))
        .load(conn)
        .await?;
    let recoveries: Vec<RecoveryRow> = pr::placement_recoveries
        .filter(pr::placement_id.eq_any(&ids))
        .select(RecoveryRow::as_select())
        .order(pr::id)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let norm = |d: Decimal| r.currency.normalize(d);
            PlacementView {
                invoices: invoices
                    .iter()
                    .filter(|(p, _, _)| *p == r.id)
                    .map(|(_, invoice_id, amount)| PlacedInvoice {
                        invoice_id: *invoice_id,
                        amount: norm(*amount),
                    })
                    .collect(),
                recoveries: recoveries
                    .iter()
                    .filter(|x| x.placement_id == r.id)
                    .map(|x| RecoveryView {
                        id: x.id,
                        payment_id: x.payment_id,
                        amount: norm(x.amount),
                        commission: norm(x.commission),
                        net: norm(x.amount - x.commission),
                        received_date: x.received_date,
                        commission_adjustment_id: x.commission_adjustment_id,
                    })
                    .collect(),
                id: r.id,
                account_id: r.account_id,
                agency: r.agency,
                placed_on: r.placed_on,
                amount_placed: norm(r.amount_placed),
                commission_rate: r.commission_rate.normalize(),
                commission_financial_code_id: r.commission_financial_code_id,
                status: r.status,
                recovered: norm(r.recovered),
                commission: norm(r.commission),
                currency: r.currency,
                recalled_on: r.recalled_on,
                recall_reason: r.recall_reason,
                created_by: r.created_by,
                created_at: r.created_at,
                version: r.version,
            }
        })
        .collect())
}

/// The view of one placement.
pub async fn view(conn: &mut Conn, row: PlacementRow) -> Result<PlacementView, ApiError> {
    Ok(views(conn, vec![row]).await?.remove(0))
}

/// The placement, or 404.
pub async fn find(conn: &mut Conn, id: Uuid) -> Result<PlacementRow, ApiError> {
    ap::agency_placements
        .find(id)
        .select(PlacementRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("placement"))
}

/// The placement locked for a change, or 404.
pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<PlacementRow, ApiError> {
    ap::agency_placements
        .find(id)
        .select(PlacementRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("placement"))
}

/// A page of placements in creation order, filtered.
pub async fn list(
    conn: &mut Conn,
    filter: &PlacementFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PlacementRow>, ApiError> {
    let mut query = ap::agency_placements
        .select(PlacementRow::as_select())
        .order(ap::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = filter.account_id {
        query = query.filter(ap::account_id.eq(a));
    }
    if let Some(s) = filter.status {
        query = query.filter(ap::status.eq(s));
    }
    if let Some(after) = after {
        query = query.filter(ap::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

/// A past-due invoice and its undisputed balance, the amount placed.
#[derive(diesel::QueryableByName)]
pub struct Placed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub invoice_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount: Decimal,
}

/// The account's invoices past due at the end of `today` with an undisputed balance, locked.
pub async fn lock_past_due(
    conn: &mut Conn,
    account_id: Uuid,
    today: Date,
) -> Result<Vec<Placed>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT id AS invoice_id, balance_due - disputed_amount AS amount
           FROM invoices
          WHERE account_id = $1 AND status = 'open' AND due_date < $2
            AND balance_due > disputed_amount
          ORDER BY id
            FOR UPDATE",
    )
    .bind::<diesel::sql_types::Uuid, _>(account_id)
    .bind::<diesel::sql_types::Date, _>(today)
    .load(conn)
    .await?)
}

/// Inserts a new placement with the invoices it places.
pub async fn insert(
    conn: &mut Conn,
    row: &PlacementRow,
    placed: &[Placed],
) -> Result<(), ApiError> {
    diesel::insert_into(ap::agency_placements)
        .values(row)
        .execute(conn)
        .await?;
    let lines: Vec<_> = placed
        .iter()
        .map(|p| {
            (
                pi::placement_id.eq(row.id),
                pi::invoice_id.eq(p.invoice_id),
                pi::amount.eq(p.amount),
            )
        })
        .collect();
    diesel::insert_into(pi::placement_invoices)
        .values(&lines)
        .execute(conn)
        .await?;
    Ok(())
}

/// Saves the placement's row.
pub async fn update(conn: &mut Conn, row: &PlacementRow) -> Result<(), ApiError> {
    diesel::update(ap::agency_placements.find(row.id))
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts a recovery.
pub async fn insert_recovery(conn: &mut Conn, row: &RecoveryRow) -> Result<(), ApiError> {
    diesel::insert_into(pr::placement_recoveries)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}
