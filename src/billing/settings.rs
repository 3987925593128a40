//! Billing settings from the environment.

use crate::config::{parse, ConfigError};

/// `INVOICE_NUMBER_PREFIX`, `INVOICE_NUMBER_FORMAT`, `ESTIMATE_READINGS`,
/// `READING_WINDOW_DAYS`.
pub fn from_env() -> Result<super::engine::Settings, ConfigError> {
    Ok(super::engine::Settings {
        numbering: crate::invoices::settings::numbering()?,
        estimate_readings: parse("ESTIMATE_READINGS", 3usize)?.max(1),
        reading_window_days: parse("READING_WINDOW_DAYS", 3i64)?.clamp(0, 15),
    })
}
