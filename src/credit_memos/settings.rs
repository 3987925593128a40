//! Dispute and credit settings: the dispute SLA, holidays, and credit approval limits.

use crate::config::{parse, var, ConfigError};

/// Dispute and credit settings.
#[derive(Clone, Debug)]
pub struct CreditSettings {
    /// Business days a dispute has before its SLA is breached.
    pub dispute_sla_business_days: u32,
    /// Days that are not business days besides Saturdays and Sundays.
    pub holidays: Vec<time::Date>,
    /// The largest credit memo each role may issue without approval (`None`: unlimited);
    /// roles not listed need approval for any amount.
    pub approval_limits: Vec<(crate::auth::Role, Option<rust_decimal::Decimal>)>,
}

impl Default for CreditSettings {
    fn default() -> Self {
        use crate::auth::Role;
        CreditSettings {
            dispute_sla_business_days: 10,
            holidays: Vec::new(),
            approval_limits: vec![
                (Role::Billing, Some(rust_decimal::Decimal::new(50000, 2))),
                (Role::CollectionsManager, None),
                (Role::Admin, None),
            ],
        }
    }
}

impl CreditSettings {
    /// Whether `role` may issue a credit of `amount` without approval.
    pub fn within_limit(&self, role: crate::auth::Role, amount: rust_decimal::Decimal) -> bool {
        self.approval_limits
            .iter()
            .find(|(r, _)| *r == role)
            .is_some_and(|(_, limit)| limit.is_none_or(|l| amount <= l))
    }
}

/// `DISPUTE_SLA_BUSINESS_DAYS`, `HOLIDAYS` (dates separated by commas) and
/// `CREDIT_APPROVAL_LIMITS` (`role=amount` or `role=unlimited`, separated by commas).
pub fn from_env() -> Result<CreditSettings, ConfigError> {
    let defaults = CreditSettings::default();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let holidays = match var("HOLIDAYS") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                time::Date::parse(d, format).map_err(|e| ConfigError {
                    name: "HOLIDAYS",
                    reason: format!("{d:?} is not a date like 2026-12-25: {e}"),
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let approval_limits = match var("CREDIT_APPROVAL_LIMITS") {
        None => defaults.approval_limits,
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                let bad = |reason: String| ConfigError {
                    name: "CREDIT_APPROVAL_LIMITS",
                    reason,
                };
                let (role, limit) = entry
                    .split_once('=')
                    .ok_or_else(|| bad(format!("{entry:?} is not role=amount")))?;
                let role: crate::auth::Role = role.trim().parse().map_err(bad)?;
                let limit = match limit.trim() {
                    "unlimited" => None,
                    amount => Some(
                        amount
                            .parse::<rust_decimal::Decimal>()
                            .ok()
                            .filter(|a| !a.is_sign_negative())
                            .ok_or_else(|| bad(format!("{amount:?} is not an amount")))?,
                    ),
                };
                Ok((role, limit))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(CreditSettings {
        dispute_sla_business_days: parse(
            "DISPUTE_SLA_BUSINESS_DAYS",
            defaults.dispute_sla_business_days,
        )?
        .clamp(1, 365),
        holidays,
        approval_limits,
    })
}
