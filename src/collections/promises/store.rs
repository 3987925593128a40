//! SQL of promises to pay: rows, their instalments and the invoices they cover, and views.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::{Date, Duration};
use uuid::Uuid;

use super::model::{
    InstalmentRow, InstalmentStatus, InstalmentView, PromiseFilter, PromiseRow, PromiseStatus,
    PromiseView,
};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::promise_instalments::dsl as pi;
use crate::schema::promise_invoices::dsl as pv;
use crate::schema::promises::dsl as pr;

/// The instalments of the promises given, in order, by promise.
pub async fn instalments_of(
    conn: &mut Conn,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<InstalmentRow>>, ApiError> {
    let mut instalments: HashMap<Uuid, Vec<InstalmentRow>> = HashMap::new();
    for i in pi::promise_instalments
        .filter(pi::promise_id.eq_any(ids))
        .select(InstalmentRow::as_select())
        .order((pi::promise_id, pi::seq))
        .load::<InstalmentRow>(conn)
        .await?
    {
        instalments.entry(i.promise_id).or_default().push(i);
    }
    Ok(instalments)
}

/// Views of promises: two queries whatever their number.
pub async fn views(conn: &mut Conn, rows: Vec<PromiseRow>) -> Result<Vec<PromiseView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut instalments = instalments_of(conn, &ids).await?;
    let mut invoices: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (promise, invoice) in pv::promise_invoices
        .filter(pv::promise_id.eq_any(&ids))
        .select((pv::promise_id, pv::invoice_id))
        .order((pv::promise_id, pv::invoice_id))
        .load::<(Uuid, Uuid)>(conn)
        .await?
    {
        invoices.entry(promise).or_default().push(invoice);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let norm = |d: Decimal| r.currency.normalize(d);
            PromiseView {
                instalments: instalments
                    .remove(&r.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| InstalmentView {
                        seq: i.seq,
                        due_date: i.due_date,
                        deadline: i.due_date + Duration::days(r.grace_days.into()),
                        amount: norm(i.amount),
                        status: i.status,
                    })
                    .collect(),
                invoice_ids: invoices.remove(&r.id).unwrap_or_default(),
                id: r.id,
                account_id: r.account_id,
                status: r.status,
                total: norm(r.total),
                currency: r.currency,
                grace_days: r.grace_days,
                promised_on: r.promised_on,
                note: r.note,
                closed_on: r.closed_on,
                close_reason: r.close_reason,
                created_by: r.created_by,
                created_at: r.created_at,
                version: r.version,
            }
        })
        .collect())
}

/// The view of one promise.
pub async fn view(conn: &mut Conn, row: PromiseRow) -> Result<PromiseView, ApiError> {
    Ok(views(conn, vec![row]).await?.remove(0))
}

/// The active promise of each account given that has one.
pub async fn active_views(
    conn: &mut Conn,
    accounts: &[Uuid],
) -> Result<HashMap<Uuid, PromiseView>, ApiError> {
    let rows: Vec<PromiseRow> = pr::promises
        .filter(pr::account_id.eq_any(accounts))
        .filter(pr::status.eq(PromiseStatus::Active))
        .select(PromiseRow::as_select())
        .load(conn)
        .await?;
    Ok(views(conn, rows)
        .await?
        .into_iter()
        .map(|v| (v.account_id, v))
        .collect())
}

/// The promise, or 404.
pub async fn find(conn: &mut Conn, id: Uuid) -> Result<PromiseRow, ApiError> {
    pr::promises
        .find(id)
        .select(PromiseRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("promise"))
}

/// The promise locked for a change, or 404.
pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<PromiseRow, ApiError> {
    pr::promises
        .find(id)
        .select(PromiseRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("promise"))
}

