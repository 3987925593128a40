//! The disputes report: the disputes opened in a period, by reason and root cause, with how
//! many were resolved, how much they disputed and how much was credited, how long they took
//! and how many were resolved within their SLA.
//!
//! - `opened`: disputes opened in the period (by `opened_on`), whatever became of them;
//! - `resolved`: of them, those resolved valid or invalid (by today; withdrawn ones are
//!   closed, not resolved, and count in `opened` only);
//! - `amount_disputed`: the amounts of the disputes opened;
//! - `amount_credited`: the totals (tax included) of the issued credit memos their valid
//!   resolutions made (a credit still pending approval, rejected or voided credits nothing);
//! - `days_to_resolve`: the calendar days from opening to resolution, summed over the
//!   resolved ones (the day resolved is the UTC date of the resolution);
//! - `average_days_to_resolve`: `days_to_resolve` ÷ `resolved`, rounded half away from zero
//!   to one decimal; absent when none was resolved;
//! - `resolved_within_sla`: the resolved ones resolved on or before their SLA due date (the
//!   date the dispute carries from its opening: opened on + the configured business days);
//! - `sla_compliance`: `resolved_within_sla` ÷ `resolved` × 100, a percentage rounded half
//!   away from zero to two decimals; absent when none was resolved.
//!
//! The root cause is found on resolution: disputes still active or withdrawn have none.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};

use super::credits::ReportPeriod;
use super::format::ReportFormat;
use crate::disputes::model::{DisputeReason, RootCause};
use crate::export::{Cell, Column, Kind, Table};
use crate::money::Currency;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputesReportQuery {
    /// The first day disputes were opened (default the first day of `to`'s month).
    pub from: Option<Date>,
    /// The last day disputes were opened (default today).
    pub to: Option<Date>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// What the SQL counts for one reason, root cause and currency.
#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct DisputeCounts {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub reason: DisputeReason,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub root_cause: Option<RootCause>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: Currency,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub opened: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub resolved: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub resolved_within_sla: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub days_to_resolve: i64,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount_disputed: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount_credited: Decimal,
}

/// The disputes of one reason, root cause and currency (or, as a total, of a currency).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DisputesReportRow {
    /// Absent in a totals row.
    pub reason: Option<DisputeReason>,
    /// Absent while a dispute is active or once withdrawn (and in a totals row).
    pub root_cause: Option<RootCause>,
    pub currency: Currency,
    pub opened: i64,
    pub resolved: i64,
    pub resolved_within_sla: i64,
    #[schema(value_type = crate::money::DecimalString, example = "1200.00")]
    pub amount_disputed: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "800.00")]
    pub amount_credited: Decimal,
    /// Calendar days from opening to resolution, summed over the resolved ones.
    pub days_to_resolve: i64,
    /// Days, one decimal; absent when none was resolved.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "6.5")]
    pub average_days_to_resolve: Option<Decimal>,
    /// Percent of the resolved ones resolved within their SLA, two decimals; absent when none
    /// was resolved.
    #[schema(value_type = Option<crate::money::DecimalString>, example = "75.00")]
    pub sla_compliance: Option<Decimal>,
}

/// The report: by reason, root cause and currency; totals per currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputesReport {
    pub parameters: ReportPeriod,
    pub rows: Vec<DisputesReportRow>,
    /// One per currency.
    pub totals: Vec<DisputesReportRow>,
}

fn fixed(value: Decimal, places: u32) -> Decimal {
    let mut v = value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(places);
    v
}

/// Days ÷ disputes, one decimal; absent without disputes.
pub fn average_days(days: i64, resolved: i64) -> Option<Decimal> {
    (resolved > 0).then(|| fixed(Decimal::from(days) / Decimal::from(resolved), 1))
}

/// Within ÷ resolved × 100, two decimals; absent without resolved disputes.
pub fn compliance(within: i64, resolved: i64) -> Option<Decimal> {
    (resolved > 0).then(|| {
        fixed(
            Decimal::from(within) * Decimal::ONE_HUNDRED / Decimal::from(resolved),
            2,
        )
    })
}

fn row(
    reason: Option<DisputeReason>,
    root_cause: Option<RootCause>,
    c: &DisputeCounts,
) -> DisputesReportRow {
    DisputesReportRow {
        reason,
        root_cause,
        currency: c.currency,
        opened: c.opened,
        resolved: c.resolved,
        resolved_within_sla: c.resolved_within_sla,
        amount_disputed: c.currency.normalize(c.amount_disputed),
        amount_credited: c.currency.normalize(c.amount_credited),
        days_to_resolve: c.days_to_resolve,
        average_days_to_resolve: average_days(c.days_to_resolve, c.resolved),
        sla_compliance: compliance(c.resolved_within_sla, c.resolved),
    }
}

