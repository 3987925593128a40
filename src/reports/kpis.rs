//! The A/R KPIs of each month of a range, per currency, with the inputs beside each figure
//! so that a manager can check it by hand:
//!
//! - `dso` (days sales outstanding, standard): closing A/R ÷ the month's credit sales × the
//!   month's days;
//! - `countback_dso`: the days of sales, counted back month by month from the month's end,
//!   that the closing A/R is made of (whole months while the A/R left exceeds their sales,
//!   then the fraction of the next);
//! - `cei` (collection effectiveness index, %): (opening A/R + credit sales − closing A/R) ÷
//!   (opening A/R + credit sales − closing current A/R) × 100;
//! - `best_possible_dso`: closing current A/R (not yet due) ÷ credit sales × days;
//! - `average_days_delinquent`: DSO − best possible DSO;
//! - `bad_debt_written_off`: invoices written off as bad debt in the month.
//!
//! A/R is the sum of invoice balances (unapplied cash apart); credit sales are invoices
//! issued less invoices voided in the month. A figure with a zero divisor is absent.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::{Date, Month};
use utoipa::{IntoParams, ToSchema};

use super::format::ReportFormat;
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// The first month, `YYYY-MM` (default: eleven months before `to`).
    #[param(example = "2025-12")]
    pub from: Option<String>,
    /// The last month, `YYYY-MM` (default: the last whole month before today).
    #[param(example = "2026-11")]
    pub to: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// A month's figures in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct KpiMonth {
    /// The month, `YYYY-MM`.
    #[schema(example = "2026-11")]
    pub month: String,
    pub currency: Currency,
    /// Days in the month.
    pub days: i64,
    /// A/R at the end of the day before the month.
    #[schema(value_type = crate::money::DecimalString, example = "50000.00")]
    pub opening_ar: Decimal,
    /// Invoices issued less invoices voided in the month.
    #[schema(value_type = crate::money::DecimalString, example = "100000.00")]
    pub credit_sales: Decimal,
    /// A/R at the end of the month.
    #[schema(value_type = crate::money::DecimalString, example = "40000.00")]
    pub closing_ar: Decimal,
    /// The part of the closing A/R not yet due at the end of the month.
    #[schema(value_type = crate::money::DecimalString, example = "30000.00")]
    pub closing_current_ar: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub bad_debt_written_off: Decimal,
    /// Days, one decimal; absent without credit sales.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "12.0")]
    pub dso: Option<Decimal>,
    /// Days, one decimal; absent when the sales on record do not cover the closing A/R.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "12.0")]
    pub countback_dso: Option<Decimal>,
    /// Percent, two decimals; absent when its divisor is zero or less.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "91.67")]
    pub cei: Option<Decimal>,
    #[schema(value_type = Option<crate::money::DecimalString>, example = "9.0")]
    pub best_possible_dso: Option<Decimal>,
    #[schema(value_type = Option<crate::money::DecimalString>, example = "3.0")]
    pub average_days_delinquent: Option<Decimal>,
}

/// The KPI report: one row per month and currency, oldest first, and per currency the
/// figures of the whole range (opening of its first month, sales and write-offs summed,
/// closing of its last month, the KPIs over its days).
#[derive(Debug, Serialize, ToSchema)]
pub struct Kpis {
    /// The first month, `YYYY-MM`.
    pub from: String,
    /// The last month, `YYYY-MM`.
    pub to: String,
    pub rows: Vec<KpiMonth>,
    pub totals: Vec<KpiMonth>,
}

/// What the ledger says of one month in one currency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Movement {
    pub month: Date,
    pub currency: Currency,
    /// Net change of the invoices' balances.
    pub ar_change: Decimal,
    pub credit_sales: Decimal,
    pub bad_debt: Decimal,
}

