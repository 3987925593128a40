//! The collector-performance report: per collector, month of a range and currency, what the
//! collector's portfolio held at the month's end and what was done on it during the month.
//!
//! A collector's portfolio at a month's end is the accounts whose collections profile names
//! them as collector and was assigned to them before that month ended. The service keeps an
//! account's current collector and when it was assigned, not earlier assignments: an account
//! reassigned later counts for its new collector from its assignment on, and for nobody
//! before. Everything is in the account's currency.
//!
//! - `accounts`: the accounts of the portfolio at the month's end;
//! - `balance`: their invoices' balances at the end of the month's last day (from the
//!   ledger, disputed amounts included; unapplied cash apart);
//! - `past_due`: of it, invoices due before the month's last day;
//! - `collected`: payments received on the accounts in the month (by received date), less
//!   those the bank has since returned;
//! - `promises_made`: promises to pay made on the accounts in the month;
//! - `promises_kept`: promises on the accounts found kept in the month (closed as kept then);
//! - `contacts`: notes (calls, emails, letters, visits) logged on the accounts in the month;
//! - `overdue_items`: the accounts' tasks (the worklist's follow-ups) still open at the
//!   month's end and due before its last day.
//!
//! Totals per currency: the portfolio figures (`accounts`, `balance`, `past_due`,
//! `overdue_items`) at the end of the range's last month, the others summed over the range.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};

use super::format::ReportFormat;
use super::kpis::{self, month_label, KpiQuery};
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CollectorPerformanceQuery {
    /// The first month, `YYYY-MM` (default: eleven months before `to`).
    #[param(example = "2025-12")]
    pub from: Option<String>,
    /// The last month, `YYYY-MM` (default: the last whole month before today).
    #[param(example = "2026-11")]
    pub to: Option<String>,
    /// Only this collector (the token subject their portfolio names).
    pub collector: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The report's parameters, defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CollectorPerformanceParameters {
    /// The first month, `YYYY-MM`.
    pub from: String,
    /// The last month, `YYYY-MM`.
    pub to: String,
    pub collector: Option<String>,
    /// The first days of the first and last months.
    #[serde(skip)]
    pub first: Date,
    #[serde(skip)]
    pub last: Date,
}

/// The months of a range (as the KPIs take them) and a collector: 422 naming the field.
pub fn parameters(
    from: &Option<String>,
    to: &Option<String>,
    collector: &Option<String>,
    today: Date,
) -> Result<CollectorPerformanceParameters, Refusal> {
    let months = KpiQuery {
        from: from.clone(),
        to: to.clone(),
        format: None,
    };
    let (first, last) = kpis::range(&months, today)?;
    let mut e = Errors::default();
    if let Some(c) = collector {
        e.text("collector", c, 200);
    }
    e.finish()?;
    Ok(CollectorPerformanceParameters {
        from: month_label(first),
        to: month_label(last),
        collector: collector.as_ref().map(|c| c.trim().to_string()),
        first,
        last,
    })
}

/// One collector's month in one currency, as the SQL counts it.
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct CollectorMonth {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub collector: String,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub month: Date,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub accounts: i64,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub balance: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub past_due: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub collected: Decimal,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub promises_made: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub promises_kept: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub contacts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub overdue_items: i64,
}

/// One collector's month in one currency (in the totals: the range, `collector` absent).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CollectorPerformanceRow {
    pub collector: Option<String>,
    /// The month, `YYYY-MM` (in the totals, the range `YYYY-MM..YYYY-MM`).
    #[schema(example = "2026-11")]
    pub month: String,
    pub currency: Currency,
    /// Accounts in the portfolio at the month's end.
    pub accounts: i64,
    /// Their invoices' balances at the month's end.
    #[schema(value_type = crate::money::DecimalString, example = "48250.00")]
    pub balance: Decimal,
    /// Of it, due before the month's last day.
    #[schema(value_type = crate::money::DecimalString, example = "12000.00")]
    pub past_due: Decimal,
    /// Payments received in the month, less those since returned.
    #[schema(value_type = crate::money::DecimalString, example = "30500.00")]
    pub collected: Decimal,
    pub promises_made: i64,
    pub promises_kept: i64,
    /// Notes logged in the month.
    pub contacts: i64,
    /// Tasks open at the month's end and due before its last day.
    pub overdue_items: i64,
}

/// The report: by collector, month and currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectorPerformance {
    pub parameters: CollectorPerformanceParameters,
    pub rows: Vec<CollectorPerformanceRow>,
    /// One per currency.
    pub totals: Vec<CollectorPerformanceRow>,
}

fn view(m: &CollectorMonth) -> CollectorPerformanceRow {
    CollectorPerformanceRow {
        collector: Some(m.collector.clone()),
        month: month_label(m.month),
        currency: m.currency,
        accounts: m.accounts,
        balance: m.currency.normalize(m.balance),
        past_due: m.currency.normalize(m.past_due),
        collected: m.currency.normalize(m.collected),
        promises_made: m.promises_made,
        promises_kept: m.promises_kept,
        contacts: m.contacts,
        overdue_items: m.overdue_items,
    }
}

