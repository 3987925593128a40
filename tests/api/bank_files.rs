//! Bank files over HTTP: BAI2, camt.053/054, NACHA returns and lockbox CSV imported into
//! payments matched by the rules (remittance, references, payer and amount), returns, the
//! suspense queue, the same file or transaction twice, refusals, and parallel imports.

use futures_util::future::join_all;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;

pub struct Books {
    pub account: String,
    pub code: String,
}

pub async fn books(app: &TestApp, number: &str, name: &str) -> Books {
    let account = app
        .create_account(json!({"number": number, "legal_name": name}))
        .await;
    Books {
        account: id(&account),
        code: app.financial_code("4000", "revenue").await,
    }
}

/// An issued invoice of `amount`, dated `days_ago` days before today; its number.
pub async fn invoice(app: &TestApp, b: &Books, amount: &str, days_ago: i64) -> (String, String) {
    let v = app
        .issued_invoice(
            &b.account,
            &b.code,
            amount,
            today() - Duration::days(days_ago),
        )
        .await;
    (id(&v), v["number"].as_str().unwrap().to_string())
}

pub async fn import(app: &TestApp, content_type: &str, query: &str, bytes: Vec<u8>) -> Reply {
    app.send(
        app.client
            .post(app.url(&format!("/v1/bank-files{query}")))
            .bearer_auth(billing())
            .header("content-type", content_type)
            .body(bytes),
    )
    .await
}

/// A BAI2 detail: type code, amount in cents, bank reference, customer reference, text (with
/// continuation records after `\n`).
pub struct Detail<'a>(pub u16, pub i64, pub &'a str, pub &'a str, pub &'a str);

fn yymmdd(date: time::Date) -> String {
    format!(
        "{:02}{:02}{:02}",
        date.year() % 100,
        u8::from(date.month()),
        date.day()
    )
}

/// A BAI2 file of one account, its trailers' totals and counts computed as a bank does.
pub fn bai2(file_id: &str, details: &[Detail]) -> String {
    let as_of = yymmdd(today() - Duration::days(1));
    let mut account = vec!["03,1234567890,USD,010,+100000,,/".to_string()];
    let mut total: i64 = 100_000;
    for Detail(code, amount, bank, customer, text) in details {
        let mut lines = text.split('\n');
        account.push(format!(
            "16,{code},{amount},0,{bank},{customer},{}/",
            lines.next().unwrap_or_default()
        ));
        account.extend(lines.map(|l| format!("88,{l}")));
        total += amount;
    }
    account.push(format!("49,+{total},{}/", account.len() + 1));
    let mut out = vec![
        format!(
            "01,BANKOFAMER,RECEIVABLES,{},0600,{file_id},80,1,2/",
            yymmdd(today())
        ),
        format!("02,RECEIVABLES,026009593,1,{as_of},2400,USD,2/"),
    ];
    let group_records = account.len() + 2;
    out.extend(account);
    out.push(format!("98,+{total},1,{group_records}/"));
    out.push(format!("99,+{total},1,{}/", group_records + 2));
    out.join("\n") + "\n"
}

fn transactions(app_reply: &Value) -> Vec<Value> {
    app_reply["data"].as_array().unwrap().clone()
}

async fn file_transactions(app: &TestApp, file: &Value) -> Vec<Value> {
    transactions(
        &app.get(
            &format!("/v1/bank-files/{}/transactions?limit=100", id(file)),
            &billing(),
        )
        .await
        .expect(200)
        .body,
    )
}

