//! Payments over HTTP: recording with remittance, auto and no application; manual
//! applications and their reversal; deductions and small-balance write-offs; refunds; returned
//! payments; lists; and the invariants under concurrency and random sequences.

use futures_util::future::join_all;
use receivables::auth::Role;
use serde_json::{json, Value};
use time::{Date, Duration};

use crate::helpers::*;

/// An account with a revenue code to bill it under.
struct Books {
    account: String,
    code: String,
}

async fn books(app: &TestApp) -> Books {
    Books {
        account: id(&app.create_account(json!({})).await),
        code: app.financial_code("4000", "revenue").await,
    }
}

/// Issues an untaxed invoice of `amount` due 30 days after `invoice_date`.
async fn invoice(app: &TestApp, b: &Books, amount: &str, invoice_date: Date) -> Value {
    app.issued_invoice(&b.account, &b.code, amount, invoice_date)
        .await
}

/// The worked example's invoices: A 1,000.00, B 500.00 and C 250.00, due 52, 38 and 21 days
/// ago (in that order).
async fn worked_example(app: &TestApp, b: &Books) -> [Value; 3] {
    let due = |days: i64| today() - Duration::days(days) - Duration::days(30);
    [
        invoice(app, b, "1000.00", due(52)).await,
        invoice(app, b, "500.00", due(38)).await,
        invoice(app, b, "250.00", due(21)).await,
    ]
}

async fn pay(app: &TestApp, b: &Books, extra: Value) -> Reply {
    let mut body = json!({"account_id": b.account, "amount": "100.00", "currency": "USD",
        "method": "check", "reference": "10442", "received_date": today().to_string()});
    merge(&mut body, extra);
    app.post("/v1/payments", &billing(), &body).await
}

async fn get_invoice(app: &TestApp, invoice: &Value) -> Value {
    app.get(&format!("/v1/invoices/{}", id(invoice)), &billing())
        .await
        .expect(200)
        .body
}

