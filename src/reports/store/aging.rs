//! SQL of the aging reports: the invoices open at the end of a date from the ledger
//! ([`AGED`](crate::collections::aging::AGED)), the cash and credits on no invoice that day,
//! and the filters; one statement each, whatever the number of accounts.

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Date as SqlDate, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;

use crate::db::Conn;
use crate::error::ApiError;
use crate::reports::aging::{end_of, AgingParameters, AgingSummaryGroup, AgingSummaryRow};

/// After [`AGED`](crate::collections::aging::AGED): `unapplied`, each account's cash and
/// credits on no invoice at the end of `$1` (what the ledger holds on the account and not on
/// an invoice: the unapplied part of payments and credit memos, less refunds of it), and
/// `book`, each account with open invoices or such an amount, in one currency.
const BOOK: &str = "
         unapplied AS (
             SELECT l.account_id, a.currency, -sum(l.amount) AS amount
               FROM ledger_entries l
               JOIN accounts a ON a.id = l.account_id
              WHERE l.invoice_id IS NULL AND l.entry_date <= $1
              GROUP BY l.account_id, a.currency
             HAVING sum(l.amount) <> 0),
         filtered AS (
             SELECT a.id FROM accounts a
               LEFT JOIN collection_profiles cp ON cp.account_id = a.id
              WHERE ($3::uuid IS NULL OR a.partner_id = $3)
                AND ($4::text IS NULL OR cp.collector = $4)
                AND ($5::text IS NULL OR a.risk_level = $5))";

fn summary_sql(group_by: AgingSummaryGroup) -> String {
    let (key, label) = match group_by {
        AgingSummaryGroup::Account => ("a.id", "a.number || ' ' || a.legal_name"),
        AgingSummaryGroup::Family => ("f.id", "f.number || ' ' || f.legal_name"),
        AgingSummaryGroup::Partner => ("p.id", "COALESCE(p.code || ' ' || p.name, 'No partner')"),
        AgingSummaryGroup::Collector => ("NULL::uuid", "COALESCE(cp.collector, 'Unassigned')"),
        AgingSummaryGroup::Total => ("NULL::uuid", "'All accounts'"),
    };
    let aged = crate::collections::aging::AGED;
    let (aged, family_join) = if group_by == AgingSummaryGroup::Family {
        (
            aged.replacen("WITH ", crate::collections::aging::TOPS, 1),
            "JOIN tops t ON t.id = a.id JOIN accounts f ON f.id = t.top",
        )
    } else {
        (aged.to_string(), "")
    };
    format!(
        "{aged}, {BOOK},
         owed AS (
             SELECT g.account_id, g.currency,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days <= 0), 0) AS current,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 1 AND 30), 0) AS days_1_30,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 31 AND 60), 0) AS days_31_60,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 61 AND 90), 0) AS days_61_90,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days BETWEEN 91 AND 120), 0) AS days_91_120,
                    COALESCE(sum(g.balance) FILTER (WHERE g.days > 120), 0) AS days_over_120,
                    sum(g.balance) AS total, sum(g.disputed) AS disputed, count(*) AS open_invoices
               FROM aged g
              GROUP BY g.account_id, g.currency),
         book AS (
             SELECT COALESCE(o.account_id, u.account_id) AS account_id,
                    COALESCE(o.currency, u.currency) AS currency,
                    COALESCE(o.current, 0) AS current, COALESCE(o.days_1_30, 0) AS days_1_30,
                    COALESCE(o.days_31_60, 0) AS days_31_60, COALESCE(o.days_61_90, 0) AS days_61_90,
                    COALESCE(o.days_91_120, 0) AS days_91_120,
                    COALESCE(o.days_over_120, 0) AS days_over_120,
                    COALESCE(o.total, 0) AS total, COALESCE(o.disputed, 0) AS disputed,
                    COALESCE(o.open_invoices, 0) AS open_invoices, COALESCE(u.amount, 0) AS unapplied
               FROM owed o
               FULL JOIN unapplied u ON u.account_id = o.account_id AND u.currency = o.currency)
         SELECT {key} AS key, {label} AS label, b.currency,
                count(*) AS accounts, sum(b.open_invoices)::bigint AS open_invoices,
                sum(b.current) AS current, sum(b.days_1_30) AS days_1_30,
                sum(b.days_31_60) AS days_31_60, sum(b.days_61_90) AS days_61_90,
                sum(b.days_91_120) AS days_91_120, sum(b.days_over_120) AS days_over_120,
                sum(b.total) AS total, sum(b.disputed) AS disputed,
                sum(b.unapplied) AS unapplied, sum(b.total) - sum(b.unapplied) AS net
           FROM book b
           JOIN filtered x ON x.id = b.account_id
           JOIN accounts a ON a.id = b.account_id
           LEFT JOIN partners p ON p.id = a.partner_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           {family_join}
          GROUP BY 1, 2, 3
          ORDER BY total DESC, label, currency"
    )
}

fn bound(sql: SqlQuery, p: &AgingParameters) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    sql.into_boxed()
        .bind::<SqlDate, _>(p.as_of)
        .bind::<Timestamptz, _>(end_of(p.as_of))
        .bind::<Nullable<SqlUuid>, _>(p.partner_id)
        .bind::<Nullable<Text>, _>(p.collector.clone())
        .bind::<Nullable<Text>, _>(p.risk_level.map(|r| r.as_str()))
}

/// The summary's rows, as the database adds them up (not yet at the minor unit).
pub async fn aging_summary(
    conn: &mut Conn,
    p: &AgingParameters,
    group_by: AgingSummaryGroup,
) -> Result<Vec<AgingSummaryRow>, ApiError> {
    Ok(bound(diesel::sql_query(summary_sql(group_by)), p)
        .load(conn)
        .await?)
}

/// The detail's one statement: every invoice open at the end of `as_of`, then the account's
/// unapplied amount, by account number, due date and invoice number. Read as a stream.
pub fn aging_detail(p: &AgingParameters) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let sql = format!(
        "{aged}, {BOOK},
         lines AS (
             SELECT g.account_id, g.currency, 0 AS place, 'invoice' AS kind, g.invoice_id,
                    g.invoice_number, g.invoice_date, g.due_date, g.days, g.balance, g.disputed,
                    NULL::numeric AS unapplied
               FROM aged g
             UNION ALL
             SELECT u.account_id, u.currency, 1, 'unapplied', NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, u.amount
               FROM unapplied u)
         SELECT a.id AS account_id, a.number AS account_number, a.legal_name, l.kind,
                l.invoice_id, l.invoice_number, l.invoice_date, l.due_date,
                l.days AS days_past_due,
                CASE WHEN l.days IS NULL THEN NULL
                     WHEN l.days <= 0 THEN 'current' WHEN l.days <= 30 THEN '1-30'
                     WHEN l.days <= 60 THEN '31-60' WHEN l.days <= 90 THEN '61-90'
                     WHEN l.days <= 120 THEN '91-120' ELSE 'over_120' END AS bucket,
                l.currency, l.balance, l.disputed, l.unapplied,
                cp.collector, p.code AS partner_code, a.risk_level
           FROM lines l
           JOIN filtered x ON x.id = l.account_id
           JOIN accounts a ON a.id = l.account_id
           LEFT JOIN partners p ON p.id = a.partner_id
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
          ORDER BY a.number, l.currency, l.place, l.due_date, l.invoice_number",
        aged = crate::collections::aging::AGED
    );
    bound(diesel::sql_query(sql), p)
}
