//! Pure rules of credit management: the payment history's figures and their explanations,
//! who may decide a review, next review dates, exposure and the hold's refusal.

use rust_decimal::{Decimal, RoundingStrategy};
use time::Date;

use super::model::{CreditHistory, Exposure, Figure, HoldRow, NewReview, ReviewRow, ReviewStatus};
use super::settings::CreditManagementSettings;
use crate::auth::Role;
use crate::collections::risk::Risk;
use crate::money::Currency;
use crate::refusal::Refusal;
use crate::validate::Errors;

/// `date` moved by `months` (negative: back), the day kept or brought to the month's last.
pub fn add_months(date: Date, months: i32) -> Date {
    let total = date.year() * 12 + (date.month() as i32 - 1) + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = time::Month::try_from(month0 as u8 + 1).expect("a month from 1 to 12");
    let day = date.day().min(time::util::days_in_month(month, year));
    Date::from_calendar_date(year, month, day).expect("a valid date")
}

/// The first day of the twelve months that end on `as_of`.
pub fn period_from(as_of: Date) -> Date {
    add_months(as_of, -12).next_day().expect("a day after")
}

/// What the payment history is computed from, read by one query (`store::history_inputs`).
#[derive(Debug, Clone, Default, PartialEq, diesel::QueryableByName)]
pub struct HistoryInputs {
    /// Invoices paid in full in the period (the day of the last payment applied to them).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub invoices_paid: i64,
    /// Their totals.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount_paid: Decimal,
    /// Σ total × (paid on − invoice date).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub weighted_days_to_pay: Decimal,
    /// Σ total × max(paid on − due date, 0).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub weighted_days_beyond_terms: Decimal,
    /// Paid on or before their due date.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub paid_on_time: i64,
    /// The highest end-of-day balance of the period (from the ledger).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub highest_balance: Decimal,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    pub highest_balance_on: Option<Date>,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub open_balance: Decimal,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub open_invoices: i64,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub past_due_balance: Decimal,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub past_due_invoices: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub returned_payments: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub broken_promises: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub open_disputes: i64,
}

