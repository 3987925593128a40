//! The risk score of an account, 0–100, and its level.
//!
//! Each factor counts `weight × min(value / full_at, 1)` points; the score is their sum rounded
//! half-up to a whole number. Defaults (points out of 100, and where a factor is full):
//!
//! | factor | weight | full at |
//! | --- | --: | --: |
//! | `past_due` — undisputed past-due balance | 25 | 10000 |
//! | `days_past_due` — of the oldest undisputed past-due invoice | 30 | 120 |
//! | `broken_promises` — in the last 12 months | 15 | 2 |
//! | `returned_payments` — in the last 12 months | 10 | 2 |
//! | `credit_utilisation` — open balance as % of the credit limit (0 without a limit) | 10 | 100 |
//! | `open_disputes` | 10 | 3 |
//!
//! Levels: `low` below 25, `medium` from 25, `high` from 50, `critical` from 75.

use diesel::sql_types::{Array, BigInt, Date as SqlDate, Nullable, Numeric, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::model::RiskLevel;
use crate::db::Conn;
use crate::error::ApiError;

crate::text_enum! {
    /// What the risk score is made of.
    Factor {
        PastDue => "past_due",
        DaysPastDue => "days_past_due",
        BrokenPromises => "broken_promises",
        ReturnedPayments => "returned_payments",
        CreditUtilisation => "credit_utilisation",
        OpenDisputes => "open_disputes",
    }
}

/// Points per factor, where each is full, and the level thresholds.
#[derive(Debug, Clone)]
pub struct Weights {
    /// (factor, weight, full at), in [`Factor::ALL`] order.
    pub factors: Vec<(Factor, Decimal, Decimal)>,
    /// Scores from which an account is medium, high and critical.
    pub thresholds: [u32; 3],
}

impl Default for Weights {
    fn default() -> Self {
        let d = |n: i64| Decimal::new(n, 0);
        Weights {
            factors: vec![
                (Factor::PastDue, d(25), d(10000)),
                (Factor::DaysPastDue, d(30), d(120)),
                (Factor::BrokenPromises, d(15), d(2)),
                (Factor::ReturnedPayments, d(10), d(2)),
                (Factor::CreditUtilisation, d(10), d(100)),
                (Factor::OpenDisputes, d(10), d(3)),
            ],
            thresholds: [25, 50, 75],
        }
    }
}

/// `factor=value` pairs separated by commas.
fn pairs(raw: &str) -> Result<Vec<(Factor, Decimal)>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not factor=value"))?;
            let factor = Factor::ALL
                .iter()
                .copied()
                .find(|f| f.as_str() == name.trim())
                .ok_or_else(|| format!("{:?} is not a risk factor", name.trim()))?;
            let value: Decimal = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &Decimal| !v.is_sign_negative())
                .ok_or_else(|| format!("{:?} is not a number ≥ 0", value.trim()))?;
            Ok((factor, value))
        })
        .collect()
}

impl Weights {
    /// Sets the weights named; together they must make 100.
    pub fn set_weights(&mut self, raw: &str) -> Result<(), String> {
        for (factor, weight) in pairs(raw)? {
            if let Some(f) = self.factors.iter_mut().find(|f| f.0 == factor) {
                f.1 = weight;
            }
        }
        let total: Decimal = self.factors.iter().map(|f| f.1).sum();
        if total != Decimal::ONE_HUNDRED {
            return Err(format!("the weights add up to {total}, not 100"));
        }
        Ok(())
    }

    /// Sets where the factors named are full; each must be above zero.
    pub fn set_full_at(&mut self, raw: &str) -> Result<(), String> {
        for (factor, full) in pairs(raw)? {
            if full.is_zero() {
                return Err(format!("{} must be full above 0", factor.as_str()));
            }
            if let Some(f) = self.factors.iter_mut().find(|f| f.0 == factor) {
                f.2 = full;
            }
        }
        Ok(())
    }

