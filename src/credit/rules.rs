//! Pure rules of credit management: the payment history's figures and their explanations,
//! who may decide a review, next review dates, exposure and the hold's refusal.

use rust_decimal::{Decimal, RoundingStrategy};
use time::Date;
use uuid::Uuid;

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

/// The refusal of a review of an account that uses its parent's credit: its credit is
/// reviewed on its credit account `head`, for the whole family.
pub fn credit_at_parent(head: Uuid) -> Refusal {
    Refusal::conflict(
        "credit_at_parent",
        format!(
            "The account uses the credit of account {head} (credit_scope parent); request the review there, for the whole family."
        ),
    )
}

/// The refusal of an operation a credit hold blocks on `account_id`, naming the hold (when
/// one is recorded; a hold set on the account's status alone has no reason) and, when the
/// hold is on the parent whose credit the account uses, that account.
pub fn hold_refusal(account_id: Uuid, hold: Option<&HoldRow>) -> Refusal {
    let detail = match hold {
        Some(h) => format!(
            "{} on credit hold {} (placed {} by {}: {}): no new contracts, upgrades or manual invoices until credit releases it.",
            if h.account_id == account_id {
                "The account is".to_string()
            } else {
                format!("The account uses the credit of account {}, which is", h.account_id)
            },
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
mod tests;
