//! Currencies and exact amounts: the only place that knows about minor units.
//!
//! Amounts are `rust_decimal::Decimal`, sent as JSON strings. An input with more decimals than
//! its currency allows is refused, never rounded. Computed amounts round half-up (away from
//! zero at the midpoint) to the currency's minor unit, one line at a time: see [`round`].

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::FieldError;

/// Supported ISO 4217 currencies and their minor units.
const CURRENCIES: &[(&str, u32)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// A supported currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    code: &'static str,
    minor_units: u32,
}

impl Currency {
    pub fn parse(code: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, minor_units)| Currency { code, minor_units })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    pub fn minor_units(self) -> u32 {
        self.minor_units
    }

    /// Checks an amount given by a caller: no more decimals than the currency has.
    pub fn check(self, field: &str, amount: Decimal) -> Result<(), FieldError> {
        if amount.normalize().scale() > self.minor_units {
            return Err(FieldError::new(
                field,
                "too_many_decimals",
                format!("{} allows at most {} decimals", self.code, self.minor_units),
            ));
        }
        Ok(())
    }

    /// The amount written with exactly the currency's minor units (`1250` → `1250.00`).
    pub fn normalize(self, amount: Decimal) -> Decimal {
        let mut a = amount;
        a.rescale(self.minor_units);
        if a.is_zero() {
            // Never "-0.00".
            a.set_sign_positive(true);
        }
        a
    }

    /// Rounds a computed amount half-up to the minor unit.
    pub fn round(self, amount: Decimal) -> Decimal {
        round(amount, self.minor_units)
    }
}

/// Half-up rounding (midpoint away from zero) to `decimals` places.
pub fn round(amount: Decimal, decimals: u32) -> Decimal {
    amount.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_with_too_many_decimals_are_refused_not_rounded() {
        let usd = Currency::parse("USD").unwrap();
        assert!(usd.check("amount", d("1250.00")).is_ok());
        assert!(
            usd.check("amount", d("1250.500")).is_ok(),
            "trailing zeros are not extra precision"
        );
        assert_eq!(
            usd.check("amount", d("1.005")).unwrap_err().code,
            "too_many_decimals"
        );
        let jpy = Currency::parse("JPY").unwrap();
        assert!(jpy.check("amount", d("1.5")).is_err());
    }

    #[test]
    fn computed_amounts_round_half_up_per_currency() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.round(d("2.345")), d("2.35"));
        assert_eq!(usd.round(d("2.344")), d("2.34"));
        assert_eq!(usd.round(d("-2.345")), d("-2.35"));
        assert_eq!(
            Currency::parse("KWD").unwrap().round(d("1.0005")),
            d("1.001")
        );
        assert_eq!(usd.normalize(d("1250")).to_string(), "1250.00");
    }

    #[test]
    fn unknown_currencies_are_not_parsed() {
        assert!(Currency::parse("XXX").is_none());
        assert!(Currency::parse("usd").is_none());
    }
}