#[tokio::test]
async fn a_bai2_file_becomes_matched_payments_and_the_same_file_again_records_nothing() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7001", "Globex Corporation").await;
    let (a_id, a) = invoice(&app, &b, "1500.00", 40).await;
    let (b_id, bn) = invoice(&app, &b, "1000.00", 30).await;
    let (_, cn) = invoice(&app, &b, "250.00", 20).await;
    // The lockbox's customer reference is the invoice number typed without dashes.
    let typed = a.replace('-', "");
    let remit = format!("ORIG CO NAME:GLOBEX CORP ENTRY DESCR:PAYMENT\nRMR*IV*{bn}*PI*950.00\\");
    let file = bai2(
        "A1",
        &[
            Detail(115, 150_000, "LBX0001", &typed, "LOCKBOX DEPOSIT"),
            Detail(165, 95_000, "ACH0001", "", &remit),
            Detail(195, 7_777, "FW0001", "", "WIRE FROM INITECH"),
            Detail(354, 1_200, "INT0001", "", "INTEREST"),
        ],
    );
    let first = import(&app, "application/x-bai2", "", file.clone().into_bytes())
        .await
        .expect(201)
        .body;
    let r = &first["report"];
    assert_eq!(
        (
            r["transactions"].as_i64(),
            r["credits"].as_i64(),
            r["matched"].as_i64(),
            r["unidentified"].as_i64(),
            r["ignored"].as_i64()
        ),
        (Some(4), Some(3), Some(2), Some(1), Some(1))
    );
    assert_eq!(r["matched_share"], "0.6667");
    let rows = file_transactions(&app, &first).await;
    assert_eq!(rows[0]["rule"], "reference");
    assert_eq!(rows[0]["confidence"], "0.85");
    assert_eq!(rows[0]["raw"]["bank_reference"], "LBX0001");
    assert_eq!(rows[1]["rule"], "remittance");
    assert_eq!(rows[1]["confidence"], "1.00");
    assert_eq!(rows[2]["outcome"], "unidentified");
    assert_eq!(rows[3]["outcome"], "ignored");
    // The invoices paid, the short pay left as a deduction; cash recorded once each.
    assert_eq!(
        app.value(&format!(
            "SELECT status || ' ' || balance_due FROM invoices WHERE id = '{a_id}'"
        ))
        .await,
        "paid 0"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT balance_due::text FROM invoices WHERE id = '{b_id}'"
        ))
        .await,
        "50.00"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT reason || ' ' || amount FROM deductions WHERE invoice_id = '{b_id}' AND status = 'open'"
        ))
        .await,
        "other 50.00"
    );
    assert_eq!(
        app.value("SELECT string_agg(method || ' ' || amount || ' ' || reference || ' ' || status, ', ' ORDER BY reference) FROM payments")
            .await,
        "ach 950.00 ACH0001 applied, lockbox 1500.00 LBX0001 applied"
    );
    // The payer's name was learned from the remittance match.
    assert_eq!(
        app.value("SELECT kind || ' ' || value FROM payer_identities")
            .await,
        "name GLOBEX CORP"
    );
    // The same file again: its first import, nothing new.
    let again = import(&app, "application/x-bai2", "", file.into_bytes())
        .await
        .expect(200)
        .body;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.count("payments").await, 2);
    assert_eq!(app.count("bank_transactions").await, 4);
    assert_eq!(app.count("bank_files").await, 1);
    let _ = cn;
}

#[tokio::test]
async fn a_transaction_reported_again_in_a_later_file_records_its_cash_once() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7002", "Acme Manufacturing Inc.").await;
    let (_, a) = invoice(&app, &b, "300.00", 10).await;
    let (_, bn) = invoice(&app, &b, "200.00", 10).await;
    let intraday = bai2("I1", &[Detail(115, 30_000, "LBX0100", &a, "LOCKBOX")]);
    let day = bai2(
        "D1",
        &[
            Detail(115, 30_000, "LBX0100", &a, "LOCKBOX"),
            Detail(115, 20_000, "LBX0101", &bn, "LOCKBOX"),
        ],
    );
    import(&app, "application/x-bai2", "", intraday.into_bytes())
        .await
        .expect(201);
    let second = import(&app, "application/x-bai2", "", day.into_bytes())
        .await
        .expect(201)
        .body;
    assert_eq!(second["report"]["duplicates"], 1);
    assert_eq!(second["report"]["matched"], 1);
    let rows = file_transactions(&app, &second).await;
    assert_eq!(rows[0]["outcome"], "duplicate");
    assert!(rows[0]["duplicate_of"].is_string());
    assert!(rows[0]["payment_id"].is_null());
    assert_eq!(app.count("payments").await, 2);
    assert_eq!(
        app.value("SELECT sum(amount)::text FROM payments").await,
        "500.00"
    );
}

