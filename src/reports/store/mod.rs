//! SQL of the reports: set-based, one statement per figure set, as of any date from the
//! ledger (not from today's kept balances). `activity` holds the SQL of the credits and
//! disputes of a period, `collectors` that of the collectors' portfolios and work.

use diesel::sql_types::{Date as SqlDate, Integer, Nullable, Numeric, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::Date;

mod activity;
mod aging;
mod collectors;

pub use activity::{credits, disputes};
pub use aging::{aging_detail, aging_summary};
pub use collectors::collector_months;

use crate::db::Conn;
use crate::error::ApiError;
use crate::money::Currency;
use crate::reports::cash_receipts::{CashReceiptsParameters, CashReceiptsRow};
use crate::reports::kpis::Movement;
use crate::reports::past_due::{PastDueParameters, PastDueRow};

#[derive(diesel::QueryableByName)]
struct MovementRow {
    #[diesel(sql_type = SqlDate)]
    month: Date,
    #[diesel(sql_type = Text)]
    currency: Currency,
    #[diesel(sql_type = Numeric)]
    ar_change: Decimal,
    #[diesel(sql_type = Numeric)]
    credit_sales: Decimal,
    #[diesel(sql_type = Numeric)]
    bad_debt: Decimal,
}

/// Every month's movements up to the end of `to`'s month, by currency: the invoices' net
/// balance change, invoices issued less voided, and bad-debt write-offs.
pub async fn monthly_movements(conn: &mut Conn, to: Date) -> Result<Vec<Movement>, ApiError> {
    let rows: Vec<MovementRow> = diesel::sql_query(
        "SELECT date_trunc('month', l.entry_date)::date AS month, l.currency,
                COALESCE(sum(l.amount) FILTER (WHERE l.invoice_id IS NOT NULL), 0) AS ar_change,
                COALESCE(sum(l.amount) FILTER (WHERE l.kind IN ('invoice_issued', 'invoice_voided')), 0)
                    AS credit_sales,
                COALESCE(-sum(l.amount) FILTER (WHERE l.kind = 'write_off'
                                                  AND adj.kind = 'bad_debt_write_off'), 0) AS bad_debt
           FROM ledger_entries l
           LEFT JOIN adjustments adj ON l.document_type = 'adjustment' AND adj.id = l.document_id
          WHERE l.entry_date < ($1::date + interval '1 month')::date
          GROUP BY 1, 2",
    )
    .bind::<SqlDate, _>(to)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Movement {
            month: r.month,
            currency: r.currency,
            ar_change: r.ar_change,
            credit_sales: r.credit_sales,
            bad_debt: r.bad_debt,
        })
        .collect())
}

#[derive(diesel::QueryableByName)]
struct CurrentRow {
    #[diesel(sql_type = SqlDate)]
    month: Date,
    #[diesel(sql_type = Text)]
    currency: Currency,
    #[diesel(sql_type = Numeric)]
    current: Decimal,
}

/// For each month from `from` to `to`, the balances at its last day of the invoices not yet
/// due then (due on that day or later), by currency.
pub async fn closing_current(
    conn: &mut Conn,
    from: Date,
    to: Date,
) -> Result<Vec<(Date, Currency, Decimal)>, ApiError> {
    let rows: Vec<CurrentRow> = diesel::sql_query(
        "SELECT m.month, l.currency, sum(l.amount) AS current
           FROM (SELECT g::date AS month, (g + interval '1 month')::date - 1 AS last_day
                   FROM generate_series($1::date, $2::date, interval '1 month') g) m
           JOIN invoices i ON i.due_date >= m.last_day AND i.invoice_date <= m.last_day
           JOIN ledger_entries l ON l.invoice_id = i.id AND l.entry_date <= m.last_day
          GROUP BY 1, 2",
    )
    .bind::<SqlDate, _>(from)
    .bind::<SqlDate, _>(to)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.month, r.currency, r.current))
        .collect())
}

