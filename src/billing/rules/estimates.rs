//! Estimated meter readings: from the average daily usage, else the expected volume.

use time::Date;

use super::*;

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
