//! SQL of payments, their applications, refunds and deductions, and of adjustments.
//!
//! Lock order, everywhere: the payment, then its invoices in id order, then deductions. Every
//! change of money happens under those row locks; the database's CHECKs (no negative balance,
//! nothing applied beyond the amount) are the last line.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::TryFutureExt;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{
    ApplicationRow, ApplicationView, DeductionRow, DeductionStatus, PaymentRow, PaymentView,
    RefundRow,
};
use super::requests::{DeductionFilter, PaymentFilter};
use crate::db::Conn;
use crate::error::ApiError;
use crate::invoices::model::InvoiceRow;
use crate::schema::deductions::dsl as d;
use crate::schema::payment_applications::dsl as pa;
use crate::schema::payment_refunds::dsl as r;
use crate::schema::payments::dsl as p;

diesel::define_sql_function! {
    /// PostgreSQL's `nextval` of a sequence.
    fn nextval(sequence: diesel::sql_types::Text) -> diesel::sql_types::BigInt;
}

/// The next payment number, `PMT-000001` (a statement of the DSL: it stays prepared).
pub async fn next_number(conn: &mut Conn) -> Result<String, ApiError> {
    let n: i64 = diesel::select(nextval("payment_numbers"))
        .get_result(conn)
        .await?;
    Ok(format!("PMT-{n:06}"))
}

/// `n` payment numbers in one statement, in order (a batch of payments).
pub async fn next_numbers(conn: &mut Conn, n: usize) -> Result<Vec<String>, ApiError> {
    use diesel::sql_types::{Array, BigInt, Integer};
    let n = i32::try_from(n).map_err(|_| ApiError::internal("too many payment numbers"))?;
    let numbers = diesel::dsl::sql::<Array<BigInt>>("ARRAY(SELECT nextval('payment_numbers') ")
        .sql("FROM generate_series(1, ")
        .bind::<Integer, _>(n)
        .sql(") ORDER BY 1)");
    let taken: Vec<i64> = diesel::select(numbers).get_result(conn).await?;
    Ok(taken.iter().map(|n| format!("PMT-{n:06}")).collect())
}