/// The accounts owing at least the threshold `min_days` or more past due at the end of
/// `as_of`, from the ledger, with their collector, last contact and open promise.
pub async fn past_due(conn: &mut Conn, p: &PastDueParameters) -> Result<Vec<PastDueRow>, ApiError> {
    // Disputes closed at or after the end of `as_of` were still active that day.
    let end = p
        .as_of
        .next_day()
        .unwrap_or(p.as_of)
        .midnight()
        .assume_utc();
    let rows: Vec<PastDueRow> = diesel::sql_query(format!(
        "{AGED},
         owed AS (
             SELECT account_id, currency, sum(balance) AS balance,
                    COALESCE(sum(balance) FILTER (WHERE days > 0), 0) AS past_due,
                    COALESCE(sum(balance) FILTER (WHERE days >= $3), 0) AS past_due_beyond,
                    COALESCE(max(days) FILTER (WHERE balance > 0), 0) AS oldest_days,
                    sum(disputed) AS disputed
               FROM aged
              GROUP BY account_id, currency)
         SELECT a.id AS account_id, a.number AS account_number, a.legal_name, o.currency,
                o.balance, o.past_due, o.past_due_beyond, o.oldest_days, o.disputed,
                cp.collector,
                (SELECT max(n.created_at) FROM account_notes n
                  WHERE n.account_id = a.id AND n.created_at < $2) AS last_contact_at,
                pr.total AS promise_amount, pr.promised_on AS promise_date
           FROM owed o
           JOIN accounts a ON a.id = o.account_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           LEFT JOIN LATERAL (
                SELECT p.total, p.promised_on FROM promises p
                 WHERE p.account_id = a.id AND p.currency = o.currency AND p.created_at < $2
                   AND (p.closed_on IS NULL OR p.closed_on > $1)
                 ORDER BY p.promised_on LIMIT 1) pr ON true
          WHERE o.past_due_beyond >= $4 AND o.past_due_beyond > 0
            AND ($5::uuid IS NULL OR a.partner_id = $5)
          ORDER BY o.past_due_beyond DESC, a.number, o.currency",
        AGED = crate::collections::aging::AGED
    ))
    .bind::<SqlDate, _>(p.as_of)
    .bind::<Timestamptz, _>(end)
    .bind::<Integer, _>(p.min_days)
    .bind::<Numeric, _>(p.threshold)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(p.partner_id)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PastDueRow {
            balance: r.currency.normalize(r.balance),
            past_due: r.currency.normalize(r.past_due),
            past_due_beyond: r.currency.normalize(r.past_due_beyond),
            disputed: r.currency.normalize(r.disputed),
            promise_amount: r.promise_amount.map(|a| r.currency.normalize(a)),
            ..r
        })
        .collect())
}

/// Payments received from `from` to `to` (by method when one is given), by day, method and
/// account, with what became of them as they stand.
pub async fn cash_receipts(
    conn: &mut Conn,
    p: &CashReceiptsParameters,
) -> Result<Vec<CashReceiptsRow>, ApiError> {
    let rows: Vec<CashReceiptsRow> = diesel::sql_query(
        "SELECT p.received_date, p.method, a.id AS account_id, a.number AS account_number,
                a.legal_name, p.currency, count(*) AS payments,
                sum(p.amount) AS received,
                COALESCE(sum(p.amount_applied) FILTER (WHERE p.status <> 'returned'), 0) AS applied,
                COALESCE(sum(p.amount_refunded) FILTER (WHERE p.status <> 'returned'), 0) AS refunded,
                COALESCE(sum(p.amount) FILTER (WHERE p.status = 'returned'), 0) AS returned,
                COALESCE(sum(p.amount - p.amount_applied - p.amount_refunded)
                         FILTER (WHERE p.status <> 'returned'), 0) AS unapplied
           FROM payments p
           JOIN accounts a ON a.id = p.account_id
          WHERE p.received_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR p.method = $3)
          GROUP BY p.received_date, p.method, a.id, p.currency
          ORDER BY p.received_date, p.method, a.number, p.currency",
    )
    .bind::<SqlDate, _>(p.from)
    .bind::<SqlDate, _>(p.to)
    .bind::<Nullable<Text>, _>(p.method.map(|m| m.as_str()))
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| CashReceiptsRow {
            received: r.currency.normalize(r.received),
            applied: r.currency.normalize(r.applied),
            refunded: r.currency.normalize(r.refunded),
            returned: r.currency.normalize(r.returned),
            unapplied: r.currency.normalize(r.unapplied),
            ..r
        })
        .collect())
}
