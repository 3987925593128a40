//! Collections settings: the risk score, the dunning schedule, promise grace days.

use crate::config::{parse, var, ConfigError};

/// The risk score's weights (points out of 100 per factor), the amount and counts at which
/// each factor is full, and the level thresholds; the dunning job's interval.
#[derive(Clone, Debug)]
pub struct CollectionsSettings {
    pub risk: crate::collections::risk::Weights,
    /// Minutes between scheduled dunning runs; 0 turns the schedule off.
    pub dunning_interval_minutes: u64,
    /// Grace days of a promise to pay when none is given.
    pub promise_grace_days: i32,
}

impl Default for CollectionsSettings {
    fn default() -> Self {
        CollectionsSettings {
            risk: crate::collections::risk::Weights::default(),
            dunning_interval_minutes: 60,
            promise_grace_days: 3,
        }
    }
}

/// `RISK_WEIGHTS` (`factor=points,…`), `RISK_FULL_AT` (`factor=value,…`), `RISK_THRESHOLDS`
/// (three scores: medium, high, critical), `DUNNING_INTERVAL_MINUTES`,
/// `PROMISE_GRACE_DAYS`.
pub fn from_env() -> Result<CollectionsSettings, ConfigError> {
    let defaults = CollectionsSettings::default();
    let mut risk = defaults.risk;
    if let Some(raw) = var("RISK_WEIGHTS") {
        risk.set_weights(&raw).map_err(|reason| ConfigError {
            name: "RISK_WEIGHTS",
            reason,
        })?;
    }
    if let Some(raw) = var("RISK_FULL_AT") {
        risk.set_full_at(&raw).map_err(|reason| ConfigError {
            name: "RISK_FULL_AT",
            reason,
        })?;
    }
    if let Some(raw) = var("RISK_THRESHOLDS") {
        risk.set_thresholds(&raw).map_err(|reason| ConfigError {
            name: "RISK_THRESHOLDS",
            reason,
        })?;
    }
    Ok(CollectionsSettings {
        risk,
        dunning_interval_minutes: parse("DUNNING_INTERVAL_MINUTES", 60u64)?,
        promise_grace_days: parse("PROMISE_GRACE_DAYS", 3i32)?.clamp(0, 60),
    })
}
