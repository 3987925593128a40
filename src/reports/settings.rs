//! Reports settings: how often each instance looks for scheduled reports that are due.

use crate::config::{parse, ConfigError};

#[derive(Clone, Debug)]
pub struct ReportSettings {
    /// Minutes between this instance's looks for due report schedules; 0 turns them off.
    pub schedule_interval_minutes: u64,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            schedule_interval_minutes: 60,
        }
    }
}

/// `REPORT_SCHEDULE_INTERVAL_MINUTES`.
pub fn from_env() -> Result<ReportSettings, ConfigError> {
    Ok(ReportSettings {
        schedule_interval_minutes: parse("REPORT_SCHEDULE_INTERVAL_MINUTES", 60u64)?,
    })
}
