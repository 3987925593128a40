//! A bank file's payments are recorded in batches: each as `POST /v1/payments` records one
//! (numbers in file order, applications, deductions, ledger, events, audit, collections),
//! a second payment of the same invoice after the first, and `auto` cash on its own.

use serde_json::json;

use crate::bank_files::{bai2, books, import, invoice, Detail};
use crate::helpers::*;

#[tokio::test]
async fn a_files_payments_are_recorded_as_the_payments_api_records_them() {
    let app = spawn_app_with(|c| {
        c.bank_files.unmatched_cash = receivables::bank_files::settings::UnmatchedCash::OldestFirst
    })
    .await;
    let acme = books(&app, "ACC-7101", "Acme Tools").await;
    let (a1, a1n) = invoice(&app, &acme, "100.00", 60).await;
    let (a2, a2n) = invoice(&app, &acme, "250.00", 10).await;
    let (a3, _) = invoice(&app, &acme, "400.00", 5).await;
    let wayne = crate::bank_files::Books {
        account: id(&app
            .create_account(json!({"number": "ACC-7102", "legal_name": "Wayne Supply"}))
            .await),
        code: acme.code.clone(),
    };
    let (w1, _) = invoice(&app, &wayne, "300.00", 50).await;
    let (w2, _) = invoice(&app, &wayne, "200.00", 20).await;
    // Acme is in dunning for a1, 30 days past due.
    app.execute(&format!(
        "UPDATE accounts SET collections_status = 'in_dunning' WHERE id = '{}'",
        acme.account
    ))
    .await
    .unwrap();

    let short = format!("ORIG CO NAME:ACME TOOLS\nRMR*IV*{a2n}*PI*200.00\\");
    let rest = format!("ORIG CO NAME:ACME TOOLS\nRMR*IV*{a2n}*PI*50.00\\");
    let file = bai2(
        "B1",
        &[
            Detail(115, 10_000, "LBX7100", &a1n, "LOCKBOX"),
            Detail(165, 20_000, "ACH7101", "", &short),
            Detail(195, 50_000, "FW7102", "", "PAYMENT FOR ACCOUNT ACC-7102"),
            Detail(165, 5_000, "ACH7103", "", &rest),
            Detail(195, 7_500, "FW7104", "", "PAYMENT FOR ACCOUNT ACC-7101"),
        ],
    );
    let imported = import(&app, "application/x-bai2", "", file.into_bytes())
        .await
        .expect(201)
        .body;
    assert_eq!(imported["report"]["matched"], 5);

    // Numbered in the file's order, each applied as decided.
    assert_eq!(
        app.value(
            "SELECT string_agg(reference || ' ' || amount_applied || ' ' || status, ', ' ORDER BY number) FROM payments"
        )
        .await,
        "LBX7100 100.00 applied, ACH7101 200.00 applied, FW7102 500.00 applied, \
         ACH7103 50.00 applied, FW7104 75.00 applied"
    );
    for (invoice, state) in [
        (&a1, "paid 0.00"),
        (&a2, "paid 0.00"),
        (&a3, "open 325.00"),
        (&w1, "paid 0.00"),
        (&w2, "paid 0.00"),
    ] {
        assert_eq!(
            app.value(&format!(
                "SELECT status || ' ' || balance_due::numeric(12, 2) FROM invoices WHERE id = '{invoice}'"
            ))
            .await,
            state
        );
    }
    assert_eq!(
        app.value(
            "SELECT string_agg(p.reference || ' ' || a.source || ' ' || a.amount, ', ' ORDER BY p.number, a.amount) \
             FROM payment_applications a JOIN payments p ON p.id = a.payment_id"
        )
        .await,
        "LBX7100 remittance 100.00, ACH7101 remittance 200.00, FW7102 remittance 200.00, \
         FW7102 remittance 300.00, ACH7103 remittance 50.00, FW7104 auto 75.00"
    );
    // The short pay left a deduction, which the second payment of the invoice settled.
    assert_eq!(
        app.value(&format!(
            "SELECT d.status || ' ' || d.amount || ' ' || p.reference || ' ' || s.reference \
             FROM deductions d JOIN payments p ON p.id = d.payment_id \
             JOIN payments s ON s.id = d.settled_by_payment_id WHERE d.invoice_id = '{a2}'"
        ))
        .await,
        "paid 50.00 ACH7101 ACH7103"
    );
    assert_eq!(app.count("deductions").await, 1);
    // Events and audit entries, one of each per payment; invoice.paid once per invoice.
    for (event, n) in [
        ("payment.received", 5),
        ("payment.applied", 5),
        ("invoice.paid", 4),
    ] {
        assert_eq!(
            app.count(&format!("outbox_events WHERE type = '{event}'"))
                .await,
            n,
            "{event}"
        );
    }
    assert_eq!(
        app.count(
            "audit_events e JOIN payments p ON p.id = e.entity_id \
             WHERE e.action = 'payment.received' AND e.after->>'number' = p.number"
        )
        .await,
        5
    );
    // The event carries the payment as GET answers it.
    let lockbox = app
        .value("SELECT id::text FROM payments WHERE reference = 'LBX7100'")
        .await;
    let got = app
        .get(&format!("/v1/payments/{lockbox}"), &billing())
        .await
        .expect(200)
        .body;
    let sent: serde_json::Value = serde_json::from_str(
        &app.value(&format!(
            "SELECT data::text FROM outbox_events WHERE type = 'payment.received' AND resource_id = '{lockbox}'"
        ))
        .await,
    )
    .unwrap();
    assert_eq!(sent, got);
    // Acme owes nothing past due any more: it leaves dunning, once.
    assert_eq!(
        app.value(&format!(
            "SELECT collections_status FROM accounts WHERE id = '{}'",
            acme.account
        ))
        .await,
        "none"
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'account.collections_status_changed'")
            .await,
        1
    );
    assert_books_balance(&app).await;
}