/// Inserts payments, a thousand to a statement.
pub async fn insert(conn: &mut Conn, rows: &[PaymentRow]) -> Result<(), ApiError> {
    for chunk in rows.chunks(1_000) {
        diesel::insert_into(p::payments)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<PaymentRow, ApiError> {
    p::payments
        .find(id)
        .select(PaymentRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("payment"))
}

/// Like [`find`], locking the payment for the rest of the transaction.
pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<PaymentRow, ApiError> {
    p::payments
        .find(id)
        .select(PaymentRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("payment"))
}

pub async fn update(conn: &mut Conn, row: &PaymentRow) -> Result<(), ApiError> {
    // Every column is set (`treat_none_as_null`), so the text never changes.
    crate::db::Cached(diesel::update(p::payments.find(row.id)).set(row))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_applications(conn: &mut Conn, rows: &[ApplicationRow]) -> Result<(), ApiError> {
    let insert = diesel::insert_into(pa::payment_applications).values(rows);
    match rows.len() {
        0 => {}
        n if n <= crate::db::FEW_ROWS => {
            crate::db::Cached(insert).execute(conn).await?;
        }
        _ => {
            insert.execute(conn).await?;
        }
    }
    Ok(())
}

pub async fn update_application(conn: &mut Conn, row: &ApplicationRow) -> Result<(), ApiError> {
    diesel::update(pa::payment_applications.find(row.id))
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// A payment's applications that still count (not reversed), oldest first. Read under the
/// payment's lock, which guards them.
pub async fn live_applications(
    conn: &mut Conn,
    payment_id: Uuid,
) -> Result<Vec<ApplicationRow>, ApiError> {
    Ok(pa::payment_applications
        .filter(pa::payment_id.eq(payment_id))
        .filter(pa::reversed_at.is_null())
        .select(ApplicationRow::as_select())
        .order(pa::id.asc())
        .load(conn)
        .await?)
}

/// One application of the payment.
pub async fn find_application(
    conn: &mut Conn,
    payment_id: Uuid,
    id: Uuid,
) -> Result<ApplicationRow, ApiError> {
    pa::payment_applications
        .filter(pa::id.eq(id))
        .filter(pa::payment_id.eq(payment_id))
        .select(ApplicationRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("application"))
}

/// Applications with their payment's number and the invoice's number, for views: of the
/// given payments, or of the given invoices.
async fn application_views(
    mut conn: &Conn,
    of_payments: Option<&[Uuid]>,
    of_invoices: Option<&[Uuid]>,
) -> Result<Vec<ApplicationView>, ApiError> {
    use crate::schema::invoices::dsl as i;
    let mut query = pa::payment_applications
        .inner_join(p::payments)
        .inner_join(i::invoices)
        .select((
            ApplicationRow::as_select(),
            p::number,
            p::currency,
            i::number.nullable(),
            i::account_id,
        ))
        .order(pa::id.asc())
        .into_boxed();
    if let Some(ids) = of_payments {
        query = crate::filter_ids!(query, pa::payment_id, ids);
    }
    if let Some(ids) = of_invoices {
        query = crate::filter_ids!(query, pa::invoice_id, ids);
    }
    let rows: Vec<(
        ApplicationRow,
        String,
        crate::money::Currency,
        Option<String>,
        Uuid,
    )> = query.load(&mut conn).await?;
    Ok(rows
        .into_iter()
        .map(
            |(a, payment_number, currency, invoice_number, account_id)| {
                ApplicationView::new(a, currency, payment_number, invoice_number, account_id)
            },
        )
        .collect())
}

/// The payments and credits applied to each of the invoices, oldest first.
pub async fn applications_of_invoices(
    conn: &Conn,
    invoice_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ApplicationView>>, ApiError> {
    let rows = application_views(conn, None, Some(invoice_ids)).await?;
    Ok(crate::db::by_parent(rows, |a| a.invoice_id))
}

pub async fn insert_refund(conn: &mut Conn, row: &RefundRow) -> Result<(), ApiError> {
    diesel::insert_into(r::payment_refunds)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_deductions(conn: &mut Conn, rows: &[DeductionRow]) -> Result<(), ApiError> {
    if !rows.is_empty() {
        diesel::insert_into(d::deductions)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn find_deduction(conn: &mut Conn, id: Uuid) -> Result<DeductionRow, ApiError> {
    d::deductions
        .find(id)
        .select(DeductionRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("deduction"))
}

pub async fn lock_deduction(conn: &mut Conn, id: Uuid) -> Result<DeductionRow, ApiError> {
    d::deductions
        .find(id)
        .select(DeductionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("deduction"))
}

/// Locks a deduction with its invoice, the invoice first (the order cash application takes).
pub async fn lock_deduction_with_invoice(
    conn: &mut Conn,
    id: Uuid,
) -> Result<(InvoiceRow, DeductionRow), ApiError> {
    let invoice_id = find_deduction(conn, id).await?.invoice_id;
    let invoice = crate::invoices::store::lock_visible(conn, invoice_id, None).await?;
    Ok((invoice, lock_deduction(conn, id).await?))
}

pub async fn update_deduction(conn: &mut Conn, row: &DeductionRow) -> Result<(), ApiError> {
    diesel::update(d::deductions.find(row.id))
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// Keeps the invoices' open deductions within what they are short (balance less disputed):
/// a deduction nothing is short of any more is `paid`, settled by `payment` when a payment
/// did it; one that is short of less shrinks.
pub async fn sync_deductions(
    conn: &mut Conn,
    invoice_ids: &[Uuid],
    payment: Option<Uuid>,
    stamp: &super::rules::Stamp,
) -> Result<(), ApiError> {
    use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    if invoice_ids.is_empty() {
        return Ok(());
    }
    // Most invoices have no open deduction: a (prepared, kept) look first spares the two
    // updates below, which PostgreSQL would parse and plan every time.
    let query = d::deductions
        .filter(d::status.eq(DeductionStatus::Open))
        .select(d::id)
        .limit(1)
        .into_boxed();
    let open: Option<Uuid> = crate::filter_ids!(query, d::invoice_id, invoice_ids)
        .first(conn)
        .await
        .optional()?;
    if open.is_none() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE deductions d SET status = 'paid', resolved_at = $2, resolved_by = $3,
                settled_by_payment_id = $4, version = d.version + 1, updated_at = $2
           FROM invoices i
          WHERE i.id = d.invoice_id AND d.invoice_id = ANY($1) AND d.status = 'open'
            AND i.balance_due - i.disputed_amount <= 0",
    )
    .bind::<Array<SqlUuid>, _>(invoice_ids)
    .bind::<Timestamptz, _>(stamp.now)
    .bind::<Text, _>(&stamp.actor)
    .bind::<Nullable<SqlUuid>, _>(payment)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "UPDATE deductions d SET amount = i.balance_due - i.disputed_amount,
                version = d.version + 1, updated_at = $2
           FROM invoices i
          WHERE i.id = d.invoice_id AND d.invoice_id = ANY($1) AND d.status = 'open'
            AND d.amount > i.balance_due - i.disputed_amount",
    )
    .bind::<Array<SqlUuid>, _>(invoice_ids)
    .bind::<Timestamptz, _>(stamp.now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Reopens the deductions a payment had settled on the given invoices, now that its
/// applications there are reversed and the invoices are short again.
pub async fn reopen_deductions(
    conn: &mut Conn,
    payment_id: Uuid,
    invoice_ids: &[Uuid],
    stamp: &super::rules::Stamp,
) -> Result<(), ApiError> {
    use diesel::sql_types::{Array, Timestamptz, Uuid as SqlUuid};
    if invoice_ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE deductions d SET status = 'open', resolved_at = NULL, resolved_by = NULL,
                settled_by_payment_id = NULL,
                amount = LEAST(d.amount, i.balance_due - i.disputed_amount),
                version = d.version + 1, updated_at = $3
           FROM invoices i
          WHERE i.id = d.invoice_id AND d.invoice_id = ANY($1) AND d.status = 'paid'
            AND d.settled_by_payment_id = $2 AND i.balance_due - i.disputed_amount > 0
            AND d.id = (SELECT x.id FROM deductions x WHERE x.invoice_id = d.invoice_id
                         AND x.status = 'paid' AND x.settled_by_payment_id = $2
                         ORDER BY x.id DESC LIMIT 1)
            AND NOT EXISTS (SELECT 1 FROM deductions o WHERE o.invoice_id = d.invoice_id AND o.status = 'open')",
    )
    .bind::<Array<SqlUuid>, _>(invoice_ids)
    .bind::<SqlUuid, _>(payment_id)
    .bind::<Timestamptz, _>(stamp.now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The open deduction of each of the invoices (there is at most one).
pub async fn open_deductions(
    conn: &mut Conn,
    invoice_ids: &[Uuid],
) -> Result<HashMap<Uuid, DeductionRow>, ApiError> {
    Ok(d::deductions
        .filter(d::invoice_id.eq_any(invoice_ids))
        .filter(d::status.eq(DeductionStatus::Open))
        .select(DeductionRow::as_select())
        .load::<DeductionRow>(conn)
        .await?
        .into_iter()
        .map(|row| (row.invoice_id, row))
        .collect())
}

/// The latest date the payment's ledger entries carry: refunds and returns may not be dated
/// before it.
pub async fn last_movement(
    conn: &mut Conn,
    payment_id: Uuid,
) -> Result<Option<time::Date>, ApiError> {
    use crate::schema::ledger_entries::dsl as l;
    Ok(l::ledger_entries
        .filter(l::document_id.eq(payment_id))
        .select(diesel::dsl::max(l::entry_date))
        .first(conn)
        .await?)
}

/// Cancels the open deductions a payment left on the given invoices (its application there
/// was reversed or the payment returned).
pub async fn cancel_deductions(
    conn: &mut Conn,
    payment_id: Uuid,
    invoice_ids: &[Uuid],
    stamp: &super::rules::Stamp,
) -> Result<(), ApiError> {
    diesel::update(
        d::deductions
            .filter(d::payment_id.eq(payment_id))
            .filter(d::invoice_id.eq_any(invoice_ids))
            .filter(d::status.eq(DeductionStatus::Open)),
    )
    .set((
        d::status.eq(DeductionStatus::Cancelled),
        d::resolved_at.eq(stamp.now),
        d::resolved_by.eq(&stamp.actor),
        d::version.eq(d::version + 1),
        d::updated_at.eq(stamp.now),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// The deductions of the given payments or invoices, oldest first.
pub async fn deductions_of(
    mut conn: &Conn,
    of_payments: Option<&[Uuid]>,
    of_invoices: Option<&[Uuid]>,
) -> Result<Vec<DeductionRow>, ApiError> {
    let mut query = d::deductions
        .select(DeductionRow::as_select())
        .order(d::id.asc())
        .into_boxed();
    if let Some(ids) = of_payments {
        query = crate::filter_ids!(query, d::payment_id, ids);
    }
    if let Some(ids) = of_invoices {
        query = crate::filter_ids!(query, d::invoice_id, ids);
    }
    Ok(query.load(&mut conn).await?)
}

/// Deductions matching the filter in creation order, after the cursor id.
pub async fn list_deductions(
    conn: &mut Conn,
    filter: &DeductionFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeductionRow>, ApiError> {
    let mut query = d::deductions.select(DeductionRow::as_select()).into_boxed();
    if let Some(v) = filter.account_id {
        query = query.filter(d::account_id.eq(v));
    }
    if let Some(v) = filter.invoice_id {
        query = query.filter(d::invoice_id.eq(v));
    }
    if let Some(v) = filter.payment_id {
        query = query.filter(d::payment_id.eq(v));
    }
    if let Some(v) = filter.status {
        query = query.filter(d::status.eq(v));
    }
    if let Some(v) = filter.reason {
        query = query.filter(d::reason.eq(v));
    }
    if let Some(after) = after {
        query = query.filter(d::id.gt(after));
    }
    Ok(query.order(d::id.asc()).limit(limit + 1).load(conn).await?)
}

/// Payments matching the filter, newest first (by id), after the cursor id.
pub async fn list(
    conn: &mut Conn,
    filter: &PaymentFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PaymentRow>, ApiError> {
    let mut query = p::payments.select(PaymentRow::as_select()).into_boxed();
    if let Some(v) = filter.account_id {
        query = query.filter(p::account_id.eq(v));
    }
    if let Some(v) = filter.method {
        query = query.filter(p::method.eq(v));
    }
    if let Some(v) = filter.status {
        query = query.filter(p::status.eq(v));
    }
    if let Some(v) = filter.received_from {
        query = query.filter(p::received_date.ge(v));
    }
    if let Some(v) = filter.received_to {
        query = query.filter(p::received_date.le(v));
    }
    if let Some(reference) = filter.reference.as_deref().map(str::trim) {
        let escaped = reference
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(reference) LIKE ")
                .bind::<diesel::sql_types::Text, _>(format!("{escaped}%")),
        );
    }
    if let Some(after) = after {
        query = query.filter(p::id.lt(after));
    }
    Ok(query
        .order(p::id.desc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}

/// Views of payments with their applications, refunds and deductions: three queries
/// whatever the number of payments.
/// Payments with their applications, refunds and deductions: three reads, pipelined.
pub async fn views(mut conn: &Conn, rows: Vec<PaymentRow>) -> Result<Vec<PaymentView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|p| p.id).collect();
    let refunds = r::payment_refunds
        .select(RefundRow::as_select())
        .order(r::id.asc())
        .into_boxed();
    let refunds = crate::filter_ids!(refunds, r::payment_id, ids.as_slice())
        .load(&mut conn)
        .map_err(ApiError::from);
    let (applied, refund_rows, deducted): (_, Vec<RefundRow>, _) = tokio::try_join!(
        application_views(conn, Some(&ids), None),
        refunds,
        deductions_of(conn, Some(&ids), None),
    )?;
    let mut applications = crate::db::by_parent(applied, |a| a.payment_id);
    let mut refunds = crate::db::by_parent(refund_rows, |r| r.payment_id);
    let mut deductions = crate::db::by_parent(deducted, |d| d.payment_id);
    Ok(rows
        .into_iter()
        .map(|p| {
            let id = p.id;
            PaymentView::new(
                p,
                applications.remove(&id).unwrap_or_default(),
                refunds.remove(&id).unwrap_or_default(),
                deductions.remove(&id).unwrap_or_default(),
            )
        })
        .collect())
}

pub async fn view(conn: &mut Conn, row: PaymentRow) -> Result<PaymentView, ApiError> {
    Ok(views(conn, vec![row]).await?.remove(0))
}

pub async fn history(
    conn: &mut Conn,
    account_id: Uuid,
    today: time::Date,
) -> Result<super::model::PaymentHistory, ApiError> {
    use diesel::sql_types::{Date, Uuid as SqlUuid};
    Ok(diesel::sql_query(
        "SELECT count(*) AS payments_received,
                max(received_date) AS last_payment_date,
                count(*) FILTER (WHERE status = 'returned') AS returned_payments,
                count(*) FILTER (WHERE status = 'returned' AND returned_on > $2 - interval '12 months')
                    AS returned_last_12_months,
                max(returned_on) AS last_returned_on
           FROM payments WHERE account_id = $1",
    )
    .bind::<SqlUuid, _>(account_id)
    .bind::<Date, _>(today)
    .get_result(conn)
    .await?)
}

/// Locks the account's open invoices with something left to pay, in id order.
pub async fn lock_open_invoices(
    conn: &mut Conn,
    account_id: Uuid,
) -> Result<Vec<InvoiceRow>, ApiError> {
    use crate::invoices::model::InvoiceStatus;
    use crate::schema::invoices::dsl as i;
    Ok(i::invoices
        .filter(i::account_id.eq(account_id))
        .filter(i::status.eq(InvoiceStatus::Open))
        .filter(i::balance_due.gt(Decimal::ZERO))
        .select(InvoiceRow::as_select())
        .order(i::id.asc())
        .for_update()
        .load(conn)
        .await?)
}

/// Cancels the open deductions of invoices that no longer collect (written off as bad debt).
pub async fn cancel_open_deductions(
    conn: &mut Conn,
    invoice_ids: &[Uuid],
    stamp: &super::rules::Stamp,
) -> Result<(), ApiError> {
    diesel::update(
        d::deductions
            .filter(d::invoice_id.eq_any(invoice_ids))
            .filter(d::status.eq(DeductionStatus::Open)),
    )
    .set((
        d::status.eq(DeductionStatus::Cancelled),
        d::resolved_at.eq(stamp.now),
        d::resolved_by.eq(&stamp.actor),
        d::version.eq(d::version + 1),
        d::updated_at.eq(stamp.now),
    ))
    .execute(conn)
    .await?;
    Ok(())
}