/// The first day of a `YYYY-MM` month of the years 1900 to 9998.
pub fn parse_month(text: &str) -> Option<Date> {
    let (year, month) = text.split_once('-')?;
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(year, 4) || !digits(month, 2) {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    if !(1900..=9998).contains(&year) {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year, month, 1).ok()
}

pub fn month_label(start: Date) -> String {
    format!("{:04}-{:02}", start.year(), start.month() as u8)
}

/// The first day of the month `n` months after (or before, when negative) `start`'s.
pub fn add_months(start: Date, n: i32) -> Date {
    let index = start.year() * 12 + (start.month() as i32 - 1) + n;
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
    Date::from_calendar_date(index.div_euclid(12), month, 1).unwrap_or(start)
}

pub fn days_in(start: Date) -> i64 {
    (add_months(start, 1) - start).whole_days()
}

/// The months a query asks for: 422 naming the field for a malformed month, `from` after
/// `to`, or more than 60 months.
pub fn range(query: &KpiQuery, today: Date) -> Result<(Date, Date), Refusal> {
    let mut e = Errors::default();
    let mut month = |field: &'static str, text: &Option<String>| match text {
        None => None,
        Some(t) => {
            let parsed = parse_month(t);
            if parsed.is_none() {
                e.add(
                    field,
                    "invalid_month",
                    "must be a month as YYYY-MM, of the years 1900 to 9998",
                );
            }
            parsed
        }
    };
    let from = month("from", &query.from);
    let to = month("to", &query.to);
    e.finish()?;
    let to = to.unwrap_or_else(|| add_months(today.replace_day(1).unwrap_or(today), -1));
    let from = from.unwrap_or_else(|| add_months(to, -11));
    let mut e = Errors::default();
    let this_month = today.replace_day(1).unwrap_or(today);
    if to > this_month {
        e.add("to", "in_the_future", "must not be after the current month");
    } else if from > to {
        e.add("from", "after_to", "must not be after `to`");
    } else if add_months(from, 60) <= to {
        e.add("from", "out_of_range", "a report covers at most 60 months");
    }
    e.finish()?;
    Ok((from, to))
}

/// `value` rounded half away from zero to `places` decimals, and written with exactly that
/// many (`31` → `31.0`).
fn fixed(value: Decimal, places: u32) -> Decimal {
    let mut v = value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(places);
    v
}

fn days_figure(value: Decimal) -> Decimal {
    fixed(value, 1)
}

/// A/R ÷ sales × days, one decimal; absent without sales.
pub fn dso(ar: Decimal, sales: Decimal, days: i64) -> Option<Decimal> {
    (sales > Decimal::ZERO).then(|| days_figure(ar * Decimal::from(days) / sales))
}

/// (opening + sales − closing) ÷ (opening + sales − closing current) × 100, two decimals.
pub fn cei(
    opening: Decimal,
    sales: Decimal,
    closing: Decimal,
    current: Decimal,
) -> Option<Decimal> {
    let divisor = opening + sales - current;
    (divisor > Decimal::ZERO).then(|| {
        fixed(
            (opening + sales - closing) * Decimal::ONE_HUNDRED / divisor,
            2,
        )
    })
}

/// The days of sales the A/R is made of, counting back from the newest month: `months` are
/// (sales, days), newest first. Absent when they do not cover the A/R.
pub fn countback_dso(ar: Decimal, months: &[(Decimal, i64)]) -> Option<Decimal> {
    let mut left = ar;
    let mut days = Decimal::ZERO;
    for &(sales, month_days) in months {
        if left <= Decimal::ZERO {
            break;
        }
        if left >= sales {
            left -= sales;
            days += Decimal::from(month_days);
        } else {
            days += left * Decimal::from(month_days) / sales;
            left = Decimal::ZERO;
        }
    }
    (left <= Decimal::ZERO).then(|| days_figure(days))
}

/// The row of figures for a period: `history` holds (sales, days) of each month before the
/// period's end, newest first, for the count-back.
#[allow(clippy::too_many_arguments)]
fn figures(
    month: String,
    currency: Currency,
    days: i64,
    opening: Decimal,
    sales: Decimal,
    closing: Decimal,
    current: Decimal,
    bad_debt: Decimal,
    history: &[(Decimal, i64)],
) -> KpiMonth {
    let dso_ = dso(closing, sales, days);
    let best = dso(current, sales, days);
    KpiMonth {
        month,
        currency,
        days,
        opening_ar: currency.normalize(opening),
        credit_sales: currency.normalize(sales),
        closing_ar: currency.normalize(closing),
        closing_current_ar: currency.normalize(current),
        bad_debt_written_off: currency.normalize(bad_debt),
        dso: dso_,
        countback_dso: countback_dso(closing, history),
        cei: cei(opening, sales, closing, current),
        best_possible_dso: best,
        average_days_delinquent: dso_.zip(best).map(|(d, b)| d - b),
    }
}