#[tokio::test]
async fn a_file_whose_trailer_disagrees_or_that_is_malformed_is_refused_whole() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7003", "Acme").await;
    let (_, a) = invoice(&app, &b, "300.00", 10).await;
    let good = bai2("T1", &[Detail(115, 30_000, "LBX0200", &a, "LOCKBOX")]);
    let wrong_total = good.replace("49,+130000,", "49,+130001,");
    let reply = import(&app, "application/x-bai2", "", wrong_total.into_bytes())
        .await
        .expect_problem(422, "validation_failed");
    let error = &reply.body["errors"][0];
    assert_eq!(error["field"], "line 5");
    assert_eq!(error["code"], "malformed_file");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("the account control total says 130001"),
        "{error}"
    );
    let bad_record = good.replace("16,115", "17,115");
    import(&app, "application/x-bai2", "", bad_record.into_bytes())
        .await
        .expect_problem(422, "validation_failed");
    // Neither the format nor the body may be missing.
    import(
        &app,
        "application/octet-stream",
        "",
        good.clone().into_bytes(),
    )
    .await
    .expect_problem(422, "validation_failed");
    import(&app, "image/png", "", good.clone().into_bytes())
        .await
        .expect(415);
    import(&app, "application/x-bai2", "", Vec::new())
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(app.count("bank_files").await, 0);
    assert_eq!(app.count("payments").await, 0);
    // With the format as a parameter, the good file goes in.
    import(&app, "text/plain", "?format=bai2", good.into_bytes())
        .await
        .expect(201);
    assert_eq!(app.count("payments").await, 1);
}