    /// Three increasing scores: medium, high, critical.
    pub fn set_thresholds(&mut self, raw: &str) -> Result<(), String> {
        let t: Vec<u32> = raw
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("{v:?} is not a score"))
            })
            .collect::<Result<_, _>>()?;
        match t[..] {
            [m, h, c] if 0 < m && m < h && h < c && c <= 100 => {
                self.thresholds = [m, h, c];
                Ok(())
            }
            _ => Err("three increasing scores between 1 and 100 are needed".into()),
        }
    }

    pub fn level(&self, score: u32) -> RiskLevel {
        let [medium, high, critical] = self.thresholds;
        if score >= critical {
            RiskLevel::Critical
        } else if score >= high {
            RiskLevel::High
        } else if score >= medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }
}

/// What the score of one account is computed from, read by [`factors`].
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Inputs {
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub credit_limit: Option<Decimal>,
    /// Open invoices' balances.
    #[diesel(sql_type = Numeric)]
    pub balance: Decimal,
    /// Past due and not disputed.
    #[diesel(sql_type = Numeric)]
    pub past_due: Decimal,
    /// Due date of the oldest invoice with an undisputed past-due balance.
    #[diesel(sql_type = Nullable<SqlDate>)]
    pub oldest_due: Option<Date>,
    #[diesel(sql_type = BigInt)]
    pub broken_promises: i64,
    #[diesel(sql_type = BigInt)]
    pub returned_payments: i64,
    #[diesel(sql_type = BigInt)]
    pub open_disputes: i64,
}

impl Inputs {
    pub fn days_past_due(&self, today: Date) -> i64 {
        self.oldest_due
            .map_or(0, |d| (today - d).whole_days().max(0))
    }

    /// Open balance as a percentage of the credit limit, to two decimals; 0 without a limit.
    pub fn utilisation(&self) -> Decimal {
        match self.credit_limit {
            Some(limit) if limit > Decimal::ZERO => {
                (self.balance.max(Decimal::ZERO) * Decimal::ONE_HUNDRED / limit)
                    .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            }
            _ => Decimal::ZERO,
        }
    }
}

/// One factor's part of a score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Part {
    pub factor: Factor,
    /// The account's value: an amount, days, a count or a percentage.
    #[schema(value_type = crate::money::DecimalString, example = "1250.00")]
    pub value: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "10000")]
    pub full_at: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "25")]
    pub weight: Decimal,
    /// `weight × min(value / full_at, 1)`, to two decimals.
    #[schema(value_type = crate::money::DecimalString, example = "3.13")]
    pub points: Decimal,
}

/// An account's score, its level and how it was reached.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Risk {
    pub score: u32,
    pub level: RiskLevel,
    pub parts: Vec<Part>,
}

/// Scores an account from its inputs.
pub fn score(inputs: &Inputs, today: Date, weights: &Weights) -> Risk {
    let half_up = rust_decimal::RoundingStrategy::MidpointAwayFromZero;
    let mut total = Decimal::ZERO;
    let parts = weights
        .factors
        .iter()
        .map(|&(factor, weight, full_at)| {
            let value = match factor {
                Factor::PastDue => inputs.past_due.max(Decimal::ZERO),
                Factor::DaysPastDue => Decimal::from(inputs.days_past_due(today)),
                Factor::BrokenPromises => Decimal::from(inputs.broken_promises),
                Factor::ReturnedPayments => Decimal::from(inputs.returned_payments),
                Factor::CreditUtilisation => inputs.utilisation(),
                Factor::OpenDisputes => Decimal::from(inputs.open_disputes),
            };
            let exact = weight * (value / full_at).min(Decimal::ONE);
            total += exact;
            Part {
                factor,
                value: value.normalize(),
                full_at: full_at.normalize(),
                weight: weight.normalize(),
                points: exact.round_dp_with_strategy(2, half_up),
            }
        })
        .collect();
    let score = total
        .round_dp_with_strategy(0, half_up)
        .clamp(Decimal::ZERO, Decimal::ONE_HUNDRED);
    let score = rust_decimal::prelude::ToPrimitive::to_u32(&score).unwrap_or(0);
    Risk {
        score,
        level: weights.level(score),
        parts,
    }
}

