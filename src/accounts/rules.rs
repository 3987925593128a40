//! Rules of accounts: what a valid account is, how a patch applies, who may change what.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{
    AccountPatch, AccountRow, AccountStatus, Address, CollectionsStatus, CreditScope, CreditStatus,
    NewAccount, RiskLevel,
};
use crate::auth::roles::Permission;
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// Human account number `ACC-000042` from its sequence value.
pub fn account_number(n: i64) -> String {
    format!("ACC-{n:06}")
}

/// A closed account no longer changes (nor do its contacts).
pub fn refuse_closed(status: AccountStatus) -> Result<(), Refusal> {
    if status == AccountStatus::Closed {
        return Err(Refusal::conflict(
            "account_closed",
            "The account is closed; it can no longer be changed.",
        ));
    }
    Ok(())
}

/// The most levels a family has, its top included.
pub const MAX_FAMILY_DEPTH: usize = 5;

/// What is known of the tree when an account is put under a parent.
pub struct Placement<'a> {
    pub parent: &'a AccountRow,
    /// The parent's own ancestors, nearest first.
    pub ancestors: &'a [Uuid],
    /// The levels of the account's own subtree, itself included (1 without children).
    pub height: usize,
}

/// Why `account` cannot sit under the parent of `at`, if it cannot: the parent must be open
/// and in the account's currency, must not be the account or one under it (no cycles), and
/// the whole family may have at most [`MAX_FAMILY_DEPTH`] levels.
pub fn placement_refusal(account: &AccountRow, at: &Placement) -> Option<Refusal> {
    let refuse = |code: &str, message: String| Some(Refusal::field("parent_id", code, message));
    if at.parent.id == account.id || at.ancestors.contains(&account.id) {
        return refuse(
            "cycle",
            format!(
                "{} sits under {}: an account cannot sit under itself or one of its own",
                at.parent.number, account.number
            ),
        );
    }
    if at.parent.status == AccountStatus::Closed {
        return refuse("closed", format!("{} is closed", at.parent.number));
    }
    if at.parent.currency != account.currency {
        return refuse(
            "currency_mismatch",
            format!(
                "{} bills in {}, this account in {}",
                at.parent.number, at.parent.currency, account.currency
            ),
        );
    }
    let levels = at.ancestors.len() + 1 + at.height;
    if levels > MAX_FAMILY_DEPTH {
        return refuse(
            "too_deep",
            format!(
                "the family would have {levels} levels; at most {MAX_FAMILY_DEPTH} are allowed"
            ),
        );
    }
    None
}

/// Every rule an account must satisfy, checked after each patch (and on create, by
/// [`NewAccount::into_row`]).
pub fn validate(a: &AccountRow) -> Result<(), Refusal> {
    check(a, Some(a.currency))
}

/// The rules of [`validate`] for an account in `currency`; `None` when the caller named a
/// currency the service does not bill in, which is reported beside every other broken rule.
fn check(a: &AccountRow, currency: Option<Currency>) -> Result<(), Refusal> {
    let mut e = Errors::default();
    e.code("number", &a.number, 32);
    e.text("legal_name", &a.legal_name, 200);
    if currency.is_none() {
        e.add(
            "currency",
            "invalid",
            "must be a supported ISO 4217 currency code such as USD",
        );
    }
    if !(0..=365).contains(&a.payment_terms_days) {
        e.add(
            "payment_terms_days",
            "out_of_range",
            "must be between 0 and 365",
        );
    }
    if let Some(rate) = a.tax_rate {
        if rate < Decimal::ZERO || rate > Decimal::ONE_HUNDRED {
            e.add(
                "tax_rate",
                "out_of_range",
                "must be a percentage between 0 and 100",
            );
        } else if rate.normalize().scale() > 4 {
            e.add("tax_rate", "too_many_decimals", "allows at most 4 decimals");
        }
    }
    if a.tax_exempt && a.tax_exemption_number.is_none() {
        e.add(
            "tax_exemption_number",
            "required",
            "is required when tax_exempt is true",
        );
    }
    e.optional_text(
        "tax_exemption_number",
        a.tax_exemption_number.as_deref(),
        64,
    );
    if let Some(limit) = a.credit_limit {
        if limit < Decimal::ZERO {
            e.add("credit_limit", "out_of_range", "must not be negative");
        } else if let Some(c) = currency {
            if let Err(err) = c.check("credit_limit", limit) {
                e.push(err);
            }
        }
    }
    if a.parent_id == Some(a.id) {
        e.add("parent_id", "cycle", "an account cannot sit under itself");
    }
    if a.credit_scope == CreditScope::Parent && a.parent_id.is_none() {
        e.add(
            "credit_scope",
            "no_parent",
            "`parent` needs a parent account (parent_id)",
        );
    }
    if a.autopay_enabled && a.autopay_method.is_none() {
        e.add(
            "autopay_method",
            "required",
            "is required when autopay_enabled is true",
        );
    }
    address("billing_address", &a.billing_address, &mut e);
    let p = &a.presentment;
    e.optional_text("presentment.po_number", p.po_number.as_deref(), 64);
    let mut names = std::collections::HashSet::new();
    for (i, field) in p.reference_fields.iter().enumerate() {
        let path = format!("presentment.reference_fields[{i}]");
        e.text(&format!("{path}.name"), &field.name, 64);
        e.optional_text(&format!("{path}.value"), field.value.as_deref(), 200);
        if !names.insert(field.name.trim().to_lowercase()) {
            e.add(
                &format!("{path}.name"),
                "duplicate",
                "names a reference field twice",
            );
        }
    }
    if p.reference_fields.len() > 10 {
        e.add(
            "presentment.reference_fields",
            "too_many",
            "at most 10 reference fields",
        );
    }
    e.optional_text("external_crm_id", a.external_crm_id.as_deref(), 100);
    e.finish()
}

