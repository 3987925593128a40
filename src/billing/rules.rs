//! The arithmetic of billing, free of I/O: billing periods, proration, meter estimates,
//! overage and the true-up of over-estimates. Every rule here is what a billing specialist
//! would otherwise do by hand, and each is unit-tested against the worked examples.
//!
//! Rounding: money rounds half-up to the currency's minor unit once per line; meter units
//! (estimates, prorated allowances) round half-up to whole units.

use rust_decimal::Decimal;
use time::{Date, Duration, Month};

use crate::contracts::model::BillingFrequency;
use crate::money::Currency;

/// One billing period of a contract. `start..=end` is what is billed; `full_start..=full_end`
/// is the whole period of the grid it belongs to, the denominator of proration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Date,
    pub end: Date,
    pub full_start: Date,
    pub full_end: Date,
}

impl Period {
    pub fn days(&self) -> i64 {
        days_between(self.start, self.end) + 1
    }

    pub fn full_days(&self) -> i64 {
        days_between(self.full_start, self.full_end) + 1
    }

    /// The day after the period: the date of the meter reading that closes it.
    pub fn boundary(&self) -> Date {
        self.end + Duration::days(1)
    }
}

pub fn days_between(from: Date, to: Date) -> i64 {
    (to - from).whole_days()
}

fn days_in_month(year: i32, month: Month) -> u8 {
    time::util::days_in_month(month, year)
}

/// The anchor day in a month, on the month's last day when the month is shorter.
pub fn anchor_date(year: i32, month: Month, anchor_day: u8) -> Date {
    let day = anchor_day.min(days_in_month(year, month));
    Date::from_calendar_date(year, month, day).expect("a day within the month")
}

/// The anchor date `months` months after (or before) the month of `date`.
fn shift_anchor(date: Date, months: i32, anchor_day: u8) -> Date {
    let index = date.year() * 12 + (date.month() as i32 - 1) + months;
    let year = index.div_euclid(12);
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).expect("a month number");
    anchor_date(year, month, anchor_day)
}

/// The first anchor date on or after `start`. Quarterly and annual periods with an
/// `anchor_month` start only in the grid's months (`anchor_month`, then every 3 or 12 months:
/// calendar quarters with 1, a fiscal year from July with 7); otherwise the grid starts at the
/// first anchor day on or after the start.
fn first_anchor(start: Date, step: i32, anchor_day: u8, anchor_month: Option<u8>) -> Date {
    let on_grid = |month: i32| match anchor_month {
        Some(m) if step > 1 => (month - m as i32).rem_euclid(step) == 0,
        _ => true,
    };
    let mut index = start.year() * 12 + (start.month() as i32 - 1);
    loop {
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
        if on_grid(month) {
            let month = Month::try_from(month as u8).expect("a month number");
            let day = anchor_date(year, month, anchor_day);
            if day >= start {
                return day;
            }
        }
        index += 1;
    }
}

/// The contract's billing periods that start on or before `horizon`, from its start date to
/// its last billable day (end, termination) if it has one. Periods run from anchor date to
/// the day before the next; a start between anchor dates gives a short first period, prorated
/// over the whole grid period it falls in, and an end between them a short last one.
pub fn periods(
    start: Date,
    last_day: Option<Date>,
    horizon: Date,
    frequency: BillingFrequency,
    anchor_day: u8,
    anchor_month: Option<u8>,
) -> Vec<Period> {
    let step = frequency.months();
    let first_anchor = first_anchor(start, step, anchor_day, anchor_month);
    let mut out = Vec::new();
    let limit = last_day.map_or(horizon, |l| l.min(horizon));
    let mut push = |p: Period| {
        let end = last_day.map_or(p.end, |l| l.min(p.end));
        if p.start <= limit && p.start <= end {
            out.push(Period { end, ..p });
            true
        } else {
            false
        }
    };
    if start < first_anchor {
        let full_start = shift_anchor(first_anchor, -step, anchor_day);
        let end = first_anchor - Duration::days(1);
        if !push(Period {
            start,
            end,
            full_start,
            full_end: end,
        }) {
            return out;
        }
    }
    let mut k = 0;
    loop {
        let from = shift_anchor(first_anchor, k * step, anchor_day);
        let to = shift_anchor(first_anchor, (k + 1) * step, anchor_day) - Duration::days(1);
        if !push(Period {
            start: from,
            end: to,
            full_start: from,
            full_end: to,
        }) {
            return out;
        }
        k += 1;
    }
}

