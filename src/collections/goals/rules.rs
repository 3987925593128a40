//! The rules of goals: who it is for, the month, and at least one sound target.

use rust_decimal::Decimal;
use time::Date;

use super::model::{GoalRow, NewCollectionGoal};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::reports::kpis::parse_month;
use crate::validate::Errors;

/// The targets of a goal checked into `e`: at least one; an amount above zero in the
/// currency's decimals; a percentage from 0 to 100 with at most two decimals.
fn check_targets(
    currency: Currency,
    collected: Option<Decimal>,
    past_due_percent: Option<Decimal>,
    e: &mut Errors,
) {
    if collected.is_none() && past_due_percent.is_none() {
        e.add(
            "target_collected",
            "missing_target",
            "give target_collected, target_past_due_percent or both",
        );
    }
    if let Some(amount) = collected {
        if amount <= Decimal::ZERO {
            e.add("target_collected", "out_of_range", "must be more than zero");
        } else if let Err(err) = currency.check("target_collected", amount) {
            e.add(&err.field, &err.code, err.message.clone());
        }
    }
    if let Some(p) = past_due_percent {
        if p < Decimal::ZERO || p > Decimal::ONE_HUNDRED {
            e.add(
                "target_past_due_percent",
                "out_of_range",
                "must be from 0 to 100",
            );
        } else if p.normalize().scale() > 2 {
            e.add(
                "target_past_due_percent",
                "too_many_decimals",
                "allows at most 2 decimals",
            );
        }
    }
}

/// A new goal checked: 422 naming each field wrong; the first day of its month.
pub fn check_new(new: &NewCollectionGoal) -> Result<Date, Refusal> {
    let mut e = Errors::default();
    match (&new.collector, &new.team) {
        (Some(c), None) => e.text("collector", c, 200),
        (None, Some(t)) => e.text("team", t, 200),
        _ => e.add("collector", "one_of", "give either collector or team"),
    }
    let month = parse_month(&new.month);
    if month.is_none() {
        e.add(
            "month",
            "invalid_month",
            "must be a month as YYYY-MM, of the years 1900 to 9998",
        );
    }
    check_targets(
        new.currency,
        new.target_collected,
        new.target_past_due_percent,
        &mut e,
    );
    e.finish()?;
    Ok(month.unwrap_or(Date::MIN))
}

/// A changed goal checked: its targets.
pub fn check_changed(row: &GoalRow) -> Result<(), Refusal> {
    let mut e = Errors::default();
    check_targets(
        row.currency,
        row.target_collected,
        row.target_past_due_percent,
        &mut e,
    );
    e.finish()
}

/// A month filter: the first day of the month, or 422 naming `month`.
pub fn month_filter(month: &Option<String>) -> Result<Option<Date>, Refusal> {
    match month {
        None => Ok(None),
        Some(m) => parse_month(m).map(Some).ok_or_else(|| {
            Refusal::field(
                "month",
                "invalid_month",
                "must be a month as YYYY-MM, of the years 1900 to 9998",
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(collector: Option<&str>, team: Option<&str>, month: &str) -> NewCollectionGoal {
        NewCollectionGoal {
            collector: collector.map(str::to_string),
            team: team.map(str::to_string),
            month: month.into(),
            currency: Currency::USD,
            target_collected: Some(Decimal::new(5_000_000, 2)),
            target_past_due_percent: None,
        }
    }

    fn field(r: Result<Date, Refusal>) -> String {
        format!("{:?}", r.unwrap_err())
    }

    #[test]
    fn a_goal_is_of_one_collector_or_team_for_a_month() {
        assert_eq!(
            check_new(&new(Some("ann"), None, "2026-12")).unwrap(),
            time::macros::date!(2026 - 12 - 01)
        );
        assert!(check_new(&new(None, Some("East"), "2026-12")).is_ok());
        assert!(field(check_new(&new(Some("ann"), Some("East"), "2026-12"))).contains("one_of"));
        assert!(field(check_new(&new(None, None, "2026-12"))).contains("one_of"));
        assert!(field(check_new(&new(Some("ann"), None, "2026-13"))).contains("invalid_month"));
    }

    #[test]
    fn a_goal_needs_a_sound_target() {
        let mut g = new(Some("ann"), None, "2026-12");
        g.target_collected = None;
        assert!(field(check_new(&g)).contains("missing_target"));
        g.target_past_due_percent = Some(Decimal::new(1550, 2));
        assert!(check_new(&g).is_ok());
        g.target_past_due_percent = Some(Decimal::new(100_001, 3));
        assert!(field(check_new(&g)).contains("out_of_range"));
        g.target_past_due_percent = Some(Decimal::new(15_555, 3));
        assert!(field(check_new(&g)).contains("too_many_decimals"));
        g.target_past_due_percent = None;
        g.target_collected = Some(Decimal::new(1_001, 3));
        assert!(field(check_new(&g)).contains("too_many_decimals"));
        g.target_collected = Some(Decimal::ZERO);
        assert!(field(check_new(&g)).contains("out_of_range"));
    }
}