pub fn build(parameters: ReportPeriod, counts: Vec<DisputeCounts>) -> DisputesReport {
    let currencies = Currency::distinct(counts.iter().map(|r| r.currency));
    let totals = currencies
        .into_iter()
        .map(|currency| {
            let mut t = DisputeCounts {
                reason: DisputeReason::Other,
                root_cause: None,
                currency,
                opened: 0,
                resolved: 0,
                resolved_within_sla: 0,
                days_to_resolve: 0,
                amount_disputed: Decimal::ZERO,
                amount_credited: Decimal::ZERO,
            };
            for c in counts.iter().filter(|c| c.currency == currency) {
                t.opened += c.opened;
                t.resolved += c.resolved;
                t.resolved_within_sla += c.resolved_within_sla;
                t.days_to_resolve += c.days_to_resolve;
                t.amount_disputed += c.amount_disputed;
                t.amount_credited += c.amount_credited;
            }
            row(None, None, &t)
        })
        .collect();
    DisputesReport {
        parameters,
        rows: counts
            .iter()
            .map(|c| row(Some(c.reason), c.root_cause, c))
            .collect(),
        totals,
    }
}

const COLUMNS: [Column; 11] = [
    Column::new("reason", Kind::Text),
    Column::new("root_cause", Kind::Text),
    Column::new("currency", Kind::Text),
    Column::new("opened", Kind::Integer),
    Column::new("resolved", Kind::Integer),
    Column::new("resolved_within_sla", Kind::Integer),
    Column::new("amount_disputed", Kind::Money),
    Column::new("amount_credited", Kind::Money),
    Column::new("days_to_resolve", Kind::Integer),
    Column::new("average_days_to_resolve", Kind::Days),
    Column::new("sla_compliance", Kind::Percent),
];

fn cells(r: &DisputesReportRow, label: Option<&str>) -> Vec<Cell> {
    vec![
        match label {
            Some(l) => l.into(),
            None => r.reason.map(|x| x.as_str()).into(),
        },
        r.root_cause.map(|x| x.as_str()).into(),
        r.currency.code().into(),
        r.opened.into(),
        r.resolved.into(),
        r.resolved_within_sla.into(),
        r.amount_disputed.into(),
        r.amount_credited.into(),
        r.days_to_resolve.into(),
        r.average_days_to_resolve.into(),
        r.sla_compliance.into(),
    ]
}

impl DisputesReport {
    /// The rows, one totals row per currency (the last as the table's totals row).
    pub fn table(&self) -> Table {
        let rows: Vec<Vec<Cell>> = self.rows.iter().map(|r| cells(r, None)).collect();
        let totals: Vec<Vec<Cell>> = self
            .totals
            .iter()
            .map(|t| cells(t, Some("Total")))
            .collect();
        Table::with_totals(
            "Disputes",
            COLUMNS.to_vec(),
            rows,
            totals,
            vec![
                ("from", self.parameters.from.to_string()),
                ("to", self.parameters.to.to_string()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn averages_and_compliance_round_half_away_from_zero() {
        // 3 disputes resolved in 2, 5 and 6 days: 13 ÷ 3 = 4.333… → 4.3; 2 of 3 in time.
        assert_eq!(average_days(13, 3), Some(d("4.3")));
        assert_eq!(average_days(9, 2), Some(d("4.5")));
        assert_eq!(
            average_days(10, 2).map(|v| v.to_string()),
            Some("5.0".into())
        );
        assert_eq!(compliance(2, 3), Some(d("66.67")));
        assert_eq!(compliance(1, 8), Some(d("12.50")));
        assert_eq!(average_days(0, 0), None);
        assert_eq!(compliance(0, 0), None);
    }

    #[test]
    fn totals_are_recomputed_from_the_summed_inputs() {
        let counts = |reason, opened, resolved, within, days, amount: &str| DisputeCounts {
            reason,
            root_cause: Some(RootCause::BillingError),
            currency: Currency::USD,
            opened,
            resolved,
            resolved_within_sla: within,
            days_to_resolve: days,
            amount_disputed: d(amount),
            amount_credited: Decimal::ZERO,
        };
        let p = ReportPeriod {
            from: time::macros::date!(2026 - 11 - 01),
            to: time::macros::date!(2026 - 11 - 25),
        };
        let report = build(
            p,
            vec![
                counts(DisputeReason::Pricing, 2, 1, 1, 3, "100"),
                counts(DisputeReason::Tax, 3, 3, 1, 12, "50.5"),
            ],
        );
        let t = &report.totals[0];
        assert_eq!((t.opened, t.resolved, t.resolved_within_sla), (5, 4, 2));
        assert_eq!(t.average_days_to_resolve, Some(d("3.8")));
        assert_eq!(t.sla_compliance, Some(d("50.00")));
        assert_eq!(t.amount_disputed.to_string(), "150.50");
        assert_eq!(report.rows[0].average_days_to_resolve, Some(d("3.0")));
    }
}