/// `amount × billed / full`, rounded half-up to the currency; the whole amount when nothing
/// is prorated.
pub fn prorate(amount: Decimal, billed_days: i64, full_days: i64, currency: Currency) -> Decimal {
    if billed_days == full_days {
        return currency.normalize(amount);
    }
    currency.round(amount * Decimal::from(billed_days) / Decimal::from(full_days))
}

/// `numerator / denominator` rounded half-up to a whole number (both non-negative).
pub fn div_round(numerator: i128, denominator: i128) -> i64 {
    debug_assert!(numerator >= 0 && denominator > 0);
    ((2 * numerator + denominator) / (2 * denominator)) as i64
}

/// Inclusive date range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: Date,
    pub to: Date,
}

impl Span {
    pub fn new(from: Date, to: Date) -> Option<Span> {
        (from <= to).then_some(Span { from, to })
    }

    pub fn intersect(self, other: Span) -> Option<Span> {
        Span::new(self.from.max(other.from), self.to.min(other.to))
    }

    pub fn days(self) -> i64 {
        days_between(self.from, self.to) + 1
    }
}

/// Days of `span` not covered by any of the (non-overlapping) `gaps`.
pub fn billable_days(span: Span, gaps: &[Span]) -> i64 {
    span.days()
        - gaps
            .iter()
            .filter_map(|g| g.intersect(span))
            .map(Span::days)
            .sum::<i64>()
}

/// A recurring charge as it applies over a date range.
#[derive(Debug, Clone)]
pub struct Charge<K> {
    pub key: K,
    pub amount: Decimal,
    pub from: Date,
    pub to: Option<Date>,
}

/// One line of recurring charges: a charge over the part of a period one account owned.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeLine<K, A> {
    pub key: K,
    pub account: A,
    pub span: Span,
    pub billed_days: i64,
    pub period_days: i64,
    pub amount: Decimal,
}

/// The recurring charges of one period: each charge over the days it was in effect, split by
/// owner (`owners`: from which date which account owns the contract, in date order), minus
/// suspended days, prorated over the full period.
pub fn charge_lines<K: Clone, A: Clone>(
    period: &Period,
    charges: &[Charge<K>],
    owners: &[(Date, A)],
    suspended: &[Span],
    currency: Currency,
) -> Vec<ChargeLine<K, A>> {
    let mut out = Vec::new();
    let whole = Span {
        from: period.start,
        to: period.end,
    };
    for (i, (owner_from, account)) in owners.iter().enumerate() {
        let owner_to = owners
            .get(i + 1)
            .map_or(Date::MAX, |(next, _)| *next - Duration::days(1));
        let Some(segment) = Span::new(*owner_from, owner_to).and_then(|s| s.intersect(whole))
        else {
            continue;
        };
        for charge in charges {
            let effective = Span::new(charge.from, charge.to.unwrap_or(Date::MAX));
            let Some(span) = effective.and_then(|e| e.intersect(segment)) else {
                continue;
            };
            let days = billable_days(span, suspended);
            if days <= 0 {
                continue;
            }
            out.push(ChargeLine {
                key: charge.key.clone(),
                account: account.clone(),
                span,
                billed_days: days,
                period_days: period.full_days(),
                amount: prorate(charge.amount, days, period.full_days(), currency),
            });
        }
    }
    out
}

/// A meter's plan as billed for one period (allowance and minimum already prorated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub included_units: i64,
    pub overage_rate: Decimal,
    pub minimum_charge: Decimal,
}

impl Plan {
    /// The plan for a period of `billed` days out of `full`: the allowance prorated half-up to
    /// whole units, the minimum charge to the currency.
    pub fn prorated(self, billed: i64, full: i64, currency: Currency) -> Plan {
        if billed == full {
            return Plan {
                minimum_charge: currency.normalize(self.minimum_charge),
                ..self
            };
        }
        Plan {
            included_units: div_round(self.included_units as i128 * billed as i128, full as i128),
            overage_rate: self.overage_rate,
            minimum_charge: prorate(self.minimum_charge, billed, full, currency),
        }
    }
}

