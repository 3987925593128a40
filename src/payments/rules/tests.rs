use super::*;
use std::str::FromStr;
use time::macros::date;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn invoice(number: &str, due: Date, balance: &str, disputed: &str) -> InvoiceRow {
    let now = OffsetDateTime::now_utc();
    InvoiceRow {
        id: Uuid::now_v7(),
        number: Some(number.into()),
        account_id: Uuid::nil(),
        contract_id: None,
        billing_run_id: None,
        status: InvoiceStatus::Open,
        currency: crate::money::Currency::USD,
        invoice_date: due - time::Duration::days(30),
        due_date: due,
        payment_terms_days: 30,
        period_start: None,
        period_end: None,
        subtotal: d(balance),
        taxable_amount: Decimal::ZERO,
        tax_rate: Decimal::ZERO,
        tax_total: Decimal::ZERO,
        total: d(balance),
        review_required: false,
        review_reason: None,
        issued_at: Some(now),
        version: 2,
        created_at: now,
        updated_at: now,
        po_number: None,
        reference_fields: Default::default(),
        memo: None,
        amount_paid: Decimal::ZERO,
        amount_credited: Decimal::ZERO,
        amount_written_off: Decimal::ZERO,
        balance_due: d(balance),
        disputed_amount: d(disputed),
        voided_at: None,
        void_reason: None,
        credited_taxable: Decimal::ZERO,
    }
}

fn payment(amount: &str) -> PaymentRow {
    let now = OffsetDateTime::now_utc();
    PaymentRow {
        id: Uuid::now_v7(),
        number: "PMT-2026-000001".into(),
        account_id: Uuid::nil(),
        amount: d(amount),
        currency: crate::money::Currency::USD,
        method: super::super::model::PaymentMethod::Check,
        reference: Some("10442".into()),
        received_date: date!(2026 - 11 - 20),
        application_mode: super::super::model::ApplicationMode::Auto,
        memo: None,
        amount_applied: Decimal::ZERO,
        amount_refunded: Decimal::ZERO,
        status: PaymentStatus::Unapplied,
        returned_on: None,
        return_reason: None,
        return_code: None,
        return_note: None,
        return_fee_invoice_id: None,
        version: 1,
        created_by: "test".into(),
        created_at: now,
        updated_at: now,
    }
}

fn stamp() -> Stamp {
    Stamp {
        now: OffsetDateTime::now_utc(),
        actor: "test".into(),
        request_id: None,
    }
}

fn amounts(plan: &[(Uuid, Decimal)], invoices: &[InvoiceRow]) -> Vec<(String, Decimal)> {
    plan.iter()
        .map(|(id, a)| {
            let i = invoices.iter().find(|i| i.id == *id).unwrap();
            (i.number.clone().unwrap(), *a)
        })
        .collect()
}

#[test]
fn auto_pays_oldest_due_first_and_keeps_the_rest() {
    // The worked example: A 1,000 due 1 Oct, B 500 due 15 Oct, C 250 due 1 Nov.
    let invoices = vec![
        invoice("C", date!(2026 - 11 - 01), "250.00", "0"),
        invoice("A", date!(2026 - 10 - 01), "1000.00", "0"),
        invoice("B", date!(2026 - 10 - 15), "500.00", "0"),
    ];
    let plan = auto_plan(d("1600.00"), &invoices);
    assert_eq!(
        amounts(&plan, &invoices),
        vec![
            ("A".into(), d("1000.00")),
            ("B".into(), d("500.00")),
            ("C".into(), d("100.00"))
        ]
    );
}

#[test]
fn auto_skips_the_disputed_part() {
    let invoices = vec![
        invoice("A", date!(2026 - 10 - 01), "1000.00", "0"),
        invoice("B", date!(2026 - 10 - 15), "500.00", "200.00"),
        invoice("C", date!(2026 - 11 - 01), "250.00", "0"),
    ];
    let plan = auto_plan(d("1600.00"), &invoices);
    assert_eq!(
        amounts(&plan, &invoices),
        vec![
            ("A".into(), d("1000.00")),
            ("B".into(), d("300.00")),
            ("C".into(), d("250.00"))
        ]
    );
    let used: Decimal = plan.iter().map(|(_, a)| *a).sum();
    assert_eq!(d("1600.00") - used, d("50.00"));
}

