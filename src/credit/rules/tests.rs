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
        source: crate::credit::model::HoldSource::Manual,
        reason: "Returned payments".into(),
        placed_by: "credit-user".into(),
        placed_at: now,
        released_by: None,
        released_at: None,
        release_note: None,
        version: 1,
    };
    let refusal = hold_refusal(uuid::Uuid::nil(), Some(&hold));
    assert_eq!(refusal.code(), "credit_hold");
    let Refusal::Conflict { detail, .. } = refusal else {
        panic!("a conflict")
    };
    assert!(detail.contains("Returned payments") && detail.contains("credit-user"));
    assert!(detail.starts_with("The account is on credit hold"));
    // A hold on the parent whose credit the account uses names that account.
    let site = uuid::Uuid::now_v7();
    let Refusal::Conflict { detail, .. } = hold_refusal(site, Some(&hold)) else {
        panic!("a conflict")
    };
    assert!(detail.contains("uses the credit of account 00000000-0000-0000-0000-000000000000"));
}
