//! Rules of contracts: what a valid contract and charge are, how a draft patch applies.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{
    AmendmentKind, AmendmentRow, BillingFrequency, BillingTiming, ChargeRow, ContractRow,
    ContractStatus, NewCharge,
};
use super::requests::{ContractPatch, NewContract};
use crate::accounts::model::{AccountRow, AccountStatus};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// Human contract number `CON-000042` from its sequence value.
pub fn contract_number(n: i64) -> String {
    format!("CON-{n:06}")
}

/// A draft contract from a request; the number and currency are filled in by the caller.
pub fn draft(new: &NewContract, currency: Currency, now: OffsetDateTime) -> ContractRow {
    ContractRow {
        id: Uuid::now_v7(),
        number: String::new(),
        account_id: new.account_id,
        kind: new.kind,
        status: ContractStatus::Draft,
        currency,
        start_date: new.start_date,
        end_date: new.end_date,
        billing_frequency: new.billing_frequency.unwrap_or(BillingFrequency::Monthly),
        anchor_day: new.anchor_day.unwrap_or(new.start_date.day() as i16),
        anchor_month: new.anchor_month,
        billing_timing: new.billing_timing.unwrap_or(BillingTiming::Advance),
        payment_terms_days: new.payment_terms_days,
        description: new.description.clone(),
        external_reference: new.external_reference.clone(),
        terminated_on: None,
        version: 1,
        created_at: now,
        updated_at: now,
        activated_at: None,
        external_crm_id: None,
    }
}

pub fn apply(patch: &ContractPatch, current: &ContractRow, now: OffsetDateTime) -> ContractRow {
    let c = current.clone();
    ContractRow {
        kind: patch.kind.unwrap_or(c.kind),
        start_date: patch.start_date.unwrap_or(c.start_date),
        end_date: patch.end_date.unwrap_or(c.end_date),
        billing_frequency: patch.billing_frequency.unwrap_or(c.billing_frequency),
        anchor_day: patch.anchor_day.unwrap_or(c.anchor_day),
        anchor_month: patch.anchor_month.unwrap_or(c.anchor_month),
        billing_timing: patch.billing_timing.unwrap_or(c.billing_timing),
        payment_terms_days: patch.payment_terms_days.unwrap_or(c.payment_terms_days),
        description: patch.description.clone().unwrap_or(c.description),
        external_reference: patch
            .external_reference
            .clone()
            .unwrap_or(c.external_reference),
        version: c.version + 1,
        updated_at: now,
        ..c
    }
}

/// Every rule a contract's terms must satisfy.
/// Dates a contract can have: anything else is a typing mistake.
pub const EARLIEST: time::Date = time::macros::date!(1970 - 01 - 01);
pub const LATEST: time::Date = time::macros::date!(2199 - 12 - 31);

pub fn validate(c: &ContractRow, e: &mut Errors) {
    for (field, date) in [("start_date", Some(c.start_date)), ("end_date", c.end_date)] {
        if date.is_some_and(|d| !(EARLIEST..=LATEST).contains(&d)) {
            e.add(
                field,
                "out_of_range",
                format!("must be between {EARLIEST} and {LATEST}"),
            );
        }
    }
    if let Some(end) = c.end_date {
        if end < c.start_date {
            e.add("end_date", "before_start", "must not be before start_date");
        }
    }
    if !(1..=31).contains(&c.anchor_day) {
        e.add("anchor_day", "out_of_range", "must be between 1 and 31");
    }
    match c.anchor_month {
        Some(m) if !(1..=12).contains(&m) => {
            e.add("anchor_month", "out_of_range", "must be between 1 and 12")
        }
        Some(_) if c.billing_frequency == BillingFrequency::Monthly => e.add(
            "anchor_month",
            "not_allowed",
            "applies to quarterly and annual billing only",
        ),
        _ => {}
    }
    if let Some(days) = c.payment_terms_days {
        if !(0..=365).contains(&days) {
            e.add(
                "payment_terms_days",
                "out_of_range",
                "must be between 0 and 365",
            );
        }
    }
    e.optional_text("description", c.description.as_deref(), 1000);
    e.optional_text("external_reference", c.external_reference.as_deref(), 100);
}

