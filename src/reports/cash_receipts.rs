//! The cash-receipts report: payments received in a period, by day, method and account, with
//! what became of them as they stand now: applied to invoices, refunded, returned by the
//! bank, or still unapplied. For each row, received = applied + refunded + returned +
//! unapplied.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Duration};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::format::ReportFormat;
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;
use crate::payments::model::PaymentMethod;
use crate::refusal::Refusal;
use crate::validate::Errors;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CashReceiptsQuery {
    /// The first day received (default 30 days before `to`).
    pub from: Option<Date>,
    /// The last day received (default today).
    pub to: Option<Date>,
    /// Only payments received by this method.
    #[param(inline)]
    pub method: Option<PaymentMethod>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The report's parameters, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct CashReceiptsParameters {
    pub from: Date,
    pub to: Date,
    pub method: Option<PaymentMethod>,
}

/// 422 naming `from` when it is after `to` or the period is longer than 366 days.
pub fn parameters(
    query: &CashReceiptsQuery,
    today: Date,
) -> Result<CashReceiptsParameters, Refusal> {
    let mut e = Errors::default();
    crate::validate::check_business_date("from", query.from, &mut e);
    crate::validate::check_business_date("to", query.to, &mut e);
    e.finish()?;
    let to = query.to.unwrap_or(today);
    let from = query.from.unwrap_or(to.saturating_sub(Duration::days(30)));
    let mut e = Errors::default();
    if from > to {
        e.add("from", "after_to", "must not be after `to`");
    } else if (to - from).whole_days() > 366 {
        e.add("from", "out_of_range", "the report covers at most 366 days");
    }
    e.finish()?;
    Ok(CashReceiptsParameters {
        from,
        to,
        method: query.method,
    })
}

/// The payments of one day, method and account.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, diesel::QueryableByName)]
pub struct CashReceiptsRow {
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub received_date: Date,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub method: PaymentMethod,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub account_number: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub legal_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub payments: i64,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "1500.00")]
    pub received: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "1200.00")]
    pub applied: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub refunded: Decimal,
    /// Payments the bank returned (their whole amount).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub returned: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "300.00")]
    pub unapplied: Decimal,
}

/// The totals of one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CashReceiptsTotal {
    pub currency: Currency,
    pub payments: i64,
    #[schema(value_type = crate::money::DecimalString)]
    pub received: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub applied: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub refunded: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub returned: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub unapplied: Decimal,
}

/// The report: by day, then method, then account number.
#[derive(Debug, Serialize, ToSchema)]
pub struct CashReceipts {
    pub parameters: CashReceiptsParameters,
    pub rows: Vec<CashReceiptsRow>,
    /// One per currency.
    pub totals: Vec<CashReceiptsTotal>,
}

pub fn build(parameters: CashReceiptsParameters, rows: Vec<CashReceiptsRow>) -> CashReceipts {
    let currencies = Currency::distinct(rows.iter().map(|r| r.currency));
    let totals = currencies
        .into_iter()
        .map(|currency| {
            let mut t = CashReceiptsTotal {
                currency,
                payments: 0,
                received: Decimal::ZERO,
                applied: Decimal::ZERO,
                refunded: Decimal::ZERO,
                returned: Decimal::ZERO,
                unapplied: Decimal::ZERO,
            };
            for r in rows.iter().filter(|r| r.currency == currency) {
                t.payments += r.payments;
                t.received += r.received;
                t.applied += r.applied;
                t.refunded += r.refunded;
                t.returned += r.returned;
                t.unapplied += r.unapplied;
            }
            t
        })
        .collect();
    CashReceipts {
        parameters,
        rows,
        totals,
    }
}

const COLUMNS: [Column; 11] = [
    Column::new("received_date", Kind::Date),
    Column::new("method", Kind::Text),
    Column::new("account_number", Kind::Text),
    Column::new("legal_name", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("payments", Kind::Integer),
    Column::new("received", Kind::Money),
    Column::new("applied", Kind::Money),
    Column::new("refunded", Kind::Money),
    Column::new("returned", Kind::Money),
    Column::new("unapplied", Kind::Money),
];

impl CashReceipts {
    /// The rows, one totals row per currency (the last as the table's totals row).
    pub fn table(&self) -> Table {
        let rows: Vec<Vec<Cell>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.received_date.into(),
                    r.method.as_str().into(),
                    r.account_number.clone().into(),
                    r.legal_name.clone().into(),
                    r.currency.code().into(),
                    r.payments.into(),
                    r.received.into(),
                    r.applied.into(),
                    r.refunded.into(),
                    r.returned.into(),
                    r.unapplied.into(),
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
                    t.payments.into(),
                    t.received.into(),
                    t.applied.into(),
                    t.refunded.into(),
                    t.returned.into(),
                    t.unapplied.into(),
                ]
            })
            .collect();
        let p = &self.parameters;
        Table::with_totals(
            "Cash receipts",
            COLUMNS.to_vec(),
            rows,
            totals,
            vec![
                ("from", p.from.to_string()),
                ("to", p.to.to_string()),
                (
                    "method",
                    p.method.map(|m| m.as_str().to_string()).unwrap_or_default(),
                ),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_period_defaults_to_the_last_thirty_days_and_is_checked() {
        let q = CashReceiptsQuery {
            from: None,
            to: None,
            method: None,
            format: None,
        };
        let p = parameters(&q, date!(2026 - 11 - 30)).unwrap();
        assert_eq!(
            (p.from, p.to),
            (date!(2026 - 10 - 31), date!(2026 - 11 - 30))
        );
        let q = CashReceiptsQuery {
            from: Some(date!(2026 - 12 - 01)),
            ..q
        };
        assert!(parameters(&q, date!(2026 - 11 - 30)).is_err());
        let q = CashReceiptsQuery {
            from: Some(date!(2025 - 01 - 01)),
            to: Some(date!(2026 - 11 - 30)),
            method: None,
            format: None,
        };
        assert!(parameters(&q, date!(2026 - 11 - 30)).is_err());
    }
}
