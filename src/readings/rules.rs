//! When a reading is refused.

use time::Date;

use super::model::{NewReading, ReadingRow, ReadingSource};
use crate::refusal::FieldError;

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

/// Where a reading stands against billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billed {
    /// No billed meter period has reached it: it may be voided or corrected freely.
    No,
    /// It is the end reading of the meter's latest billed period: a correction is trued up on
    /// the next invoice.
    LatestEnd,
    /// Billed periods start from it or run past it: it stays as billed.
    Earlier,
}

/// A reading's neighbours: the meter's actual, unvoided readings just before and after it
/// (date, value, and whether the later one restarted the register).
#[derive(Debug, Clone, Copy, Default)]
pub struct Neighbours {
    pub before: Option<(Date, i64)>,
    pub after: Option<(Date, i64, bool)>,
}

/// Every reason to refuse correcting `old` to `value` on `read_on`.
pub fn check_correction(
    old: &ReadingRow,
    value: i64,
    read_on: Date,
    billed: Billed,
    around: Neighbours,
    installed_on: Date,
    today: Date,
) -> Vec<FieldError> {
    let mut out = Vec::new();
    if value < 0 {
        out.push(FieldError::new("value", "negative", "must not be negative"));
    }
    if read_on != old.read_on && billed != Billed::No {
        out.push(FieldError::new(
            "read_on",
            "billed",
            "the reading is billed: only its value can be corrected",
        ));
    }
    if read_on > today {
        out.push(FieldError::new(
            "read_on",
            "future_date",
            format!("must not be after today ({today})"),
        ));
    }
    if read_on < installed_on {
        out.push(FieldError::new(
            "read_on",
            "before_install",
            format!("must not be before the equipment's installation on {installed_on}"),
        ));
    }
    if let Some((on, last)) = around.before {
        if read_on <= on {
            out.push(FieldError::new(
                "read_on",
                "not_after_previous",
                format!("must be after the previous actual reading, of {on}"),
            ));
        }
        if old.reset.is_none() && value < last {
            out.push(FieldError::new(
                "value",
                "lower_than_previous",
                format!("is lower than the previous actual reading ({last} on {on})"),
            ));
        }
    }
    if let Some(start) = old
        .starting_value
        .filter(|s| old.reset.is_some() && value < *s)
    {
        out.push(FieldError::new(
            "value",
            "below_starting_value",
            format!("must not be below the register's starting value {start}"),
        ));
    }
    if let Some((on, next, reset)) = around.after {
        if read_on >= on {
            out.push(FieldError::new(
                "read_on",
                "not_before_next",
                format!("must be before the next actual reading, of {on}"),
            ));
        }
        if !reset && value > next {
            out.push(FieldError::new(
                "value",
                "higher_than_next",
                format!("is higher than the next actual reading ({next} on {on})"),
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

    fn recorded(on: Date, value: i64) -> ReadingRow {
        ReadingRow {
            id: uuid::Uuid::now_v7(),
            meter_id: uuid::Uuid::nil(),
            read_on: on,
            value,
            source: ReadingSource::Customer,
            reset: None,
            starting_value: None,
            final_value: None,
            estimate_method: None,
            estimate_basis: None,
            billing_run_id: None,
            note: None,
            created_by: "t".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            voided_at: None,
            voided_by: None,
            void_reason: None,
            replaces_id: None,
        }
    }

    #[test]
    fn a_correction_stays_between_its_neighbours_and_a_billed_date_stays() {
        let today = date!(2026 - 11 - 22);
        let installed = date!(2026 - 01 - 01);
        let typo = recorded(date!(2026 - 11 - 01), 376_500);
        let around = Neighbours {
            before: Some((date!(2026 - 10 - 01), 37_000)),
            after: None,
        };
        let on = typo.read_on;
        let ok = check_correction(
            &typo,
            37_650,
            on,
            Billed::LatestEnd,
            around,
            installed,
            today,
        );
        assert!(ok.is_empty(), "{ok:?}");
        let low = check_correction(&typo, 36_999, on, Billed::No, around, installed, today);
        assert_eq!(codes(&low), vec!["lower_than_previous"]);
        let moved = date!(2026 - 11 - 02);
        let billed = check_correction(
            &typo,
            37_650,
            moved,
            Billed::LatestEnd,
            around,
            installed,
            today,
        );
        assert_eq!(codes(&billed), vec!["billed"]);
        assert!(
            check_correction(&typo, 37_650, moved, Billed::No, around, installed, today).is_empty()
        );
        let next = Neighbours {
            after: Some((date!(2026 - 11 - 15), 38_000, false)),
            ..around
        };
        let high = check_correction(&typo, 38_001, on, Billed::No, next, installed, today);
        assert_eq!(codes(&high), vec!["higher_than_next"]);
        let past = date!(2026 - 11 - 15);
        let late = check_correction(&typo, 37_650, past, Billed::No, next, installed, today);
        assert_eq!(codes(&late), vec!["not_before_next"]);
    }
}
