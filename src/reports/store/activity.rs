//! SQL of the reports on what happened in a period: credits granted and disputes opened.

use diesel::sql_types::{Date as SqlDate, Timestamptz};
use diesel_async::RunQueryDsl;
use time::{Date, OffsetDateTime};

use crate::db::Conn;
use crate::error::ApiError;
use crate::reports::credits::{CreditsRow, ReportPeriod};
use crate::reports::disputes::DisputeCounts;

/// The start of the day after `day`, UTC: the end of `day` for timestamps.
fn end_of(day: Date) -> OffsetDateTime {
    day.next_day().unwrap_or(day).midnight().assume_utc()
}

/// Issued credit memos dated, and write-offs made, from `from` to `to`, by source, reason,
/// financial code and currency.
pub async fn credits(conn: &mut Conn, p: &ReportPeriod) -> Result<Vec<CreditsRow>, ApiError> {
    let rows: Vec<CreditsRow> = diesel::sql_query(
        "WITH credits AS (
             SELECT 'credit_memo' AS source, m.reason, m.financial_code_id, m.currency,
                    m.total AS amount
               FROM credit_memos m
              WHERE m.status = 'issued' AND m.credit_date BETWEEN $1 AND $2
             UNION ALL
             SELECT 'adjustment', a.kind, a.financial_code_id, a.currency, a.amount
               FROM adjustments a
              WHERE a.kind IN ('small_balance_write_off', 'bad_debt_write_off')
                AND a.created_at >= $3 AND a.created_at < $4)
         SELECT c.source, c.reason, f.id AS financial_code_id, f.code AS financial_code,
                f.name AS financial_code_name, c.currency, count(*) AS count,
                sum(c.amount) AS amount
           FROM credits c
           JOIN financial_codes f ON f.id = c.financial_code_id
          GROUP BY c.source, c.reason, f.id, c.currency
          ORDER BY c.source DESC, c.reason, f.code, c.currency",
    )
    .bind::<SqlDate, _>(p.from)
    .bind::<SqlDate, _>(p.to)
    .bind::<Timestamptz, _>(p.from.midnight().assume_utc())
    .bind::<Timestamptz, _>(end_of(p.to))
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| CreditsRow {
            amount: r.currency.normalize(r.amount),
            ..r
        })
        .collect())
}

/// The disputes opened from `from` to `to`, by reason, root cause and currency: counts,
/// amounts, days to resolve and resolutions within the SLA.
pub async fn disputes(conn: &mut Conn, p: &ReportPeriod) -> Result<Vec<DisputeCounts>, ApiError> {
    Ok(diesel::sql_query(
        "WITH d AS (
             SELECT d.reason, d.root_cause, d.currency, d.amount, d.opened_on, d.sla_due_date,
                    d.status IN ('resolved_valid', 'resolved_invalid') AS resolved,
                    (d.resolved_at AT TIME ZONE 'UTC')::date AS resolved_on,
                    COALESCE(m.total, 0) AS credited
               FROM disputes d
               LEFT JOIN credit_memos m ON m.id = d.credit_memo_id AND m.status = 'issued'
              WHERE d.opened_on BETWEEN $1 AND $2)
         SELECT reason, root_cause, currency, count(*) AS opened,
                count(*) FILTER (WHERE resolved) AS resolved,
                count(*) FILTER (WHERE resolved AND resolved_on <= sla_due_date)
                    AS resolved_within_sla,
                COALESCE(sum(resolved_on - opened_on) FILTER (WHERE resolved), 0)::bigint
                    AS days_to_resolve,
                sum(amount) AS amount_disputed, sum(credited) AS amount_credited
           FROM d
          GROUP BY reason, root_cause, currency
          ORDER BY reason, root_cause NULLS LAST, currency",
    )
    .bind::<SqlDate, _>(p.from)
    .bind::<SqlDate, _>(p.to)
    .load(conn)
    .await?)
}
