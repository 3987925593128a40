//! Credit management settings: who approves which credit limit, the standard payment terms,
//! how often each risk level is reviewed, and when a past-due account goes on hold by itself.

use rust_decimal::Decimal;

use crate::accounts::model::RiskLevel;
use crate::auth::Role;
use crate::config::{parse, var, ConfigError};

/// Credit management settings.
#[derive(Clone, Debug)]
pub struct CreditManagementSettings {
    /// The largest credit limit each role may approve (`None`: unlimited); roles not listed
    /// approve nothing. A role with unlimited authority is a "higher role": it alone approves
    /// terms exceptions.
    pub approval_authority: Vec<(Role, Option<Decimal>)>,
    /// Payment terms (net days) above which a request is a terms exception.
    pub standard_terms_days: i32,
    /// Months between reviews for each risk level.
    pub review_months: Vec<(RiskLevel, u32)>,
    /// Days past due of an invoice at which the scheduled job puts the account on hold
    /// (0: never).
    pub hold_days_past_due: i32,
}

impl Default for CreditManagementSettings {
    fn default() -> Self {
        CreditManagementSettings {
            approval_authority: vec![
                (Role::Credit, Some(Decimal::new(5_000_000, 2))),
                (Role::CollectionsManager, None),
                (Role::Admin, None),
            ],
            standard_terms_days: 30,
            review_months: vec![
                (RiskLevel::Low, 12),
                (RiskLevel::Medium, 6),
                (RiskLevel::High, 3),
                (RiskLevel::Critical, 1),
            ],
            hold_days_past_due: 90,
        }
    }
}

impl CreditManagementSettings {
    /// The largest limit `role` may approve: `Some(None)` unlimited, `None` nothing.
    pub fn authority(&self, role: Role) -> Option<Option<Decimal>> {
        self.approval_authority
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, limit)| *limit)
    }

    /// Months until the next review of an account at `level`.
    pub fn months(&self, level: RiskLevel) -> u32 {
        self.review_months
            .iter()
            .find(|(l, _)| *l == level)
            .map_or(12, |(_, m)| *m)
    }
}

fn authority(raw: &str) -> Result<Vec<(Role, Option<Decimal>)>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (role, limit) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not role=amount"))?;
            let role: Role = role.trim().parse()?;
            let limit = match limit.trim() {
                "unlimited" => None,
                amount => Some(
                    amount
                        .parse::<Decimal>()
                        .ok()
                        .filter(|a| !a.is_sign_negative())
                        .ok_or_else(|| format!("{amount:?} is not an amount"))?,
                ),
            };
            Ok((role, limit))
        })
        .collect()
}

fn review_months(raw: &str) -> Result<Vec<(RiskLevel, u32)>, String> {
    let mut months = CreditManagementSettings::default().review_months;
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (level, n) = entry
            .split_once('=')
            .ok_or_else(|| format!("{entry:?} is not level=months"))?;
        let level: RiskLevel = level.trim().parse()?;
        let n: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=60).contains(n))
            .ok_or_else(|| format!("{:?} is not 1 to 60 months", n.trim()))?;
        if let Some(m) = months.iter_mut().find(|(l, _)| *l == level) {
            m.1 = n;
        }
    }
    Ok(months)
}

/// `CREDIT_REVIEW_AUTHORITY` (`role=amount` or `role=unlimited`, separated by commas),
/// `STANDARD_PAYMENT_TERMS_DAYS`, `CREDIT_REVIEW_MONTHS` (`level=months`, separated by
/// commas) and `CREDIT_HOLD_DAYS_PAST_DUE`.
pub fn from_env() -> Result<CreditManagementSettings, ConfigError> {
    let defaults = CreditManagementSettings::default();
    let approval_authority = match var("CREDIT_REVIEW_AUTHORITY") {
        None => defaults.approval_authority,
        Some(raw) => authority(&raw).map_err(|reason| ConfigError {
            name: "CREDIT_REVIEW_AUTHORITY",
            reason,
        })?,
    };
    let review_months = match var("CREDIT_REVIEW_MONTHS") {
        None => defaults.review_months,
        Some(raw) => review_months(&raw).map_err(|reason| ConfigError {
            name: "CREDIT_REVIEW_MONTHS",
            reason,
        })?,
    };
    Ok(CreditManagementSettings {
        approval_authority,
        standard_terms_days: parse("STANDARD_PAYMENT_TERMS_DAYS", defaults.standard_terms_days)?
            .clamp(0, 365),
        review_months,
        hold_days_past_due: parse("CREDIT_HOLD_DAYS_PAST_DUE", defaults.hold_days_past_due)?
            .clamp(0, 3650),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_reads_amounts_and_unlimited() {
        let a = authority("credit=1000.00, collections_manager=unlimited").unwrap();
        assert_eq!(a[0], (Role::Credit, Some(Decimal::new(100000, 2))));
        assert_eq!(a[1], (Role::CollectionsManager, None));
        assert!(authority("credit").is_err());
        assert!(authority("nobody=5").is_err());
        assert!(authority("credit=-5").is_err());
    }

    #[test]
    fn review_months_change_only_the_levels_named() {
        let m = review_months("high=2").unwrap();
        assert!(m.contains(&(RiskLevel::High, 2)));
        assert!(m.contains(&(RiskLevel::Low, 12)));
        assert!(review_months("high=0").is_err());
        assert!(review_months("extreme=3").is_err());
    }
}
