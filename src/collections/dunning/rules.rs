//! The rules of dunning policies, pure: the checks of a policy's fields and steps, and which
//! step of a policy an invoice is due for.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{NewStep, StepRow, Template};
use super::template::{html_of_text, placeholders};
use crate::validate::Errors;

/// What a `min_balance` column (numeric(18, 4)) holds: less than 10^14.
pub const MAX_MIN_BALANCE: Decimal = Decimal::from_parts(276447232, 23283, 0, false, 0);

pub fn is_segment(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks the steps and turns them into rows of `policy_id` at `version`.
pub fn step_rows(policy_id: Uuid, version: i32, steps: &[NewStep], e: &mut Errors) -> Vec<StepRow> {
    if steps.is_empty() || steps.len() > 20 {
        e.add("steps", "invalid", "a policy has 1 to 20 steps");
    }
    let mut rows = Vec::with_capacity(steps.len());
    let mut last_days = 0;
    for (k, step) in steps.iter().enumerate() {
        let at = |name: &str| format!("steps[{k}].{name}");
        if !(0..=3650).contains(&step.days_past_due) {
            e.add(&at("days_past_due"), "out_of_range", "must be 0 to 3650");
        } else if step.days_past_due < last_days {
            e.add(
                &at("days_past_due"),
                "out_of_order",
                "steps are in order of days past due",
            );
        }
        last_days = step.days_past_due;
        let min_balance = step.min_balance.unwrap_or(Decimal::ZERO);
        if min_balance.is_sign_negative()
            || min_balance.scale() > 4
            || min_balance >= MAX_MIN_BALANCE
        {
            e.add(
                &at("min_balance"),
                "invalid",
                "must be an amount ≥ 0 and below 100000000000000",
            );
        }
        let (subject, text) = step.action.default_template();
        let template = step.template.clone().unwrap_or(Template {
            subject: subject.into(),
            text: text.into(),
            html: None,
        });
        for (name, value, max) in [
            ("template.subject", Some(template.subject.as_str()), 500),
            ("template.text", Some(template.text.as_str()), 20_000),
            ("template.html", template.html.as_deref(), 50_000),
        ] {
            let Some(value) = value else { continue };
            e.text(&at(name), value, max);
            if let Err(reason) = placeholders(value) {
                e.add(&at(name), "unknown_field", reason);
            }
        }
        let html = template
            .html
            .clone()
            .unwrap_or_else(|| html_of_text(&template.text));
        rows.push(StepRow {
            policy_id,
            policy_version: version,
            step_no: k as i32 + 1,
            days_past_due: step.days_past_due,
            action: step.action,
            min_balance,
            subject: template.subject.trim().to_string(),
            body_text: template.text,
            body_html: html,
        });
    }
    rows
}

pub fn check_policy_fields(name: &str, segment: Option<&str>, e: &mut Errors) {
    e.text("name", name, 200);
    if segment.is_some_and(|s| !is_segment(s)) {
        e.add(
            "segment",
            "invalid",
            "a lowercase letter, then up to 31 of a-z, 0-9 and _",
        );
    }
}

/// The step to perform on an invoice and the earlier due ones it supersedes, given the steps
/// already recorded for it.
pub fn due_steps<'a>(
    steps: &'a [StepRow],
    days: i32,
    amount: Decimal,
    recorded: &[i32],
) -> Option<(&'a StepRow, Vec<&'a StepRow>)> {
    let due: Vec<&StepRow> = steps
        .iter()
        .filter(|s| s.days_past_due <= days && amount >= s.min_balance)
        .filter(|s| !recorded.contains(&s.step_no))
        .collect();
    let (last, earlier) = due.split_last()?;
    // A step already recorded after the due ones means they were passed over for good.
    if recorded.iter().any(|r| *r > last.step_no) {
        return None;
    }
    Some((last, earlier.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collections::dunning::model::DunningAction;

    #[test]
    fn steps_are_ordered_checked_and_numbered() {
        let step = |days: i32, action| NewStep {
            days_past_due: days,
            action,
            min_balance: None,
            template: None,
        };
        let mut e = Errors::default();
        let rows = step_rows(
            Uuid::nil(),
            1,
            &[
                step(1, DunningAction::ReminderEmail),
                step(30, DunningAction::LateNoticeLetter),
            ],
            &mut e,
        );
        assert!(e.0.is_empty());
        assert_eq!(rows[1].step_no, 2);
        assert!(rows[0]
            .body_html
            .starts_with("<p>Dear {{account.name}},</p>"));

        let mut e = Errors::default();
        step_rows(
            Uuid::nil(),
            1,
            &[
                step(30, DunningAction::ReminderEmail),
                step(10, DunningAction::CallTask),
            ],
            &mut e,
        );
        assert_eq!(e.0[0].field, "steps[1].days_past_due");
        let mut e = Errors::default();
        step_rows(Uuid::nil(), 1, &[], &mut e);
        assert_eq!(e.0[0].field, "steps");
    }

    #[test]
    fn segments_are_codes() {
        assert!(is_segment("small_business"));
        assert!(!is_segment("Small"));
        assert!(!is_segment(""));
    }

    fn step(no: i32, days: i32, min: &str) -> StepRow {
        StepRow {
            policy_id: Uuid::nil(),
            policy_version: 1,
            step_no: no,
            days_past_due: days,
            action: DunningAction::ReminderEmail,
            min_balance: min.parse().unwrap(),
            subject: String::new(),
            body_text: String::new(),
            body_html: String::new(),
        }
    }

    #[test]
    fn the_latest_due_step_fires_and_supersedes_the_earlier() {
        let steps = [step(1, 1, "0"), step(2, 15, "0"), step(3, 30, "100")];
        let amount: Decimal = "50".parse().unwrap();
        // 20 days: step 2 fires, step 1 is superseded; step 3 is neither due nor big enough.
        let (s, earlier) = due_steps(&steps, 20, amount, &[]).unwrap();
        assert_eq!(s.step_no, 2);
        assert_eq!(earlier.len(), 1);
        // Once recorded, nothing more until a later step is due.
        assert!(due_steps(&steps, 20, amount, &[1, 2]).is_none());
        // 40 days but below step 3's minimum balance: nothing.
        assert!(due_steps(&steps, 40, amount, &[1, 2]).is_none());
        let big: Decimal = "150".parse().unwrap();
        assert_eq!(due_steps(&steps, 40, big, &[1, 2]).unwrap().0.step_no, 3);
    }

    #[test]
    fn a_step_passed_over_never_fires_late() {
        // Step 2 had no balance to fire when step 3 fired; it stays passed over.
        let steps = [step(1, 1, "0"), step(2, 15, "500"), step(3, 30, "0")];
        let amount: Decimal = "600".parse().unwrap();
        assert!(due_steps(&steps, 31, amount, &[1, 3]).is_none());
    }

    /// The step selection as a table: a policy of reminder at 1 day, notice at 15 days
    /// (from 100.00), final demand at 30 days (from 500.00); for each case the days past due,
    /// the open amount and the steps already recorded, then the step that fires and the
    /// earlier due steps it supersedes (`None`: nothing fires).
    #[test]
    fn the_step_that_fires_follows_the_table() {
        let steps = [step(1, 1, "0"), step(2, 15, "100"), step(3, 30, "500")];
        type Case = (
            i32,
            &'static str,
            &'static [i32],
            Option<(i32, &'static [i32])>,
        );
        let table: &[Case] = &[
            // Not yet past due, or no step due yet.
            (0, "1000", &[], None),
            // Each step on its day, superseding the earlier due steps not yet recorded.
            (1, "1000", &[], Some((1, &[]))),
            (14, "1000", &[1], None),
            (15, "1000", &[1], Some((2, &[]))),
            (15, "1000", &[], Some((2, &[1]))),
            (45, "1000", &[], Some((3, &[1, 2]))),
            (45, "1000", &[1, 2], Some((3, &[]))),
            // A step's minimum balance: below it the step is not due.
            (15, "99.99", &[1], None),
            (15, "100.00", &[1], Some((2, &[]))),
            (45, "499.99", &[1], Some((2, &[]))),
            (45, "499.99", &[1, 2], None),
            // Everything recorded: nothing more.
            (90, "1000", &[1, 2, 3], None),
            // A later step recorded passes the earlier ones over for good.
            (45, "1000", &[3], None),
            (45, "1000", &[1, 3], None),
        ];
        for &(days, amount, recorded, expected) in table {
            let amount: Decimal = amount.parse().unwrap();
            let got = due_steps(&steps, days, amount, recorded).map(|(step, earlier)| {
                (
                    step.step_no,
                    earlier.iter().map(|s| s.step_no).collect::<Vec<_>>(),
                )
            });
            let expected = expected.map(|(no, earlier)| (no, earlier.to_vec()));
            assert_eq!(
                got, expected,
                "{days} days past due, {amount} open, {recorded:?} recorded"
            );
        }
    }
}