/// The inputs of the accounts given (all accounts when `None`): one query.
pub async fn factors(
    conn: &mut Conn,
    today: Date,
    accounts: Option<&[Uuid]>,
) -> Result<Vec<Inputs>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT a.id AS account_id, a.credit_limit,
                COALESCE(o.balance, 0) AS balance, COALESCE(o.past_due, 0) AS past_due,
                o.oldest_due,
                (SELECT count(*) FROM promises p
                  WHERE p.account_id = a.id AND p.status = 'broken'
                    AND p.closed_on > $1 - interval '12 months') AS broken_promises,
                (SELECT count(*) FROM payments y
                  WHERE y.account_id = a.id AND y.status = 'returned'
                    AND y.returned_on > $1 - interval '12 months') AS returned_payments,
                (SELECT count(*) FROM disputes d
                  WHERE d.account_id = a.id AND d.status IN ('open', 'under_review')) AS open_disputes
           FROM accounts a
           LEFT JOIN LATERAL (
                SELECT sum(i.balance_due) AS balance,
                       sum(i.balance_due - i.disputed_amount) FILTER (WHERE i.due_date < $1) AS past_due,
                       min(i.due_date) FILTER (WHERE i.due_date < $1
                                                 AND i.balance_due > i.disputed_amount) AS oldest_due
                  FROM invoices i
                 WHERE i.account_id = a.id AND i.status = 'open') o ON true
          WHERE $2::uuid[] IS NULL OR a.id = ANY($2)",
    )
    .bind::<SqlDate, _>(today)
    .bind::<Nullable<Array<SqlUuid>>, _>(accounts)
    .load(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn inputs() -> Inputs {
        Inputs {
            account_id: Uuid::nil(),
            credit_limit: Some("20000".parse().unwrap()),
            balance: "5000.00".parse().unwrap(),
            past_due: "2500.00".parse().unwrap(),
            oldest_due: Some(date!(2026 - 10 - 23)),
            broken_promises: 1,
            returned_payments: 0,
            open_disputes: 0,
        }
    }

    #[test]
    fn a_score_adds_each_factors_points() {
        // past due 25 × 2500/10000 = 6.25; 30 days: 30 × 30/120 = 7.5; one broken promise:
        // 15 × 1/2 = 7.5; utilisation 25%: 10 × 25/100 = 2.5. Total 23.75 → 24, low.
        let risk = score(&inputs(), date!(2026 - 11 - 22), &Weights::default());
        let points: Vec<String> = risk.parts.iter().map(|p| p.points.to_string()).collect();
        assert_eq!(points, ["6.25", "7.50", "7.50", "0", "2.50", "0"]);
        assert_eq!(risk.score, 24);
        assert_eq!(risk.level, RiskLevel::Low);
    }

    #[test]
    fn factors_are_capped_and_the_score_reaches_100() {
        let mut i = inputs();
        i.past_due = "99999".parse().unwrap();
        i.oldest_due = Some(date!(2025 - 01 - 01));
        i.broken_promises = 7;
        i.returned_payments = 3;
        i.balance = "50000".parse().unwrap();
        i.open_disputes = 4;
        let risk = score(&i, date!(2026 - 11 - 22), &Weights::default());
        assert_eq!(risk.score, 100);
        assert_eq!(risk.level, RiskLevel::Critical);
    }

    #[test]
    fn levels_follow_the_thresholds() {
        let w = Weights::default();
        assert_eq!(w.level(24), RiskLevel::Low);
        assert_eq!(w.level(25), RiskLevel::Medium);
        assert_eq!(w.level(50), RiskLevel::High);
        assert_eq!(w.level(75), RiskLevel::Critical);
    }

    #[test]
    fn weights_are_configurable_and_must_make_100() {
        let mut w = Weights::default();
        assert!(w.set_weights("past_due=35,days_past_due=20").is_ok());
        assert!(w.set_weights("past_due=50").is_err());
        assert!(w.set_weights("nonsense=5").is_err());
        assert!(w.set_full_at("past_due=0").is_err());
        assert!(w.set_thresholds("30,60,90").is_ok());
        assert_eq!(w.level(60), RiskLevel::High);
        assert!(w.set_thresholds("60,30,90").is_err());
    }

    #[test]
    fn no_credit_limit_means_no_utilisation() {
        let mut i = inputs();
        i.credit_limit = None;
        assert_eq!(i.utilisation(), Decimal::ZERO);
    }
}
