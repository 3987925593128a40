//! Meter usage rated under a plan, and the true-up of over-estimates.

use rust_decimal::Decimal;

use super::*;
use crate::money::Currency;

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