#[test]
fn same_due_date_goes_by_invoice_date() {
    let mut older = invoice("X2", date!(2026 - 10 - 01), "10.00", "0");
    older.invoice_date = date!(2026 - 08 - 01);
    let newer = invoice("X1", date!(2026 - 10 - 01), "10.00", "0");
    let invoices = vec![newer, older];
    let plan = auto_plan(d("10.00"), &invoices);
    assert_eq!(amounts(&plan, &invoices), vec![("X2".into(), d("10.00"))]);
}

#[test]
fn status_follows_the_amounts() {
    let mut p = payment("100.00");
    assert_eq!(status_of(&p), PaymentStatus::Unapplied);
    p.amount_applied = d("40.00");
    assert_eq!(status_of(&p), PaymentStatus::PartiallyApplied);
    p.amount_refunded = d("60.00");
    assert_eq!(status_of(&p), PaymentStatus::Applied);
    p.amount_applied = Decimal::ZERO;
    p.amount_refunded = d("100.00");
    assert_eq!(status_of(&p), PaymentStatus::Refunded);
    p.returned_on = Some(date!(2026 - 11 - 21));
    assert_eq!(status_of(&p), PaymentStatus::Returned);
}

#[test]
fn applications_are_refused_beyond_what_is_left() {
    let mut p = payment("100.00");
    let mut i = invoice("A", date!(2026 - 10 - 01), "80.00", "0");
    let refused = |p: &PaymentRow, i: &InvoiceRow, a: &str| {
        application_refusal(p, i, &HashSet::new(), d(a), "invoice_id", "amount").map(|e| match e {
            Refusal::Invalid(errors) => errors[0].code.clone(),
            other => other.code().to_string(),
        })
    };
    assert_eq!(refused(&p, &i, "80.01").as_deref(), Some("exceeds_balance"));
    assert_eq!(refused(&p, &i, "0").as_deref(), Some("out_of_range"));
    assert_eq!(refused(&p, &i, "80.00"), None);
    let (_, entries) = apply(
        &mut p,
        &mut i,
        d("80.00"),
        ApplicationSource::Manual,
        date!(2026 - 11 - 20),
        &stamp(),
    );
    assert_eq!(entries.iter().map(|e| e.amount).sum::<Decimal>(), d("0"));
    assert_eq!(i.status, InvoiceStatus::Paid);
    assert_eq!(p.status, PaymentStatus::PartiallyApplied);
    let j = invoice("B", date!(2026 - 10 - 01), "80.00", "0");
    assert_eq!(
        refused(&p, &j, "20.01").as_deref(),
        Some("exceeds_unapplied")
    );
    let mut other = j.clone();
    other.account_id = Uuid::now_v7();
    assert_eq!(refused(&p, &other, "1").as_deref(), Some("other_account"));
    let mut void = j.clone();
    void.status = InvoiceStatus::Void;
    assert_eq!(refused(&p, &void, "1").as_deref(), Some("void"));
    p.returned_on = Some(date!(2026 - 11 - 21));
    p.status = PaymentStatus::Returned;
    assert_eq!(refused(&p, &j, "1").as_deref(), Some("payment_returned"));
}

#[test]
fn a_reversal_restores_both_sides() {
    let mut p = payment("100.00");
    let mut i = invoice("A", date!(2026 - 10 - 01), "100.00", "0");
    let s = stamp();
    let (mut app, _) = apply(
        &mut p,
        &mut i,
        d("100.00"),
        ApplicationSource::Auto,
        s.today(),
        &s,
    );
    assert_eq!(
        (i.status, p.status),
        (InvoiceStatus::Paid, PaymentStatus::Applied)
    );
    let entries = reverse(&mut p, &mut i, &mut app, "wrong invoice", s.today(), &s);
    assert_eq!(entries.iter().map(|e| e.amount).sum::<Decimal>(), d("0"));
    assert_eq!(i.balance_due, d("100.00"));
    assert_eq!(i.status, InvoiceStatus::Open);
    assert_eq!(p.status, PaymentStatus::Unapplied);
    assert!(app.reversed_at.is_some());
}

