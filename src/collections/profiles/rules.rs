//! The rules of portfolios, pure: which rule takes an account.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::RuleRow;
use crate::accounts::model::RiskLevel;

/// Whether the rule takes an account with this partner, level and open balance.
pub fn matches(rule: &RuleRow, partner: Option<Uuid>, level: RiskLevel, balance: Decimal) -> bool {
    rule.partner_id.is_none_or(|p| partner == Some(p))
        && rule.risk_level.is_none_or(|l| l == level)
        && rule.min_balance.is_none_or(|m| balance >= m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn rule(partner: Option<Uuid>, level: Option<RiskLevel>, min: Option<&str>) -> RuleRow {
        RuleRow {
            id: Uuid::nil(),
            position: 1,
            collector: "c".into(),
            partner_id: partner,
            risk_level: level,
            min_balance: min.map(|m| m.parse().unwrap()),
            created_by: "t".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_rule_needs_every_condition_it_names() {
        let partner = Uuid::now_v7();
        let big: Decimal = "12000".parse().unwrap();
        assert!(matches(
            &rule(None, None, None),
            None,
            RiskLevel::Low,
            Decimal::ZERO
        ));
        assert!(matches(
            &rule(Some(partner), None, None),
            Some(partner),
            RiskLevel::Low,
            big
        ));
        assert!(!matches(
            &rule(Some(partner), None, None),
            None,
            RiskLevel::Low,
            big
        ));
        assert!(matches(
            &rule(None, Some(RiskLevel::High), Some("10000")),
            None,
            RiskLevel::High,
            big
        ));
        assert!(!matches(
            &rule(None, Some(RiskLevel::High), Some("10000")),
            None,
            RiskLevel::Critical,
            big
        ));
        assert!(!matches(
            &rule(None, None, Some("20000")),
            None,
            RiskLevel::High,
            big
        ));
    }
}
