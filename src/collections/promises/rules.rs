//! The rules of promises to pay, pure: how instalments are checked, how payments keep them,
//! and the table of how a promise's status moves.

use rust_decimal::Decimal;
use time::{Date, Duration};

use super::model::{InstalmentStatus, NewInstalment, PromiseStatus};
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// Where a promise stands on a day, given the payments that count towards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub instalments: Vec<InstalmentStatus>,
    pub status: PromiseStatus,
}

/// Evaluates instalments `(date, amount)` against payments `(received, amount)` as of a day.
pub fn evaluate(
    instalments: &[(Date, Decimal)],
    payments: &[(Date, Decimal)],
    grace_days: i32,
    as_of: Date,
) -> Evaluation {
    let mut owed = Decimal::ZERO;
    let statuses: Vec<InstalmentStatus> = instalments
        .iter()
        .map(|&(due, amount)| {
            owed += amount;
            let deadline = due + Duration::days(grace_days.into());
            let paid: Decimal = payments
                .iter()
                .filter(|(received, _)| *received <= deadline)
                .map(|(_, a)| *a)
                .sum();
            if paid >= owed {
                InstalmentStatus::Kept
            } else if as_of > deadline {
                InstalmentStatus::Missed
            } else {
                InstalmentStatus::Pending
            }
        })
        .collect();
    let status = if statuses.contains(&InstalmentStatus::Missed) {
        PromiseStatus::Broken
    } else if statuses.iter().all(|s| *s == InstalmentStatus::Kept) {
        PromiseStatus::Kept
    } else {
        PromiseStatus::Active
    };
    Evaluation {
        instalments: statuses,
        status,
    }
}

/// Checks the instalments against the currency and today; their total.
pub fn check_instalments(
    instalments: &[NewInstalment],
    currency: Currency,
    today: Date,
    e: &mut Errors,
) -> Decimal {
    if instalments.is_empty() || instalments.len() > 24 {
        e.add(
            "instalments",
            "invalid",
            "a promise has 1 to 24 instalments",
        );
    }
    let mut total = Decimal::ZERO;
    let mut last: Option<Date> = None;
    let latest = today + Duration::days(366);
    for (k, i) in instalments.iter().enumerate() {
        let at = |name: &str| format!("instalments[{k}].{name}");
        if i.amount <= Decimal::ZERO {
            e.add(&at("amount"), "invalid", "must be above zero");
        } else if let Err(err) = currency.check(&at("amount"), i.amount) {
            e.push(err);
        }
        if i.due_date < today || i.due_date > latest {
            e.add(
                &at("due_date"),
                "out_of_range",
                format!("must be between {today} and {latest}"),
            );
        } else if last.is_some_and(|l| i.due_date <= l) {
            e.add(&at("due_date"), "out_of_order", "dates must increase");
        }
        last = Some(i.due_date);
        total += i.amount;
    }
    total
}

/// The total of a new promise against the account's past-due balance: it may not exceed it.
pub fn check_total(total: Decimal, past_due: Decimal, currency: Currency) -> Result<(), Refusal> {
    if total <= past_due {
        return Ok(());
    }
    Err(Refusal::field(
        "instalments",
        "exceeds_past_due",
        format!(
            "the instalments total {} {}, above the past-due balance of {} {}",
            currency.normalize(total),
            currency.code(),
            currency.normalize(past_due),
            currency.code()
        ),
    ))
}

/// What happens to a promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseEvent {
    /// It is withdrawn by hand.
    Cancel,
    /// A review finds every instalment paid.
    AllKept,
    /// A review finds instalments not yet due (plus grace) and none missed.
    StillPending,
    /// A review finds an instalment not paid by its date plus grace.
    InstalmentMissed,
    /// A review finds an instalment that was kept no longer covered: a payment that kept it
    /// was returned.
    KeptPaymentReturned,
}

impl PromiseEvent {
    /// Every event, for walking the table.
    pub const ALL: [PromiseEvent; 5] = [
        PromiseEvent::Cancel,
        PromiseEvent::AllKept,
        PromiseEvent::StillPending,
        PromiseEvent::InstalmentMissed,
        PromiseEvent::KeptPaymentReturned,
    ];

    /// What a review found: an instalment kept before and uncovered now (`unkept`) wins over
    /// the evaluation of the instalments.
    pub fn of_review(unkept: bool, evaluated: PromiseStatus) -> PromiseEvent {
        match (unkept, evaluated) {
            (true, _) => PromiseEvent::KeptPaymentReturned,
            (false, PromiseStatus::Broken) => PromiseEvent::InstalmentMissed,
            (false, PromiseStatus::Kept) => PromiseEvent::AllKept,
            (false, _) => PromiseEvent::StillPending,
        }
    }
}