/// A page of promises in creation order, filtered.
pub async fn list(
    conn: &mut Conn,
    filter: &PromiseFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PromiseRow>, ApiError> {
    let mut query = pr::promises
        .select(PromiseRow::as_select())
        .order(pr::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = filter.account_id {
        query = query.filter(pr::account_id.eq(a));
    }
    if let Some(s) = filter.status {
        query = query.filter(pr::status.eq(s));
    }
    if let Some(after) = after {
        query = query.filter(pr::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

/// How many active promises the account has.
pub async fn count_active(conn: &mut Conn, account_id: Uuid) -> Result<i64, ApiError> {
    Ok(pr::promises
        .filter(pr::account_id.eq(account_id))
        .filter(pr::status.eq(PromiseStatus::Active))
        .count()
        .get_result(conn)
        .await?)
}

/// Inserts a new promise with its instalments, covering the account's past-due invoices
/// (those not wholly disputed) as of `today`.
pub async fn insert(
    conn: &mut Conn,
    row: &PromiseRow,
    instalments: &[InstalmentRow],
    today: Date,
) -> Result<(), ApiError> {
    diesel::insert_into(pr::promises)
        .values(row)
        .execute(conn)
        .await?;
    diesel::insert_into(pi::promise_instalments)
        .values(instalments)
        .execute(conn)
        .await?;
    diesel::sql_query(
        "INSERT INTO promise_invoices (promise_id, invoice_id)
         SELECT $1, id FROM invoices
          WHERE account_id = $2 AND status = 'open' AND due_date < $3
            AND balance_due > disputed_amount",
    )
    .bind::<diesel::sql_types::Uuid, _>(row.id)
    .bind::<diesel::sql_types::Uuid, _>(row.account_id)
    .bind::<diesel::sql_types::Date, _>(today)
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves the promise's row.
pub async fn update(conn: &mut Conn, row: &PromiseRow) -> Result<(), ApiError> {
    diesel::update(pr::promises.find(row.id))
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// Saves an instalment's status.
pub async fn set_instalment(
    conn: &mut Conn,
    promise_id: Uuid,
    seq: i32,
    status: InstalmentStatus,
) -> Result<(), ApiError> {
    diesel::update(pi::promise_instalments.find((promise_id, seq)))
        .set(pi::status.eq(status))
        .execute(conn)
        .await?;
    Ok(())
}

/// Which promises a review looks at.
pub enum Scope {
    /// The active promises of one account (after its cash moved).
    Account(Uuid),
    /// The active and kept promises of one account (after one of its payments was returned).
    Returned(Uuid),
    /// Every active promise not being reviewed elsewhere (the job).
    All,
}

/// The promises of `scope`, locked, in id order.
pub async fn lock_for_review(conn: &mut Conn, scope: Scope) -> Result<Vec<PromiseRow>, ApiError> {
    let select = pr::promises.select(PromiseRow::as_select()).order(pr::id);
    Ok(match scope {
        Scope::Account(a) => {
            select
                .filter(pr::account_id.eq(a))
                .filter(pr::status.eq(PromiseStatus::Active))
                .for_update()
                .load(conn)
                .await?
        }
        Scope::Returned(a) => {
            select
                .filter(pr::account_id.eq(a))
                .filter(pr::status.eq_any([PromiseStatus::Active, PromiseStatus::Kept]))
                .for_update()
                .load(conn)
                .await?
        }
        Scope::All => {
            select
                .filter(pr::status.eq(PromiseStatus::Active))
                .for_update()
                .skip_locked()
                .load(conn)
                .await?
        }
    })
}

/// The payments of each account given that count towards promises: `(received, amount net
/// of refunds)`, returned ones left out.
pub async fn payments_of(
    conn: &mut Conn,
    accounts: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(Date, Decimal)>>, ApiError> {
    use crate::schema::payments::dsl as p;
    let mut by_account: HashMap<Uuid, Vec<(Date, Decimal)>> = HashMap::new();
    for (account, received, amount, refunded) in p::payments
        .filter(p::account_id.eq_any(accounts))
        .filter(p::status.ne(crate::payments::model::PaymentStatus::Returned))
        .select((
            p::account_id,
            p::received_date,
            p::amount,
            p::amount_refunded,
        ))
        .load::<(Uuid, Date, Decimal, Decimal)>(conn)
        .await?
    {
        by_account
            .entry(account)
            .or_default()
            .push((received, amount - refunded));
    }
    Ok(by_account)
}
