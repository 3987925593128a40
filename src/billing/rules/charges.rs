//! Recurring charges over a period, split by owner and prorated.

use rust_decimal::Decimal;
use time::{Date, Duration};

use super::*;
use crate::money::Currency;

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