/// A promise's move: where it goes, the action the audit log records, and why it closed
/// (for a promise that closes by a review).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromiseMove {
    pub to: PromiseStatus,
    pub action: &'static str,
    pub close_reason: Option<&'static str>,
}

const RETURNED: &str = "a payment that kept an instalment was returned";
const MISSED: &str = "an instalment was not paid by its date plus grace";
const PAID: &str = "every instalment was paid";

/// The moves a promise may make; any pair not listed is refused. A kept promise is only
/// reopened by a returned payment, and then it is broken.
#[rustfmt::skip]
pub const PROMISE_MOVES: &[(PromiseStatus, PromiseEvent, PromiseMove)] = {
    use PromiseEvent as E;
    use PromiseStatus as S;
    const fn mv(to: PromiseStatus, action: &'static str, close_reason: Option<&'static str>) -> PromiseMove {
        PromiseMove { to, action, close_reason }
    }
    &[
        (S::Active, E::Cancel, mv(S::Cancelled, "promise.cancelled", None)),
        (S::Active, E::AllKept, mv(S::Kept, "promise.kept", Some(PAID))),
        (S::Active, E::StillPending, mv(S::Active, "promise.reviewed", None)),
        (S::Active, E::InstalmentMissed, mv(S::Broken, "promise.broken", Some(MISSED))),
        (S::Active, E::KeptPaymentReturned, mv(S::Broken, "promise.broken", Some(RETURNED))),
        (S::Kept, E::AllKept, mv(S::Kept, "promise.reviewed", None)),
        (S::Kept, E::StillPending, mv(S::Kept, "promise.reviewed", None)),
        (S::Kept, E::InstalmentMissed, mv(S::Kept, "promise.reviewed", None)),
        (S::Kept, E::KeptPaymentReturned, mv(S::Broken, "promise.broken", Some(RETURNED))),
    ]
};