/// Checks charges given in a request (`field` is their JSON path, e.g. `charges`).
pub fn validate_charges(field: &str, charges: &[NewCharge], currency: Currency, e: &mut Errors) {
    if charges.len() > 100 {
        e.add(field, "too_many", "at most 100 charges");
    }
    for (i, c) in charges.iter().enumerate() {
        let at = |name: &str| format!("{field}[{i}].{name}");
        e.text(&at("description"), &c.description, 200);
        check_amount(&at("amount"), c.amount, currency, e);
    }
}

/// A money amount given by a caller: not negative, no more decimals than the currency.
pub fn check_amount(field: &str, amount: Decimal, currency: Currency, e: &mut Errors) {
    if amount < Decimal::ZERO {
        e.add(field, "negative", "must not be negative");
    } else if let Err(err) = currency.check(field, amount) {
        e.push(err);
    }
    if amount > Decimal::from(1_000_000_000i64) {
        e.add(field, "out_of_range", "must be below 1,000,000,000");
    }
}

/// Charge rows from a request, in effect from `from`.
pub fn charge_rows(
    contract_id: Uuid,
    charges: &[NewCharge],
    from: time::Date,
    amendment_id: Option<Uuid>,
    now: OffsetDateTime,
) -> Vec<ChargeRow> {
    charges
        .iter()
        .map(|c| ChargeRow {
            id: Uuid::now_v7(),
            contract_id,
            description: c.description.trim().to_string(),
            amount: c.amount,
            financial_code_id: c.financial_code_id,
            taxable: c.taxable,
            effective_from: from,
            effective_to: None,
            amendment_id,
            created_at: now,
        })
        .collect()
}

/// A closed or terminated account takes no contracts.
pub fn refuse_closed_account(account: &AccountRow) -> Result<(), Refusal> {
    if matches!(
        account.status,
        AccountStatus::Closed | AccountStatus::Terminated
    ) {
        return Err(Refusal::conflict(
            "account_not_active",
            "The account is closed or terminated; it takes no contracts.",
        ));
    }
    Ok(())
}

/// Only a draft is edited or activated.
pub fn refuse_unless_draft(row: &ContractRow) -> Result<(), Refusal> {
    if row.status != ContractStatus::Draft {
        return Err(Refusal::conflict(
            "contract_not_draft",
            "Only a draft contract is edited; an active contract changes by amendment.",
        ));
    }
    Ok(())
}

/// Whether the contract's state allows this kind of amendment.
pub fn check_state(kind: AmendmentKind, c: &ContractRow) -> Result<(), Refusal> {
    use ContractStatus::*;
    let allowed = match kind {
        AmendmentKind::Renewal => matches!(c.status, Active | Suspended | Expired),
        AmendmentKind::Resumption => c.status == Suspended,
        AmendmentKind::Suspension => c.status == Active,
        _ => matches!(c.status, Active | Suspended),
    };
    if allowed {
        return Ok(());
    }
    Err(Refusal::conflict(
        "contract_state",
        format!(
            "A {} contract cannot take a {} amendment.",
            c.status.as_str(),
            kind.as_str()
        ),
    ))
}

/// The effective date of the suspension still in force, if any.
pub fn suspended_since(amendments: &[AmendmentRow]) -> Option<time::Date> {
    let mut since = None;
    for a in amendments {
        match a.kind {
            AmendmentKind::Suspension => since = Some(a.effective_date),
            AmendmentKind::Resumption => since = None,
            _ => {}
        }
    }
    since
}

pub fn finish(e: Errors) -> Result<(), Refusal> {
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(contract_number(42), "CON-000042");
    }

    #[test]
    fn amounts_are_checked_against_the_currency() {
        let usd = Currency::parse("USD").unwrap();
        let mut e = Errors::default();
        check_amount("a", Decimal::from_str("1.005").unwrap(), usd, &mut e);
        check_amount("b", Decimal::from_str("-1").unwrap(), usd, &mut e);
        check_amount("c", Decimal::from_str("250.00").unwrap(), usd, &mut e);
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["a", "b"]);
    }
}