impl NewAccount {
    /// The permissions creating this account needs beyond `accounts:write`.
    pub fn extra_permissions(&self) -> Vec<Permission> {
        let credit = self.credit_limit.is_some()
            || self.credit_status.is_some_and(|s| s != CreditStatus::Good)
            || self.risk_level.is_some_and(|r| r != RiskLevel::Low)
            || self.credit_scope.is_some_and(|s| s != CreditScope::Own);
        if credit {
            vec![Permission::AccountsCredit]
        } else {
            Vec::new()
        }
    }

    /// The row to insert, once every rule holds; `number` is the given one or the next of the
    /// series.
    pub fn into_row(self, number: String, now: OffsetDateTime) -> Result<AccountRow, Refusal> {
        let currency = Currency::parse(&self.currency);
        let row = AccountRow {
            id: Uuid::now_v7(),
            number,
            legal_name: self.legal_name,
            // Only held while the rules are checked: a row is returned only in a known currency.
            currency: currency.unwrap_or(Currency::USD),
            payment_terms_days: self.payment_terms_days,
            tax_exempt: self.tax_exempt,
            tax_exemption_number: self.tax_exemption_number,
            tax_rate: self.tax_rate,
            credit_limit: self.credit_limit,
            credit_status: self.credit_status.unwrap_or(CreditStatus::Good),
            risk_level: self.risk_level.unwrap_or(RiskLevel::Low),
            status: AccountStatus::Active,
            collections_status: CollectionsStatus::None,
            partner_id: self.partner_id,
            autopay_enabled: self.autopay_enabled,
            autopay_method: self.autopay_method,
            billing_address: self.billing_address,
            presentment: self.presentment,
            external_crm_id: self.external_crm_id,
            version: 1,
            created_at: now,
            updated_at: now,
            closed_at: None,
            parent_id: self.parent_id,
            credit_scope: self.credit_scope.unwrap_or(CreditScope::Own),
        };
        check(&row, currency)?;
        Ok(row)
    }
}

