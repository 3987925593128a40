//! The rules of schedules: when one is due, and what a schedule may say.

use std::collections::HashSet;

use serde_json::{Map, Value};
use time::{Date, Weekday};
use uuid::Uuid;

use super::model::{ReportCadence, ReportSchedulePatch, ScheduleRow, ScheduleWeekday};
use crate::refusal::Refusal;
use crate::reports::catalog::{self, ReportName};
use crate::validate::Errors;

/// The most recipients a schedule names.
pub const MAX_RECIPIENTS: usize = 20;

fn weekday(w: ScheduleWeekday) -> Weekday {
    match w {
        ScheduleWeekday::Monday => Weekday::Monday,
        ScheduleWeekday::Tuesday => Weekday::Tuesday,
        ScheduleWeekday::Wednesday => Weekday::Wednesday,
        ScheduleWeekday::Thursday => Weekday::Thursday,
        ScheduleWeekday::Friday => Weekday::Friday,
        ScheduleWeekday::Saturday => Weekday::Saturday,
        ScheduleWeekday::Sunday => Weekday::Sunday,
    }
}

/// Whether a schedule of `cadence` on `day_of_month` or `weekday` runs on `date`: a monthly
/// one on its day, or on the month's last day when the month is shorter (day 31 runs on 30
/// April and 28 or 29 February); a weekly one on its weekday.
pub fn due_on(
    cadence: ReportCadence,
    day_of_month: Option<i32>,
    on: Option<ScheduleWeekday>,
    date: Date,
) -> bool {
    match (cadence, day_of_month, on) {
        (ReportCadence::Monthly, Some(day), _) => {
            let last = time::util::days_in_month(date.month(), date.year()) as i32;
            date.day() as i32 == day.clamp(1, 31).min(last)
        }
        (ReportCadence::Weekly, _, Some(w)) => date.weekday() == weekday(w),
        _ => false,
    }
}

/// The schedules of `rows` that run on `date`: active and due.
pub fn due(rows: Vec<ScheduleRow>, date: Date) -> Vec<ScheduleRow> {
    rows.into_iter()
        .filter(|r| r.active && due_on(r.cadence, r.day_of_month, r.weekday, date))
        .collect()
}

/// A schedule's cadence, day, recipients and description checked into `e`.
fn check_calendar(
    cadence: ReportCadence,
    day_of_month: Option<i32>,
    on: Option<ScheduleWeekday>,
    e: &mut Errors,
) {
    match cadence {
        ReportCadence::Monthly => {
            match day_of_month {
                None => e.add(
                    "day_of_month",
                    "required",
                    "a monthly schedule needs its day",
                ),
                Some(d) if !(1..=31).contains(&d) => {
                    e.add("day_of_month", "out_of_range", "must be from 1 to 31")
                }
                Some(_) => {}
            }
            if on.is_some() {
                e.add(
                    "weekday",
                    "not_allowed",
                    "a monthly schedule runs on day_of_month",
                );
            }
        }
        ReportCadence::Weekly => {
            if on.is_none() {
                e.add("weekday", "required", "a weekly schedule needs its weekday");
            }
            if day_of_month.is_some() {
                e.add(
                    "day_of_month",
                    "not_allowed",
                    "a weekly schedule runs on weekday",
                );
            }
        }
    }
}

fn check_recipients(recipients: &[Uuid], e: &mut Errors) {
    if recipients.len() > MAX_RECIPIENTS {
        e.add(
            "recipients",
            "too_many",
            format!("at most {MAX_RECIPIENTS} endpoints"),
        );
    }
    let mut seen = HashSet::new();
    if recipients.iter().any(|r| !seen.insert(r)) {
        e.add("recipients", "duplicate", "names an endpoint twice");
    }
}

/// The report's parameters checked as the report's route checks them, as of `today`
/// (422 naming `parameters.<name>`).
fn check_parameters(
    report: ReportName,
    parameters: &Map<String, Value>,
    today: Date,
) -> Result<(), Refusal> {
    catalog::plan_named(report, parameters, today).map(drop)
}

/// A schedule as it will be stored, checked whole: 422 naming every field wrong.
pub fn check(row: &ScheduleRow, today: Date) -> Result<(), Refusal> {
    let mut e = Errors::default();
    check_calendar(row.cadence, row.day_of_month, row.weekday, &mut e);
    check_recipients(&row.recipient_ids(), &mut e);
    if let Some(d) = &row.description {
        e.text("description", d, 200);
    }
    let parameters = check_parameters(row.report, &row.parameter_map(), today);
    match (e.finish(), parameters) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(Refusal::Invalid(mut a)), Err(Refusal::Invalid(b))) => {
            a.extend(b);
            Err(Refusal::Invalid(a))
        }
        (Err(r), _) | (_, Err(r)) => Err(r),
    }
}

