//! Bank-file settings: what becomes of cash whose payer is known when neither its references
//! nor its amount say which invoices it pays.

use crate::config::{var, ConfigError};

crate::text_enum! {
    /// `oldest_first`: applied to the payer's open invoices oldest due first (skipping
    /// disputed amounts), as a payment in `auto` mode; `unapplied`: left as unapplied cash on
    /// the account for a person to apply.
    UnmatchedCash { OldestFirst => "oldest_first", Unapplied => "unapplied" }
}

#[derive(Clone, Debug)]
pub struct BankFileSettings {
    pub unmatched_cash: UnmatchedCash,
}

impl Default for BankFileSettings {
    fn default() -> Self {
        BankFileSettings {
            unmatched_cash: UnmatchedCash::Unapplied,
        }
    }
}

/// `BANK_UNMATCHED_CASH` (`unapplied`, the default, or `oldest_first`).
pub fn from_env() -> Result<BankFileSettings, ConfigError> {
    let unmatched_cash = match var("BANK_UNMATCHED_CASH") {
        None => UnmatchedCash::Unapplied,
        Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
            name: "BANK_UNMATCHED_CASH",
            reason: format!("{raw:?} is not oldest_first or unapplied"),
        })?,
    };
    Ok(BankFileSettings { unmatched_cash })
}
