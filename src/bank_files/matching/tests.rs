use super::*;
use crate::bank_files::{EntryKind, Remitted};
use crate::payments::model::PaymentMethod;
use time::macros::date;

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn account(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn invoice(n: u128, number: &str, of: u128, balance: &str, due: Date) -> Candidate {
    Candidate {
        id: Uuid::from_u128(1000 + n),
        number: number.into(),
        account_id: account(of),
        open: true,
        currency: "USD".into(),
        balance_due: d(balance),
        disputed_amount: Decimal::ZERO,
        due_date: due,
    }
}

fn entry(amount: &str, text: &str) -> Entry {
    Entry {
        location: "line 4".into(),
        identity: "test:1".into(),
        kind: EntryKind::Credit,
        amount: d(amount),
        currency: Some("USD".into()),
        value_date: Some(date!(2026 - 11 - 20)),
        method: PaymentMethod::Ach,
        bank_reference: Some("T1".into()),
        payer_name: None,
        payer_account: None,
        text: text.into(),
        remittance: Vec::new(),
        returned_reference: None,
        return_code: None,
        raw: crate::bank_files::RawFields::of(&serde_json::json!({})),
    }
}

fn known(invoices: &[Candidate]) -> Known {
    Known {
        invoices: invoices
            .iter()
            .map(|c| (c.number.clone(), c.clone()))
            .collect(),
        ..Known::default()
    }
}

fn brief() -> Brief {
    Brief {
        number: "ACC-1".into(),
        name: "Acme".into(),
        currency: "USD".into(),
    }
}

fn cash(amount: &str) -> Cash<'static> {
    Cash {
        amount: d(amount),
        currency: "USD",
        decimals: 2,
    }
}

#[test]
fn the_remittance_names_the_invoices_and_their_amounts() {
    let a = invoice(1, "INV-2026-000001", 1, "1000.00", date!(2026 - 11 - 01));
    let b = invoice(2, "INV-2026-000002", 1, "500.00", date!(2026 - 11 - 02));
    let mut e = entry("1400.00", "");
    e.remittance = vec![
        Remitted {
            invoice_number: "INV-2026-000001".into(),
            amount: Some(d("950.00")),
        },
        Remitted {
            invoice_number: "INV-2026-000002".into(),
            amount: None,
        },
    ];
    let payer = identify(&e, &Numbering::default(), &known(&[a.clone(), b.clone()]));
    assert!(
        matches!(&payer, Payer::Invoices { rule: MatchRule::Remittance, confidence, .. } if *confidence == Decimal::ONE)
    );
    let decision = decide(
        cash("1400.00"),
        &payer,
        &brief(),
        &[],
        UnmatchedCash::Unapplied,
    );
    assert_eq!(decision.outcome, BankOutcome::Matched);
    assert_eq!(decision.rule, Some(MatchRule::Remittance));
    // 950.00 as remitted (short: a deduction), and what is left of 1,400.00 on the second.
    assert_eq!(
        decision.lines,
        vec![(a.id, d("950.00")), (b.id, d("450.00"))]
    );
    assert_eq!(decision.mode, ApplicationMode::Remittance);
}