impl AccountPatch {
    /// The permissions this patch needs: each group of fields has its own, and any one
    /// permission of a group's list will do. Payment terms are the customer's profile and a
    /// credit decision alike (approving terms is the credit analyst's job): `accounts:write`
    /// or `accounts:credit`.
    pub fn required_permissions(&self) -> Vec<&'static [Permission]> {
        let mut needed: Vec<&'static [Permission]> = Vec::new();
        let profile = self.legal_name.is_some()
            || self.tax_exempt.is_some()
            || self.tax_exemption_number.is_some()
            || self.tax_rate.is_some()
            || self.partner_id.is_some()
            || self.autopay_enabled.is_some()
            || self.autopay_method.is_some()
            || self.billing_address.is_some()
            || self.presentment.is_some()
            || self.external_crm_id.is_some()
            || self.parent_id.is_some();
        if profile {
            needed.push(&[Permission::AccountsWrite]);
        }
        if self.payment_terms_days.is_some() {
            needed.push(&[Permission::AccountsWrite, Permission::AccountsCredit]);
        }
        if self.credit_limit.is_some()
            || self.credit_status.is_some()
            || self.risk_level.is_some()
            || self.credit_scope.is_some()
        {
            needed.push(&[Permission::AccountsCredit]);
        }
        if self.collections_status.is_some() {
            needed.push(&[Permission::AccountsCollections]);
        }
        needed
    }

    /// The account as it will be after this patch (not yet validated).
    pub fn apply(self, current: &AccountRow, now: OffsetDateTime) -> AccountRow {
        let c = current.clone();
        AccountRow {
            legal_name: self.legal_name.unwrap_or(c.legal_name),
            payment_terms_days: self.payment_terms_days.unwrap_or(c.payment_terms_days),
            tax_exempt: self.tax_exempt.unwrap_or(c.tax_exempt),
            tax_exemption_number: self.tax_exemption_number.unwrap_or(c.tax_exemption_number),
            tax_rate: self.tax_rate.unwrap_or(c.tax_rate),
            credit_limit: self.credit_limit.unwrap_or(c.credit_limit),
            credit_status: self.credit_status.unwrap_or(c.credit_status),
            risk_level: self.risk_level.unwrap_or(c.risk_level),
            collections_status: self.collections_status.unwrap_or(c.collections_status),
            partner_id: self.partner_id.unwrap_or(c.partner_id),
            autopay_enabled: self.autopay_enabled.unwrap_or(c.autopay_enabled),
            autopay_method: self.autopay_method.unwrap_or(c.autopay_method),
            billing_address: self.billing_address.unwrap_or(c.billing_address),
            presentment: self.presentment.unwrap_or(c.presentment),
            external_crm_id: self.external_crm_id.unwrap_or(c.external_crm_id),
            parent_id: self.parent_id.unwrap_or(c.parent_id),
            credit_scope: self.credit_scope.unwrap_or(c.credit_scope),
            version: c.version + 1,
            updated_at: now,
            ..c
        }
    }
}

