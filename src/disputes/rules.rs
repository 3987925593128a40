//! Dispute rules, free of SQL: SLA due dates in business days, the lifecycle, and what a
//! dispute holds on its invoice.

use rust_decimal::Decimal;
use time::{Date, Duration, Weekday};

use super::model::{DisputeReason, DisputeStatus, SlaState};
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::payments::model::DeductionReason;
use crate::refusal::Refusal;

/// `days` business days after `start`: Saturdays, Sundays and `holidays` do not count.
pub fn add_business_days(start: Date, days: u32, holidays: &[Date]) -> Date {
    let mut date = start;
    let mut left = days;
    while left > 0 {
        date += Duration::days(1);
        if !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !holidays.contains(&date)
        {
            left -= 1;
        }
    }
    date
}

/// Where an active dispute stands against its due date (`None` once closed).
pub fn sla_state(status: DisputeStatus, due: Date, today: Date) -> Option<SlaState> {
    status.is_active().then_some(if today > due {
        SlaState::Breached
    } else {
        SlaState::OnTrack
    })
}

/// What of an invoice's balance a new dispute may still claim.
pub fn undisputed(invoice: &InvoiceRow) -> Decimal {
    (invoice.balance_due - invoice.disputed_amount).max(Decimal::ZERO)
}

/// Why `amount` cannot be disputed on the invoice, if it cannot.
pub fn open_refusal(invoice: &InvoiceRow, amount: Decimal) -> Option<Refusal> {
    if invoice.status != InvoiceStatus::Open {
        return Some(Refusal::field(
            "invoice_id",
            "not_open",
            format!(
                "is {}; only an open invoice with a balance is disputed",
                invoice.status.as_str()
            ),
        ));
    }
    let room = undisputed(invoice);
    (amount > room).then(|| {
        Refusal::field(
            "amount",
            "exceeds_undisputed_balance",
            format!("is more than the invoice's undisputed balance ({room})"),
        )
    })
}

/// What a dispute opened on its own does to its invoice's open deduction (of `deduction`),
/// which may be no more than what is still short apart from what is disputed: `short`, once
/// the dispute holds its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeductionChange {
    Keep,
    /// The deduction shrinks to what is still short.
    ShrinkTo(Decimal),
    /// Nothing is short any more: the dispute takes the deduction over (`disputed`), and gives
    /// it back if it ends without a credit.
    TakeOver,
}

pub fn deduction_change(deduction: Decimal, short: Decimal) -> DeductionChange {
    if short <= Decimal::ZERO {
        DeductionChange::TakeOver
    } else if deduction > short {
        DeductionChange::ShrinkTo(short)
    } else {
        DeductionChange::Keep
    }
}

/// Why a dispute cannot move to `to`, if it cannot.
pub fn transition_refusal(from: DisputeStatus, to: DisputeStatus) -> Option<Refusal> {
    use DisputeStatus::*;
    let allowed = matches!(
        (from, to),
        (Open, UnderReview)
            | (
                Open | UnderReview,
                ResolvedValid | ResolvedInvalid | Withdrawn
            )
    );
    (!allowed).then(|| {
        Refusal::conflict(
            "invalid_status_transition",
            format!(
                "A dispute that is {} cannot become {}.",
                from.as_str(),
                to.as_str()
            ),
        )
    })
}

/// The dispute reason a deduction's reason becomes.
pub fn reason_of(deduction: DeductionReason) -> DisputeReason {
    match deduction {
        DeductionReason::Pricing | DeductionReason::Promotional => DisputeReason::Pricing,
        DeductionReason::Tax => DisputeReason::Tax,
        DeductionReason::NotReceived => DisputeReason::ServiceNotRendered,
        DeductionReason::Damaged | DeductionReason::Other => DisputeReason::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        // Friday 2026-12-18 + 10 business days: the 21st–24th, (25th a holiday), 28th–31st,
        // then Friday 2027-01-01 and Monday the 4th.
        let holidays = [date!(2026 - 12 - 25)];
        assert_eq!(
            add_business_days(date!(2026 - 12 - 18), 10, &holidays),
            date!(2027 - 01 - 04)
        );
        assert_eq!(
            add_business_days(date!(2026 - 12 - 18), 10, &[]),
            date!(2027 - 01 - 01)
        );
        // From a Saturday, the first business day is Monday.
        assert_eq!(
            add_business_days(date!(2026 - 11 - 21), 1, &[]),
            date!(2026 - 11 - 23)
        );
    }

    #[test]
    fn the_sla_state_is_kept_while_active() {
        let due = date!(2026 - 12 - 04);
        assert_eq!(
            sla_state(DisputeStatus::Open, due, date!(2026 - 12 - 04)),
            Some(SlaState::OnTrack)
        );
        assert_eq!(
            sla_state(DisputeStatus::UnderReview, due, date!(2026 - 12 - 05)),
            Some(SlaState::Breached)
        );
        assert_eq!(
            sla_state(DisputeStatus::Withdrawn, due, date!(2026 - 12 - 05)),
            None
        );
    }

    #[test]
    fn transitions_follow_the_lifecycle() {
        use DisputeStatus::*;
        assert!(transition_refusal(Open, UnderReview).is_none());
        assert!(transition_refusal(UnderReview, ResolvedValid).is_none());
        assert!(transition_refusal(Open, Withdrawn).is_none());
        assert!(transition_refusal(UnderReview, UnderReview).is_some());
        assert!(transition_refusal(ResolvedValid, Withdrawn).is_some());
        assert!(transition_refusal(Withdrawn, Open).is_some());
    }

    #[test]
    fn a_dispute_leaves_the_deduction_at_most_what_is_short() {
        let d = |v: &str| v.parse::<Decimal>().unwrap();
        assert_eq!(
            deduction_change(d("300"), d("180")),
            DeductionChange::ShrinkTo(d("180"))
        );
        assert_eq!(deduction_change(d("100"), d("180")), DeductionChange::Keep);
        assert_eq!(deduction_change(d("180"), d("180")), DeductionChange::Keep);
        assert_eq!(
            deduction_change(d("180"), d("0")),
            DeductionChange::TakeOver
        );
    }
}
