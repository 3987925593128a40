//! The goals report: each monthly collection goal of a range against what was achieved, and
//! the department's month beside them.
//!
//! The actual figures are the collector-performance report's (see `collectors`):
//!
//! - `collected`: payments received in the month on the accounts of the collector's
//!   portfolio, less those since returned; for a team's goal, and for the department, on the
//!   accounts of every collector's portfolio (the service knows no team membership: a team's
//!   goal is measured against the whole department);
//! - `collected_percent_of_target`: `collected` ÷ `target_collected` × 100, two decimals
//!   (half away from zero); absent without a target;
//! - `balance`, `past_due`: the portfolio's invoice balances at the month's end and the part
//!   of them due before the month's last day;
//! - `past_due_percent`: `past_due` ÷ `balance` × 100, two decimals; absent when the balance
//!   is zero or less. A past-due goal is met when this is at most `target_past_due_percent`.
//!
//! The department rows (collector and team absent): per month and currency with a goal or a
//! portfolio, `target_collected` is the sum of the collectors' targets (absent when none has
//! one), the actual figures those of every collector's portfolio together.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use super::collectors::{CollectorMonth, CollectorPerformanceParameters};
use super::kpis::month_label;
use crate::collections::goals::model::{percent, GoalRow};
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;

/// A goal against the month's actual figures (or, collector and team absent, the department).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GoalsReportRow {
    pub collector: Option<String>,
    pub team: Option<String>,
    /// `YYYY-MM`.
    #[schema(example = "2026-11")]
    pub month: String,
    pub currency: Currency,
    #[schema(value_type = Option<crate::money::DecimalString>, example = "50000.00")]
    pub target_collected: Option<Decimal>,
    #[schema(value_type = crate::money::DecimalString, example = "46250.00")]
    pub collected: Decimal,
    /// Percent, two decimals; absent without a target.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "92.50")]
    pub collected_percent_of_target: Option<Decimal>,
    #[schema(value_type = Option<crate::money::DecimalString>, example = "15.00")]
    pub target_past_due_percent: Option<Decimal>,
    #[schema(value_type = crate::money::DecimalString, example = "80000.00")]
    pub balance: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "10000.00")]
    pub past_due: Decimal,
    /// Percent, two decimals; absent when the balance is zero or less.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "12.50")]
    pub past_due_percent: Option<Decimal>,
}

/// The report: the goals by month, currency, collector then team; the department's months.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalsReport {
    pub parameters: CollectorPerformanceParameters,
    pub rows: Vec<GoalsReportRow>,
    /// One per month and currency: the department.
    pub totals: Vec<GoalsReportRow>,
}

/// `part` ÷ `whole` × 100, two decimals half away from zero; absent when `whole` ≤ 0.
pub fn share(part: Decimal, whole: Decimal) -> Option<Decimal> {
    (whole > Decimal::ZERO).then(|| {
        let mut v = (part * Decimal::ONE_HUNDRED / whole)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        v.rescale(2);
        v
    })
}

