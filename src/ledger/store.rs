//! SQL of the ledger.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::EntryRow;
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::ledger_entries::dsl as l;

/// Appends entries (the table refuses every change after that).
pub async fn post(conn: &mut Conn, entries: &[EntryRow]) -> Result<(), ApiError> {
    for chunk in entries.chunks(2000) {
        let insert = diesel::insert_into(l::ledger_entries).values(chunk);
        if chunk.len() <= crate::db::FEW_ROWS {
            crate::db::Cached(insert).execute(conn).await?;
        } else {
            insert.execute(conn).await?;
        }
    }
    Ok(())
}

/// What the ledger says an invoice still owes.
pub async fn invoice_balance(conn: &mut Conn, invoice_id: Uuid) -> Result<Decimal, ApiError> {
    let sum: Option<Decimal> = l::ledger_entries
        .filter(l::invoice_id.eq(invoice_id))
        .select(diesel::dsl::sum(l::amount))
        .first(conn)
        .await?;
    Ok(sum.unwrap_or_default())
}

/// What the ledger says the account owes (negative: the account is in credit).
pub async fn account_balance(conn: &mut Conn, account_id: Uuid) -> Result<Decimal, ApiError> {
    let sum: Option<Decimal> = l::ledger_entries
        .filter(l::account_id.eq(account_id))
        .select(diesel::dsl::sum(l::amount))
        .first(conn)
        .await?;
    Ok(sum.unwrap_or_default())
}

/// An invoice's entries, oldest first.
pub async fn of_invoice(conn: &mut Conn, invoice_id: Uuid) -> Result<Vec<EntryRow>, ApiError> {
    Ok(l::ledger_entries
        .filter(l::invoice_id.eq(invoice_id))
        .select(EntryRow::as_select())
        .order(l::seq.asc())
        .load(conn)
        .await?)
}

/// One account's balance summary, from [`balance_summaries`].
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct AccountBalance {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub account_id: Uuid,
    #[diesel(embed)]
    pub summary: super::model::BalanceSummary,
}

/// The balance summaries of several accounts as of `today`, in one query: the figures of
/// [`balance_summary`] for each.
pub async fn balance_summaries(
    conn: &mut Conn,
    account_ids: &[Uuid],
    today: time::Date,
) -> Result<Vec<AccountBalance>, ApiError> {
    use diesel::sql_types::{Array, Date, Uuid as SqlUuid};
    Ok(diesel::sql_query(
        "SELECT x.id AS account_id,
                COALESCE((SELECT sum(amount) FROM ledger_entries WHERE account_id = x.id), 0) AS balance,
                COALESCE(sum(i.balance_due) FILTER (WHERE i.status = 'open'), 0) AS open_balance,
                COALESCE(sum(i.balance_due) FILTER (WHERE i.status = 'open' AND i.due_date < $2), 0) AS past_due,
                COALESCE(sum(i.disputed_amount) FILTER (WHERE i.status = 'open'), 0) AS disputed,
                COALESCE((SELECT -sum(amount) FROM ledger_entries
                           WHERE account_id = x.id AND invoice_id IS NULL AND document_type = 'payment'), 0)
                    AS unapplied_cash,
                COALESCE((SELECT -sum(amount) FROM ledger_entries
                           WHERE account_id = x.id AND invoice_id IS NULL AND document_type = 'credit_memo'), 0)
                    AS unapplied_credits,
                count(i.id) FILTER (WHERE i.status = 'open') AS open_invoices
           FROM unnest($1) AS x(id)
           LEFT JOIN invoices i ON i.account_id = x.id AND i.status = 'open'
          GROUP BY x.id",
    )
    .bind::<Array<SqlUuid>, _>(account_ids)
    .bind::<Date, _>(today)
    .load(conn)
    .await?)
}

/// An account's balance summary as of `today`, in one query.
pub async fn balance_summary(
    conn: &mut Conn,
    account_id: Uuid,
    today: time::Date,
) -> Result<super::model::BalanceSummary, ApiError> {
    use diesel::sql_types::{Date, Uuid as SqlUuid};
    Ok(diesel::sql_query(
        "SELECT COALESCE((SELECT sum(amount) FROM ledger_entries WHERE account_id = $1), 0) AS balance,
                COALESCE(sum(balance_due) FILTER (WHERE status = 'open'), 0) AS open_balance,
                COALESCE(sum(balance_due) FILTER (WHERE status = 'open' AND due_date < $2), 0) AS past_due,
                COALESCE(sum(disputed_amount) FILTER (WHERE status = 'open'), 0) AS disputed,
                COALESCE((SELECT -sum(amount) FROM ledger_entries
                           WHERE account_id = $1 AND invoice_id IS NULL AND document_type = 'payment'), 0)
                    AS unapplied_cash,
                COALESCE((SELECT -sum(amount) FROM ledger_entries
                           WHERE account_id = $1 AND invoice_id IS NULL AND document_type = 'credit_memo'), 0)
                    AS unapplied_credits,
                count(*) FILTER (WHERE status = 'open') AS open_invoices
           FROM invoices WHERE account_id = $1",
    )
    .bind::<SqlUuid, _>(account_id)
    .bind::<Date, _>(today)
    .get_result(conn)
    .await?)
}