/// A postal address: street and city, optional second line, region and postal code, and an
/// ISO 3166-1 alpha-2 country; `at` is the field's path in the request.
pub fn address(at: &str, addr: &Address, e: &mut Errors) {
    e.text(&format!("{at}.line1"), &addr.line1, 200);
    e.optional_text(&format!("{at}.line2"), addr.line2.as_deref(), 200);
    e.text(&format!("{at}.city"), &addr.city, 100);
    e.optional_text(&format!("{at}.region"), addr.region.as_deref(), 100);
    e.optional_text(
        &format!("{at}.postal_code"),
        addr.postal_code.as_deref(),
        20,
    );
    if addr.country.len() != 2 || !addr.country.bytes().all(|b| b.is_ascii_uppercase()) {
        e.add(
            &format!("{at}.country"),
            "invalid",
            "must be an ISO 3166-1 alpha-2 code such as US",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::model::{Address, Presentment, ReferenceField};
    use std::str::FromStr;

    fn account() -> AccountRow {
        NewAccount {
            number: None,
            legal_name: "Acme".into(),
            currency: "USD".into(),
            payment_terms_days: 30,
            tax_exempt: false,
            tax_exemption_number: None,
            tax_rate: Some(Decimal::from_str("8.25").unwrap()),
            credit_limit: None,
            credit_status: None,
            risk_level: None,
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
            parent_id: None,
            credit_scope: None,
        }
        .into_row(account_number(7), OffsetDateTime::UNIX_EPOCH)
        .expect("a valid account")
    }

    fn fields(result: Result<(), Refusal>) -> Vec<String> {
        match result {
            Ok(()) => Vec::new(),
            Err(Refusal::Invalid(errors)) => errors
                .into_iter()
                .map(|e| format!("{}:{}", e.field, e.code))
                .collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(account_number(42), "ACC-000042");
        assert_eq!(account_number(1_234_567), "ACC-1234567");
    }

    #[test]
    fn a_plain_account_is_valid() {
        assert!(fields(validate(&account())).is_empty());
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_field() {
        let mut a = account();
        a.payment_terms_days = 400;
        a.tax_rate = Some(Decimal::from_str("8.12345").unwrap());
        a.tax_exempt = true;
        a.autopay_enabled = true;
        a.billing_address.country = "usa".into();
        a.presentment.reference_fields = vec![
            ReferenceField {
                name: "PO".into(),
                value: None,
                required: true,
            },
            ReferenceField {
                name: "po".into(),
                value: None,
                required: false,
            },
        ];
        assert_eq!(
            fields(check(&a, Currency::parse("XYZ"))),
            [
                "currency:invalid",
                "payment_terms_days:out_of_range",
                "tax_rate:too_many_decimals",
                "tax_exemption_number:required",
                "autopay_method:required",
                "billing_address.country:invalid",
                "presentment.reference_fields[1].name:duplicate",
            ]
        );
    }

    #[test]
    fn credit_limits_follow_the_currency_minor_units() {
        let mut a = account();
        a.credit_limit = Some(Decimal::from_str("1000.005").unwrap());
        assert_eq!(fields(validate(&a)), ["credit_limit:too_many_decimals"]);
        a.credit_limit = Some(Decimal::from_str("-1").unwrap());
        assert_eq!(fields(validate(&a)), ["credit_limit:out_of_range"]);
    }

    #[test]
    fn patches_need_the_permission_of_each_field_group() {
        let patch = AccountPatch {
            legal_name: Some("New".into()),
            credit_limit: Some(None),
            ..Default::default()
        };
        assert_eq!(
            patch.required_permissions(),
            [&[Permission::AccountsWrite], &[Permission::AccountsCredit]]
        );
        let patch = AccountPatch {
            collections_status: Some(CollectionsStatus::Promised),
            ..Default::default()
        };
        assert_eq!(
            patch.required_permissions(),
            [&[Permission::AccountsCollections]]
        );
        let patch = AccountPatch {
            payment_terms_days: Some(45),
            ..Default::default()
        };
        assert_eq!(
            patch.required_permissions(),
            [&[Permission::AccountsWrite, Permission::AccountsCredit]]
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_clears() {
        let mut current = account();
        current.external_crm_id = Some("CRM-1".into());
        let patch = AccountPatch {
            payment_terms_days: Some(45),
            external_crm_id: Some(None),
            ..Default::default()
        };
        let next = patch.apply(&current, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(next.payment_terms_days, 45);
        assert_eq!(next.external_crm_id, None);
        assert_eq!(next.legal_name, current.legal_name);
        assert_eq!(next.tax_rate, current.tax_rate);
        assert_eq!(next.version, current.version + 1);
    }

    #[test]
    fn a_parent_is_refused_in_a_cycle_closed_in_another_currency_or_six_levels_deep() {
        let child = account();
        let refusal = |parent: &AccountRow, ancestors: &[Uuid], height: usize| {
            let at = Placement {
                parent,
                ancestors,
                height,
            };
            placement_refusal(&child, &at).map(|r| fields(Err(r)).join(","))
        };
        let parent = account();
        let mut closed = account();
        closed.status = AccountStatus::Closed;
        let mut euro = account();
        euro.currency = Currency::parse("EUR").unwrap();
        let four = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        // (case, parent, the parent's ancestors, the account's own levels, refusal)
        type Case<'a> = (&'a str, &'a AccountRow, Vec<Uuid>, usize, Option<&'a str>);
        let cases: [Case; 8] = [
            ("a parent alone", &parent, vec![], 1, None),
            ("itself", &child, vec![], 1, Some("parent_id:cycle")),
            (
                "one under it",
                &parent,
                vec![child.id],
                1,
                Some("parent_id:cycle"),
            ),
            ("closed", &closed, vec![], 1, Some("parent_id:closed")),
            (
                "another currency",
                &euro,
                vec![],
                1,
                Some("parent_id:currency_mismatch"),
            ),
            // Parent at level 4 (three above it), the account at level 5: allowed.
            ("five levels", &parent, four.to_vec(), 1, None),
            (
                "six levels",
                &parent,
                four.to_vec(),
                2,
                Some("parent_id:too_deep"),
            ),
            (
                "a deep branch",
                &parent,
                vec![],
                5,
                Some("parent_id:too_deep"),
            ),
        ];
        for (case, parent, ancestors, height, expected) in cases {
            assert_eq!(
                refusal(parent, &ancestors, height).as_deref(),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn the_parents_credit_needs_a_parent_and_the_credit_permission() {
        let mut a = account();
        a.credit_scope = CreditScope::Parent;
        assert_eq!(fields(validate(&a)), ["credit_scope:no_parent"]);
        a.parent_id = Some(a.id);
        assert_eq!(fields(validate(&a)), ["parent_id:cycle"]);
        let patch = AccountPatch {
            credit_scope: Some(CreditScope::Parent),
            ..Default::default()
        };
        assert_eq!(
            patch.required_permissions(),
            vec![&[Permission::AccountsCredit][..]]
        );
        let patch = AccountPatch {
            parent_id: Some(None),
            ..Default::default()
        };
        assert_eq!(
            patch.required_permissions(),
            vec![&[Permission::AccountsWrite][..]]
        );
    }
}