/// Collected, balance and past due of some collector months.
fn actual<'a>(months: impl Iterator<Item = &'a CollectorMonth>) -> (Decimal, Decimal, Decimal) {
    months.fold((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |t, m| {
        (t.0 + m.collected, t.1 + m.balance, t.2 + m.past_due)
    })
}

fn row(
    collector: Option<String>,
    team: Option<String>,
    month: Date,
    currency: Currency,
    targets: (Option<Decimal>, Option<Decimal>),
    (collected, balance, past_due): (Decimal, Decimal, Decimal),
) -> GoalsReportRow {
    GoalsReportRow {
        collector,
        team,
        month: month_label(month),
        currency,
        target_collected: targets.0.map(|t| currency.normalize(t)),
        collected: currency.normalize(collected),
        collected_percent_of_target: targets.0.and_then(|t| share(collected, t)),
        target_past_due_percent: targets.1.map(percent),
        balance: currency.normalize(balance),
        past_due: currency.normalize(past_due),
        past_due_percent: share(past_due, balance),
    }
}

/// The report from the goals of the range and every collector's months (all collectors:
/// the department counts them all whatever the goals shown).
pub fn build(
    parameters: CollectorPerformanceParameters,
    goals: &[GoalRow],
    months: &[CollectorMonth],
) -> GoalsReport {
    let of = |month: Date, currency: Currency| {
        months
            .iter()
            .filter(move |m| m.month == month && m.currency == currency)
    };
    let rows = goals
        .iter()
        .map(|g| {
            let figures = match &g.collector {
                Some(c) => actual(of(g.month, g.currency).filter(|m| &m.collector == c)),
                None => actual(of(g.month, g.currency)),
            };
            let targets = (g.target_collected, g.target_past_due_percent);
            row(
                g.collector.clone(),
                g.team.clone(),
                g.month,
                g.currency,
                targets,
                figures,
            )
        })
        .collect();
    let mut keys: Vec<(Date, &'static str, Currency)> = goals
        .iter()
        .map(|g| (g.month, g.currency.code(), g.currency))
        .chain(
            months
                .iter()
                .map(|m| (m.month, m.currency.code(), m.currency)),
        )
        .collect();
    keys.sort_by_key(|k| (k.0, k.1));
    keys.dedup_by_key(|k| (k.0, k.1));
    let totals = keys
        .into_iter()
        .map(|(month, _, currency)| {
            let targets: Vec<Decimal> = goals
                .iter()
                .filter(|g| g.month == month && g.currency == currency && g.collector.is_some())
                .filter_map(|g| g.target_collected)
                .collect();
            let target = (!targets.is_empty()).then(|| targets.iter().sum());
            row(
                None,
                None,
                month,
                currency,
                (target, None),
                actual(of(month, currency)),
            )
        })
        .collect();
    GoalsReport {
        parameters,
        rows,
        totals,
    }
}

const COLUMNS: [Column; 11] = [
    Column::new("collector", Kind::Text),
    Column::new("team", Kind::Text),
    Column::new("month", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("target_collected", Kind::Money),
    Column::new("collected", Kind::Money),
    Column::new("collected_percent_of_target", Kind::Percent),
    Column::new("target_past_due_percent", Kind::Percent),
    Column::new("balance", Kind::Money),
    Column::new("past_due", Kind::Money),
    Column::new("past_due_percent", Kind::Percent),
];

fn cells(r: &GoalsReportRow) -> Vec<Cell> {
    let department = r.collector.is_none() && r.team.is_none();
    vec![
        if department {
            "Department".into()
        } else {
            r.collector.clone().into()
        },
        r.team.clone().into(),
        r.month.clone().into(),
        r.currency.code().into(),
        r.target_collected.into(),
        r.collected.into(),
        r.collected_percent_of_target.into(),
        r.target_past_due_percent.into(),
        r.balance.into(),
        r.past_due.into(),
        r.past_due_percent.into(),
    ]
}

impl GoalsReport {
    /// The goals, then the department's months (the last as the table's totals row).
    pub fn table(&self) -> Table {
        let rows: Vec<Vec<Cell>> = self.rows.iter().map(cells).collect();
        let totals: Vec<Vec<Cell>> = self.totals.iter().map(cells).collect();
        let p = &self.parameters;
        Table::with_totals(
            "Goals",
            COLUMNS.to_vec(),
            rows,
            totals,
            vec![
                ("from", p.from.clone()),
                ("to", p.to.clone()),
                ("collector", p.collector.clone().unwrap_or_default()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    use time::OffsetDateTime;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn goal(collector: Option<&str>, team: Option<&str>, target: Option<&str>) -> GoalRow {
        GoalRow {
            id: uuid::Uuid::now_v7(),
            collector: collector.map(str::to_string),
            team: team.map(str::to_string),
            month: date!(2026 - 11 - 01),
            currency: Currency::USD,
            target_collected: target.map(d),
            target_past_due_percent: Some(d("20")),
            created_by: "boss".into(),
            version: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn month(collector: &str, collected: &str, balance: &str, past_due: &str) -> CollectorMonth {
        CollectorMonth {
            collector: collector.into(),
            month: date!(2026 - 11 - 01),
            currency: Currency::USD,
            accounts: 1,
            balance: d(balance),
            past_due: d(past_due),
            collected: d(collected),
            promises_made: 0,
            promises_kept: 0,
            contacts: 0,
            overdue_items: 0,
        }
    }

    #[test]
    fn shares_round_half_away_from_zero_and_need_a_divisor() {
        assert_eq!(share(d("1"), d("3")), Some(d("33.33")));
        assert_eq!(share(d("2"), d("3")), Some(d("66.67")));
        assert_eq!(share(d("1"), d("8")), Some(d("12.50")));
        assert_eq!(share(d("1"), Decimal::ZERO), None);
    }

    #[test]
    fn goals_meet_their_collectors_months_and_teams_the_department() {
        let p = crate::reports::collectors::parameters(
            &Some("2026-11".into()),
            &Some("2026-11".into()),
            &None,
            date!(2026 - 12 - 05),
        )
        .unwrap();
        let goals = [
            goal(Some("ann"), None, Some("1000")),
            goal(Some("bob"), None, None),
            goal(None, Some("East"), Some("3000")),
        ];
        let months = [
            month("ann", "800", "4000", "1000"),
            month("bob", "1200", "1000", "0"),
        ];
        let r = build(p, &goals, &months);
        let ann = &r.rows[0];
        assert_eq!(ann.collected_percent_of_target, Some(d("80.00")));
        assert_eq!(ann.past_due_percent, Some(d("25.00")));
        assert_eq!(r.rows[1].collected_percent_of_target, None);
        let team = &r.rows[2];
        assert_eq!(team.collected.to_string(), "2000.00");
        assert_eq!(team.collected_percent_of_target, Some(d("66.67")));
        assert_eq!(r.totals.len(), 1);
        let dept = &r.totals[0];
        assert_eq!(
            dept.target_collected.map(|t| t.to_string()),
            Some("1000.00".into())
        );
        assert_eq!(dept.past_due_percent, Some(d("20.00")));
        assert_eq!(dept.collected_percent_of_target, Some(d("200.00")));
    }
}
