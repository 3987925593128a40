//! Rules of equipment and meters.

use rust_decimal::Decimal;

use super::model::{EquipmentRow, NewMeter};
use crate::accounts::model::Address;
use crate::contracts::model::{ContractRow, ContractStatus};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// A terminated or expired contract takes no new equipment or meters.
pub fn refuse_ended(c: &ContractRow) -> Result<(), Refusal> {
    if matches!(
        c.status,
        ContractStatus::Terminated | ContractStatus::Expired
    ) {
        return Err(Refusal::conflict(
            "contract_ended",
            "The contract is terminated or expired; it takes no new equipment or meters.",
        ));
    }
    Ok(())
}

pub fn validate(e: &EquipmentRow, errors: &mut Errors) {
    errors.text("serial_number", &e.serial_number, 64);
    errors.text("make", &e.make, 100);
    errors.text("model", &e.model, 100);
    let (earliest, latest) = (
        crate::contracts::rules::EARLIEST,
        crate::contracts::rules::LATEST,
    );
    for (field, date) in [
        ("installed_on", Some(e.installed_on)),
        ("removed_on", e.removed_on),
    ] {
        if date.is_some_and(|d| !(earliest..=latest).contains(&d)) {
            errors.add(
                field,
                "out_of_range",
                format!("must be between {earliest} and {latest}"),
            );
        }
    }
    if let Some(removed) = e.removed_on {
        if removed < e.installed_on {
            errors.add(
                "removed_on",
                "before_install",
                "must not be before installed_on",
            );
        }
    }
}

/// An install address given in a request follows the rules of a billing address. Checked
/// only when given, so that equipment recorded before the rule can still be changed.
pub fn validate_address(address: Option<&Address>, errors: &mut Errors) {
    if let Some(address) = address {
        crate::accounts::rules::address("install_address", address, errors);
    }
}

/// A meter plan: allowance not negative, rate with at most 6 decimals, minimum in the currency.
pub fn check_plan(
    field: &str,
    included: i64,
    rate: Decimal,
    minimum: Decimal,
    currency: Currency,
    e: &mut Errors,
) {
    if included < 0 {
        e.add(
            &format!("{field}included_units"),
            "negative",
            "must not be negative",
        );
    }
    if rate < Decimal::ZERO {
        e.add(
            &format!("{field}overage_rate"),
            "negative",
            "must not be negative",
        );
    } else if rate.normalize().scale() > 6 {
        e.add(
            &format!("{field}overage_rate"),
            "too_many_decimals",
            "allows at most 6 decimals",
        );
    }
    crate::contracts::rules::check_amount(&format!("{field}minimum_charge"), minimum, currency, e);
}

pub fn check_meter(field: &str, m: &NewMeter, currency: Currency, e: &mut Errors) {
    let code_ok = (1..=32).contains(&m.meter_type.len())
        && m.meter_type.starts_with(|c: char| c.is_ascii_lowercase())
        && m.meter_type
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !code_ok {
        e.add(
            &format!("{field}meter_type"),
            "invalid",
            "must be 1 to 32 of a-z, 0-9 and '_', starting with a letter (bw, color, scan)",
        );
    }
    check_plan(
        field,
        m.included_units,
        m.overage_rate,
        m.minimum_charge.unwrap_or_default(),
        currency,
        e,
    );
    if m.expected_monthly_volume.is_some_and(|v| v < 0) {
        e.add(
            &format!("{field}expected_monthly_volume"),
            "negative",
            "must not be negative",
        );
    }
    if m.initial_reading.is_some_and(|v| v < 0) {
        e.add(
            &format!("{field}initial_reading"),
            "negative",
            "must not be negative",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn rates_take_six_decimals_at_most() {
        let usd = Currency::parse("USD").unwrap();
        let mut e = Errors::default();
        check_plan(
            "p.",
            10,
            Decimal::from_str("0.000001").unwrap(),
            Decimal::ZERO,
            usd,
            &mut e,
        );
        assert!(e.0.is_empty());
        check_plan(
            "p.",
            -1,
            Decimal::from_str("0.0000001").unwrap(),
            Decimal::ZERO,
            usd,
            &mut e,
        );
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["p.included_units", "p.overage_rate"]);
    }
}