#[tokio::test]
async fn unidentified_cash_is_assigned_by_hand_and_its_payer_is_known_next_time() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7004", "Initech LLC").await;
    let (first_id, _) = invoice(&app, &b, "777.77", 40).await;
    let (second_id, _) = invoice(&app, &b, "123.45", 20).await;
    let file = bai2(
        "U1",
        &[Detail(
            165,
            77_777,
            "ACH0300",
            "",
            "ORIG CO NAME:INITECH L.L.C. ENTRY DESCR:PAY",
        )],
    );
    import(&app, "application/x-bai2", "", file.into_bytes())
        .await
        .expect(201);
    let queue = app
        .get("/v1/unidentified-payments", &billing())
        .await
        .expect(200)
        .body;
    let items = transactions(&queue);
    assert_eq!(items.len(), 1);
    let lost = &items[0];
    assert_eq!(lost["outcome"], "unidentified");
    // The invoice of exactly the amount is suggested, with its account and why.
    let s = &lost["suggestions"][0];
    assert_eq!(s["account_id"], b.account.as_str());
    assert_eq!(s["invoices"][0]["invoice_id"], first_id.as_str());
    assert!(s["reason"]
        .as_str()
        .unwrap()
        .contains("exactly this balance"));
    let path = format!("/v1/unidentified-payments/{}/assign", id(lost));
    // Another currency's account is refused, and changes nothing.
    let eur = app
        .create_account(json!({"number": "ACC-7099", "currency": "EUR"}))
        .await;
    app.post(&path, &billing(), &json!({"account_id": id(&eur)}))
        .await
        .expect_problem(422, "validation_failed");
    let assigned = app
        .post(
            &path,
            &billing(),
            &json!({"account_id": b.account, "application_mode": "auto"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(assigned["outcome"], "assigned");
    assert_eq!(assigned["rule"], "manual");
    assert_eq!(
        app.value(&format!(
            "SELECT status FROM invoices WHERE id = '{first_id}'"
        ))
        .await,
        "paid"
    );
    app.post(&path, &billing(), &json!({"account_id": b.account}))
        .await
        .expect_problem(409, "not_unidentified");
    assert_eq!(
        app.value("SELECT kind || ' ' || value FROM payer_identities")
            .await,
        "name INITECH L L C"
    );
    // Next time the payer's name identifies the account, and the amount the invoice.
    let next = bai2(
        "U2",
        &[Detail(
            165,
            12_345,
            "ACH0301",
            "",
            "ORIG CO NAME:Initech LLC ENTRY DESCR:PAY",
        )],
    );
    let next = next.replace("Initech LLC", "INITECH L.L.C.");
    let second = import(&app, "application/x-bai2", "", next.into_bytes())
        .await
        .expect(201)
        .body;
    let rows = file_transactions(&app, &second).await;
    assert_eq!(rows[0]["rule"], "payer_invoice");
    assert_eq!(rows[0]["confidence"], "0.90");
    assert_eq!(
        app.value(&format!(
            "SELECT status FROM invoices WHERE id = '{second_id}'"
        ))
        .await,
        "paid"
    );
}

#[tokio::test]
async fn an_amount_two_sets_of_invoices_make_is_only_suggested() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7005", "Umbrella Corp").await;
    for (amount, days) in [
        ("100.00", 50),
        ("400.00", 40),
        ("200.00", 30),
        ("300.00", 20),
    ] {
        invoice(&app, &b, amount, days).await;
    }
    let file = bai2(
        "S1",
        &[
            Detail(195, 50_000, "FW0400", "", "PAYMENT FOR ACCOUNT ACC-7005"),
            Detail(195, 60_000, "FW0401", "", "ACC-7005 SETTLEMENT"),
        ],
    );
    let imported = import(&app, "application/x-bai2", "", file.into_bytes())
        .await
        .expect(201)
        .body;
    let rows = file_transactions(&app, &imported).await;
    assert_eq!(rows[0]["outcome"], "suggested");
    assert_eq!(rows[0]["rule"], "payer_ambiguous");
    assert_eq!(rows[0]["suggestions"].as_array().unwrap().len(), 2);
    let payment = rows[0]["payment_id"].as_str().unwrap();
    assert_eq!(
        app.value(&format!(
            "SELECT status || ' ' || amount_applied FROM payments WHERE id = '{payment}'"
        ))
        .await,
        "unapplied 0"
    );
    // 600.00 is only 100 + 200 + 300 (three invoices) or 200 + 400 (two): two is fewer.
    assert_eq!(rows[1]["rule"], "payer_invoice_set");
    assert_eq!(rows[1]["confidence"], "0.80");
    assert_eq!(
        app.value(&format!(
            "SELECT string_agg(i.total::numeric(12, 2) || '/' || i.balance_due::numeric(12, 2), ',' ORDER BY i.total) FROM payment_applications a JOIN invoices i ON i.id = a.invoice_id WHERE a.payment_id = '{}'",
            rows[1]["payment_id"].as_str().unwrap()
        ))
        .await,
        "200.00/0.00,400.00/0.00"
    );
    assert_eq!(imported["report"]["suggested"], 1);
}

#[tokio::test]
async fn an_account_with_five_hundred_open_invoices_is_matched_by_amount() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7006", "Massive Dynamic").await;
    let (template, _) = invoice(&app, &b, "10.00", 5).await;
    // 500 more open invoices of 1,000.01 to 1,005.00, each balance once.
    app.execute(&format!(
        "INSERT INTO invoices SELECT (jsonb_populate_record(NULL::invoices, to_jsonb(i) || jsonb_build_object(
            'id', gen_random_uuid(), 'number', 'BULK-' || g,
            'subtotal', (100001 + (g * 37) % 500) / 100.0, 'tax_total', 0,
            'total', (100001 + (g * 37) % 500) / 100.0, 'balance_due', (100001 + (g * 37) % 500) / 100.0))).*
         FROM invoices i, generate_series(1, 500) g WHERE i.id = '{template}'"
    ))
    .await
    .unwrap();
    let file = bai2(
        "B1",
        &[
            Detail(195, 100_358, "FW0500", "", "ACC-7006"),
            Detail(195, 200_500, "FW0501", "", "ACC-7006"),
            Detail(195, 7, "FW0502", "", "ACC-7006"),
        ],
    );
    let imported = import(&app, "application/x-bai2", "", file.into_bytes())
        .await
        .expect(201)
        .body;
    let rows = file_transactions(&app, &imported).await;
    assert_eq!(rows[0]["rule"], "payer_invoice");
    // Many pairs make 2,005.00: only suggested.
    assert_eq!(rows[1]["outcome"], "suggested");
    assert_eq!(rows[2]["rule"], "payer_unapplied");
}

