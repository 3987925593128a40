//! Unit tests of the statement's figures and rendering.

use super::*;
use std::str::FromStr;
use time::macros::date;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn balances_fall_in_the_bucket_of_their_days_past_due() {
    let as_of = date!(2026 - 11 - 30);
    let open = vec![
        (date!(2026 - 12 - 15), d("100")),
        (date!(2026 - 11 - 30), d("1")),
        (date!(2026 - 11 - 29), d("10")),
        (date!(2026 - 10 - 31), d("20")),
        (date!(2026 - 10 - 01), d("30")),
        (date!(2026 - 08 - 15), d("40")),
        (date!(2026 - 07 - 01), d("50")),
    ];
    let a = age(&open, as_of);
    assert_eq!(a.current, d("101"));
    assert_eq!(a.days_1_30, d("30"));
    assert_eq!(a.days_31_60, d("30"));
    assert_eq!(a.days_61_90, Decimal::ZERO);
    assert_eq!(a.days_91_120, d("40"));
    assert_eq!(a.days_over_120, d("50"));
    assert_eq!(a.total, d("251"));
}

fn entry(
    kind: LedgerKind,
    invoice: Option<Uuid>,
    amount: &str,
    document: Uuid,
    at: time::OffsetDateTime,
) -> (EntryRow, Option<String>) {
    let stamp = crate::ledger::model::Stamp {
        now: at,
        actor: "t".into(),
        request_id: None,
    };
    let target = crate::ledger::model::Target {
        account_id: Uuid::nil(),
        invoice_id: invoice,
        currency: crate::money::Currency::USD,
    };
    let doc = (DocumentType::Payment, document);
    let e = stamp.entry(target, kind, d(amount), at.date(), doc, String::new());
    (e, None)
}

#[test]
fn a_payment_is_one_line_and_its_applications_move_no_balance() {
    use time::macros::datetime;
    let (inv, pay) = (Uuid::now_v7(), Uuid::now_v7());
    let (t1, t2) = (
        datetime!(2026-11-02 10:00 UTC),
        datetime!(2026-11-03 10:00 UTC),
    );
    let entries = vec![
        entry(LedgerKind::InvoiceIssued, Some(inv), "300.00", inv, t1),
        entry(LedgerKind::PaymentReceived, None, "-500.00", pay, t2),
        entry(LedgerKind::PaymentApplied, None, "300.00", pay, t2),
        entry(LedgerKind::PaymentApplied, Some(inv), "-300.00", pay, t2),
    ];
    let (moves, transfers) = transfers_apart(entries);
    assert_eq!(moves.len(), 2);
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].0.invoice_id, Some(inv));
    let (lines, closing) = running(d("0"), moves, Currency::parse("USD").unwrap());
    let balances: Vec<String> = lines.iter().map(|l| l.balance.to_string()).collect();
    assert_eq!(balances, ["300.00", "-200.00"]);
    assert_eq!(closing, d("-200.00"));
}

#[test]
fn a_return_keeps_its_charge_back_and_drops_the_applications_it_undoes() {
    use time::macros::datetime;
    let (inv, pay) = (Uuid::now_v7(), Uuid::now_v7());
    let t = datetime!(2026-11-05 10:00 UTC);
    let entries = vec![
        entry(LedgerKind::PaymentReversal, None, "-300.00", pay, t),
        entry(LedgerKind::PaymentReversal, Some(inv), "300.00", pay, t),
        entry(LedgerKind::PaymentReversal, None, "500.00", pay, t),
    ];
    let (moves, transfers) = transfers_apart(entries);
    assert_eq!(transfers.len(), 1);
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].0.amount, d("500.00"));
}

#[test]
fn a_statement_covers_thirty_days_to_today_unless_told_and_at_most_five_years() {
    let today = date!(2026 - 11 - 30);
    assert_eq!(
        period(None, None, today),
        Ok((date!(2026 - 10 - 31), today))
    );
    assert_eq!(
        period(None, Some(date!(2026 - 06 - 30)), today),
        Ok((date!(2026 - 05 - 31), date!(2026 - 06 - 30)))
    );
    let refused = |from, to| match period(from, to, today) {
        Err(crate::refusal::Refusal::Invalid(errors)) => {
            format!("{}:{}", errors[0].field, errors[0].code)
        }
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(refused(Some(date!(2026 - 12 - 01)), None), "from:after_to");
    assert_eq!(
        refused(Some(date!(2021 - 11 - 01)), Some(today)),
        "from:out_of_range"
    );
    assert_eq!(
        period(Some(date!(2021 - 12 - 01)), None, today),
        Ok((date!(2021 - 12 - 01), today))
    );
}