/// The schedule after `patch`: a new `cadence` takes its day from the patch (the other day
/// cleared).
pub fn apply(
    patch: &ReportSchedulePatch,
    current: &ScheduleRow,
    now: time::OffsetDateTime,
) -> ScheduleRow {
    let (day_of_month, weekday) = match patch.cadence {
        Some(_) => (patch.day_of_month, patch.weekday),
        None => (
            patch.day_of_month.or(current.day_of_month),
            patch.weekday.or(current.weekday),
        ),
    };
    ScheduleRow {
        parameters: patch
            .parameters
            .clone()
            .map(Value::Object)
            .unwrap_or_else(|| current.parameters.clone()),
        format: patch.format.unwrap_or(current.format),
        cadence: patch.cadence.unwrap_or(current.cadence),
        day_of_month,
        weekday,
        recipients: match &patch.recipients {
            Some(r) => r.iter().copied().map(Some).collect(),
            None => current.recipients.clone(),
        },
        description: patch
            .description
            .as_ref()
            .map(|d| d.trim().to_string())
            .or_else(|| current.description.clone()),
        active: patch.active.unwrap_or(current.active),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_monthly_schedule_runs_on_its_day_or_the_months_last() {
        let cases = [
            (1, date!(2026 - 12 - 01), true),
            (1, date!(2026 - 12 - 02), false),
            (15, date!(2026 - 11 - 15), true),
            (31, date!(2026 - 12 - 31), true),
            (31, date!(2026 - 12 - 30), false),
            (31, date!(2026 - 11 - 30), true),
            (31, date!(2027 - 02 - 28), true),
            (31, date!(2028 - 02 - 28), false),
            (31, date!(2028 - 02 - 29), true),
            (29, date!(2027 - 02 - 28), true),
            (29, date!(2028 - 02 - 28), false),
            (30, date!(2026 - 04 - 30), true),
            (28, date!(2027 - 02 - 28), true),
            (28, date!(2028 - 02 - 29), false),
        ];
        for (day, on, expected) in cases {
            assert_eq!(
                due_on(ReportCadence::Monthly, Some(day), None, on),
                expected,
                "day {day} on {on}"
            );
        }
    }

    #[test]
    fn a_weekly_schedule_runs_on_its_weekday() {
        // 25 November 2026 is a Wednesday.
        let cases = [
            (ScheduleWeekday::Wednesday, date!(2026 - 11 - 25), true),
            (ScheduleWeekday::Wednesday, date!(2026 - 12 - 02), true),
            (ScheduleWeekday::Thursday, date!(2026 - 11 - 25), false),
            (ScheduleWeekday::Monday, date!(2026 - 11 - 30), true),
            (ScheduleWeekday::Sunday, date!(2026 - 11 - 29), true),
            (ScheduleWeekday::Sunday, date!(2026 - 11 - 30), false),
        ];
        for (w, on, expected) in cases {
            assert_eq!(
                due_on(ReportCadence::Weekly, None, Some(w), on),
                expected,
                "{w:?} on {on}"
            );
        }
        // A row missing its day (never stored) runs never.
        assert!(!due_on(
            ReportCadence::Weekly,
            Some(3),
            None,
            date!(2026 - 11 - 25)
        ));
        assert!(!due_on(
            ReportCadence::Monthly,
            None,
            Some(ScheduleWeekday::Wednesday),
            date!(2026 - 11 - 25)
        ));
    }

    #[test]
    fn a_calendar_needs_its_own_day_and_no_other() {
        let cases = [
            (ReportCadence::Monthly, Some(1), None, None),
            (ReportCadence::Monthly, Some(31), None, None),
            (ReportCadence::Monthly, None, None, Some("day_of_month")),
            (ReportCadence::Monthly, Some(0), None, Some("day_of_month")),
            (ReportCadence::Monthly, Some(32), None, Some("day_of_month")),
            (
                ReportCadence::Monthly,
                Some(5),
                Some(ScheduleWeekday::Monday),
                Some("weekday"),
            ),
            (
                ReportCadence::Weekly,
                None,
                Some(ScheduleWeekday::Monday),
                None,
            ),
            (ReportCadence::Weekly, None, None, Some("weekday")),
            (
                ReportCadence::Weekly,
                Some(5),
                Some(ScheduleWeekday::Monday),
                Some("day_of_month"),
            ),
        ];
        for (cadence, day, on, field) in cases {
            let mut e = Errors::default();
            check_calendar(cadence, day, on, &mut e);
            let got = match e.finish() {
                Ok(()) => None,
                Err(Refusal::Invalid(f)) => Some(f[0].field.clone()),
                Err(other) => panic!("{other:?}"),
            };
            assert_eq!(got.as_deref(), field, "{cadence:?} {day:?} {on:?}");
        }
    }

    #[test]
    fn recipients_are_few_and_distinct() {
        let a = Uuid::now_v7();
        let mut e = Errors::default();
        check_recipients(&[a, a], &mut e);
        assert!(format!("{:?}", e.finish()).contains("duplicate"));
        let many: Vec<Uuid> = (0..21).map(|_| Uuid::now_v7()).collect();
        let mut e = Errors::default();
        check_recipients(&many, &mut e);
        assert!(format!("{:?}", e.finish()).contains("too_many"));
        let mut e = Errors::default();
        check_recipients(&many[..20], &mut e);
        assert!(e.finish().is_ok());
    }
}
