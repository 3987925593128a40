//! The credits report: what lowered customers' balances other than cash in a period, by
//! reason and financial code, with how many and how much in each currency.
//!
//! Two kinds of document count:
//!
//! - credit memos whose status is `issued` (applied, partly applied, refunded or still on
//!   the account: those are amounts of an issued memo, not statuses), dated by the day they
//!   were issued (`credit_date`); drafts, memos pending approval, rejected and voided ones do
//!   not count;
//! - write-off adjustments (`small_balance_write_off`, `bad_debt_write_off`), dated by the day
//!   they were made; an adjustment has no draft, it counts once made. Their reason is their
//!   kind (their text reason is free). Late fees (a charge), recoveries and agency
//!   commissions (cash) credit nobody and are left out.
//!
//! A memo's amount is its total, tax included.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::format::ReportFormat;
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreditsQuery {
    /// The first day (default the first day of `to`'s month).
    pub from: Option<Date>,
    /// The last day (default today).
    pub to: Option<Date>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// A period of days, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ReportPeriod {
    pub from: Date,
    pub to: Date,
}

/// The days from `from` (default the first of `to`'s month) to `to` (default today): 422
/// naming the field for a date outside the business calendar, `from` after `to`, or more
/// than 366 days.
pub fn period(from: Option<Date>, to: Option<Date>, today: Date) -> Result<ReportPeriod, Refusal> {
    let mut e = Errors::default();
    crate::validate::check_business_date("from", from, &mut e);
    crate::validate::check_business_date("to", to, &mut e);
    e.finish()?;
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to.replace_day(1).unwrap_or(to));
    let mut e = Errors::default();
    if from > to {
        e.add("from", "after_to", "must not be after `to`");
    } else if (to - from).whole_days() > 366 {
        e.add("from", "out_of_range", "the report covers at most 366 days");
    }
    e.finish()?;
    Ok(ReportPeriod { from, to })
}

crate::text_enum! {
    /// The document a credit is: an issued credit memo or a write-off adjustment.
    CreditSource { CreditMemo => "credit_memo", Adjustment => "adjustment" }
}

/// The credits of one source, reason, financial code and currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, diesel::QueryableByName)]
pub struct CreditsRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub source: CreditSource,
    /// A credit memo's reason (`billing_error`, `pricing`, `meter_reading`,
    /// `service_issue`, `goodwill`, `dispute`, `termination`, `other`), or an adjustment's
    /// kind (`small_balance_write_off`, `bad_debt_write_off`).
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[schema(example = "billing_error")]
    pub reason: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub financial_code_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[schema(example = "4900")]
    pub financial_code: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[schema(example = "Credits and allowances")]
    pub financial_code_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub count: i64,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "1250.00")]
    pub amount: Decimal,
}

/// The totals of one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CreditsTotal {
    pub currency: Currency,
    pub count: i64,
    #[schema(value_type = crate::money::DecimalString)]
    pub amount: Decimal,
    /// Of which by credit memos.
    #[schema(value_type = crate::money::DecimalString)]
    pub credit_memos: Decimal,
    /// Of which by write-offs.
    #[schema(value_type = crate::money::DecimalString)]
    pub adjustments: Decimal,
}

/// The report: by source, reason, financial code and currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Credits {
    pub parameters: ReportPeriod,
    pub rows: Vec<CreditsRow>,
    /// One per currency.
    pub totals: Vec<CreditsTotal>,
}

pub fn build(parameters: ReportPeriod, rows: Vec<CreditsRow>) -> Credits {
    let currencies = Currency::distinct(rows.iter().map(|r| r.currency));
    let totals = currencies
        .into_iter()
        .map(|currency| {
            let mut t = CreditsTotal {
                currency,
                count: 0,
                amount: Decimal::ZERO,
                credit_memos: Decimal::ZERO,
                adjustments: Decimal::ZERO,
            };
            for r in rows.iter().filter(|r| r.currency == currency) {
                t.count += r.count;
                t.amount += r.amount;
                match r.source {
                    CreditSource::CreditMemo => t.credit_memos += r.amount,
                    CreditSource::Adjustment => t.adjustments += r.amount,
                }
            }
            CreditsTotal {
                amount: currency.normalize(t.amount),
                credit_memos: currency.normalize(t.credit_memos),
                adjustments: currency.normalize(t.adjustments),
                ..t
            }
        })
        .collect();
    Credits {
        parameters,
        rows,
        totals,
    }
}

const COLUMNS: [Column; 7] = [
    Column::new("source", Kind::Text),
    Column::new("reason", Kind::Text),
    Column::new("financial_code", Kind::Text),
    Column::new("financial_code_name", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("count", Kind::Integer),
    Column::new("amount", Kind::Money),
];

impl Credits {
    /// The rows, one totals row per currency (the last as the table's totals row).
    pub fn table(&self) -> Table {
        let rows: Vec<Vec<Cell>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.source.as_str().into(),
                    r.reason.clone().into(),
                    r.financial_code.clone().into(),
                    r.financial_code_name.clone().into(),
                    r.currency.code().into(),
                    r.count.into(),
                    r.amount.into(),
                ]
            })
            .collect();
        let totals: Vec<Vec<Cell>> = self
            .totals
            .iter()
            .map(|t| {
                vec![
                    "Total".into(),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    t.currency.code().into(),
                    t.count.into(),
                    t.amount.into(),
                ]
            })
            .collect();
        Table::with_totals(
            "Credits",
            COLUMNS.to_vec(),
            rows,
            totals,
            vec![
                ("from", self.parameters.from.to_string()),
                ("to", self.parameters.to.to_string()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_period_defaults_to_the_month_so_far_and_is_checked() {
        let today = date!(2026 - 11 - 25);
        assert_eq!(
            period(None, None, today).unwrap(),
            ReportPeriod {
                from: date!(2026 - 11 - 01),
                to: today
            }
        );
        assert_eq!(
            period(None, Some(date!(2026 - 10 - 15)), today)
                .unwrap()
                .from,
            date!(2026 - 10 - 01)
        );
        assert!(period(Some(date!(2026 - 11 - 26)), None, today).is_err());
        assert!(period(Some(date!(2025 - 01 - 01)), None, today).is_err());
        assert!(period(Some(date!(1899 - 12 - 31)), None, today).is_err());
    }

    #[test]
    fn totals_split_memos_from_write_offs_per_currency() {
        let row = |source, currency, count, amount: &str| CreditsRow {
            source,
            reason: "pricing".into(),
            financial_code_id: Uuid::nil(),
            financial_code: "4900".into(),
            financial_code_name: "Credits".into(),
            currency,
            count,
            amount: amount.parse().unwrap(),
        };
        let p = ReportPeriod {
            from: date!(2026 - 11 - 01),
            to: date!(2026 - 11 - 25),
        };
        let report = build(
            p,
            vec![
                row(CreditSource::CreditMemo, Currency::USD, 2, "150.00"),
                row(CreditSource::Adjustment, Currency::USD, 1, "4.50"),
            ],
        );
        let t = &report.totals[0];
        assert_eq!((t.count, t.amount.to_string()), (3, "154.50".to_string()));
        assert_eq!(
            (t.credit_memos.to_string(), t.adjustments.to_string()),
            ("150.00".to_string(), "4.50".to_string())
        );
    }
}