#[tokio::test]
async fn the_same_file_sent_at_once_by_several_callers_is_imported_once() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7007", "Soylent").await;
    let (_, a) = invoice(&app, &b, "300.00", 10).await;
    let file = bai2("P1", &[Detail(115, 30_000, "LBX0600", &a, "LOCKBOX")]);
    let replies =
        join_all((0..4).map(|_| import(&app, "application/x-bai2", "", file.clone().into_bytes())))
            .await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 200, 201]);
    let ids: Vec<&Value> = replies.iter().map(|r| &r.body["id"]).collect();
    assert!(ids.iter().all(|i| *i == ids[0]));
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(app.count("bank_transactions").await, 1);
}

#[tokio::test]
async fn a_deposit_returned_in_the_same_file_is_returned() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7009", "Cyberdyne").await;
    let (inv, number) = invoice(&app, &b, "420.00", 10).await;
    // The configured returned-payment fee's code.
    app.financial_code("4950", "fee").await;
    let file = bai2(
        "R1",
        &[
            Detail(115, 42_000, "LBX0800", &number, "LOCKBOX"),
            Detail(555, 42_000, "RTN0800", "LBX0800", "RETURNED ITEM R01 NSF"),
        ],
    );
    let imported = import(&app, "application/x-bai2", "", file.into_bytes())
        .await
        .expect(201)
        .body;
    assert_eq!(imported["report"]["returns"], 1);
    let rows = file_transactions(&app, &imported).await;
    assert_eq!(rows[1]["outcome"], "returned");
    assert_eq!(rows[1]["payment_id"], rows[0]["payment_id"]);
    assert_eq!(
        app.value(&format!(
            "SELECT p.status || ' ' || i.status FROM payments p, invoices i WHERE p.reference = 'LBX0800' AND i.id = '{inv}'"
        ))
        .await,
        "returned open"
    );
}

#[tokio::test]
async fn bank_files_are_internal() {
    let app = spawn_app().await;
    let partner = app.create_partner("P77").await;
    let token = partner_token(id(&partner).parse().unwrap());
    app.get("/v1/bank-files", &token).await.expect(403);
    app.get("/v1/unidentified-payments", &token)
        .await
        .expect(403);
    app.get(
        &format!("/v1/bank-files/{}", uuid::Uuid::now_v7()),
        &billing(),
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn unidentified_cash_assigned_by_several_people_at_once_is_recorded_once() {
    let app = spawn_app().await;
    let b = books(&app, "ACC-7008", "Wonka Industries").await;
    invoice(&app, &b, "64.00", 10).await;
    let file = bai2("Q1", &[Detail(195, 6_400, "FW0700", "", "WIRE FROM W.I.")]);
    let imported = import(&app, "application/x-bai2", "", file.into_bytes())
        .await
        .expect(201)
        .body;
    let lost = &file_transactions(&app, &imported).await[0];
    let path = format!("/v1/unidentified-payments/{}/assign", id(lost));
    let body = json!({"account_id": b.account});
    let token = billing();
    let replies = join_all((0..6).map(|_| app.post(&path, &token, &body))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 409, 409, 409, 409, 409]);
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(
        app.value(&format!(
            "SELECT outcome || ' ' || (payment_id IS NOT NULL) FROM bank_transactions WHERE id = '{}'",
            id(lost)
        ))
        .await,
        "assigned true"
    );
}