/// What a period's usage costs under a plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rated {
    pub usage: i64,
    pub overage_units: i64,
    pub overage_amount: Decimal,
    /// What the minimum charge adds above the overage (zero when the overage reaches it).
    pub minimum_top_up: Decimal,
}

impl Rated {
    pub fn charged(&self) -> Decimal {
        self.overage_amount + self.minimum_top_up
    }
}

/// Overage = usage above the allowance (never below zero) × rate, rounded half-up; the
/// minimum charge tops the line up when the overage is below it.
pub fn rate_usage(usage: i64, plan: Plan, currency: Currency) -> Rated {
    let overage_units = (usage - plan.included_units).max(0);
    let overage_amount = currency.round(Decimal::from(overage_units) * plan.overage_rate);
    let minimum_top_up = (plan.minimum_charge - overage_amount).max(Decimal::ZERO);
    Rated {
        usage,
        overage_units,
        overage_amount,
        minimum_top_up: currency.normalize(minimum_top_up),
    }
}

/// A meter value on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub on: Date,
    pub value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimateMethod {
    AverageDailyUsage,
    ExpectedVolume,
}

impl EstimateMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            EstimateMethod::AverageDailyUsage => "average_daily_usage",
            EstimateMethod::ExpectedVolume => "expected_volume",
        }
    }
}

/// An estimated reading and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub value: i64,
    pub method: EstimateMethod,
    /// In words, for the invoice line and the reading.
    pub explanation: String,
    pub basis: EstimateBasis,
}

/// What an estimated reading was made from, as kept with it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EstimateBasis {
    /// `average_daily_usage`: the actual readings averaged, the units used between the first
    /// and last of them over `days`, and the days from the last to the estimate.
    AverageDailyUsage {
        readings: Vec<BasisReading>,
        units: i64,
        days: i64,
        days_since_last_actual: i64,
    },
    /// `expected_volume`: the contract's expected monthly volume over `days` of a period of
    /// `period_months` months and `full_period_days` days.
    ExpectedVolume {
        expected_monthly_volume: i64,
        period_months: i64,
        days: i64,
        full_period_days: i64,
    },
}

/// An actual reading an estimate was made from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct BasisReading {
    pub read_on: Date,
    pub value: i64,
}

/// The contract's expected volume, used when readings are too few to average.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedVolume {
    pub monthly_units: i64,
    /// Months in a full billing period (1, 3 or 12).
    pub period_months: i64,
    /// Days of the full period the estimate falls in.
    pub full_period_days: i64,
}

/// Estimates the meter on `at` when no actual reading closes the period.
///
/// From history: the average daily usage between the oldest and newest of the last `n + 1`
/// actual readings before `at` (at least two, on different days), times the days since the
/// newest, rounded half-up, added to the newest. Otherwise the expected monthly volume
/// prorated by days over the full period, added to `from` (the last billed reading). Never
/// below `from`: an estimate does not take back usage already billed. `None`: no basis.
pub fn estimate(
    actuals: &[Point],
    at: Date,
    n: usize,
    from: Point,
    expected: Option<ExpectedVolume>,
) -> Option<Estimate> {
    let before: Vec<Point> = actuals.iter().copied().filter(|p| p.on < at).collect();
    let window = &before[before.len().saturating_sub(n + 1)..];
    if let (Some(oldest), Some(newest)) = (window.first(), window.last()) {
        let span = days_between(oldest.on, newest.on);
        if span > 0 && newest.value >= oldest.value {
            let since = days_between(newest.on, at);
            let used = (newest.value - oldest.value) as i128;
            let value = newest.value + div_round(used * since as i128, span as i128);
            return Some(Estimate {
                value: value.max(from.value),
                method: EstimateMethod::AverageDailyUsage,
                explanation: format!(
                    "estimated: average daily usage {used} units / {span} days between the readings of {} and {}, times {since} days since {}",
                    oldest.on, newest.on, newest.on
                ),
                basis: EstimateBasis::AverageDailyUsage {
                    readings: window
                        .iter()
                        .map(|p| BasisReading {
                            read_on: p.on,
                            value: p.value,
                        })
                        .collect(),
                    units: used as i64,
                    days: span,
                    days_since_last_actual: since,
                },
            });
        }
    }
    let expected = expected?;
    let days = days_between(from.on, at);
    let units = div_round(
        expected.monthly_units as i128 * expected.period_months as i128 * days as i128,
        expected.full_period_days as i128,
    );
    Some(Estimate {
        value: from.value + units,
        method: EstimateMethod::ExpectedVolume,
        explanation: format!(
            "estimated: expected volume {} units a month over {days} of {} days since the reading of {}",
            expected.monthly_units, expected.full_period_days, from.on
        ),
        basis: EstimateBasis::ExpectedVolume {
            expected_monthly_volume: expected.monthly_units,
            period_months: expected.period_months,
            days,
            full_period_days: expected.full_period_days,
        },
    })
}