pub fn build(
    parameters: CollectorPerformanceParameters,
    months: Vec<CollectorMonth>,
) -> CollectorPerformance {
    let last = parameters.last;
    let currencies = Currency::distinct(months.iter().map(|r| r.currency));
    let totals = currencies
        .into_iter()
        .map(|currency| {
            let zero = currency.normalize(Decimal::ZERO);
            let mut t = CollectorPerformanceRow {
                collector: None,
                month: format!("{}..{}", parameters.from, parameters.to),
                currency,
                accounts: 0,
                balance: zero,
                past_due: zero,
                collected: zero,
                promises_made: 0,
                promises_kept: 0,
                contacts: 0,
                overdue_items: 0,
            };
            for m in months.iter().filter(|m| m.currency == currency) {
                if m.month == last {
                    t.accounts += m.accounts;
                    t.balance += m.balance;
                    t.past_due += m.past_due;
                    t.overdue_items += m.overdue_items;
                }
                t.collected += m.collected;
                t.promises_made += m.promises_made;
                t.promises_kept += m.promises_kept;
                t.contacts += m.contacts;
            }
            CollectorPerformanceRow {
                balance: currency.normalize(t.balance),
                past_due: currency.normalize(t.past_due),
                collected: currency.normalize(t.collected),
                ..t
            }
        })
        .collect();
    CollectorPerformance {
        parameters,
        rows: months.iter().map(view).collect(),
        totals,
    }
}

const COLUMNS: [Column; 11] = [
    Column::new("collector", Kind::Text),
    Column::new("month", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("accounts", Kind::Integer),
    Column::new("balance", Kind::Money),
    Column::new("past_due", Kind::Money),
    Column::new("collected", Kind::Money),
    Column::new("promises_made", Kind::Integer),
    Column::new("promises_kept", Kind::Integer),
    Column::new("contacts", Kind::Integer),
    Column::new("overdue_items", Kind::Integer),
];

fn cells(r: &CollectorPerformanceRow) -> Vec<Cell> {
    vec![
        r.collector.clone().unwrap_or_else(|| "Total".into()).into(),
        r.month.clone().into(),
        r.currency.code().into(),
        r.accounts.into(),
        r.balance.into(),
        r.past_due.into(),
        r.collected.into(),
        r.promises_made.into(),
        r.promises_kept.into(),
        r.contacts.into(),
        r.overdue_items.into(),
    ]
}

impl CollectorPerformance {
    /// The rows, one totals row per currency (the last as the table's totals row).
    pub fn table(&self) -> Table {
        let rows: Vec<Vec<Cell>> = self.rows.iter().map(cells).collect();
        let totals: Vec<Vec<Cell>> = self.totals.iter().map(cells).collect();
        let p = &self.parameters;
        Table::with_totals(
            "Collector performance",
            COLUMNS.to_vec(),
            rows,
            totals,
            vec![
                ("from", p.from.clone()),
                ("to", p.to.clone()),
                ("collector", p.collector.clone().unwrap_or_default()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn month(collector: &str, month: Date, accounts: i64, balance: &str) -> CollectorMonth {
        CollectorMonth {
            collector: collector.into(),
            month,
            currency: Currency::USD,
            accounts,
            balance: balance.parse().unwrap(),
            past_due: Decimal::ZERO,
            collected: Decimal::new(100, 0),
            promises_made: 1,
            promises_kept: 0,
            contacts: 2,
            overdue_items: 1,
        }
    }

    #[test]
    fn totals_take_the_last_months_portfolio_and_sum_the_work() {
        let p = parameters(
            &Some("2026-10".into()),
            &Some("2026-11".into()),
            &None,
            date!(2026 - 12 - 05),
        )
        .unwrap();
        let report = build(
            p,
            vec![
                month("ann", date!(2026 - 10 - 01), 3, "900"),
                month("ann", date!(2026 - 11 - 01), 2, "500"),
                month("bob", date!(2026 - 11 - 01), 1, "250.5"),
            ],
        );
        let t = &report.totals[0];
        assert_eq!((t.accounts, t.overdue_items), (3, 2));
        assert_eq!(t.balance.to_string(), "750.50");
        assert_eq!((t.collected.to_string(), t.contacts), ("300.00".into(), 6));
        assert_eq!(t.month, "2026-10..2026-11");
        assert_eq!(report.rows[0].month, "2026-10");
    }

    #[test]
    fn the_range_is_the_kpis_and_the_collector_a_text() {
        let p = parameters(&None, &None, &Some(" ann ".into()), date!(2026 - 12 - 05)).unwrap();
        assert_eq!((p.from.as_str(), p.to.as_str()), ("2025-12", "2026-11"));
        assert_eq!(p.collector.as_deref(), Some("ann"));
        assert!(parameters(&Some("2026-13".into()), &None, &None, date!(2026 - 12 - 05)).is_err());
        assert!(parameters(
            &None,
            &None,
            &Some("\u{202e}".into()),
            date!(2026 - 12 - 05)
        )
        .is_err());
    }
}
