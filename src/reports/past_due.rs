//! The past-due report: the accounts owing at least a threshold at or beyond a number of days
//! past due on a date (by default 10,000.00 at 60 days or more, the monthly report to
//! management and sales), with who works them and where collection stands. Both limits are
//! inclusive: an account owing exactly the threshold, on invoices exactly that many days past
//! due, is in it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::format::ReportFormat;
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PastDueQuery {
    /// The day the balances are as of, at its end (default today).
    pub as_of: Option<Date>,
    /// Days past due an invoice must have reached to count (default 60, at least 1).
    pub min_days: Option<i32>,
    /// The least amount past due that many days for an account to be listed (default
    /// 10000.00, not negative).
    #[param(value_type = Option<crate::money::DecimalString>, example = "10000.00")]
    pub threshold: Option<Decimal>,
    /// Only the accounts of this partner.
    pub partner_id: Option<Uuid>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The report's parameters, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct PastDueParameters {
    pub as_of: Date,
    pub min_days: i32,
    #[schema(value_type = crate::money::DecimalString, example = "10000.00")]
    pub threshold: Decimal,
    pub partner_id: Option<Uuid>,
}

/// 422 naming the field for days below 1 or a negative threshold.
pub fn parameters(query: &PastDueQuery, today: Date) -> Result<PastDueParameters, Refusal> {
    let mut e = Errors::default();
    crate::validate::check_business_date("as_of", query.as_of, &mut e);
    let min_days = query.min_days.unwrap_or(60);
    if min_days < 1 {
        e.add("min_days", "out_of_range", "must be at least 1");
    }
    let threshold = query.threshold.unwrap_or(Decimal::new(1_000_000, 2));
    if threshold < Decimal::ZERO {
        e.add("threshold", "out_of_range", "must not be negative");
    }
    e.finish()?;
    Ok(PastDueParameters {
        as_of: query.as_of.unwrap_or(today),
        min_days,
        threshold,
        partner_id: query.partner_id,
    })
}

/// One account in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, diesel::QueryableByName)]
pub struct PastDueRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub account_number: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub legal_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    /// Every open invoice's balance.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "18000.00")]
    pub balance: Decimal,
    /// Balances 1 day past due or more.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "15000.00")]
    pub past_due: Decimal,
    /// Balances `min_days` past due or more: what the threshold is compared with.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "12000.00")]
    pub past_due_beyond: Decimal,
    /// Days past due of the oldest invoice with a balance.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub oldest_days: i32,
    /// The part of the balance under active dispute.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub disputed: Decimal,
    /// The collector whose portfolio holds the account.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub collector: Option<String>,
    /// When the last note on the account (a call, an email, a letter) was logged.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_contact_at: Option<OffsetDateTime>,
    /// The promise to pay open on that day (the earliest promised), its amount and date.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "5000.00")]
    pub promise_amount: Option<Decimal>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    pub promise_date: Option<Date>,
}

/// The totals of one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PastDueTotal {
    pub currency: Currency,
    pub accounts: i64,
    #[schema(value_type = crate::money::DecimalString)]
    pub balance: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub past_due: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub past_due_beyond: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub disputed: Decimal,
}

/// The report: largest amount past due beyond `min_days` first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PastDue {
    pub parameters: PastDueParameters,
    pub rows: Vec<PastDueRow>,
    /// One per currency.
    pub totals: Vec<PastDueTotal>,
}

pub fn build(parameters: PastDueParameters, rows: Vec<PastDueRow>) -> PastDue {
    let currencies = Currency::distinct(rows.iter().map(|r| r.currency));
    let totals = currencies
        .into_iter()
        .map(|currency| {
            let mine = rows.iter().filter(|r| r.currency == currency);
            let mut t = PastDueTotal {
                currency,
                accounts: 0,
                balance: Decimal::ZERO,
                past_due: Decimal::ZERO,
                past_due_beyond: Decimal::ZERO,
                disputed: Decimal::ZERO,
            };
            for r in mine {
                t.accounts += 1;
                t.balance += r.balance;
                t.past_due += r.past_due;
                t.past_due_beyond += r.past_due_beyond;
                t.disputed += r.disputed;
            }
            t
        })
        .collect();
    PastDue {
        parameters,
        rows,
        totals,
    }
}

const COLUMNS: [Column; 13] = [
    Column::new("account_number", Kind::Text),
    Column::new("legal_name", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("balance", Kind::Money),
    Column::new("past_due", Kind::Money),
    Column::new("past_due_beyond", Kind::Money),
    Column::new("oldest_days", Kind::Integer),
    Column::new("disputed", Kind::Money),
    Column::new("collector", Kind::Text),
    Column::new("last_contact_at", Kind::Text),
    Column::new("promise_amount", Kind::Money),
    Column::new("promise_date", Kind::Date),
    Column::new("account_id", Kind::Text),
];

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl PastDue {
    /// The accounts, one totals row per currency (the last as the table's totals row).
    pub fn table(&self) -> Table {
        let rows: Vec<Vec<Cell>> = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.account_number.clone().into(),
                    r.legal_name.clone().into(),
                    r.currency.code().into(),
                    r.balance.into(),
                    r.past_due.into(),
                    r.past_due_beyond.into(),
                    i64::from(r.oldest_days).into(),
                    r.disputed.into(),
                    r.collector.clone().into(),
                    r.last_contact_at.map(rfc3339).into(),
                    r.promise_amount.into(),
                    r.promise_date.into(),
                    r.account_id.to_string().into(),
                ]
            })
            .collect();
        let totals: Vec<Vec<Cell>> = self
            .totals
            .iter()
            .map(|t| {
                vec![
                    "Total".into(),
                    format!("{} accounts", t.accounts).into(),
                    t.currency.code().into(),
                    t.balance.into(),
                    t.past_due.into(),
                    t.past_due_beyond.into(),
                    Cell::Empty,
                    t.disputed.into(),
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                ]
            })
            .collect();
        let p = &self.parameters;
        Table::with_totals(
            "Past due",
            COLUMNS.to_vec(),
            rows,
            totals,
            vec![
                ("as_of", p.as_of.to_string()),
                ("min_days", p.min_days.to_string()),
                ("threshold", p.threshold.to_string()),
                (
                    "partner_id",
                    p.partner_id.map(|id| id.to_string()).unwrap_or_default(),
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
    fn defaults_are_ten_thousand_at_sixty_days_and_bad_limits_are_named() {
        let q = PastDueQuery {
            as_of: None,
            min_days: None,
            threshold: None,
            partner_id: None,
            format: None,
        };
        let p = parameters(&q, date!(2026 - 11 - 30)).unwrap();
        assert_eq!(
            (p.as_of, p.min_days, p.threshold),
            (date!(2026 - 11 - 30), 60, Decimal::new(1_000_000, 2))
        );
        let q = PastDueQuery {
            min_days: Some(0),
            threshold: Some(Decimal::NEGATIVE_ONE),
            ..q
        };
        let err = parameters(&q, date!(2026 - 11 - 30)).unwrap_err();
        let text = format!("{err:?}");
        assert!(
            text.contains("min_days") && text.contains("threshold"),
            "{text}"
        );
    }
}