#[test]
fn references_in_the_text_are_read_tolerantly_but_never_across_accounts() {
    let a = invoice(1, "INV-2026-000123", 1, "250.00", date!(2026 - 11 - 01));
    let b = invoice(2, "INV-2026-000200", 2, "250.00", date!(2026 - 11 - 01));
    let k = known(&[a.clone(), b.clone()]);
    let payer = identify(
        &entry("250.00", "pmt inv2026000123"),
        &Numbering::default(),
        &k,
    );
    match &payer {
        Payer::Invoices {
            rule,
            account: acc,
            confidence,
            explanation,
            ..
        } => {
            assert_eq!((*rule, *acc), (MatchRule::Reference, account(1)));
            assert_eq!(*confidence, d("0.85"));
            assert!(explanation.contains("read tolerantly"), "{explanation}");
        }
        other => panic!("{other:?}"),
    }
    let exact = identify(
        &entry("250.00", "INV-2026-000123"),
        &Numbering::default(),
        &k,
    );
    assert!(matches!(exact, Payer::Invoices { confidence, .. } if confidence == d("0.95")));
    let both = identify(
        &entry("500.00", "INV-2026-000123 INV-2026-000200"),
        &Numbering::default(),
        &k,
    );
    match both {
        Payer::Unknown { hints, .. } => assert_eq!(hints.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_known_payer_pays_the_one_invoice_of_its_amount_or_the_one_set() {
    let open = vec![
        invoice(1, "INV-2026-000001", 1, "100.00", date!(2026 - 10 - 01)),
        invoice(2, "INV-2026-000002", 1, "250.00", date!(2026 - 10 - 15)),
        invoice(3, "INV-2026-000003", 1, "400.00", date!(2026 - 11 - 01)),
    ];
    let payer = Payer::Account {
        account: account(1),
        explanation: "the payer name ACME paid this account before".into(),
    };
    let one = decide(
        cash("250.00"),
        &payer,
        &brief(),
        &open,
        UnmatchedCash::Unapplied,
    );
    assert_eq!(one.rule, Some(MatchRule::PayerInvoice));
    assert_eq!(one.confidence, Some(d("0.90")));
    assert_eq!(one.lines, vec![(open[1].id, d("250.00"))]);
    let set = decide(
        cash("500.00"),
        &payer,
        &brief(),
        &open,
        UnmatchedCash::Unapplied,
    );
    assert_eq!(set.rule, Some(MatchRule::PayerInvoiceSet));
    assert_eq!(set.confidence, Some(d("0.80")));
    assert_eq!(
        set.lines,
        vec![(open[0].id, d("100.00")), (open[2].id, d("400.00"))]
    );
    let none = decide(
        cash("7.00"),
        &payer,
        &brief(),
        &open,
        UnmatchedCash::Unapplied,
    );
    assert_eq!(
        (none.rule, none.mode),
        (Some(MatchRule::PayerUnapplied), ApplicationMode::None)
    );
    let oldest = decide(
        cash("7.00"),
        &payer,
        &brief(),
        &open,
        UnmatchedCash::OldestFirst,
    );
    assert_eq!(
        (oldest.rule, oldest.mode),
        (Some(MatchRule::PayerOldestFirst), ApplicationMode::Auto)
    );
}

#[test]
fn an_amount_two_sets_make_is_only_suggested() {
    let open = vec![
        invoice(1, "INV-2026-000001", 1, "100.00", date!(2026 - 10 - 01)),
        invoice(2, "INV-2026-000002", 1, "400.00", date!(2026 - 10 - 15)),
        invoice(3, "INV-2026-000003", 1, "200.00", date!(2026 - 11 - 01)),
        invoice(4, "INV-2026-000004", 1, "300.00", date!(2026 - 11 - 02)),
    ];
    let payer = Payer::Account {
        account: account(1),
        explanation: "the text names account ACC-1".into(),
    };
    let d1 = decide(
        cash("500.00"),
        &payer,
        &brief(),
        &open,
        UnmatchedCash::OldestFirst,
    );
    assert_eq!(d1.outcome, BankOutcome::Suggested);
    assert_eq!(d1.mode, ApplicationMode::None);
    assert!(d1.lines.is_empty());
    assert_eq!(d1.suggestions.len(), 2);
    assert_eq!(d1.suggestions[0].invoices.len(), 2);
}

#[test]
fn a_payer_in_another_currency_is_not_paid() {
    let payer = Payer::Account {
        account: account(1),
        explanation: "the text names account ACC-1".into(),
    };
    let eur = Brief {
        currency: "EUR".into(),
        ..brief()
    };
    let decision = decide(cash("5.00"), &payer, &eur, &[], UnmatchedCash::OldestFirst);
    assert_eq!(decision.outcome, BankOutcome::Unidentified);
    assert_eq!(decision.suggestions[0].account_id, account(1));
}

#[test]
fn learned_payers_identify_unless_two_accounts_share_them() {
    let mut k = Known::default();
    k.payers
        .insert((NAME.into(), "ACME INC".into()), vec![account(1)]);
    k.payers.insert(
        (BANK_ACCOUNT.into(), "12345".into()),
        vec![account(1), account(2)],
    );
    let mut e = entry("10.00", "");
    e.payer_name = Some("Acme, Inc.".into());
    assert!(
        matches!(identify(&e, &Numbering::default(), &k), Payer::Account { account: a, .. } if a == account(1))
    );
    e.payer_name = None;
    e.payer_account = Some("123-45".into());
    assert!(
        matches!(identify(&e, &Numbering::default(), &k), Payer::Unknown { hints, .. } if hints.len() == 2)
    );
}
