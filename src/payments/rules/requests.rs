//! The checks of a payment request that need no database: amounts, dates and the
//! remittance's shape.

use rust_decimal::Decimal;
use time::Date;

use super::super::model::ApplicationMode;
use super::super::requests::NewPayment;
use crate::money::Currency;
use crate::validate::Errors;

/// Most lines in a remittance.
pub const MAX_REMITTANCE_LINES: usize = 500;

/// The largest amount a payment, refund or application may have.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A positive amount with no more decimals than the currency has.
pub fn check_amount(field: &str, amount: Decimal, currency: Option<Currency>, e: &mut Errors) {
    if amount <= Decimal::ZERO {
        e.add(field, "out_of_range", "must be more than zero");
    } else if amount > MAX_AMOUNT {
        e.add(
            field,
            "out_of_range",
            format!("must be at most {MAX_AMOUNT}"),
        );
    } else if let Some(c) = currency {
        if let Err(err) = c.check(field, amount) {
            e.push(err);
        }
    }
}

/// A date a payment event happened on: not in the future, not before `earliest`.
pub fn check_date(field: &str, date: Date, earliest: Date, today: Date, e: &mut Errors) {
    if date > today {
        e.add(field, "in_future", "must not be in the future");
    } else if date < earliest {
        e.add(
            field,
            "out_of_range",
            format!("must not be before {earliest}"),
        );
    }
}

/// Checks a new payment's fields (the account is checked later); returns how to apply it.
pub fn check_new(new: &NewPayment, today: Date, e: &mut Errors) -> ApplicationMode {
    let currency = Currency::parse(&new.currency);
    if currency.is_none() {
        e.add(
            "currency",
            "invalid",
            "must be a supported ISO 4217 currency code",
        );
    }
    check_amount("amount", new.amount, currency, e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.optional_text("memo", new.memo.as_deref(), 1000);
    check_date(
        "received_date",
        new.received_date,
        today - time::Duration::days(3660),
        today,
        e,
    );
    let mode = match (&new.remittance, new.application_mode) {
        (Some(_), None | Some(ApplicationMode::Remittance)) => ApplicationMode::Remittance,
        (Some(_), Some(other)) => {
            e.add(
                "application_mode",
                "conflicts_with_remittance",
                format!(
                    "is {}, but a remittance is given; leave it out or send remittance",
                    other.as_str()
                ),
            );
            other
        }
        (None, Some(ApplicationMode::Remittance)) => {
            e.add(
                "remittance",
                "required",
                "is needed with application_mode remittance",
            );
            ApplicationMode::Remittance
        }
        (None, mode) => mode.unwrap_or(ApplicationMode::Auto),
    };
    if let Some(lines) = &new.remittance {
        if lines.is_empty() || lines.len() > MAX_REMITTANCE_LINES {
            e.add(
                "remittance",
                "out_of_range",
                format!("must have 1 to {MAX_REMITTANCE_LINES} lines"),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut total = Decimal::ZERO;
        for (k, line) in lines.iter().enumerate() {
            let field = |f: &str| format!("remittance[{k}].{f}");
            match (&line.invoice_id, &line.invoice_number) {
                (Some(_), Some(_)) | (None, None) => e.add(
                    &field("invoice_id"),
                    "one_of",
                    "give exactly one of invoice_id and invoice_number",
                ),
                (Some(id), None) => {
                    if !seen.insert(id.to_string()) {
                        e.add(
                            &field("invoice_id"),
                            "duplicate",
                            "names an invoice already in the remittance",
                        );
                    }
                }
                (None, Some(number)) => {
                    e.text(&field("invoice_number"), number, 40);
                    if !seen.insert(number.trim().to_string()) {
                        e.add(
                            &field("invoice_number"),
                            "duplicate",
                            "names an invoice already in the remittance",
                        );
                    }
                }
            }
            check_amount(&field("amount"), line.amount, currency, e);
            total += line.amount.max(Decimal::ZERO);
        }
        if total > new.amount && new.amount > Decimal::ZERO {
            e.add(
                "remittance",
                "exceeds_amount",
                format!(
                    "lines total {total}, more than the payment's amount {}",
                    new.amount
                ),
            );
        }
    }
    mode
}
