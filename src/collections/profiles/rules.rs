//! The rules of portfolios, pure: what a rule must hold and which rule takes an account.

use std::collections::HashMap;

use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{NewRule, ProfilePatch, Reassignment, RuleRow};
use super::store::Candidate;
use crate::accounts::model::RiskLevel;
use crate::collections::risk;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// A profile patch must name at least one field to change.
pub fn check_patch(patch: &ProfilePatch) -> Result<(), Refusal> {
    if patch.collector.is_none()
        && patch.segment.is_none()
        && patch.dunning_policy_id.is_none()
        && patch.do_not_dun.is_none()
        && patch.do_not_dun_reason.is_none()
    {
        return Err(Refusal::field("body", "empty", "names no field to change"));
    }
    Ok(())
}

/// What a new rule must hold on its own: a position in 1..=10000, a collector, a minimum
/// balance that is an amount.
pub fn check_new_rule(new: &NewRule) -> Result<(), Refusal> {
    let mut e = Errors::default();
    if !(1..=10_000).contains(&new.position) {
        e.add("position", "out_of_range", "must be between 1 and 10000");
    }
    e.text("collector", &new.collector, 200);
    if new.min_balance.is_some_and(|m| {
        m.is_sign_negative()
            || m.scale() > 4
            || m >= crate::collections::dunning::rules::MAX_MIN_BALANCE
    }) {
        e.add(
            "min_balance",
            "invalid",
            "must be an amount ≥ 0 and below 100000000000000",
        );
    }
    e.finish()
}

/// The accounts whose collector changes when the rules (in the order tried) are applied: each
/// goes to the collector of the first rule it matches by partner, risk level (scored with
/// `weights` as of `today`) and open balance, or to none.
pub fn reassignments(
    candidates: &[Candidate],
    inputs: &HashMap<Uuid, risk::Inputs>,
    rules: &[RuleRow],
    today: Date,
    weights: &risk::Weights,
) -> Vec<Reassignment> {
    let mut changes = Vec::new();
    for c in candidates {
        let Some(i) = inputs.get(&c.id) else { continue };
        let level = risk::score(i, today, weights).level;
        let rule = rules
            .iter()
            .find(|r| matches(r, c.partner_id, level, i.balance));
        let to = rule.map(|r| r.collector.clone());
        let rule_id = rule.map(|r| r.id);
        if to != c.collector || rule_id != c.assignment_rule_id {
            changes.push(Reassignment {
                account_id: c.id,
                from: c.collector.clone(),
                to,
                rule_id,
            });
        }
    }
    changes
}

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