#[test]
fn a_short_line_leaves_the_undisputed_rest_as_a_deduction() {
    let p = payment("950.00");
    let mut i = invoice("A", date!(2026 - 10 - 01), "1000.00", "0");
    i.balance_due = d("50.00");
    let ded = deduction(&p, &i, Some(DeductionReason::Pricing), None, &stamp()).unwrap();
    assert_eq!(
        (ded.amount, ded.reason),
        (d("50.00"), DeductionReason::Pricing)
    );
    // A second short payment brings the invoice's open deduction down, keeping its reason.
    i.balance_due = d("20.00");
    let again = deduction(&p, &i, None, Some(ded.clone()), &stamp()).unwrap();
    assert_eq!((again.id, again.amount), (ded.id, d("20.00")));
    assert_eq!(again.reason, DeductionReason::Pricing);
    i.disputed_amount = d("20.00");
    assert!(deduction(&p, &i, None, None, &stamp()).is_none());
}

/// Random sequences of applications, reversals and refunds keep every payment's
/// applied + refunded + unapplied equal to its amount and no balance below zero.
#[test]
fn amounts_always_add_up() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let s = stamp();
    for _ in 0..200 {
        let mut p = payment("500.00");
        let mut invoices: Vec<InvoiceRow> = (0..3)
            .map(|k| invoice(&format!("I{k}"), date!(2026 - 10 - 01), "200.00", "0"))
            .collect();
        let mut apps: Vec<(usize, ApplicationRow)> = Vec::new();
        for _ in 0..30 {
            let amount = Decimal::new(next(25_000) as i64 + 1, 2);
            match next(3) {
                0 => {
                    let k = next(3) as usize;
                    if application_refusal(&p, &invoices[k], &HashSet::new(), amount, "i", "a")
                        .is_none()
                    {
                        let (a, _) = apply(
                            &mut p,
                            &mut invoices[k],
                            amount,
                            ApplicationSource::Manual,
                            s.today(),
                            &s,
                        );
                        apps.push((k, a));
                    }
                }
                1 if !apps.is_empty() => {
                    let (k, mut a) = apps.remove(next(apps.len() as u64) as usize);
                    reverse(&mut p, &mut invoices[k], &mut a, "test", s.today(), &s);
                }
                _ => {
                    if refund_refusal(&p, amount).is_none() {
                        let row = RefundRow {
                            id: Uuid::now_v7(),
                            payment_id: p.id,
                            amount,
                            method: super::super::model::RefundMethod::Check,
                            reference: None,
                            refunded_on: s.today(),
                            reason: None,
                            created_by: "test".into(),
                            created_at: s.now,
                        };
                        refund(&mut p, row, &s);
                    }
                }
            }
            assert!(p.amount_applied + p.amount_refunded <= p.amount);
            assert!(p.unapplied() >= Decimal::ZERO);
            let live: Decimal = apps.iter().map(|(_, a)| a.amount).sum();
            assert_eq!(live, p.amount_applied);
            for i in &invoices {
                assert!(i.balance_due >= Decimal::ZERO);
                assert_eq!(i.balance_due, i.total - i.amount_paid);
            }
        }
    }
}

#[test]
fn a_payment_pays_invoices_of_the_accounts_under_its_own_with_entries_on_theirs() {
    let mut p = payment("100.00");
    let site = Uuid::now_v7();
    let mut i = invoice("S-1", date!(2026 - 10 - 01), "80.00", "0");
    i.account_id = site;
    let code = |under: &HashSet<Uuid>| {
        application_refusal(&p, &i, under, d("80.00"), "invoice_id", "amount").map(|e| match e {
            Refusal::Invalid(errors) => errors[0].code.clone(),
            other => other.code().to_string(),
        })
    };
    assert_eq!(code(&HashSet::new()).as_deref(), Some("other_account"));
    assert_eq!(
        code(&HashSet::from([Uuid::now_v7()])).as_deref(),
        Some("other_account")
    );
    assert_eq!(code(&HashSet::from([site])), None);
    let stamp = Stamp {
        now: OffsetDateTime::now_utc(),
        actor: "test".into(),
        request_id: None,
    };
    let (_, [cash, paid]) = apply(
        &mut p,
        &mut i,
        d("80.00"),
        ApplicationSource::Manual,
        date!(2026 - 11 - 20),
        &stamp,
    );
    // The payer's unapplied cash goes down; the site's invoice balance goes down.
    assert_eq!(
        (cash.account_id, cash.invoice_id, cash.amount),
        (Uuid::nil(), None, d("80.00"))
    );
    assert_eq!(
        (paid.account_id, paid.invoice_id, paid.amount),
        (site, Some(i.id), d("-80.00"))
    );
}
