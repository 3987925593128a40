//! SQL of the collectors' reports: each collector's portfolio at each month's end and the
//! work done on it in the month, in one statement.

use diesel::sql_types::{Date as SqlDate, Nullable, Text};
use diesel_async::RunQueryDsl;
use time::Date;

use crate::db::Conn;
use crate::error::ApiError;
use crate::reports::collectors::CollectorMonth;

/// Per collector (or only `collector`), month from `first` to `last` and currency: the
/// portfolio at the month's end (accounts assigned before it ended), its balances then, and
/// the payments, promises, notes and overdue tasks of its accounts.
pub async fn collector_months(
    conn: &mut Conn,
    first: Date,
    last: Date,
    collector: Option<&str>,
) -> Result<Vec<CollectorMonth>, ApiError> {
    Ok(diesel::sql_query(
        "WITH months AS (
             SELECT g::date AS month, (g + interval '1 month')::date AS next,
                    g::timestamp AT TIME ZONE 'UTC' AS start_at,
                    (g + interval '1 month')::timestamp AT TIME ZONE 'UTC' AS end_at
               FROM generate_series($1::date, $2::date, interval '1 month') g),
         portfolio AS (
             SELECT m.month, m.next, m.start_at, m.end_at, cp.collector,
                    a.id AS account_id, a.currency
               FROM months m
               JOIN collection_profiles cp ON cp.collector IS NOT NULL
                    AND (cp.assigned_at IS NULL OR cp.assigned_at < m.end_at)
               JOIN accounts a ON a.id = cp.account_id
              WHERE $3::text IS NULL OR cp.collector = $3),
         balances AS (
             SELECT p.month, p.account_id, sum(l.amount) AS balance,
                    COALESCE(sum(l.amount) FILTER (WHERE i.due_date < p.next - 1), 0) AS past_due
               FROM portfolio p
               JOIN ledger_entries l ON l.account_id = p.account_id AND l.invoice_id IS NOT NULL
                    AND l.entry_date < p.next
               JOIN invoices i ON i.id = l.invoice_id
              GROUP BY 1, 2),
         collected AS (
             SELECT p.month, p.account_id, sum(y.amount) AS collected
               FROM portfolio p
               JOIN payments y ON y.account_id = p.account_id AND y.currency = p.currency
                    AND y.received_date >= p.month AND y.received_date < p.next
                    AND y.status <> 'returned'
              GROUP BY 1, 2),
         promised AS (
             SELECT p.month, p.account_id,
                    count(*) FILTER (WHERE r.created_at >= p.start_at AND r.created_at < p.end_at)
                        AS made,
                    count(*) FILTER (WHERE r.status = 'kept' AND r.closed_on >= p.month
                                       AND r.closed_on < p.next) AS kept
               FROM portfolio p
               JOIN promises r ON r.account_id = p.account_id
              GROUP BY 1, 2),
         contacts AS (
             SELECT p.month, p.account_id, count(*) AS contacts
               FROM portfolio p
               JOIN account_notes n ON n.account_id = p.account_id
                    AND n.created_at >= p.start_at AND n.created_at < p.end_at
              GROUP BY 1, 2),
         overdue AS (
             SELECT p.month, p.account_id, count(*) AS overdue
               FROM portfolio p
               JOIN tasks t ON t.account_id = p.account_id AND t.created_at < p.end_at
                    AND t.due_date < p.next - 1
                    AND (t.status IN ('open', 'in_progress')
                         OR (t.status = 'done' AND t.completed_at >= p.end_at)
                         OR (t.status = 'cancelled' AND t.updated_at >= p.end_at))
              GROUP BY 1, 2)
         SELECT p.collector, p.month, p.currency, count(*) AS accounts,
                COALESCE(sum(b.balance), 0) AS balance,
                COALESCE(sum(b.past_due), 0) AS past_due,
                COALESCE(sum(c.collected), 0) AS collected,
                COALESCE(sum(r.made), 0)::bigint AS promises_made,
                COALESCE(sum(r.kept), 0)::bigint AS promises_kept,
                COALESCE(sum(n.contacts), 0)::bigint AS contacts,
                COALESCE(sum(o.overdue), 0)::bigint AS overdue_items
           FROM portfolio p
           LEFT JOIN balances b ON b.month = p.month AND b.account_id = p.account_id
           LEFT JOIN collected c ON c.month = p.month AND c.account_id = p.account_id
           LEFT JOIN promised r ON r.month = p.month AND r.account_id = p.account_id
           LEFT JOIN contacts n ON n.month = p.month AND n.account_id = p.account_id
           LEFT JOIN overdue o ON o.month = p.month AND o.account_id = p.account_id
          GROUP BY p.collector, p.month, p.currency
          ORDER BY p.collector, p.month, p.currency",
    )
    .bind::<SqlDate, _>(first)
    .bind::<SqlDate, _>(last)
    .bind::<Nullable<Text>, _>(collector)
    .load(conn)
    .await?)
}
