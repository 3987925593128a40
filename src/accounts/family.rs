//! Families of accounts: a head office with the sites under it, up to five levels. An
//! account's family is the whole tree its top ancestor heads; it is listed parents before
//! children, each member with its balances, and the family's totals.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{AccountRow, AccountStatus, CreditScope};
use crate::ledger::model::BalanceSummary;
use crate::money::Currency;

/// One account of a family.
#[derive(Debug, Serialize, ToSchema)]
pub struct FamilyMember {
    pub id: Uuid,
    #[schema(example = "ACC-000042")]
    pub number: String,
    pub legal_name: String,
    /// Absent for the top of the family.
    pub parent_id: Option<Uuid>,
    /// Levels below the top (0: the top).
    pub depth: i32,
    pub status: AccountStatus,
    pub credit_scope: CreditScope,
    #[serde(with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "25000.00")]
    pub credit_limit: Option<Decimal>,
    pub balance: BalanceSummary,
}

/// An account's family with each member's balances and their totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountFamily {
    /// The account asked about.
    pub account_id: Uuid,
    /// The top of the family (the account itself when it has no parent).
    pub top_id: Uuid,
    pub currency: Currency,
    /// Parents before their children, children by number. A partner sees only its own
    /// accounts of the family.
    pub members: Vec<FamilyMember>,
    /// The members' balances added up (`open_invoices` counted across them).
    pub totals: BalanceSummary,
}

/// Puts accounts in tree order: each parent followed by its children, by number; an account
/// whose parent is not among them starts a branch of its own.
pub fn tree_order<T>(accounts: Vec<T>, row: impl Fn(&T) -> &AccountRow) -> Vec<T> {
    let listed: std::collections::HashSet<Uuid> = accounts.iter().map(|a| row(a).id).collect();
    let mut children: HashMap<Option<Uuid>, Vec<T>> = HashMap::new();
    for account in accounts {
        let parent = row(&account).parent_id.filter(|p| listed.contains(p));
        children.entry(parent).or_default().push(account);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| row(a).number.cmp(&row(b).number));
    }
    let mut ordered = Vec::new();
    let mut stack: Vec<T> = children.remove(&None).unwrap_or_default();
    stack.reverse();
    while let Some(account) = stack.pop() {
        if let Some(mut below) = children.remove(&Some(row(&account).id)) {
            below.reverse();
            stack.extend(below);
        }
        ordered.push(account);
    }
    ordered
}

/// Puts a family's members in [`tree_order`] and adds their balances.
pub fn build(
    account_id: Uuid,
    top_id: Uuid,
    currency: Currency,
    members: Vec<(AccountRow, i32)>,
    balances: HashMap<Uuid, BalanceSummary>,
) -> AccountFamily {
    let ordered = tree_order(members, |(a, _)| a);
    let mut totals = zero();
    let members = ordered
        .into_iter()
        .map(|(a, depth)| {
            let balance = balances
                .get(&a.id)
                .cloned()
                .unwrap_or_else(zero)
                .normalized(currency);
            add(&mut totals, &balance);
            FamilyMember {
                id: a.id,
                number: a.number,
                legal_name: a.legal_name,
                parent_id: a.parent_id,
                depth,
                status: a.status,
                credit_scope: a.credit_scope,
                credit_limit: a.credit_limit.map(|l| currency.normalize(l)),
                balance,
            }
        })
        .collect();
    AccountFamily {
        account_id,
        top_id,
        currency,
        members,
        totals: totals.normalized(currency),
    }
}

fn zero() -> BalanceSummary {
    BalanceSummary {
        balance: Decimal::ZERO,
        open_balance: Decimal::ZERO,
        past_due: Decimal::ZERO,
        disputed: Decimal::ZERO,
        unapplied_cash: Decimal::ZERO,
        unapplied_credits: Decimal::ZERO,
        open_invoices: 0,
    }
}

fn add(total: &mut BalanceSummary, b: &BalanceSummary) {
    total.balance += b.balance;
    total.open_balance += b.open_balance;
    total.past_due += b.past_due;
    total.disputed += b.disputed;
    total.unapplied_cash += b.unapplied_cash;
    total.unapplied_credits += b.unapplied_credits;
    total.open_invoices += b.open_invoices;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::model::*;
    use time::OffsetDateTime;

    fn account(number: &str, parent: Option<&AccountRow>) -> AccountRow {
        AccountRow {
            id: Uuid::now_v7(),
            number: number.into(),
            legal_name: number.into(),
            currency: Currency::USD,
            payment_terms_days: 30,
            tax_exempt: false,
            tax_exemption_number: None,
            tax_rate: None,
            credit_limit: None,
            credit_status: CreditStatus::Good,
            risk_level: RiskLevel::Low,
            status: AccountStatus::Active,
            collections_status: CollectionsStatus::None,
            partner_id: None,
            autopay_enabled: false,
            autopay_method: None,
            billing_address: Address {
                line1: "1 Main".into(),
                line2: None,
                city: "Springfield".into(),
                region: None,
                postal_code: None,
                country: "US".into(),
            },
            presentment: Presentment::default(),
            external_crm_id: None,
            version: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            closed_at: None,
            parent_id: parent.map(|p| p.id),
            credit_scope: CreditScope::Own,
        }
    }

    fn owing(amount: i64) -> BalanceSummary {
        BalanceSummary {
            balance: Decimal::from(amount),
            open_balance: Decimal::from(amount),
            open_invoices: 1,
            ..zero()
        }
    }

    #[test]
    fn members_come_parent_first_and_balances_add_up() {
        let top = account("ACC-1", None);
        let b = account("ACC-3", Some(&top));
        let a = account("ACC-2", Some(&top));
        let a1 = account("ACC-4", Some(&a));
        let balances = HashMap::from([(top.id, owing(100)), (a.id, owing(20)), (a1.id, owing(3))]);
        let family = build(
            a.id,
            top.id,
            Currency::USD,
            vec![(b, 1), (a1, 2), (top.clone(), 0), (a, 1)],
            balances,
        );
        let order: Vec<&str> = family.members.iter().map(|m| m.number.as_str()).collect();
        assert_eq!(order, ["ACC-1", "ACC-2", "ACC-4", "ACC-3"]);
        assert_eq!(family.totals.balance, Decimal::new(12300, 2));
        assert_eq!(family.totals.open_invoices, 3);
        // A member without balances (no invoices yet) owes nothing.
        assert_eq!(family.members[3].balance.balance, Decimal::new(0, 2));
    }

    #[test]
    fn a_member_whose_parent_is_not_listed_starts_a_branch() {
        let top = account("ACC-1", None);
        let a = account("ACC-2", Some(&top));
        let a1 = account("ACC-3", Some(&a));
        let family = build(
            a1.id,
            top.id,
            Currency::USD,
            vec![(a1, 2), (top, 0)],
            HashMap::new(),
        );
        let order: Vec<&str> = family.members.iter().map(|m| m.number.as_str()).collect();
        assert_eq!(order, ["ACC-1", "ACC-3"]);
    }
}