/// Applications of a payment view as (invoice number, amount, reversed).
fn applications(payment: &Value) -> Vec<(String, String, bool)> {
    payment["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["invoice_number"].as_str().unwrap().to_string(),
                a["amount"].as_str().unwrap().to_string(),
                a["reversed"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn number(v: &Value) -> String {
    v["number"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn auto_application_pays_oldest_due_first_and_a_return_restores_every_balance() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let [a, bb, c] = worked_example(&app, &b).await;
    let payment = pay(
        &app,
        &b,
        json!({"amount": "1600.00", "application_mode": "auto"}),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(
        applications(&payment),
        vec![
            (number(&a), "1000.00".into(), false),
            (number(&bb), "500.00".into(), false),
            (number(&c), "100.00".into(), false),
        ]
    );
    assert_eq!(payment["status"], "applied");
    assert_eq!(payment["applied"], "1600.00");
    assert_eq!(payment["unapplied"], "0.00");
    assert!(payment["number"].as_str().unwrap().starts_with("PMT-"));
    let read_back = app
        .get(&format!("/v1/payments/{}", id(&payment)), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(read_back, payment, "the answer is what was written");
    let c_now = get_invoice(&app, &c).await;
    assert_eq!(c_now["balance_due"], "150.00");
    assert_eq!(c_now["status"], "open");
    assert_eq!(c_now["payments"][0]["amount"], "100.00");
    assert_eq!(c_now["payments"][0]["payment_number"], payment["number"]);
    let a_now = get_invoice(&app, &a).await;
    assert_eq!(
        (&a_now["status"], &a_now["balance_due"]),
        (&json!("paid"), &json!("0.00"))
    );
    assert_eq!(a_now["amount_paid"], "1000.00");
    assert_books_balance(&app).await;
    // Six entries for three applications, one for the receipt.
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE document_id = '{}'",
            id(&payment)
        ))
        .await,
        7
    );

    let returned = app
        .post(
            &format!("/v1/payments/{}/return", id(&payment)),
            &billing(),
            &json!({"reason": "ach_return", "return_code": "R01"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(returned["status"], "returned");
    assert_eq!(returned["return"]["reason"], "ach_return");
    assert_eq!(returned["return"]["code"], "R01");
    assert_eq!(returned["applied"], "0.00");
    assert_eq!(returned["unapplied"], "0.00");
    assert!(applications(&returned)
        .iter()
        .all(|(_, _, reversed)| *reversed));
    for (inv, balance) in [(&a, "1000.00"), (&bb, "500.00"), (&c, "250.00")] {
        let now = get_invoice(&app, inv).await;
        assert_eq!(now["balance_due"], balance);
        assert_eq!(now["status"], "open");
    }
    let account = app
        .get(&format!("/v1/accounts/{}", b.account), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(account["balance"]["balance"], "1750.00");
    assert_eq!(account["balance"]["unapplied_cash"], "0.00");
    assert_eq!(account["payment_history"]["returned_payments"], 1);
    assert_eq!(account["payment_history"]["returned_last_12_months"], 1);
    assert_books_balance(&app).await;
    // A returned payment is not applied, refunded or returned again.
    app.post(
        &format!("/v1/payments/{}/applications", id(&payment)),
        &billing(),
        &json!({"invoice_id": id(&a), "amount": "1.00"}),
    )
    .await
    .expect_problem(409, "payment_returned");
    app.post(
        &format!("/v1/payments/{}/refunds", id(&payment)),
        &billing(),
        &json!({"amount": "1.00", "method": "check"}),
    )
    .await
    .expect_problem(409, "payment_returned");
    app.post(
        &format!("/v1/payments/{}/return", id(&payment)),
        &billing(),
        &json!({"reason": "nsf"}),
    )
    .await
    .expect_problem(409, "payment_returned");
    assert_eq!(
        app.count("audit_events WHERE action = 'payment.returned'")
            .await,
        1
    );
}

#[tokio::test]
async fn auto_application_skips_disputed_amounts_and_keeps_the_rest_unapplied() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let [a, bb, c] = worked_example(&app, &b).await;
    app.open_dispute_on(&bb, "200.00").await;
    let payment = pay(&app, &b, json!({"amount": "1600.00"}))
        .await
        .expect(201)
        .body;
    assert_eq!(payment["application_mode"], "auto");
    assert_eq!(
        applications(&payment),
        vec![
            (number(&a), "1000.00".into(), false),
            (number(&bb), "300.00".into(), false),
            (number(&c), "250.00".into(), false),
        ]
    );
    assert_eq!(payment["status"], "partially_applied");
    assert_eq!(payment["unapplied"], "50.00");
    let account = app
        .get(&format!("/v1/accounts/{}", b.account), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(account["balance"]["unapplied_cash"], "50.00");
    assert_eq!(account["balance"]["open_balance"], "200.00");
    assert_eq!(account["balance"]["balance"], "150.00");
    let statement = app
        .get(&format!("/v1/accounts/{}/statement", b.account), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(statement["unapplied"], "50.00");
    assert_eq!(statement["closing_balance"], "150.00");
    assert!(statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["document"] == payment["number"] && l["kind"] == "payment_received"));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_short_remittance_line_leaves_a_deduction_with_its_reason() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let [a, bb, _] = worked_example(&app, &b).await;
    let payment = pay(
        &app,
        &b,
        json!({"amount": "1450.00", "remittance": [
            {"invoice_number": number(&a), "amount": "950.00", "deduction_reason": "pricing"},
            {"invoice_id": id(&bb), "amount": "500.00"}]}),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(payment["application_mode"], "remittance");
    assert_eq!(payment["status"], "applied");
    assert_eq!(payment["deductions"].as_array().unwrap().len(), 1);
    let deduction = &payment["deductions"][0];
    assert_eq!(deduction["invoice_id"], a["id"]);
    assert_eq!(deduction["amount"], "50.00");
    assert_eq!(deduction["reason"], "pricing");
    assert_eq!(deduction["status"], "open");
    // The answer is made from what was written; read back, the payment is the same.
    let read_back = app
        .get(&format!("/v1/payments/{}", id(&payment)), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(read_back, payment);
    let a_now = get_invoice(&app, &a).await;
    assert_eq!(a_now["balance_due"], "50.00");
    assert_eq!(a_now["deductions"][0]["id"], deduction["id"]);
    let listed = app
        .get(
            &format!("/v1/deductions?account_id={}&status=open", b.account),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    // 50.00 is above the 5.00 tolerance.
    let write_off = app.financial_code("6900", "write_off").await;
    app.post(
        &format!("/v1/deductions/{}/write-off", id(deduction)),
        &billing(),
        &json!({"financial_code_id": write_off}),
    )
    .await
    .expect_problem(409, "above_tolerance");
    // Paying the rest later settles the deduction.
    pay(
        &app,
        &b,
        json!({"amount": "50.00", "remittance": [{"invoice_id": id(&a), "amount": "50.00"}]}),
    )
    .await
    .expect(201);
    let settled = app
        .get(&format!("/v1/deductions/{}", id(deduction)), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(settled["status"], "paid");
    assert_eq!(get_invoice(&app, &a).await["status"], "paid");
    assert_books_balance(&app).await;
}

/// An invoice keeps one open deduction: later short payments bring it down, the payment that
/// pays the invoice off settles it, and its return reopens it.
#[tokio::test]
async fn an_invoice_keeps_one_deduction_that_follows_what_it_is_short() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "100.00", today() - Duration::days(10)).await;
    let remit = |amount: &str, reason: Option<&str>| {
        let mut line = json!({"invoice_id": id(&inv), "amount": amount});
        if let Some(r) = reason {
            line["deduction_reason"] = json!(r);
        }
        json!({"amount": amount, "remittance": [line]})
    };
    let first = pay(&app, &b, remit("90.00", Some("pricing")))
        .await
        .expect(201)
        .body;
    let deduction = id(&first["deductions"][0]);
    pay(&app, &b, remit("4.00", None)).await.expect(201);
    let open = app
        .get(
            &format!("/v1/deductions?invoice_id={}", id(&inv)),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(open["data"].as_array().unwrap().len(), 1);
    assert_eq!(open["data"][0]["id"], json!(deduction));
    assert_eq!(open["data"][0]["amount"], "6.00");
    assert_eq!(open["data"][0]["reason"], "pricing");
    let last = pay(&app, &b, remit("6.00", None)).await.expect(201).body;
    let path = format!("/v1/deductions/{deduction}");
    assert_eq!(
        app.get(&path, &billing()).await.expect(200).body["status"],
        "paid"
    );
    app.post(
        &format!("/v1/payments/{}/return", id(&last)),
        &billing(),
        &json!({"reason": "nsf"}),
    )
    .await
    .expect(200);
    let reopened = app.get(&path, &billing()).await.expect(200).body;
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["amount"], "6.00");
    assert_eq!(get_invoice(&app, &inv).await["balance_due"], "6.00");
    assert_books_balance(&app).await;
}

/// The disputed part of an invoice is not paid by hand either, and refunds and returns are
/// not dated before what they undo.
#[tokio::test]
async fn disputed_parts_wait_and_dates_follow_the_movements() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "500.00", today() - Duration::days(20)).await;
    app.open_dispute_on(&inv, "200.00").await;
    let week_ago = (today() - Duration::days(7)).to_string();
    let payment = pay(
        &app,
        &b,
        json!({"amount": "500.00", "application_mode": "none", "received_date": week_ago}),
    )
    .await
    .expect(201)
    .body;
    let path = format!("/v1/payments/{}/applications", id(&payment));
    let reply = app
        .post(
            &path,
            &billing(),
            &json!({"invoice_id": id(&inv), "amount": "300.01"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.body["errors"][0]["code"], "disputed");
    let applied = app
        .post(
            &path,
            &billing(),
            &json!({"invoice_id": id(&inv), "amount": "300.00"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(
        applied["applications"][0]["applied_on"],
        today().to_string()
    );
    // The application is dated today: a refund or return dated before it is refused.
    let yesterday = (today() - Duration::days(1)).to_string();
    let reply = app
        .post(
            &format!("/v1/payments/{}/refunds", id(&payment)),
            &billing(),
            &json!({"amount": "10.00", "method": "check", "refunded_on": yesterday}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "refunded_on");
    let reply = app
        .post(
            &format!("/v1/payments/{}/return", id(&payment)),
            &billing(),
            &json!({"reason": "nsf", "returned_on": yesterday}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "returned_on");
    let huge = pay(&app, &b, json!({"amount": "50000000000000000000000000000"}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(huge.error_field(), "amount");
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_small_deduction_is_written_off_within_tolerance_by_an_allowed_role() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "1000.00", today() - Duration::days(10)).await;
    let payment = pay(
        &app,
        &b,
        json!({"amount": "997.00", "remittance": [{"invoice_id": id(&inv), "amount": "997.00", "deduction_reason": "damaged"}]}),
    )
    .await
    .expect(201)
    .body;
    let deduction = id(&payment["deductions"][0]);
    assert_eq!(payment["deductions"][0]["amount"], "3.00");
    let write_off = app.financial_code("6900", "write_off").await;
    let revenue = b.code.clone();
    let path = format!("/v1/deductions/{deduction}/write-off");
    app.post(
        &path,
        &token(Role::Viewer),
        &json!({"financial_code_id": write_off}),
    )
    .await
    .expect_problem(403, "forbidden");
    let wrong = app
        .post(&path, &billing(), &json!({"financial_code_id": revenue}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(wrong.error_field(), "financial_code_id");
    assert_eq!(wrong.body["errors"][0]["code"], "wrong_kind");
    let done = app
        .post(
            &path,
            &token(Role::Collections),
            &json!({"financial_code_id": write_off, "note": "Dented panel, goodwill"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(done["status"], "written_off");
    assert!(done["adjustment_id"].is_string());
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["status"], "paid");
    assert_eq!(now["amount_written_off"], "3.00");
    assert_eq!(now["balance_due"], "0.00");
    assert_eq!(
        app.count(&format!(
            "adjustments WHERE kind = 'small_balance_write_off' AND amount = 3 AND financial_code_id = '{write_off}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("ledger_entries WHERE kind = 'write_off' AND amount = -3 AND document_type = 'adjustment'")
            .await,
        1
    );
    app.post(&path, &billing(), &json!({"financial_code_id": write_off}))
        .await
        .expect_problem(409, "deduction_not_open");
    assert_eq!(
        app.count("audit_events WHERE action = 'deduction.written_off'")
            .await,
        1
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn manual_applications_are_checked_and_reversals_keep_the_history() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "80.00", today() - Duration::days(5)).await;
    let other = Books {
        account: id(&app.create_account(json!({})).await),
        code: b.code.clone(),
    };
    let foreign = invoice(&app, &other, "10.00", today()).await;
    let void = invoice(&app, &b, "10.00", today()).await;
    app.post(
        &format!("/v1/invoices/{}/void", id(&void)),
        &billing(),
        &json!({"reason": "wrong account"}),
    )
    .await
    .expect(200);
    let draft = app
        .post(
            "/v1/invoices",
            &billing(),
            &json!({"account_id": b.account, "lines": [{"description": "x", "quantity": "1",
                "unit_price": "5.00", "financial_code_id": b.code}]}),
        )
        .await
        .expect(201)
        .body;
    let payment = pay(
        &app,
        &b,
        json!({"amount": "100.00", "application_mode": "none"}),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(payment["status"], "unapplied");
    assert_eq!(payment["unapplied"], "100.00");
    let path = format!("/v1/payments/{}/applications", id(&payment));
    let refused = [
        (
            json!({"invoice_id": id(&foreign), "amount": "1.00"}),
            "invoice_id",
            "other_account",
        ),
        (
            json!({"invoice_id": id(&void), "amount": "1.00"}),
            "invoice_id",
            "void",
        ),
        (
            json!({"invoice_id": id(&draft), "amount": "1.00"}),
            "invoice_id",
            "not_issued",
        ),
        (
            json!({"invoice_id": id(&inv), "amount": "80.01"}),
            "amount",
            "exceeds_balance",
        ),
        (
            json!({"invoice_id": id(&inv), "amount": "0.00"}),
            "amount",
            "out_of_range",
        ),
        (
            json!({"invoice_id": id(&inv), "amount": "1.001"}),
            "amount",
            "too_many_decimals",
        ),
        (
            json!({"invoice_number": "INV-1999-000001", "amount": "1.00"}),
            "invoice_number",
            "unknown",
        ),
        (json!({"amount": "1.00"}), "invoice_id", "one_of"),
    ];
    for (body, field, code) in refused {
        let reply = app
            .post(&path, &billing(), &body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{body}");
        assert_eq!(reply.body["errors"][0]["code"], code, "{body}");
    }
    let applied = app
        .post(
            &path,
            &billing(),
            &json!({"invoice_number": number(&inv), "amount": "80.00"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(applied["status"], "partially_applied");
    assert_eq!(applied["unapplied"], "20.00");
    assert_eq!(applied["applications"][0]["source"], "manual");
    assert_eq!(get_invoice(&app, &inv).await["status"], "paid");
    // Only 20.00 is left on the payment.
    let second = invoice(&app, &b, "50.00", today()).await;
    let reply = app
        .post(
            &path,
            &billing(),
            &json!({"invoice_id": id(&second), "amount": "20.01"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.body["errors"][0]["code"], "exceeds_unapplied");
    app.post(
        &path,
        &token(Role::Viewer),
        &json!({"invoice_id": id(&second), "amount": "1.00"}),
    )
    .await
    .expect_problem(403, "forbidden");

    let application = id(&applied["applications"][0]);
    let reverse = format!(
        "/v1/payments/{}/applications/{application}/reverse",
        id(&payment)
    );
    app.post(&reverse, &billing(), &json!({"reason": " "}))
        .await
        .expect_problem(422, "validation_failed");
    let reversed = app
        .post(
            &reverse,
            &billing(),
            &json!({"reason": "Applied to the wrong invoice"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(reversed["status"], "unapplied");
    assert_eq!(reversed["unapplied"], "100.00");
    let history = &reversed["applications"][0];
    assert_eq!(history["reversed"], true);
    assert_eq!(history["reversal_reason"], "Applied to the wrong invoice");
    assert_eq!(history["reversed_by"], "billing-user");
    let inv_now = get_invoice(&app, &inv).await;
    assert_eq!(
        (&inv_now["status"], &inv_now["balance_due"]),
        (&json!("open"), &json!("80.00"))
    );
    assert_eq!(inv_now["payments"][0]["reversed"], true);
    app.post(&reverse, &billing(), &json!({"reason": "again"}))
        .await
        .expect_problem(409, "application_reversed");
    app.post(
        &format!(
            "/v1/payments/{}/applications/{}/reverse",
            id(&payment),
            id(&payment)
        ),
        &billing(),
        &json!({"reason": "x"}),
    )
    .await
    .expect_problem(404, "not_found");
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_id = '{}' AND action IN ('payment.received', 'payment.applied', 'payment.application_reversed')",
            id(&payment)
        ))
        .await,
        3
    );
    assert_eq!(
        app.count("ledger_entries WHERE kind = 'payment_reversal'")
            .await,
        2
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn overpayments_stay_unapplied_and_refunds_never_exceed_them() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "250.00", today() - Duration::days(3)).await;
    let payment = pay(&app, &b, json!({"amount": "300.00", "method": "wire"}))
        .await
        .expect(201)
        .body;
    assert_eq!(payment["unapplied"], "50.00");
    let path = format!("/v1/payments/{}/refunds", id(&payment));
    let too_much = app
        .post(
            &path,
            &billing(),
            &json!({"amount": "50.01", "method": "check"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(too_much.body["errors"][0]["code"], "exceeds_unapplied");
    app.post(
        &path,
        &token(Role::Collections),
        &json!({"amount": "10.00", "method": "check"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let future = (today() + Duration::days(1)).to_string();
    let reply = app
        .post(
            &path,
            &billing(),
            &json!({"amount": "10.00", "method": "check", "refunded_on": future}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "refunded_on");
    let refunded = app
        .post(
            &path,
            &billing(),
            &json!({"amount": "50.00", "method": "check", "reference": "CHK-7781", "reason": "Overpaid"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(refunded["refunded"], "50.00");
    assert_eq!(refunded["unapplied"], "0.00");
    assert_eq!(refunded["status"], "applied");
    assert_eq!(refunded["refunds"][0]["reference"], "CHK-7781");
    assert_eq!(get_invoice(&app, &inv).await["status"], "paid");
    let account = app
        .get(&format!("/v1/accounts/{}", b.account), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(account["balance"]["balance"], "0.00");
    assert_eq!(account["balance"]["unapplied_cash"], "0.00");
    assert_eq!(
        app.count("ledger_entries WHERE kind = 'refund' AND amount = 50")
            .await,
        1
    );
    // A payment with a refund cannot be returned: the refund would be left owed.
    app.post(
        &format!("/v1/payments/{}/return", id(&payment)),
        &billing(),
        &json!({"reason": "chargeback"}),
    )
    .await
    .expect_problem(409, "payment_refunded");
    // A fully refunded payment.
    let all_back = pay(
        &app,
        &b,
        json!({"amount": "20.00", "application_mode": "none"}),
    )
    .await
    .expect(201)
    .body;
    let back = app
        .post(
            &format!("/v1/payments/{}/refunds", id(&all_back)),
            &billing(),
            &json!({"amount": "20.00", "method": "ach"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(back["status"], "refunded");
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_returned_payment_can_bill_the_configured_fee() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "400.00", today() - Duration::days(40)).await;
    let payment = pay(&app, &b, json!({"amount": "400.00", "method": "ach"}))
        .await
        .expect(201)
        .body;
    let path = format!("/v1/payments/{}/return", id(&payment));
    // The fee's code does not exist yet: refused, nothing changes.
    let reply = app
        .post(
            &path,
            &billing(),
            &json!({"reason": "nsf", "charge_fee": true}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "charge_fee");
    assert_eq!(get_invoice(&app, &inv).await["status"], "paid");
    let future = (today() + Duration::days(1)).to_string();
    let reply = app
        .post(
            &path,
            &billing(),
            &json!({"reason": "nsf", "returned_on": future}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "returned_on");
    app.post(&path, &billing(), &json!({"reason": "bounced"}))
        .await
        .expect_problem(422, "validation_failed");
    app.financial_code(RETURNED_FEE_CODE, "fee").await;
    let returned = app
        .post_with_key(
            &path,
            &billing(),
            "return-1",
            &json!({"reason": "nsf", "charge_fee": true, "note": "Bank letter 11/21"}),
        )
        .await
        .expect(200)
        .body;
    let replay = app
        .post_with_key(
            &path,
            &billing(),
            "return-1",
            &json!({"reason": "nsf", "charge_fee": true, "note": "Bank letter 11/21"}),
        )
        .await
        .expect(200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, returned);
    let fee_id = returned["return"]["fee_invoice_id"].as_str().unwrap();
    let fee = app
        .get(&format!("/v1/invoices/{fee_id}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(fee["status"], "open");
    assert_eq!(fee["total"], "25.00");
    assert_eq!(fee["tax_total"], "0.00");
    assert!(fee["lines"][0]["description"]
        .as_str()
        .unwrap()
        .contains(payment["number"].as_str().unwrap()));
    let inv_now = get_invoice(&app, &inv).await;
    assert_eq!(
        (&inv_now["status"], &inv_now["balance_due"]),
        (&json!("open"), &json!("400.00"))
    );
    let account = app
        .get(&format!("/v1/accounts/{}", b.account), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(account["balance"]["balance"], "425.00");
    assert_eq!(account["payment_history"]["returned_payments"], 1);
    assert_eq!(
        account["payment_history"]["last_returned_on"],
        today().to_string()
    );
    let activity = app
        .get(
            &format!("/v1/accounts/{}/activity?kind=payment", b.account),
            &admin_token(),
        )
        .await
        .expect(200)
        .body;
    assert!(activity["data"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("returned (nsf)"));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn bad_payments_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "100.00", today()).await;
    let tomorrow = (today() + Duration::days(1)).to_string();
    let cases = [
        (json!({"amount": "0"}), "amount", "out_of_range"),
        (json!({"amount": "10.001"}), "amount", "too_many_decimals"),
        (json!({"currency": "EUR"}), "currency", "currency_mismatch"),
        (json!({"currency": "XXX"}), "currency", "invalid"),
        (
            json!({"received_date": tomorrow}),
            "received_date",
            "in_future",
        ),
        (
            json!({"account_id": "0192f1d2-0000-7000-8000-000000000999"}),
            "account_id",
            "unknown",
        ),
        (
            json!({"application_mode": "remittance"}),
            "remittance",
            "required",
        ),
        (json!({"remittance": []}), "remittance", "out_of_range"),
        (
            json!({"application_mode": "auto", "remittance": [{"invoice_id": id(&inv), "amount": "1.00"}]}),
            "application_mode",
            "conflicts_with_remittance",
        ),
        (
            json!({"amount": "100.00", "remittance": [{"invoice_id": id(&inv), "amount": "100.01"}]}),
            "remittance",
            "exceeds_amount",
        ),
        (
            json!({"amount": "200.00", "remittance": [{"invoice_id": id(&inv), "amount": "100.01"}]}),
            "remittance[0].amount",
            "exceeds_balance",
        ),
        (
            json!({"remittance": [{"invoice_id": id(&inv), "amount": "1.00"}, {"invoice_number": number(&inv), "amount": "1.00"}]}),
            "remittance[1].invoice_number",
            "duplicate",
        ),
        (
            json!({"remittance": [{"invoice_number": "INV-1999-000001", "amount": "1.00"}]}),
            "remittance[0].invoice_number",
            "unknown",
        ),
        (
            json!({"remittance": [{"invoice_id": id(&inv), "amount": "100.00", "deduction_reason": "pricing"}], "amount": "100.00"}),
            "remittance[0].deduction_reason",
            "nothing_deducted",
        ),
    ];
    for (extra, field, code) in cases {
        let reply = pay(&app, &b, extra.clone())
            .await
            .expect_problem(422, "validation_failed");
        assert!(
            reply.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{extra}: {}",
            reply.body
        );
    }
    for (extra, field) in [
        (json!({"method": "bitcoin"}), "method"),
        (json!({"surprise": true}), "surprise"),
        (json!({"amount": 10.5}), "amount"),
    ] {
        let reply = pay(&app, &b, extra)
            .await
            .expect_problem(422, "validation_failed");
        assert!(reply.body.to_string().contains(field), "{}", reply.body);
    }
    let valid = json!({"account_id": b.account, "amount": "1.00", "currency": "USD",
        "method": "cash", "received_date": today().to_string()});
    app.post("/v1/payments", &token(Role::Viewer), &valid)
        .await
        .expect_problem(403, "forbidden");
    app.post("/v1/payments", &partner_token(uuid::Uuid::now_v7()), &valid)
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(app.count("payments").await, 0);
    assert_eq!(
        app.count("ledger_entries WHERE document_type = 'payment'")
            .await,
        0
    );
    assert_eq!(get_invoice(&app, &inv).await["balance_due"], "100.00");
}

#[tokio::test]
async fn payments_are_listed_with_filters_and_pages() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let other = id(&app.create_account(json!({})).await);
    let week_ago = (today() - Duration::days(7)).to_string();
    let first = pay(&app, &b, json!({"method": "ach", "reference": "TRACE-0001", "received_date": week_ago, "application_mode": "none"}))
        .await
        .expect(201)
        .body;
    let second = pay(
        &app,
        &b,
        json!({"method": "check", "reference": "10442", "application_mode": "none"}),
    )
    .await
    .expect(201)
    .body;
    let third = app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": other, "amount": "5.00", "currency": "USD", "method": "wire",
                "received_date": today().to_string()}),
        )
        .await
        .expect(201)
        .body;
    let ids = |reply: Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect()
    };
    let viewer = token(Role::Viewer);
    assert_eq!(
        ids(app.get("/v1/payments", &viewer).await.expect(200)),
        vec![id(&third), id(&second), id(&first)]
    );
    assert_eq!(
        ids(app
            .get(&format!("/v1/payments?account_id={}", b.account), &viewer)
            .await
            .expect(200)),
        vec![id(&second), id(&first)]
    );
    assert_eq!(
        ids(app
            .get("/v1/payments?method=ach", &viewer)
            .await
            .expect(200)),
        vec![id(&first)]
    );
    assert_eq!(
        ids(app
            .get("/v1/payments?reference=trace-", &viewer)
            .await
            .expect(200)),
        vec![id(&first)]
    );
    assert_eq!(
        ids(app
            .get(&format!("/v1/payments?received_to={week_ago}"), &viewer)
            .await
            .expect(200)),
        vec![id(&first)]
    );
    assert_eq!(
        ids(app
            .get(&format!("/v1/payments?received_from={}", today()), &viewer)
            .await
            .expect(200)),
        vec![id(&third), id(&second)]
    );
    assert_eq!(
        ids(app
            .get("/v1/payments?status=unapplied", &viewer)
            .await
            .expect(200))
        .len(),
        3
    );
    assert_eq!(
        ids(app
            .get("/v1/payments?status=applied", &viewer)
            .await
            .expect(200)),
        Vec::<String>::new()
    );
    let page = app
        .get("/v1/payments?limit=2", &viewer)
        .await
        .expect(200)
        .body;
    assert_eq!(page["has_more"], true);
    let rest = app
        .get(
            &format!(
                "/v1/payments?limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &viewer,
        )
        .await
        .expect(200);
    assert_eq!(ids(rest), vec![id(&first)]);
    app.get("/v1/payments?status=lost", &viewer)
        .await
        .expect(400);
    app.get(&format!("/v1/payments/{}", id(&first)), &viewer)
        .await
        .expect(200);
    app.get(&format!("/v1/payments/{}", b.account), &viewer)
        .await
        .expect_problem(404, "not_found");
    app.get("/v1/payments", &partner_token(uuid::Uuid::now_v7()))
        .await
        .expect_problem(403, "forbidden");
}

/// 50 applications of 50.00 from five payments race for one invoice of 1,000.00: exactly 20
/// win, the rest are refused, and no balance or payment goes below zero.
#[tokio::test]
async fn parallel_applications_never_overdraw_an_invoice() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "1000.00", today()).await;
    let mut payments = Vec::new();
    for _ in 0..5 {
        payments.push(id(&pay(
            &app,
            &b,
            json!({"amount": "500.00", "application_mode": "none"}),
        )
        .await
        .expect(201)
        .body));
    }
    let token = billing();
    let body = json!({"invoice_id": id(&inv), "amount": "50.00"});
    let paths: Vec<String> = (0..50)
        .map(|k| format!("/v1/payments/{}/applications", payments[k % 5]))
        .collect();
    let replies = join_all(paths.iter().map(|p| app.post(p, &token, &body))).await;
    let won = replies.iter().filter(|r| r.status == 201).count();
    let lost = replies
        .iter()
        .filter(|r| r.status == 409 || r.status == 422)
        .count();
    assert_eq!(won, 20);
    assert_eq!(lost, 30, "every other request is refused, none fails");
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["balance_due"], "0.00");
    assert_eq!(now["amount_paid"], "1000.00");
    assert_eq!(now["status"], "paid");
    assert_eq!(
        app.value("SELECT sum(amount_applied) FROM payments").await,
        "1000.00"
    );
    assert_books_balance(&app).await;
}

/// Twenty copies of one payment with one key, sent at once, record one payment.
#[tokio::test]
async fn one_idempotency_key_sent_twenty_times_at_once_records_one_payment() {
    let app = spawn_app().await;
    let b = books(&app).await;
    invoice(&app, &b, "300.00", today()).await;
    let body = json!({"account_id": b.account, "amount": "120.00", "currency": "USD",
        "method": "lockbox", "reference": "LBX-1", "received_date": today().to_string()});
    let token = billing();
    let replies = join_all(
        (0..20).map(|_| app.post_with_key("/v1/payments", &token, "lockbox-batch-7-item-3", &body)),
    )
    .await;
    assert!(replies.iter().all(|r| r.status == 201), "all succeed");
    let first = &replies[0].body;
    assert!(replies.iter().all(|r| r.body == *first));
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.count("payment_applications").await, 1);
    assert_eq!(
        app.count("ledger_entries WHERE kind = 'payment_received'")
            .await,
        1
    );
    // The same key with another body is refused.
    let mut other = body.clone();
    other["amount"] = json!("121.00");
    app.post_with_key("/v1/payments", &token, "lockbox-batch-7-item-3", &other)
        .await
        .expect_problem(422, "idempotency_key_reused");
    assert_books_balance(&app).await;
}

/// A small deterministic generator, so a failing sequence can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn amount(&mut self, max_cents: u64) -> String {
        let cents = self.below(max_cents) + 1;
        format!("{}.{:02}", cents / 100, cents % 100)
    }
}

/// Random sequences of issue, pay, apply, unapply, refund, return, credit memos (issued,
/// applied), small-balance write-offs and disputes (opened, withdrawn) keep the books balanced
/// after every step.
#[tokio::test]
async fn random_sequences_keep_every_balance_exact() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let token = billing();
    let credit_code = app.financial_code("4900", "credit").await;
    let write_off_code = app.financial_code("6900", "write_off").await;
    // Successful steps by action: each kind must have happened for the run to mean anything.
    let mut done = [0usize; 9];
    for seed in [0x2545_F491_4F6C_DD1D_u64, 0x9E37_79B9_7F4A_7C15] {
        let mut rng = Rng(seed);
        let mut invoices: Vec<String> = Vec::new();
        let mut payments: Vec<String> = Vec::new();
        let mut memos: Vec<String> = Vec::new();
        let mut disputes: Vec<String> = Vec::new();
        for step in 0..60 {
            let pick =
                |rng: &mut Rng, v: &Vec<String>| v[rng.below(v.len() as u64) as usize].clone();
            let action = rng.below(9);
            let reply = match action {
                0 => {
                    let inv = invoice(
                        &app,
                        &b,
                        &rng.amount(50_000),
                        today() - Duration::days(rng.below(60) as i64),
                    )
                    .await;
                    invoices.push(id(&inv));
                    done[0] += 1;
                    continue;
                }
                1 => {
                    let body = match rng.below(3) {
                        0 if !invoices.is_empty() => {
                            let amount = rng.amount(30_000);
                            json!({"amount": amount, "remittance": [{"invoice_id": pick(&mut rng, &invoices), "amount": amount}]})
                        }
                        1 => json!({"amount": rng.amount(60_000), "application_mode": "none"}),
                        _ => json!({"amount": rng.amount(60_000), "application_mode": "auto"}),
                    };
                    let reply = pay(&app, &b, body).await;
                    if reply.status == 201 {
                        payments.push(id(&reply.body));
                    }
                    reply
                }
                2 if !payments.is_empty() && !invoices.is_empty() => {
                    let path = format!("/v1/payments/{}/applications", pick(&mut rng, &payments));
                    let body = json!({"invoice_id": pick(&mut rng, &invoices), "amount": rng.amount(10_000)});
                    app.post(&path, &token, &body).await
                }
                3 if !payments.is_empty() => {
                    let payment = pick(&mut rng, &payments);
                    let view = app
                        .get(&format!("/v1/payments/{payment}"), &token)
                        .await
                        .expect(200)
                        .body;
                    let live: Vec<String> = view["applications"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|a| a["reversed"] == false)
                        .map(id)
                        .collect();
                    if live.is_empty() {
                        continue;
                    }
                    let path = format!(
                        "/v1/payments/{payment}/applications/{}/reverse",
                        pick(&mut rng, &live)
                    );
                    app.post(&path, &token, &json!({"reason": "test"})).await
                }
                4 if !payments.is_empty() => {
                    let path = format!("/v1/payments/{}/refunds", pick(&mut rng, &payments));
                    app.post(
                        &path,
                        &token,
                        &json!({"amount": rng.amount(20_000), "method": "check"}),
                    )
                    .await
                }
                5 if !payments.is_empty() => {
                    let path = format!("/v1/payments/{}/return", pick(&mut rng, &payments));
                    app.post(&path, &token, &json!({"reason": "nsf"})).await
                }
                6 => {
                    // A credit memo left on account (admin: no approval), or applied.
                    if memos.is_empty() || rng.below(2) == 0 {
                        let draft = app
                            .post(
                                "/v1/credit-memos",
                                &admin_token(),
                                &json!({"account_id": b.account, "reason": "goodwill",
                                    "financial_code_id": credit_code, "amount": rng.amount(20_000)}),
                            )
                            .await
                            .expect(201)
                            .body;
                        let reply = app
                            .post(
                                &format!("/v1/credit-memos/{}/issue", id(&draft)),
                                &admin_token(),
                                &Value::Null,
                            )
                            .await;
                        memos.push(id(&draft));
                        reply
                    } else if invoices.is_empty() {
                        continue;
                    } else {
                        let path =
                            format!("/v1/credit-memos/{}/applications", pick(&mut rng, &memos));
                        let body = json!({"invoice_id": pick(&mut rng, &invoices), "amount": rng.amount(10_000)});
                        app.post(&path, &token, &body).await
                    }
                }
                7 => {
                    // A small invoice written off whole (sometimes paid or credited first).
                    let small = invoice(&app, &b, &rng.amount(500), today()).await;
                    invoices.push(id(&small));
                    let body = json!({"kind": "small_balance_write_off", "invoice_id": id(&small),
                        "financial_code_id": write_off_code, "reason": "test"});
                    app.post("/v1/adjustments", &token, &body).await
                }
                8 if !invoices.is_empty() => {
                    // Open a dispute, or withdraw one.
                    if disputes.is_empty() || rng.below(2) == 0 {
                        let body = json!({"invoice_id": pick(&mut rng, &invoices), "amount": rng.amount(20_000),
                            "reason": "pricing", "description": "test"});
                        let reply = app.post("/v1/disputes", &token, &body).await;
                        if reply.status == 201 {
                            disputes.push(id(&reply.body));
                        }
                        reply
                    } else {
                        let path = format!("/v1/disputes/{}/withdraw", pick(&mut rng, &disputes));
                        app.post(&path, &token, &Value::Null).await
                    }
                }
                _ => continue,
            };
            assert!(
                [200, 201, 409, 422].contains(&reply.status),
                "seed {seed:x} step {step} action {action}: {} {}",
                reply.status,
                reply.body
            );
            if reply.status < 300 {
                done[action as usize] += 1;
            }
            assert_books_balance(&app).await;
            // Each payment's unapplied amount, as the API shows it, is its amount less its
            // live applications and refunds, as listed.
            for payment in &payments {
                let p = app
                    .get(&format!("/v1/payments/{payment}"), &token)
                    .await
                    .expect(200)
                    .body;
                let dec = |v: &Value| {
                    v.as_str()
                        .unwrap()
                        .parse::<rust_decimal::Decimal>()
                        .unwrap()
                };
                let sum = |list: &str, live: bool| -> rust_decimal::Decimal {
                    p[list]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|x| !live || x["reversed"] == false)
                        .map(|x| dec(&x["amount"]))
                        .sum()
                };
                let (applied, refunded) = (sum("applications", true), sum("refunds", false));
                assert_eq!(dec(&p["applied"]), applied);
                assert_eq!(dec(&p["refunded"]), refunded);
                let expected = if p["status"] == "returned" {
                    rust_decimal::Decimal::ZERO
                } else {
                    dec(&p["amount"]) - applied - refunded
                };
                assert_eq!(dec(&p["unapplied"]), expected);
                assert!(expected >= rust_decimal::Decimal::ZERO);
            }
        }
    }
    assert!(
        done.iter().all(|n| *n > 0),
        "steps done by action: {done:?}"
    );
}
