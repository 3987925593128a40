//! Proration by days, and the date ranges it counts.

use rust_decimal::Decimal;
use time::Date;

use super::*;
use crate::money::Currency;

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
