//! The invoices' settings: who issues them, as printed on them, and how they are numbered.

use crate::config::{lines, var, ConfigError};

/// Who issues the invoices, as printed on them.
#[derive(Clone, Debug)]
pub struct Seller {
    pub name: String,
    /// Address lines.
    pub address: Vec<String>,
    pub tax_id: Option<String>,
    /// Where payments go (lines).
    pub remit_to: Vec<String>,
    /// How to pay (lines: bank transfer details, portal address, ...).
    pub payment_instructions: Vec<String>,
}

impl Default for Seller {
    fn default() -> Self {
        Seller {
            name: "(set SELLER_NAME)".into(),
            address: Vec::new(),
            tax_id: None,
            remit_to: Vec::new(),
            payment_instructions: Vec::new(),
        }
    }
}

impl Seller {
    /// `SELLER_NAME`, `SELLER_ADDRESS`, `SELLER_TAX_ID`, `REMIT_TO`, `PAYMENT_INSTRUCTIONS`
    /// (lines separated by `|`).
    pub fn from_env() -> Seller {
        Seller {
            name: var("SELLER_NAME").unwrap_or_else(|| Seller::default().name),
            address: lines("SELLER_ADDRESS"),
            tax_id: var("SELLER_TAX_ID"),
            remit_to: lines("REMIT_TO"),
            payment_instructions: lines("PAYMENT_INSTRUCTIONS"),
        }
    }
}

/// `INVOICE_NUMBER_PREFIX` (1 to 10 of A–Z and 0–9) and `INVOICE_NUMBER_FORMAT`.
pub fn numbering() -> Result<super::rules::Numbering, ConfigError> {
    let default = super::rules::Numbering::default();
    let prefix = var("INVOICE_NUMBER_PREFIX").unwrap_or(default.prefix);
    if !((1..=10).contains(&prefix.len())
        && prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    {
        return Err(ConfigError {
            name: "INVOICE_NUMBER_PREFIX",
            reason: format!("{prefix:?} is not 1 to 10 of A-Z and 0-9"),
        });
    }
    let format = var("INVOICE_NUMBER_FORMAT").unwrap_or(default.format);
    super::rules::Numbering::new(&prefix, &format).map_err(|reason| ConfigError {
        name: "INVOICE_NUMBER_FORMAT",
        reason,
    })
}