/// Where `event` takes a promise in `from`, or why it may not happen.
pub fn transition(from: PromiseStatus, event: PromiseEvent) -> Result<PromiseMove, Refusal> {
    PROMISE_MOVES
        .iter()
        .find(|(f, e, _)| *f == from && *e == event)
        .map(|(_, _, m)| *m)
        .ok_or_else(|| match event {
            PromiseEvent::Cancel => Refusal::conflict(
                "promise_state",
                format!("A {} promise cannot be cancelled.", from.as_str()),
            ),
            _ => Refusal::conflict(
                "promise_state",
                format!("A {} promise is closed; it is not reviewed.", from.as_str()),
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn instalments_are_kept_cumulatively_within_grace() {
        let plan = [
            (date!(2026 - 12 - 01), d("100")),
            (date!(2027 - 01 - 01), d("100")),
        ];
        // 100 on Dec 3 (within 3 days' grace) keeps the first; nothing yet for the second.
        let paid = [(date!(2026 - 12 - 03), d("100"))];
        let e = evaluate(&plan, &paid, 3, date!(2026 - 12 - 10));
        assert_eq!(
            e.instalments,
            [InstalmentStatus::Kept, InstalmentStatus::Pending]
        );
        assert_eq!(e.status, PromiseStatus::Active);
        // By Jan 5 without more, the second is missed: broken.
        let e = evaluate(&plan, &paid, 3, date!(2027 - 01 - 05));
        assert_eq!(e.status, PromiseStatus::Broken);
        // Paying 200 at once keeps both.
        let e = evaluate(
            &plan,
            &[(date!(2026 - 12 - 01), d("200"))],
            3,
            date!(2026 - 12 - 01),
        );
        assert_eq!(e.status, PromiseStatus::Kept);
    }

    #[test]
    fn a_payment_after_grace_does_not_keep_it() {
        let plan = [(date!(2026 - 12 - 01), d("100"))];
        let paid = [(date!(2026 - 12 - 05), d("100"))];
        let e = evaluate(&plan, &paid, 3, date!(2026 - 12 - 05));
        assert_eq!(e.status, PromiseStatus::Broken);
        let e = evaluate(&plan, &paid, 3, date!(2026 - 12 - 04));
        assert_eq!(e.status, PromiseStatus::Active);
    }

    #[test]
    fn instalments_must_be_dated_in_order_and_exact() {
        let today = date!(2026 - 11 - 22);
        let usd = Currency::parse("USD").unwrap();
        let i = |a: &str, due| NewInstalment {
            amount: d(a),
            due_date: due,
        };
        let mut e = Errors::default();
        let total = check_instalments(
            &[i("10.00", today), i("5.50", date!(2026 - 12 - 01))],
            usd,
            today,
            &mut e,
        );
        assert!(e.0.is_empty());
        assert_eq!(total, d("15.50"));
        let mut e = Errors::default();
        check_instalments(
            &[
                i("10.001", date!(2026 - 12 - 01)),
                i("5", date!(2026 - 11 - 30)),
            ],
            usd,
            today,
            &mut e,
        );
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["instalments[0].amount", "instalments[1].due_date"]);
    }

    #[test]
    fn a_promise_may_total_at_most_the_past_due_balance() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(check_total(d("100"), d("100"), usd), Ok(()));
        let Err(Refusal::Invalid(fields)) = check_total(d("100.5"), d("100"), usd) else {
            panic!("a total above the past-due balance is refused");
        };
        assert_eq!(fields[0].field, "instalments");
        assert_eq!(fields[0].code, "exceeds_past_due");
        assert_eq!(
            fields[0].message,
            "the instalments total 100.50 USD, above the past-due balance of 100.00 USD"
        );
    }

    #[test]
    fn a_review_names_the_event_a_returned_payment_first() {
        use PromiseEvent as E;
        use PromiseStatus as S;
        for evaluated in [S::Active, S::Kept, S::Broken, S::Cancelled] {
            assert_eq!(
                PromiseEvent::of_review(true, evaluated),
                E::KeptPaymentReturned
            );
        }
        assert_eq!(
            PromiseEvent::of_review(false, S::Broken),
            E::InstalmentMissed
        );
        assert_eq!(PromiseEvent::of_review(false, S::Kept), E::AllKept);
        assert_eq!(PromiseEvent::of_review(false, S::Active), E::StillPending);
    }

    /// Every status × every event: the move, or the refusal's code and detail.
    #[test]
    fn promises_move_by_the_table_and_refuse_the_rest() {
        use PromiseEvent as E;
        use PromiseStatus as S;
        type Want = Result<(S, &'static str, Option<&'static str>), String>;
        let moved = |to, action, reason| Ok((to, action, reason));
        let refused = |detail: &str| Err(detail.to_string());
        #[rustfmt::skip]
        let expected: [(S, E, Want); 20] = [
            (S::Active, E::Cancel, moved(S::Cancelled, "promise.cancelled", None)),
            (S::Active, E::AllKept, moved(S::Kept, "promise.kept", Some(PAID))),
            (S::Active, E::StillPending, moved(S::Active, "promise.reviewed", None)),
            (S::Active, E::InstalmentMissed, moved(S::Broken, "promise.broken", Some(MISSED))),
            (S::Active, E::KeptPaymentReturned, moved(S::Broken, "promise.broken", Some(RETURNED))),
            (S::Kept, E::Cancel, refused("A kept promise cannot be cancelled.")),
            (S::Kept, E::AllKept, moved(S::Kept, "promise.reviewed", None)),
            (S::Kept, E::StillPending, moved(S::Kept, "promise.reviewed", None)),
            (S::Kept, E::InstalmentMissed, moved(S::Kept, "promise.reviewed", None)),
            (S::Kept, E::KeptPaymentReturned, moved(S::Broken, "promise.broken", Some(RETURNED))),
            (S::Broken, E::Cancel, refused("A broken promise cannot be cancelled.")),
            (S::Broken, E::AllKept, refused("A broken promise is closed; it is not reviewed.")),
            (S::Broken, E::StillPending, refused("A broken promise is closed; it is not reviewed.")),
            (S::Broken, E::InstalmentMissed, refused("A broken promise is closed; it is not reviewed.")),
            (S::Broken, E::KeptPaymentReturned, refused("A broken promise is closed; it is not reviewed.")),
            (S::Cancelled, E::Cancel, refused("A cancelled promise cannot be cancelled.")),
            (S::Cancelled, E::AllKept, refused("A cancelled promise is closed; it is not reviewed.")),
            (S::Cancelled, E::StillPending, refused("A cancelled promise is closed; it is not reviewed.")),
            (S::Cancelled, E::InstalmentMissed, refused("A cancelled promise is closed; it is not reviewed.")),
            (S::Cancelled, E::KeptPaymentReturned, refused("A cancelled promise is closed; it is not reviewed.")),
        ];
        for from in [S::Active, S::Kept, S::Broken, S::Cancelled] {
            for event in PromiseEvent::ALL {
                let (_, _, want) = expected
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .expect("the walk covers every pair");
                let got = match transition(from, event) {
                    Ok(m) => Ok((m.to, m.action, m.close_reason)),
                    Err(Refusal::Conflict {
                        code: "promise_state",
                        detail,
                        field: None,
                    }) => Err(detail),
                    Err(other) => panic!("{from:?} {event:?}: unexpected {other:?}"),
                };
                assert_eq!(&got, want, "{from:?} {event:?}");
            }
        }
    }
}