/// A meter period already billed, as the true-up sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BilledUsage {
    pub start_value: i64,
    pub end_value: i64,
    pub end_estimated: bool,
    pub plan: Plan,
    pub charged: Decimal,
}

/// A billed period re-rated because a later actual reading came in below its estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerate {
    /// Index in the slice given to [`true_up`].
    pub index: usize,
    pub start_value: i64,
    pub end_value: i64,
    pub rated: Rated,
    /// What was charged before, minus what the period is worth now.
    pub credit: Decimal,
}

/// When an actual reading is below the last billed (estimated) reading, re-rates the billed
/// periods whose estimated end passed it, newest first, as if each had ended at the actual
/// reading. `billed` is the meter's billed periods in order; the credits are the overage
/// (and minimum) charged too much.
pub fn true_up(billed: &[BilledUsage], actual: i64, currency: Currency) -> Vec<Rerate> {
    let mut out = Vec::new();
    for (index, period) in billed.iter().enumerate().rev() {
        if !period.end_estimated || period.end_value <= actual {
            break;
        }
        let start_value = period.start_value.min(actual);
        let rated = rate_usage(actual - start_value, period.plan, currency);
        out.push(Rerate {
            index,
            start_value,
            end_value: actual,
            credit: (period.charged - rated.charged()).max(Decimal::ZERO),
            rated,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use time::macros::date;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn monthly_periods_from_a_mid_month_start_begin_with_a_short_period() {
        let got = periods(
            date!(2026 - 10 - 16),
            None,
            date!(2026 - 11 - 01),
            BillingFrequency::Monthly,
            1,
            None,
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].start, date!(2026 - 10 - 16));
        assert_eq!(got[0].end, date!(2026 - 10 - 31));
        assert_eq!((got[0].days(), got[0].full_days()), (16, 31));
        assert_eq!(got[1].start, date!(2026 - 11 - 01));
        assert_eq!(got[1].end, date!(2026 - 11 - 30));
    }

    #[test]
    fn the_worked_proration_is_16_of_31_days() {
        assert_eq!(prorate(d("250.00"), 16, 31, usd()), d("129.03"));
        assert_eq!(prorate(d("250"), 31, 31, usd()).to_string(), "250.00");
    }

    #[test]
    fn anchor_days_past_a_months_end_fall_on_its_last_day() {
        let got = periods(
            date!(2026 - 01 - 31),
            None,
            date!(2026 - 04 - 01),
            BillingFrequency::Monthly,
            31,
            None,
        );
        let starts: Vec<Date> = got.iter().map(|p| p.start).collect();
        assert_eq!(
            starts,
            vec![
                date!(2026 - 01 - 31),
                date!(2026 - 02 - 28),
                date!(2026 - 03 - 31)
            ]
        );
        assert_eq!(got[0].end, date!(2026 - 02 - 27));
    }

    #[test]
    fn quarterly_and_annual_periods_step_from_the_first_anchor() {
        let q = periods(
            date!(2026 - 02 - 10),
            None,
            date!(2026 - 06 - 01),
            BillingFrequency::Quarterly,
            1,
            None,
        );
        assert_eq!(q[0].start, date!(2026 - 02 - 10));
        assert_eq!(q[0].end, date!(2026 - 02 - 28));
        assert_eq!(q[0].full_start, date!(2025 - 12 - 01));
        assert_eq!(q[1].start, date!(2026 - 03 - 01));
        assert_eq!(q[1].end, date!(2026 - 05 - 31));
        assert_eq!(q.len(), 3);
        let a = periods(
            date!(2026 - 01 - 01),
            None,
            date!(2027 - 01 - 01),
            BillingFrequency::Annual,
            1,
            None,
        );
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].full_days(), 365);
    }

    #[test]
    fn calendar_quarters_prorate_a_first_partial_period_over_its_whole_quarter() {
        // Quarterly, 1,200.00 in advance, anchor day 1, anchor month 1, from 20 May 2025.
        let q = periods(
            date!(2025 - 05 - 20),
            None,
            date!(2025 - 10 - 01),
            BillingFrequency::Quarterly,
            1,
            Some(1),
        );
        assert_eq!(
            (q[0].start, q[0].end),
            (date!(2025 - 05 - 20), date!(2025 - 06 - 30))
        );
        assert_eq!(q[0].full_start, date!(2025 - 04 - 01));
        assert_eq!((q[0].days(), q[0].full_days()), (42, 91));
        assert_eq!(prorate(d("1200.00"), 42, 91, usd()), d("553.85"));
        assert_eq!(
            (q[1].start, q[1].end),
            (date!(2025 - 07 - 01), date!(2025 - 09 - 30))
        );
        assert_eq!(q[1].days(), q[1].full_days());
        assert_eq!(q[2].start, date!(2025 - 10 - 01));
        // Any month of the grid names the same quarters.
        let same = periods(
            date!(2025 - 05 - 20),
            None,
            date!(2025 - 10 - 01),
            BillingFrequency::Quarterly,
            1,
            Some(10),
        );
        assert_eq!(same, q);
        // A start on the grid has no short period.
        let on_grid = periods(
            date!(2025 - 04 - 01),
            None,
            date!(2025 - 04 - 01),
            BillingFrequency::Quarterly,
            1,
            Some(1),
        );
        assert_eq!(on_grid.len(), 1);
        assert_eq!(on_grid[0].end, date!(2025 - 06 - 30));
    }

    #[test]
    fn a_fiscal_year_from_july_starts_annual_periods_in_july() {
        let a = periods(
            date!(2026 - 01 - 15),
            None,
            date!(2027 - 07 - 01),
            BillingFrequency::Annual,
            1,
            Some(7),
        );
        assert_eq!(
            (a[0].start, a[0].end),
            (date!(2026 - 01 - 15), date!(2026 - 06 - 30))
        );
        assert_eq!(a[0].full_start, date!(2025 - 07 - 01));
        assert_eq!((a[0].days(), a[0].full_days()), (167, 365));
        assert_eq!(
            (a[1].start, a[1].end),
            (date!(2026 - 07 - 01), date!(2027 - 06 - 30))
        );
        assert_eq!(a[2].start, date!(2027 - 07 - 01));
        // Without a month, the year runs from the first anchor day after the start.
        let plain = periods(
            date!(2026 - 01 - 15),
            None,
            date!(2026 - 02 - 01),
            BillingFrequency::Annual,
            1,
            None,
        );
        assert_eq!(
            (plain[0].start, plain[0].end),
            (date!(2026 - 01 - 15), date!(2026 - 01 - 31))
        );
        assert_eq!(plain[1].start, date!(2026 - 02 - 01));
    }

    #[test]
    fn the_last_period_ends_on_the_last_billable_day() {
        let got = periods(
            date!(2026 - 10 - 01),
            Some(date!(2026 - 11 - 14)),
            date!(2027 - 01 - 01),
            BillingFrequency::Monthly,
            1,
            None,
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].end, date!(2026 - 11 - 14));
        assert_eq!(got[1].full_days(), 30);
    }

    #[test]
    fn charges_split_by_owner_and_skip_suspended_days() {
        let period = periods(
            date!(2026 - 11 - 01),
            None,
            date!(2026 - 11 - 01),
            BillingFrequency::Monthly,
            1,
            None,
        )[0];
        let charges = vec![Charge {
            key: 1,
            amount: d("300.00"),
            from: date!(2026 - 01 - 01),
            to: None,
        }];
        let owners = vec![
            (date!(2026 - 01 - 01), "old"),
            (date!(2026 - 11 - 11), "new"),
        ];
        let suspended = vec![Span {
            from: date!(2026 - 11 - 21),
            to: date!(2026 - 11 - 25),
        }];
        let lines = charge_lines(&period, &charges, &owners, &suspended, usd());
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].account, lines[0].billed_days), ("old", 10));
        assert_eq!(lines[0].amount, d("100.00"));
        assert_eq!((lines[1].account, lines[1].billed_days), ("new", 15));
        assert_eq!(lines[1].amount, d("150.00"));
    }

    fn plan(included: i64, rate: &str, minimum: &str) -> Plan {
        Plan {
            included_units: included,
            overage_rate: d(rate),
            minimum_charge: d(minimum),
        }
    }

    #[test]
    fn the_worked_overage_examples() {
        let bw = rate_usage(127_350 - 120_000, plan(5_000, "0.0085", "0"), usd());
        assert_eq!((bw.overage_units, bw.overage_amount), (2_350, d("19.98")));
        let color = rate_usage(31_420 - 30_000, plan(1_000, "0.065", "0"), usd());
        assert_eq!(
            (color.overage_units, color.overage_amount),
            (420, d("27.30"))
        );
        let under = rate_usage(4_000, plan(5_000, "0.0085", "0"), usd());
        assert_eq!((under.overage_units, under.charged()), (0, d("0.00")));
    }

    #[test]
    fn a_minimum_charge_tops_up_a_small_overage() {
        let rated = rate_usage(5_100, plan(5_000, "0.01", "25.00"), usd());
        assert_eq!(rated.overage_amount, d("1.00"));
        assert_eq!(rated.minimum_top_up, d("24.00"));
        assert_eq!(rated.charged(), d("25.00"));
    }

    #[test]
    fn partial_periods_prorate_the_allowance_and_minimum() {
        let p = plan(5_000, "0.0085", "31.00").prorated(16, 31, usd());
        assert_eq!(p.included_units, 2_581);
        assert_eq!(p.minimum_charge, d("16.00"));
    }

    fn point(on: Date, value: i64) -> Point {
        Point { on, value }
    }

    fn history() -> Vec<Point> {
        vec![
            point(date!(2026 - 07 - 01), 100_000),
            point(date!(2026 - 08 - 01), 106_200),
            point(date!(2026 - 09 - 01), 112_400),
            point(date!(2026 - 10 - 01), 120_000),
        ]
    }

    #[test]
    fn the_worked_estimate_is_126_739() {
        let est = estimate(
            &history(),
            date!(2026 - 11 - 01),
            3,
            point(date!(2026 - 10 - 01), 120_000),
            None,
        )
        .unwrap();
        assert_eq!(est.value, 126_739);
        assert_eq!(est.method, EstimateMethod::AverageDailyUsage);
        let rated = rate_usage(est.value - 120_000, plan(5_000, "0.0085", "0"), usd());
        assert_eq!(
            (rated.overage_units, rated.overage_amount),
            (1_739, d("14.78"))
        );
    }

    #[test]
    fn only_the_last_n_plus_one_actuals_count() {
        let mut h = history();
        h.insert(0, point(date!(2026 - 01 - 01), 0));
        let est = estimate(
            &h,
            date!(2026 - 11 - 01),
            3,
            point(date!(2026 - 10 - 01), 120_000),
            None,
        )
        .unwrap();
        assert_eq!(est.value, 126_739);
    }

    #[test]
    fn too_little_history_falls_back_to_the_expected_volume_then_to_nothing() {
        let one = vec![point(date!(2026 - 10 - 16), 500)];
        let from = point(date!(2026 - 10 - 16), 500);
        let expected = ExpectedVolume {
            monthly_units: 3_100,
            period_months: 1,
            full_period_days: 31,
        };
        let est = estimate(&one, date!(2026 - 11 - 01), 3, from, Some(expected)).unwrap();
        assert_eq!(est.value, 500 + 1_600);
        assert_eq!(est.method, EstimateMethod::ExpectedVolume);
        assert!(estimate(&one, date!(2026 - 11 - 01), 3, from, None).is_none());
    }

    #[test]
    fn true_up_a_bills_from_the_estimate() {
        // November: from the billed estimate 126,739 to the actual 132,000.
        let rated = rate_usage(132_000 - 126_739, plan(5_000, "0.0085", "0"), usd());
        assert_eq!((rated.usage, rated.overage_amount), (5_261, d("2.22")));
        let billed = vec![BilledUsage {
            start_value: 120_000,
            end_value: 126_739,
            end_estimated: true,
            plan: plan(5_000, "0.0085", "0"),
            charged: d("14.78"),
        }];
        assert!(true_up(&billed, 132_000, usd()).is_empty());
    }

    #[test]
    fn true_up_b_rerates_october_and_credits_the_overage() {
        let billed = vec![BilledUsage {
            start_value: 120_000,
            end_value: 126_739,
            end_estimated: true,
            plan: plan(5_000, "0.0085", "0"),
            charged: d("14.78"),
        }];
        let rerates = true_up(&billed, 125_000, usd());
        assert_eq!(rerates.len(), 1);
        assert_eq!(rerates[0].rated.usage, 5_000);
        assert_eq!(rerates[0].rated.overage_amount, d("0.00"));
        assert_eq!(rerates[0].credit, d("14.78"));
    }

    #[test]
    fn true_up_walks_back_through_consecutive_estimates_only() {
        let p = plan(0, "0.01", "0");
        let billed = vec![
            BilledUsage {
                start_value: 0,
                end_value: 1_000,
                end_estimated: false,
                plan: p,
                charged: d("10.00"),
            },
            BilledUsage {
                start_value: 1_000,
                end_value: 2_000,
                end_estimated: true,
                plan: p,
                charged: d("10.00"),
            },
            BilledUsage {
                start_value: 2_000,
                end_value: 3_000,
                end_estimated: true,
                plan: p,
                charged: d("10.00"),
            },
        ];
        let rerates = true_up(&billed, 1_500, usd());
        assert_eq!(rerates.len(), 2);
        assert_eq!((rerates[0].index, rerates[0].rated.usage), (2, 0));
        assert_eq!((rerates[1].index, rerates[1].rated.usage), (1, 500));
        let credit: Decimal = rerates.iter().map(|r| r.credit).sum();
        assert_eq!(credit, d("15.00"));
    }

    /// A small deterministic generator, enough for property checks.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, below: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % below
        }
    }

    /// Property: over any sequence of periods closed by actual readings or estimates, the
    /// usage billed (after re-rating) sums to the last billed reading minus the first.
    #[test]
    fn billed_usage_telescopes_over_estimates_and_true_ups() {
        let p = plan(100, "0.01", "0");
        for seed in 1..500u64 {
            let mut rng = Rng(seed * 7919);
            let first = rng.next(10_000) as i64;
            let mut last_actual = first;
            let mut billed: Vec<BilledUsage> = Vec::new();
            let mut credits = Decimal::ZERO;
            for _ in 0..12 {
                let start = billed.last().map_or(first, |b| b.end_value);
                let (end, estimated) = if rng.next(3) == 0 {
                    // An estimate: never below what was billed.
                    (start + rng.next(2_000) as i64, true)
                } else {
                    let actual = last_actual + rng.next(2_000) as i64;
                    last_actual = actual;
                    (actual, false)
                };
                let mut start = start;
                if !estimated && end < start {
                    for r in true_up(&billed, end, usd()) {
                        credits += r.credit;
                        let b = &mut billed[r.index];
                        b.start_value = r.start_value;
                        b.end_value = r.end_value;
                        b.charged = r.rated.charged();
                    }
                    start = end;
                }
                let rated = rate_usage(end - start, p, usd());
                billed.push(BilledUsage {
                    start_value: start,
                    end_value: end,
                    end_estimated: estimated,
                    plan: p,
                    charged: rated.charged(),
                });
            }
            let usage: i64 = billed.iter().map(|b| b.end_value - b.start_value).sum();
            assert!(billed.iter().all(|b| b.end_value >= b.start_value));
            assert_eq!(
                usage,
                billed.last().unwrap().end_value - first,
                "seed {seed}"
            );
            assert!(credits >= Decimal::ZERO);
        }
    }
}