/// Rounded half-up to, and written with, two decimals.
fn two_places(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

fn plural(n: i64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The payment history as of `as_of` from its inputs and the account's risk score; averages
/// are weighted by invoice total and rounded half-up to two decimals.
pub fn history(i: &HistoryInputs, risk: &Risk, as_of: Date, currency: Currency) -> CreditHistory {
    let from = period_from(as_of);
    let period = format!("between {from} and {as_of}");
    let paid = format!(
        "{} paid in full {period}, {} {} in all",
        plural(i.invoices_paid, "invoice"),
        currency.normalize(i.amount_paid),
        currency.code()
    );
    let average = |weighted: Decimal| {
        (i.amount_paid > Decimal::ZERO).then(|| two_places(weighted / i.amount_paid))
    };
    let count = |value: i64, count: i64, explanation: String| Figure {
        value: Some(Decimal::from(value)),
        count,
        explanation,
    };
    let money = |value: Decimal, count: i64, explanation: String| Figure {
        value: Some(currency.normalize(value)),
        count,
        explanation,
    };
    CreditHistory {
        as_of,
        period_from: from,
        average_days_to_pay: Figure {
            value: average(i.weighted_days_to_pay),
            count: i.invoices_paid,
            explanation: format!(
                "{paid}: Σ(total × days from invoice date to the last payment) / Σ total"
            ),
        },
        average_days_beyond_terms: Figure {
            value: average(i.weighted_days_beyond_terms),
            count: i.invoices_paid,
            explanation: format!(
                "{paid}: Σ(total × days from due date to the last payment, 0 when on time) / Σ total"
            ),
        },
        on_time_share: Figure {
            value: (i.invoices_paid > 0).then(|| {
                two_places(
                    Decimal::from(i.paid_on_time) * Decimal::ONE_HUNDRED
                        / Decimal::from(i.invoices_paid),
                )
            }),
            count: i.invoices_paid,
            explanation: format!(
                "{} of the {} paid by the due date, in percent",
                i.paid_on_time,
                plural(i.invoices_paid, "invoice")
            ),
        },
        highest_balance: money(
            i.highest_balance,
            0,
            match i.highest_balance_on {
                Some(day) => format!(
                    "the highest end-of-day account balance {period}, reached on {day}"
                ),
                None => format!("no balance {period}"),
            },
        ),
        open_balance: money(
            i.open_balance,
            i.open_invoices,
            format!(
                "balances of the {} open on {as_of}",
                plural(i.open_invoices, "invoice")
            ),
        ),
        past_due_balance: money(
            i.past_due_balance,
            i.past_due_invoices,
            format!(
                "balances of the {} due before {as_of}, disputed amounts included",
                plural(i.past_due_invoices, "open invoice")
            ),
        ),
        returned_payments: count(
            i.returned_payments,
            i.returned_payments,
            format!("payments returned {period}"),
        ),
        broken_promises: count(
            i.broken_promises,
            i.broken_promises,
            format!("promises to pay broken {period}"),
        ),
        open_disputes: count(
            i.open_disputes,
            i.open_disputes,
            format!("disputes open or under review on {as_of}"),
        ),
        risk_score: Figure {
            value: Some(Decimal::from(risk.score)),
            count: risk.parts.len() as i64,
            explanation: risk
                .parts
                .iter()
                .map(|p| {
                    format!(
                        "{} {} → {} of {} points",
                        p.factor.as_str(),
                        p.value,
                        p.points,
                        p.weight
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        },
        risk_level: risk.level,
    }
}

/// Checks a review request in the account's currency as of `today`.
pub fn validate_new(new: &NewReview, currency: Currency, today: Date) -> Result<(), Refusal> {
    let mut e = Errors::default();
    if new.requested_limit.is_sign_negative() {
        e.add("requested_limit", "out_of_range", "must be at least 0");
    } else if let Err(err) = currency.check("requested_limit", new.requested_limit) {
        e.push(err);
    } else if new.requested_limit >= Decimal::new(1, 0) * Decimal::from(10_i64.pow(16)) {
        e.add("requested_limit", "out_of_range", "is too large");
    }
    if !(0..=365).contains(&new.requested_terms_days) {
        e.add("requested_terms_days", "out_of_range", "must be 0 to 365");
    }
    e.optional_text("note", new.note.as_deref(), 2000);
    if let Some(s) = &new.external_score {
        e.text("external_score.agency", &s.agency, 100);
        if !(0..=10000).contains(&s.score) {
            e.add("external_score.score", "out_of_range", "must be 0 to 10000");
        }
        e.optional_text("external_score.rating", s.rating.as_deref(), 20);
        if s.report_date > today {
            e.add(
                "external_score.report_date",
                "out_of_range",
                "must not be after today",
            );
        }
    }
    e.finish()
}

/// Whether terms of `days` are longer than the standard.
pub fn is_terms_exception(days: i32, settings: &CreditManagementSettings) -> bool {
    days > settings.standard_terms_days
}

/// What a decider does to a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Decline,
    Escalate,
}

impl Verdict {
    pub fn action(self) -> &'static str {
        match self {
            Verdict::Approve => "credit_review.approved",
            Verdict::Decline => "credit_review.declined",
            Verdict::Escalate => "credit_review.escalated",
        }
    }

    /// The last segment of the decision's route.
    pub fn route(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Decline => "decline",
            Verdict::Escalate => "escalate",
        }
    }

    fn status(self) -> ReviewStatus {
        match self {
            Verdict::Approve => ReviewStatus::Approved,
            Verdict::Decline => ReviewStatus::Declined,
            Verdict::Escalate => ReviewStatus::Escalated,
        }
    }
}

fn above_authority(detail: String) -> Refusal {
    Refusal::conflict("above_authority", detail)
}

/// Whether `actor` (with `role`) may give `verdict` on `review`; the status it moves to.
///
/// Whoever requested a review cannot decide it. Approving needs authority for the requested
/// limit; a terms exception, or a review escalated, needs a role with unlimited authority
/// (declining an escalated review too). Escalating is for a role that has a higher one above
/// it, on a pending review.
pub fn decide(
    review: &ReviewRow,
    actor: &str,
    role: Role,
    verdict: Verdict,
    settings: &CreditManagementSettings,
) -> Result<ReviewStatus, Refusal> {
    if !matches!(
        review.status,
        ReviewStatus::Pending | ReviewStatus::Escalated
    ) {
        return Err(Refusal::conflict(
            "review_closed",
            format!(
                "The review is {}; it takes no decision.",
                review.status.as_str()
            ),
        ));
    }
    if review.requested_by == actor {
        return Err(Refusal::conflict(
            "own_review",
            "Whoever requested a credit review cannot decide it; another analyst must.",
        ));
    }
    let authority = settings.authority(role);
    let unlimited = authority == Some(None);
    let role_name = role.as_str();
    match verdict {
        Verdict::Escalate => {
            if review.status == ReviewStatus::Escalated {
                return Err(Refusal::conflict(
                    "review_closed",
                    "The review is already escalated; a role with unlimited authority decides it.",
                ));
            }
            if unlimited {
                return Err(Refusal::conflict(
                    "no_higher_authority",
                    format!("The role {role_name} has unlimited authority: no role is above it; approve or decline."),
                ));
            }
        }
        Verdict::Approve | Verdict::Decline => {
            let Some(limit) = authority else {
                return Err(above_authority(format!(
                    "The role {role_name} has no credit approval authority."
                )));
            };
            if review.status == ReviewStatus::Escalated && !unlimited {
                return Err(above_authority(
                    "The review was escalated: a role with unlimited authority decides it.".into(),
                ));
            }
            if verdict == Verdict::Approve {
                if let Some(limit) = limit {
                    if review.requested_limit > limit {
                        return Err(above_authority(format!(
                            "The requested limit {} is above the {} the role {role_name} may approve; escalate it.",
                            review.currency.normalize(review.requested_limit),
                            review.currency.normalize(limit)
                        )));
                    }
                }
                if review.terms_exception && !unlimited {
                    return Err(Refusal::conflict(
                        "terms_exception",
                        format!(
                            "Net {} days is longer than the standard terms: a role with unlimited authority approves it; escalate it.",
                            review.requested_terms_days
                        ),
                    ));
                }
            }
        }
    }
    Ok(verdict.status())
}

/// The exposure of an account from its balance and committed charges.
pub fn exposure(
    balance: Decimal,
    committed_charges: Decimal,
    active_contracts: i64,
    credit_limit: Option<Decimal>,
    currency: Currency,
) -> Exposure {
    let total = balance + committed_charges;
    Exposure {
        balance: currency.normalize(balance),
        committed_charges: currency.normalize(committed_charges),
        active_contracts,
        total: currency.normalize(total),
        credit_limit: credit_limit.map(|l| currency.normalize(l)),
        available: credit_limit.map(|l| currency.normalize(l - total)),
        over_limit: credit_limit.is_some_and(|l| total > l),
    }
}

/// The refusal of an operation a credit hold blocks, naming the hold (when one is recorded;
/// a hold set on the account's status alone has no reason).
pub fn hold_refusal(hold: Option<&HoldRow>) -> Refusal {
    let detail = match hold {
        Some(h) => format!(
            "The account is on credit hold {} (placed {} by {}: {}): no new contracts, upgrades or manual invoices until credit releases it.",
            h.id,
            h.placed_at.date(),
            h.placed_by,
            h.reason
        ),
        None => "The account is on credit hold: no new contracts, upgrades or manual invoices until credit releases it.".into(),
    };
    Refusal::conflict("credit_hold", detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collections::risk::{score, Inputs, Weights};
    use time::macros::{date, datetime};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn review(requested_limit: &str, terms_exception: bool) -> ReviewRow {
        let now = datetime!(2026-11-25 12:00 UTC);
        ReviewRow {
            id: uuid::Uuid::nil(),
            account_id: uuid::Uuid::nil(),
            status: ReviewStatus::Pending,
            reason: super::super::model::ReviewReason::LimitIncrease,
            currency: Currency::USD,
            requested_limit: d(requested_limit),
            requested_terms_days: if terms_exception { 60 } else { 30 },
            current_limit: None,
            current_terms_days: 30,
            terms_exception,
            note: None,
            external_score: None,
            review_date: now.date(),
            history: history(
                &HistoryInputs::default(),
                &risk(),
                now.date(),
                Currency::USD,
            ),
            requested_by: "alice".into(),
            escalated_by: None,
            escalation_note: None,
            decided_by: None,
            decided_role: None,
            decided_at: None,
            decision_note: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    fn risk() -> Risk {
        let inputs = Inputs {
            account_id: uuid::Uuid::nil(),
            credit_limit: None,
            balance: Decimal::ZERO,
            past_due: Decimal::ZERO,
            oldest_due: None,
            broken_promises: 0,
            returned_payments: 0,
            open_disputes: 0,
        };
        score(&inputs, date!(2026 - 11 - 25), &Weights::default())
    }

    #[test]
    fn months_move_to_the_last_day_when_the_day_is_missing() {
        assert_eq!(add_months(date!(2026 - 03 - 31), -1), date!(2026 - 02 - 28));
        assert_eq!(add_months(date!(2026 - 11 - 25), 3), date!(2027 - 02 - 25));
        assert_eq!(
            add_months(date!(2024 - 02 - 29), -12),
            date!(2023 - 02 - 28)
        );
        assert_eq!(period_from(date!(2026 - 11 - 25)), date!(2025 - 11 - 26));
    }

    #[test]
    fn averages_are_weighted_by_amount() {
        // 1000 paid 5 days late, 2000 paid 12 days late, 1000 paid 40 days late, on terms of
        // 30: days to pay 35, 42, 70 → (35000 + 84000 + 70000) / 4000 = 47.25; beyond terms
        // (5000 + 24000 + 40000) / 4000 = 17.25.
        let inputs = HistoryInputs {
            invoices_paid: 3,
            amount_paid: d("4000"),
            weighted_days_to_pay: d("189000"),
            weighted_days_beyond_terms: d("69000"),
            paid_on_time: 0,
            ..Default::default()
        };
        let h = history(&inputs, &risk(), date!(2026 - 11 - 25), Currency::USD);
        assert_eq!(h.average_days_to_pay.value, Some(d("47.25")));
        assert_eq!(h.average_days_beyond_terms.value, Some(d("17.25")));
        assert_eq!(h.on_time_share.value, Some(d("0.00")));
        assert_eq!(h.average_days_to_pay.count, 3);
        assert!(h.average_days_to_pay.explanation.contains("3 invoices"));
        assert!(h
            .average_days_to_pay
            .explanation
            .contains("between 2025-11-26 and 2026-11-25"));
    }

    #[test]
    fn no_paid_invoice_means_no_average() {
        let h = history(
            &HistoryInputs::default(),
            &risk(),
            date!(2026 - 11 - 25),
            Currency::USD,
        );
        assert_eq!(h.average_days_to_pay.value, None);
        assert_eq!(h.on_time_share.value, None);
        assert_eq!(h.open_balance.value, Some(d("0.00")));
    }

    #[test]
    fn the_requester_cannot_decide() {
        let s = CreditManagementSettings::default();
        let r = review("1000", false);
        let refused = decide(&r, "alice", Role::Admin, Verdict::Approve, &s).unwrap_err();
        assert_eq!(refused.code(), "own_review");
    }

    #[test]
    fn authority_follows_role_and_amount() {
        let s = CreditManagementSettings::default();
        let within = review("50000.00", false);
        assert_eq!(
            decide(&within, "bob", Role::Credit, Verdict::Approve, &s),
            Ok(ReviewStatus::Approved)
        );
        let above = review("50000.01", false);
        let refused = decide(&above, "bob", Role::Credit, Verdict::Approve, &s).unwrap_err();
        assert_eq!(refused.code(), "above_authority");
        assert_eq!(
            decide(
                &above,
                "bob",
                Role::CollectionsManager,
                Verdict::Approve,
                &s
            ),
            Ok(ReviewStatus::Approved)
        );
        // Declining needs no authority for the amount; escalating is for a role below another.
        assert_eq!(
            decide(&above, "bob", Role::Credit, Verdict::Decline, &s),
            Ok(ReviewStatus::Declined)
        );
        assert_eq!(
            decide(&above, "bob", Role::Credit, Verdict::Escalate, &s),
            Ok(ReviewStatus::Escalated)
        );
        let refused = decide(&above, "bob", Role::Admin, Verdict::Escalate, &s).unwrap_err();
        assert_eq!(refused.code(), "no_higher_authority");
        let refused = decide(&above, "bob", Role::Billing, Verdict::Approve, &s).unwrap_err();
        assert_eq!(refused.code(), "above_authority");
    }

    #[test]
    fn a_terms_exception_and_an_escalated_review_need_unlimited_authority() {
        let s = CreditManagementSettings::default();
        let terms = review("1000", true);
        let refused = decide(&terms, "bob", Role::Credit, Verdict::Approve, &s).unwrap_err();
        assert_eq!(refused.code(), "terms_exception");
        assert!(decide(
            &terms,
            "bob",
            Role::CollectionsManager,
            Verdict::Approve,
            &s
        )
        .is_ok());
        let mut escalated = review("1000", false);
        escalated.status = ReviewStatus::Escalated;
        let refused = decide(&escalated, "bob", Role::Credit, Verdict::Decline, &s).unwrap_err();
        assert_eq!(refused.code(), "above_authority");
        assert!(decide(&escalated, "bob", Role::Admin, Verdict::Decline, &s).is_ok());
        let mut closed = review("1000", false);
        closed.status = ReviewStatus::Approved;
        let refused = decide(&closed, "bob", Role::Admin, Verdict::Decline, &s).unwrap_err();
        assert_eq!(refused.code(), "review_closed");
    }

    #[test]
    fn terms_longer_than_the_standard_are_an_exception() {
        let s = CreditManagementSettings::default();
        assert!(!is_terms_exception(30, &s));
        assert!(is_terms_exception(31, &s));
    }

    #[test]
    fn exposure_adds_committed_charges_to_the_balance() {
        let e = exposure(d("900"), d("250"), 1, Some(d("1000")), Currency::USD);
        assert_eq!(e.total, d("1150.00"));
        assert_eq!(e.available, Some(d("-150.00")));
        assert!(e.over_limit);
        let e = exposure(d("900"), d("100"), 1, Some(d("1000")), Currency::USD);
        assert!(!e.over_limit, "at the limit is not over it");
        assert!(!exposure(d("900"), d("250"), 1, None, Currency::USD).over_limit);
    }

    #[test]
    fn the_hold_refusal_names_the_hold() {
        let now = datetime!(2026-11-25 12:00 UTC);
        let hold = HoldRow {
            id: uuid::Uuid::nil(),
            account_id: uuid::Uuid::nil(),
            source: super::super::model::HoldSource::Manual,
            reason: "Returned payments".into(),
            placed_by: "credit-user".into(),
            placed_at: now,
            released_by: None,
            released_at: None,
            release_note: None,
            version: 1,
        };
        let refusal = hold_refusal(Some(&hold));
        assert_eq!(refusal.code(), "credit_hold");
        let Refusal::Conflict { detail, .. } = refusal else {
            panic!("a conflict")
        };
        assert!(detail.contains("Returned payments") && detail.contains("credit-user"));
    }
}
