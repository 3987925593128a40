//! Cash application settings.

use crate::config::{parse, var, ConfigError};

/// Cash application settings.
#[derive(Clone, Debug)]
pub struct PaymentSettings {
    /// Deductions up to this amount may be written off as small balances.
    pub small_balance_tolerance: rust_decimal::Decimal,
    /// The returned-payment fee: its amount and the code (kind `fee`) of its invoice line.
    pub returned_payment_fee: Option<(rust_decimal::Decimal, String)>,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        PaymentSettings {
            small_balance_tolerance: rust_decimal::Decimal::new(500, 2),
            returned_payment_fee: None,
        }
    }
}

/// `SMALL_BALANCE_TOLERANCE`, and `RETURNED_PAYMENT_FEE` with `RETURNED_PAYMENT_FEE_CODE`.
pub fn from_env() -> Result<PaymentSettings, ConfigError> {
    let amount = |name: &'static str, default| -> Result<rust_decimal::Decimal, ConfigError> {
        let value: rust_decimal::Decimal = parse(name, default)?;
        if value.is_sign_negative() || value.scale() > 4 {
            return Err(ConfigError {
                name,
                reason: format!("{value} is not a non-negative amount"),
            });
        }
        Ok(value)
    };
    let defaults = PaymentSettings::default();
    let fee = match (
        var("RETURNED_PAYMENT_FEE"),
        var("RETURNED_PAYMENT_FEE_CODE"),
    ) {
        (None, None) => None,
        (Some(_), Some(code)) => {
            let fee = amount("RETURNED_PAYMENT_FEE", rust_decimal::Decimal::ZERO)?;
            if fee.is_zero() {
                return Err(ConfigError {
                    name: "RETURNED_PAYMENT_FEE",
                    reason: "must be more than zero (leave it unset for no fee)".into(),
                });
            }
            Some((fee, code.trim().to_string()))
        }
        (Some(_), None) => {
            return Err(ConfigError {
                name: "RETURNED_PAYMENT_FEE_CODE",
                reason: "is needed with RETURNED_PAYMENT_FEE".into(),
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError {
                name: "RETURNED_PAYMENT_FEE",
                reason: "is needed with RETURNED_PAYMENT_FEE_CODE".into(),
            })
        }
    };
    Ok(PaymentSettings {
        small_balance_tolerance: amount(
            "SMALL_BALANCE_TOLERANCE",
            defaults.small_balance_tolerance,
        )?,
        returned_payment_fee: fee,
    })
}