/// The report from the ledger's monthly movements (every month up to `to`, any order) and
/// the closing current A/R of each month of the range.
pub fn build(
    from: Date,
    to: Date,
    movements: &[Movement],
    current: &[(Date, Currency, Decimal)],
) -> Kpis {
    let currencies = Currency::distinct(movements.iter().map(|m| m.currency));
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    for currency in currencies {
        let of = |month: Date| {
            movements
                .iter()
                .filter(|m| m.currency == currency && m.month == month)
                .fold((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |t, m| {
                    (t.0 + m.ar_change, t.1 + m.credit_sales, t.2 + m.bad_debt)
                })
        };
        let current_of = |month: Date| {
            current
                .iter()
                .filter(|c| c.0 == month && c.1 == currency)
                .map(|c| c.2)
                .sum::<Decimal>()
        };
        let first = movements
            .iter()
            .filter(|m| m.currency == currency)
            .map(|m| m.month)
            .min()
            .unwrap_or(from);
        // Sales and days of every month on record, oldest first (a count-back reads them
        // newest first).
        let mut history: Vec<(Date, Decimal, i64)> = Vec::new();
        let mut ar = Decimal::ZERO;
        let mut month = first.min(from);
        let (mut range_opening, mut range_sales, mut range_bad_debt) =
            (None, Decimal::ZERO, Decimal::ZERO);
        while month <= to {
            let (change, sales, bad_debt) = of(month);
            let opening = ar;
            ar += change;
            history.push((month, sales, days_in(month)));
            if month >= from {
                range_opening.get_or_insert(opening);
                range_sales += sales;
                range_bad_debt += bad_debt;
                let back: Vec<(Decimal, i64)> = history.iter().rev().map(|h| (h.1, h.2)).collect();
                rows.push(figures(
                    month_label(month),
                    currency,
                    days_in(month),
                    opening,
                    sales,
                    ar,
                    current_of(month),
                    bad_debt,
                    &back,
                ));
            }
            month = add_months(month, 1);
            if history.last().is_some_and(|h| month <= h.0) {
                break; // the calendar's end
            }
        }
        let back: Vec<(Decimal, i64)> = history.iter().rev().map(|h| (h.1, h.2)).collect();
        totals.push(figures(
            format!("{}..{}", month_label(from), month_label(to)),
            currency,
            (add_months(to, 1) - from).whole_days(),
            range_opening.unwrap_or_default(),
            range_sales,
            ar,
            current_of(to),
            range_bad_debt,
            &back,
        ));
    }
    Kpis {
        from: month_label(from),
        to: month_label(to),
        rows,
        totals,
    }
}

const COLUMNS: [Column; 13] = [
    Column::new("month", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("days", Kind::Integer),
    Column::new("opening_ar", Kind::Money),
    Column::new("credit_sales", Kind::Money),
    Column::new("closing_ar", Kind::Money),
    Column::new("closing_current_ar", Kind::Money),
    Column::new("bad_debt_written_off", Kind::Money),
    Column::new("dso", Kind::Days),
    Column::new("countback_dso", Kind::Days),
    Column::new("cei", Kind::Percent),
    Column::new("best_possible_dso", Kind::Days),
    Column::new("average_days_delinquent", Kind::Days),
];

fn cells(m: &KpiMonth) -> Vec<Cell> {
    vec![
        m.month.clone().into(),
        m.currency.code().into(),
        m.days.into(),
        m.opening_ar.into(),
        m.credit_sales.into(),
        m.closing_ar.into(),
        m.closing_current_ar.into(),
        m.bad_debt_written_off.into(),
        m.dso.into(),
        m.countback_dso.into(),
        m.cei.into(),
        m.best_possible_dso.into(),
        m.average_days_delinquent.into(),
    ]
}

impl Kpis {
    /// The months, then one totals row per currency, as a table.
    pub fn table(&self) -> Table {
        // The range's figures of every currency but the last close the rows; the last's are
        // the totals row.
        let mut rows: Vec<Vec<Cell>> = self.rows.iter().map(cells).collect();
        let last = self.totals.len().saturating_sub(1);
        rows.extend(self.totals.iter().take(last).map(cells));
        Table {
            title: "KPIs",
            columns: COLUMNS.to_vec(),
            rows,
            totals: self.totals.get(last).map(cells),
            parameters: vec![("from", self.from.clone()), ("to", self.to.clone())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn dso_is_ar_over_sales_times_days() {
        assert_eq!(dso(d("150000.00"), d("100000.00"), 30), Some(d("45.0")));
        assert_eq!(dso(d("150000.00"), Decimal::ZERO, 30), None);
    }

    #[test]
    fn cei_of_the_textbook_month() {
        let cei = cei(d("50000"), d("100000"), d("40000"), d("30000"));
        assert_eq!(cei, Some(d("91.67")));
    }

    #[test]
    fn countback_takes_whole_months_then_a_fraction() {
        // 130,000 of A/R: November's 100,000 (30 days), then 30,000 of October's 60,000.
        let months = [(d("100000"), 30), (d("60000"), 31), (d("50000"), 30)];
        assert_eq!(countback_dso(d("130000"), &months), Some(d("45.5")));
        assert_eq!(countback_dso(d("500000"), &months), None);
        assert_eq!(countback_dso(Decimal::ZERO, &months), Some(Decimal::ZERO));
    }

    #[test]
    fn months_parse_strictly_and_count_their_days() {
        assert_eq!(parse_month("2026-02"), Some(date!(2026 - 02 - 01)));
        for bad in [
            "2026-13", "2026-2", "26-02", "2026/02", "", "-001-01", "+202-01", "9999-12",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        assert_eq!(days_in(date!(2028 - 02 - 01)), 29);
        assert_eq!(add_months(date!(2026 - 01 - 01), -1), date!(2025 - 12 - 01));
        assert_eq!(add_months(date!(2026 - 11 - 01), 14), date!(2028 - 01 - 01));
    }

    #[test]
    fn the_default_range_is_the_twelve_whole_months_before_today() {
        let q = KpiQuery {
            from: None,
            to: None,
            format: None,
        };
        assert_eq!(
            range(&q, date!(2026 - 12 - 05)).unwrap(),
            (date!(2025 - 12 - 01), date!(2026 - 11 - 01))
        );
        let q = KpiQuery {
            from: Some("2026-12".into()),
            to: Some("2026-11".into()),
            format: None,
        };
        assert!(range(&q, date!(2026 - 12 - 05)).is_err());
    }

    #[test]
    fn a_month_opens_with_what_the_months_before_left() {
        let usd = Currency::USD;
        let mv = |month, ar_change: &str, sales: &str| Movement {
            month,
            currency: usd,
            ar_change: d(ar_change),
            credit_sales: d(sales),
            bad_debt: Decimal::ZERO,
        };
        let movements = [
            mv(date!(2026 - 10 - 01), "50000", "50000"),
            mv(date!(2026 - 11 - 01), "-10000", "100000"),
        ];
        let current = [(date!(2026 - 11 - 01), usd, d("30000"))];
        let k = build(
            date!(2026 - 11 - 01),
            date!(2026 - 11 - 01),
            &movements,
            &current,
        );
        let nov = &k.rows[0];
        assert_eq!(
            (nov.opening_ar, nov.closing_ar, nov.credit_sales),
            (d("50000"), d("40000"), d("100000"))
        );
        assert_eq!(nov.cei, Some(d("91.67")));
        assert_eq!(nov.dso, Some(d("12.0")));
        assert_eq!(nov.best_possible_dso, Some(d("9.0")));
        assert_eq!(nov.average_days_delinquent, Some(d("3.0")));
        assert_eq!(k.totals.len(), 1);
    }
}
