//! When a reading is refused.

use time::Date;

use super::model::{NewReading, ReadingSource};
use crate::error::FieldError;

/// What a reading is checked against.
#[derive(Debug, Clone, Copy)]
pub struct MeterState {
    pub installed_on: Date,
    /// The last actual reading: date and value.
    pub last_actual: Option<(Date, i64)>,
}

/// Every reason to refuse the reading (`prefix` is prepended to field names in batches).
pub fn check(r: &NewReading, meter: &MeterState, today: Date, prefix: &str) -> Vec<FieldError> {
    let f = |name: &str| format!("{prefix}{name}");
    let mut out = Vec::new();
    if r.value < 0 {
        out.push(FieldError::new(
            f("value"),
            "negative",
            "must not be negative",
        ));
    }
    if r.source == ReadingSource::Estimated {
        out.push(FieldError::new(
            f("source"),
            "not_allowed",
            "estimates are made by billing runs; post actual readings only",
        ));
    }
    if r.read_on > today {
        out.push(FieldError::new(
            f("read_on"),
            "future_date",
            format!("must not be after today ({today})"),
        ));
    }
    if r.read_on < meter.installed_on {
        out.push(FieldError::new(
            f("read_on"),
            "before_install",
            format!(
                "must not be before the equipment's installation on {}",
                meter.installed_on
            ),
        ));
    }
    if let Some(note) = &r.note {
        if note.chars().count() > 500 {
            out.push(FieldError::new(
                f("note"),
                "too_long",
                "must be at most 500 characters",
            ));
        }
    }
    match (r.reset, r.starting_value) {
        (Some(_), None) => out.push(FieldError::new(
            f("starting_value"),
            "required",
            "a replacement or rollover gives the new register's starting value",
        )),
        (Some(_), Some(start)) if start < 0 || r.value < start => out.push(FieldError::new(
            f("value"),
            "below_starting_value",
            "must not be below starting_value",
        )),
        (None, Some(_)) => out.push(FieldError::new(
            f("starting_value"),
            "not_allowed",
            "only with a reset (replacement or rollover)",
        )),
        _ => {}
    }
    if r.reset.is_none() && r.final_value.is_some() {
        out.push(FieldError::new(
            f("final_value"),
            "not_allowed",
            "only with a reset (replacement or rollover)",
        ));
    }
    if let Some((last_on, last_value)) = meter.last_actual {
        if r.read_on <= last_on {
            out.push(FieldError::new(
                f("read_on"),
                "not_after_last_actual",
                format!("must be after the last actual reading, of {last_on}"),
            ));
        }
        if r.reset.is_none() && r.value < last_value {
            out.push(FieldError::new(
                f("value"),
                "lower_than_last_actual",
                format!("is lower than the last actual reading ({last_value} on {last_on}); flag a replacement or rollover with the new starting value"),
            ));
        }
        if let Some(final_value) = r.final_value.filter(|v| *v < last_value) {
            out.push(FieldError::new(
                f("final_value"),
                "lower_than_last_actual",
                format!("{final_value} is lower than the last actual reading ({last_value})"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readings::model::ResetKind;
    use time::macros::date;

    fn reading(on: Date, value: i64) -> NewReading {
        NewReading {
            read_on: on,
            value,
            source: ReadingSource::Customer,
            reset: None,
            starting_value: None,
            final_value: None,
            note: None,
        }
    }

    fn codes(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.code.as_str()).collect()
    }

    const METER: MeterState = MeterState {
        installed_on: date!(2026 - 01 - 01),
        last_actual: Some((date!(2026 - 10 - 01), 120_000)),
    };

    #[test]
    fn a_lower_reading_is_refused_unless_the_register_restarted() {
        let today = date!(2026 - 11 - 22);
        assert_eq!(
            codes(&check(
                &reading(date!(2026 - 11 - 01), 119_999),
                &METER,
                today,
                ""
            )),
            vec!["lower_than_last_actual"]
        );
        let mut replaced = reading(date!(2026 - 11 - 01), 1_200);
        replaced.reset = Some(ResetKind::Replacement);
        replaced.starting_value = Some(0);
        assert!(check(&replaced, &METER, today, "").is_empty());
        replaced.starting_value = None;
        assert_eq!(
            codes(&check(&replaced, &METER, today, "")),
            vec!["required"]
        );
    }

    #[test]
    fn dates_in_the_future_before_install_or_not_after_the_last_are_refused() {
        let today = date!(2026 - 11 - 22);
        let future = check(
            &reading(date!(2026 - 11 - 23), 130_000),
            &METER,
            today,
            "r.",
        );
        assert_eq!(future[0].field, "r.read_on");
        assert_eq!(codes(&future), vec!["future_date"]);
        let fresh = MeterState {
            installed_on: date!(2026 - 10 - 16),
            last_actual: None,
        };
        assert_eq!(
            codes(&check(
                &reading(date!(2026 - 10 - 15), 1),
                &fresh,
                today,
                ""
            )),
            vec!["before_install"]
        );
        assert_eq!(
            codes(&check(
                &reading(date!(2026 - 10 - 01), 120_000),
                &METER,
                today,
                ""
            )),
            vec!["not_after_last_actual"]
        );
    }
}
