//! Invoices over HTTP: manual drafts, issue with gapless numbers and presentment checks,
//! void, the ledger behind every balance, lists with filters and sorting.

use receivables::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;

fn lines(code: &str) -> Value {
    json!([
        {"description": "Toner cartridge, black", "quantity": "2", "unit_price": "89.50", "financial_code_id": code},
        {"description": "Delivery", "quantity": "1", "unit_price": "25.00", "financial_code_id": code, "taxable": false},
    ])
}

async fn draft(app: &TestApp, account: &str, code: &str) -> Value {
    app.post(
        "/v1/invoices",
        &billing(),
        &json!({"account_id": account, "lines": lines(code)}),
    )
    .await
    .expect(201)
    .body
}

async fn issue(app: &TestApp, invoice: &str, body: Value) -> Reply {
    app.post(&format!("/v1/invoices/{invoice}/issue"), &billing(), &body)
        .await
}

/// Every cached balance equals what the ledger says.
async fn assert_ledger_reconciles(app: &TestApp) {
    assert_eq!(
        app.count(
            "invoices i WHERE i.balance_due <> COALESCE((SELECT sum(amount) FROM ledger_entries l \
             WHERE l.invoice_id = i.id), 0)"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_manual_draft_totals_its_lines_and_taxes_the_taxable_ones() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let inv = draft(&app, &account, &code).await;
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["number"], Value::Null);
    assert_eq!(inv["lines"][0]["amount"], "179.00");
    assert_eq!(inv["lines"][1]["taxable"], false);
    // 8.25 % of 179.00 = 14.7675 → 14.77.
    assert_eq!(inv["subtotal"], "204.00");
    assert_eq!(inv["taxable_amount"], "179.00");
    assert_eq!(inv["tax_total"], "14.77");
    assert_eq!(inv["total"], "218.77");
    assert_eq!(inv["balance_due"], "0.00");
    assert_eq!(app.count("invoice_lines").await, 2);
    assert_eq!(app.count("ledger_entries").await, 0);
    assert_eq!(
        app.count("audit_events WHERE action = 'invoice.created'")
            .await,
        1
    );
}

#[tokio::test]
async fn bad_drafts_are_refused_with_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let code_id = app.financial_code("4200-SUPPLIES", "revenue").await;
    let tax = app.financial_code("2200-TAX", "tax").await;
    let account = id(&app.create_account(json!({})).await);
    let cases = [
        (json!({"account_id": account, "lines": []}), "lines"),
        (
            json!({"account_id": account, "lines": [{"description": "x", "quantity": "0", "unit_price": "1.00", "financial_code_id": code_id}]}),
            "lines[0].quantity",
        ),
        (
            json!({"account_id": account, "lines": [{"description": "x", "quantity": "1", "unit_price": "1.0000001", "financial_code_id": code_id}]}),
            "lines[0].unit_price",
        ),
        (
            json!({"account_id": account, "lines": [{"description": "x", "quantity": "1", "unit_price": "1.00", "financial_code_id": tax}]}),
            "lines[0].financial_code_id",
        ),
        (
            json!({"account_id": "0192f1d2-0000-7000-8000-000000000001", "lines": lines(&code_id)}),
            "account_id",
        ),
        (
            json!({"account_id": account, "lines": lines(&code_id), "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let reply = app
            .post("/v1/invoices", &billing(), &body)
            .await
            .expect(422);
        assert_eq!(reply.error_field(), field, "{body}");
    }
    app.post(
        "/v1/invoices",
        &token(Role::Viewer),
        &json!({"account_id": account, "lines": lines(&code_id)}),
    )
    .await
    .expect(403);
    assert_eq!(app.count("invoices").await, 0);
}

#[tokio::test]
async fn drafts_are_edited_and_deleted_but_issued_invoices_are_immutable() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let inv = draft(&app, &account, &code).await;
    let path = format!("/v1/invoices/{}", id(&inv));
    app.send(
        app.client
            .patch(app.url(&path))
            .bearer_auth(billing())
            .header("If-Match", "\"7\"")
            .json(&json!({"po_number": "PO-1"})),
    )
    .await
    .expect(412);
    let edited = app
        .patch(
            &path,
            &billing(),
            &json!({"version": 1, "po_number": "PO-1", "memo": "Call before delivery",
                    "lines": [{"description": "Staples", "quantity": "3", "unit_price": "4.335", "financial_code_id": code}]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["po_number"], "PO-1");
    // 3 × 4.335 = 13.005 → 13.01; tax 1.0733… → 1.07.
    assert_eq!(edited["lines"][0]["amount"], "13.01");
    assert_eq!(edited["total"], "14.08");
    assert_eq!(app.count("invoice_lines").await, 1);

    let other = draft(&app, &account, &code).await;
    app.delete(&format!("/v1/invoices/{}", id(&other)), &billing())
        .await
        .expect(204);
    assert_eq!(
        app.count(&format!("invoices WHERE id = '{}'", id(&other)))
            .await,
        0
    );

    issue(&app, &id(&inv), json!({})).await.expect(200);
    app.patch(
        &path,
        &billing(),
        &json!({"version": 3, "memo": "late change"}),
    )
    .await
    .expect_problem(409, "invoice_not_draft");
    app.delete(&path, &billing())
        .await
        .expect_problem(409, "invoice_not_draft");
    assert_eq!(
        app.count(
            "audit_events WHERE action IN ('invoice.updated', 'invoice.deleted', 'invoice.issued')"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn a_patch_naming_no_field_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let inv = draft(&app, &account, &code).await;
    let path = format!("/v1/invoices/{}", id(&inv));
    app.refuses_empty_patches(&path, &billing()).await;
    let unchanged = app.get(&path, &billing()).await.expect(200).body;
    assert_eq!(unchanged["version"], 1);
    assert_eq!(
        app.count("audit_events WHERE action = 'invoice.updated'")
            .await,
        0
    );
}

#[tokio::test]
async fn issuing_numbers_dates_and_posts_the_invoice_to_the_ledger() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let inv = draft(&app, &account, &code).await;
    let issued = issue(&app, &id(&inv), json!({"invoice_date": d("2026-11-02")}))
        .await
        .expect(200)
        .body;
    assert_eq!(issued["status"], "open");
    assert_eq!(issued["number"], sh("INV-2026-000001"));
    assert_eq!(issued["invoice_date"], d("2026-11-02"));
    assert_eq!(issued["due_date"], d("2026-12-02"));
    assert_eq!(issued["balance_due"], "218.77");
    assert_eq!(issued["days_past_due"], 0);
    assert_eq!(
        app.count(&sh(&format!(
            "ledger_entries WHERE invoice_id = '{}' AND kind = 'invoice_issued' AND amount = 218.77 \
             AND entry_date = '2026-11-02'",
            id(&inv)
        )))
        .await,
        1
    );
    issue(&app, &id(&inv), json!({}))
        .await
        .expect_problem(409, "invoice_not_draft");
    assert_ledger_reconciles(&app).await;
    // The ledger refuses to be rewritten.
    assert!(app
        .execute("UPDATE ledger_entries SET amount = 1")
        .await
        .unwrap_err()
        .contains("append-only"));
}

#[tokio::test]
async fn presentment_preferences_must_be_met_before_issue() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app
        .create_account(
            json!({"presentment": {"channel": "portal", "po_number_required": true,
            "reference_fields": [{"name": "Cost center", "required": true}]}}),
        )
        .await);
    let inv = draft(&app, &account, &code).await;
    let reply = issue(&app, &id(&inv), json!({})).await.expect(422);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["po_number", "reference_fields.Cost center"]);
    assert_eq!(app.count("ledger_entries").await, 0);
    assert_eq!(app.count("invoices WHERE number IS NOT NULL").await, 0);
    app.patch(
        &format!("/v1/invoices/{}", id(&inv)),
        &billing(),
        &json!({"version": 1, "po_number": "PO-7781",
                "reference_fields": [{"name": "Cost center", "value": "CC-4410"}]}),
    )
    .await
    .expect(200);
    let issued = issue(&app, &id(&inv), json!({})).await.expect(200).body;
    assert_eq!(issued["po_number"], "PO-7781");
    assert_eq!(issued["reference_fields"][0]["value"], "CC-4410");
    // The number refused earlier was not used up.
    assert_eq!(issued["number"], format!("INV-{}-000001", today_year()));
}

fn today_year() -> i32 {
    today().year()
}

#[tokio::test]
async fn voiding_reverses_the_balance_and_keeps_the_number() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let inv = draft(&app, &account, &code).await;
    let void_path = format!("/v1/invoices/{}/void", id(&inv));
    app.post(&void_path, &billing(), &json!({"reason": "wrong account"}))
        .await
        .expect_problem(409, "invoice_not_voidable");
    let issued = issue(&app, &id(&inv), json!({})).await.expect(200).body;
    app.post(&void_path, &billing(), &json!({"reason": " "}))
        .await
        .expect(422);
    let void = app
        .post(
            &void_path,
            &billing(),
            &json!({"reason": "Billed to the wrong account"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(void["status"], "void");
    assert_eq!(void["number"], issued["number"]);
    assert_eq!(void["balance_due"], "0.00");
    assert_eq!(void["void_reason"], "Billed to the wrong account");
    app.post(&void_path, &billing(), &json!({"reason": "again"}))
        .await
        .expect_problem(409, "invoice_not_voidable");
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE invoice_id = '{}' AND kind = 'invoice_voided' AND amount = -218.77",
            id(&inv)
        ))
        .await,
        1
    );
    assert_ledger_reconciles(&app).await;
    // An invoice with money applied is not voided.
    let other = draft(&app, &account, &code).await;
    issue(&app, &id(&other), json!({})).await.expect(200);
    app.execute(&format!(
        "UPDATE invoices SET amount_paid = 10, balance_due = balance_due - 10 WHERE id = '{}'",
        id(&other)
    ))
    .await
    .unwrap();
    app.post(
        &format!("/v1/invoices/{}/void", id(&other)),
        &billing(),
        &json!({"reason": "x"}),
    )
    .await
    .expect_problem(409, "invoice_not_voidable");
}

#[tokio::test]
async fn fifty_drafts_issued_in_parallel_get_fifty_consecutive_numbers() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let mut ids = Vec::new();
    for _ in 0..50 {
        ids.push(id(&draft(&app, &account, &code).await));
    }
    let replies = futures_util::future::join_all(
        ids.iter()
            .map(|invoice| issue(&app, invoice, json!({"invoice_date": d("2026-11-20")}))),
    )
    .await;
    let mut numbers: Vec<String> = replies
        .into_iter()
        .map(|r| r.expect(200).body["number"].as_str().unwrap().to_string())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=50).map(|n| sh(&format!("INV-2026-{n:06}"))).collect();
    assert_eq!(numbers, expected);
    assert_eq!(
        app.count("ledger_entries WHERE kind = 'invoice_issued'")
            .await,
        50
    );
    assert_ledger_reconciles(&app).await;
}

#[tokio::test]
async fn invoices_are_filtered_and_sorted_across_pages() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let other = id(&app.create_account(json!({"legal_name": "Other"})).await);
    let mut totals = Vec::new();
    for (i, price) in ["10.00", "30.00", "20.00", "40.00"].iter().enumerate() {
        let inv = app
            .post(
                "/v1/invoices",
                &billing(),
                &json!({"account_id": account, "lines": [{"description": "Item", "quantity": "1",
                        "unit_price": price, "financial_code_id": code, "taxable": false}]}),
            )
            .await
            .expect(201)
            .body;
        // The first two are issued long ago: past due now.
        let date = if i < 2 {
            d("2026-01-05")
        } else {
            d("2026-11-20")
        };
        issue(&app, &id(&inv), json!({"invoice_date": date}))
            .await
            .expect(200);
        totals.push(price.to_string());
    }
    draft(&app, &other, &code).await;

    let list = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move {
            app.get(&format!("/v1/invoices?{q}"), &billing())
                .await
                .expect(200)
                .body
        }
    };
    let page = list(&format!("account_id={account}&past_due=true")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert!(page["data"][0]["days_past_due"].as_i64().unwrap() > 250);
    let page = list("status=draft").await;
    assert_eq!(page["data"][0]["account_id"], other.as_str());
    let page = list(&format!("account_id={account}&min_total=20&max_total=30")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let page = list(&sh(
        "status=open&due_from=2026-12-01&issued_from=2026-11-01",
    ))
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);

    // Sorted by total, descending, two per page.
    let first = list(&format!(
        "account_id={account}&sort=total&order=desc&limit=2"
    ))
    .await;
    let got: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["total"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["40.00", "30.00"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = list(&format!(
        "account_id={account}&sort=total&order=desc&limit=2&cursor={cursor}"
    ))
    .await;
    let got: Vec<&str> = second["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["total"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["20.00", "10.00"]);
    assert_eq!(second["has_more"], false);

    app.get("/v1/invoices?min_total=lots", &billing())
        .await
        .expect(422);
    app.get("/v1/invoices?sort=colour", &billing())
        .await
        .expect(400);
    app.get(
        "/v1/invoices?sort=total&cursor=bm90LWEtY3Vyc29y",
        &billing(),
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn a_billing_run_in_issue_mode_posts_to_the_ledger_and_leaves_incomplete_presentment_as_drafts(
) {
    let app = spawn_app().await;
    let code = app.financial_code("4100-LEASE", "revenue").await;
    let plain = id(&app.create_account(json!({})).await);
    let strict = id(&app
        .create_account(
            json!({"legal_name": "Strict", "presentment": {"po_number_required": true}}),
        )
        .await);
    for account in [&plain, &strict] {
        app.active_contract(json!({"account_id": account, "kind": "lease", "start_date": d("2025-10-01"),
            "anchor_day": 1, "charges": [{"description": "Base", "amount": "100.00", "financial_code_id": code}]}))
            .await;
    }
    let done = app
        .billing_run(json!({"as_of": d("2025-10-01"), "mode": "issue"}))
        .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["progress"]["errors"], 1);
    assert_eq!(done["errors"][0]["code"], "not_issued");
    assert!(done["errors"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("PO number"));
    assert_eq!(
        app.count(&sh(&format!(
            "invoices WHERE account_id = '{plain}' AND status = 'open' AND number = 'INV-2025-000001' \
             AND balance_due = 108.25"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "invoices WHERE account_id = '{strict}' AND status = 'draft'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("ledger_entries").await, 1);
    assert_ledger_reconciles(&app).await;
}

#[tokio::test]
async fn the_account_shows_its_balance_from_the_ledger() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let old = draft(&app, &account, &code).await;
    issue(&app, &id(&old), json!({"invoice_date": d("2026-01-05")}))
        .await
        .expect(200);
    let recent = draft(&app, &account, &code).await;
    issue(&app, &id(&recent), json!({})).await.expect(200);
    let voided = draft(&app, &account, &code).await;
    issue(&app, &id(&voided), json!({})).await.expect(200);
    app.post(
        &format!("/v1/invoices/{}/void", id(&voided)),
        &billing(),
        &json!({"reason": "duplicate"}),
    )
    .await
    .expect(200);
    draft(&app, &account, &code).await;
    let body = app
        .get(&format!("/v1/accounts/{account}"), &billing())
        .await
        .expect(200)
        .body;
    let b = &body["balance"];
    assert_eq!(b["balance"], "437.54");
    assert_eq!(b["open_balance"], "437.54");
    assert_eq!(b["past_due"], "218.77");
    assert_eq!(b["disputed"], "0.00");
    assert_eq!(b["unapplied_cash"], "0.00");
    assert_eq!(b["unapplied_credits"], "0.00");
    assert_eq!(b["open_invoices"], 2);
    // Lists leave the summary out.
    let list = app.get("/v1/accounts", &billing()).await.expect(200).body;
    assert!(list["data"][0].get("balance").is_none());
}

#[tokio::test]
async fn front_ends_and_partner_portals_log_how_an_invoice_was_presented() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let partner = id(&app.create_partner("DEALER-1").await);
    let stranger = id(&app.create_partner("DEALER-2").await);
    let account = id(&app.create_account(json!({"partner_id": partner})).await);
    let inv = draft(&app, &account, &code).await;
    let path = format!("/v1/invoices/{}/presentments", id(&inv));
    let sent = json!({"channel": "email", "destination": "ap@acme.example", "status": "sent"});
    app.post(&path, &billing(), &sent)
        .await
        .expect_problem(409, "invoice_not_issued");
    issue(&app, &id(&inv), json!({})).await.expect(200);
    app.post(&path, &billing(), &sent).await.expect(201);
    let portal = partner_token(partner.parse().unwrap());
    let reply = app
        .post(
            &path,
            &portal,
            &json!({"channel": "portal", "destination": "Dealer portal", "status": "rejected"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "reason");
    let rejected = app
        .post(
            &path,
            &portal,
            &json!({"channel": "portal", "destination": "Dealer portal", "status": "rejected",
                    "reason": "PO number does not match"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(rejected["posted_role"], "partner");
    app.post(
        &path,
        &partner_token(stranger.parse().unwrap()),
        &json!({"channel": "portal", "destination": "x", "status": "accepted"}),
    )
    .await
    .expect(404);
    app.post(&path, &token(Role::Viewer), &sent)
        .await
        .expect(403);
    let log = app.get(&path, &portal).await.expect(200).body;
    let statuses: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["sent", "rejected"]);
    assert_eq!(app.count("invoice_presentments").await, 2);
    assert_eq!(
        app.count("audit_events WHERE action = 'invoice.presentment_recorded'")
            .await,
        2
    );
}

async fn document(
    app: &TestApp,
    invoice: &str,
    format: &str,
    token: &str,
) -> (u16, String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(&format!("/v1/invoices/{invoice}/document?format={format}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_invoice_document_reads_the_same_in_html_and_pdf() {
    let app = spawn_app().await;
    let code = app.financial_code("4100-LEASE", "revenue").await;
    let partner = id(&app.create_partner("DEALER-1").await);
    let account = id(&app
        .create_account(
            json!({"legal_name": "Acme <Manufacturing> & Sons", "partner_id": partner,
            "presentment": {"po_number": "PO-7781"}}),
        )
        .await);
    let contract = id(&app
        .post(
            "/v1/contracts",
            &billing(),
            &json!({"account_id": account, "kind": "lease", "start_date": d("2025-10-01"), "anchor_day": 1,
                    "charges": [{"description": "Base charge", "amount": "250.00", "financial_code_id": code}]}),
        )
        .await
        .expect(201)
        .body);
    let equipment = app
        .post(
            &format!("/v1/contracts/{contract}/equipment"),
            &billing(),
            &json!({"serial_number": "SN-DOC", "make": "Ricoh", "model": "IM C3000", "installed_on": d("2025-10-01"),
                    "meters": [{"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
                                "financial_code_id": code, "initial_reading": 120000}]}),
        )
        .await
        .expect(201)
        .body;
    let meter = equipment["meters"][0]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/v1/contracts/{contract}/activate"),
        &billing(),
        &json!(null),
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/meters/{meter}/readings"),
        &billing(),
        &json!({"read_on": d("2025-11-01"), "value": 127350, "source": "device"}),
    )
    .await
    .expect(201);
    let run = app
        .billing_run(json!({"as_of": d("2025-11-01"), "contract_id": contract, "mode": "issue"}))
        .await;
    let invoice = app
        .get(
            &format!("/v1/invoices?billing_run_id={}", id(&run)),
            &billing(),
        )
        .await
        .expect(200)
        .body["data"][0]
        .clone();
    let number = invoice["number"].as_str().unwrap().to_string();
    assert_eq!(number, sh("INV-2025-000001"));

    let (status, kind, html) = document(&app, &id(&invoice), "html", &billing()).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"));
    let html = String::from_utf8(html).unwrap();
    for needle in [
        number.as_str(),
        "PO-7781",
        "Northwind Office Equipment LLC",
        "Acme &lt;Manufacturing&gt; &amp; Sons",
        &sh("Readings 120,000 on 2025-10-01 to 127,350 on 2025-11-01; usage 7,350, included 5,000, overage 2,350 at 0.0085"),
        "Balance due USD",
        "Lockbox 4410",
        "ACH: routing",
    ] {
        assert!(html.contains(needle), "{needle} missing from the HTML");
    }
    assert!(!html.contains("<Manufacturing>"));

    let (status, kind, pdf) = document(&app, &id(&invoice), "pdf", &billing()).await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/pdf");
    assert!(pdf.starts_with(b"%PDF-1.4"));
    let text = receivables::pdf::extract_text(&pdf).join("\n");
    let total = invoice["total"].as_str().unwrap();
    for needle in [
        number.as_str(),
        "PO-7781",
        total,
        "Balance due USD",
        "Page 1 of 1",
        "usage 7,350",
    ] {
        assert!(text.contains(needle), "{needle} missing from the PDF text");
    }

    // The partner portal reads it; another partner and other roles' limits hold.
    let portal = partner_token(partner.parse().unwrap());
    assert_eq!(document(&app, &id(&invoice), "pdf", &portal).await.0, 200);
    let stranger = id(&app.create_partner("DEALER-2").await);
    assert_eq!(
        document(
            &app,
            &id(&invoice),
            "pdf",
            &partner_token(stranger.parse().unwrap())
        )
        .await
        .0,
        404
    );
    assert_eq!(
        document(&app, &id(&invoice), "docx", &billing()).await.0,
        400
    );

    // A void invoice says so.
    app.post(
        &format!("/v1/invoices/{}/void", id(&invoice)),
        &billing(),
        &json!({"reason": "test"}),
    )
    .await
    .expect(200);
    let (_, _, html) = document(&app, &id(&invoice), "html", &billing()).await;
    assert!(String::from_utf8(html).unwrap().contains(">VOID<"));
}

#[tokio::test]
async fn the_statement_runs_from_the_opening_to_the_ledger_balance() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let partner = id(&app.create_partner("DEALER-1").await);
    let account = id(&app.create_account(json!({"partner_id": partner})).await);
    let mut issued = Vec::new();
    for date in [
        d("2026-01-05"),
        d("2026-06-10"),
        d("2026-10-01"),
        d("2026-10-20"),
    ] {
        let inv = draft(&app, &account, &code).await;
        issue(&app, &id(&inv), json!({"invoice_date": date}))
            .await
            .expect(200);
        issued.push(id(&inv));
    }
    app.post(
        &format!("/v1/invoices/{}/void", issued[3]),
        &billing(),
        &json!({"reason": "duplicate"}),
    )
    .await
    .expect(200);
    let statement = app
        .get(
            &sh(&format!(
                "/v1/accounts/{account}/statement?from=2026-06-01&to=2026-11-21"
            )),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(statement["opening_balance"], "218.77");
    let lines = statement["lines"].as_array().unwrap();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    // The void of today is after the statement's last day.
    assert_eq!(
        kinds,
        vec!["invoice_issued", "invoice_issued", "invoice_issued"]
    );
    assert_eq!(lines[0]["document"], sh("INV-2026-000002"));
    assert_eq!(lines[0]["balance"], "437.54");
    assert_eq!(statement["closing_balance"], "875.08");
    // Aging on 21 November: due 5 Feb and 10 Jul over 120 days, due 31 Oct and 19 Nov within 30.
    assert_eq!(statement["aging"]["days_over_120"], "437.54");
    assert_eq!(statement["aging"]["days_1_30"], "437.54");
    assert_eq!(statement["aging"]["total"], "875.08");
    assert_eq!(statement["unapplied"], "0.00");
    // Up to today: the void is in, and closing = ledger balance = open invoice balances.
    let today = app
        .get(
            &sh(&format!("/v1/accounts/{account}/statement?from=2026-01-01")),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(today["opening_balance"], "0.00");
    let last = today["lines"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "invoice_voided");
    assert_eq!(last["amount"], "-218.77");
    assert_eq!(today["closing_balance"], "656.31");
    let account_view = app
        .get(&format!("/v1/accounts/{account}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(account_view["balance"]["balance"], today["closing_balance"]);
    assert_eq!(
        account_view["balance"]["open_balance"],
        today["closing_balance"]
    );
    assert_eq!(today["aging"]["total"], today["closing_balance"]);

    let csv = app
        .client
        .get(app.url(&sh(&format!(
            "/v1/accounts/{account}/statement?from=2026-06-01&to=2026-11-21&format=csv"
        ))))
        .bearer_auth(billing())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "date,kind,document,description,amount,balance");
    assert_eq!(rows.len(), 1 + 1 + 3 + 1 + 1);
    assert_eq!(
        rows[5],
        sh("2026-11-21,closing_balance,,Closing balance,,875.08")
    );
    assert_eq!(
        rows[6],
        sh("2026-11-21,disputed,,Of which under dispute,0.00,")
    );

    let portal = partner_token(partner.parse().unwrap());
    let pdf = app
        .client
        .get(app.url(&sh(&format!(
            "/v1/accounts/{account}/statement?from=2026-06-01&to=2026-11-21&format=pdf"
        ))))
        .bearer_auth(&portal)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = receivables::pdf::extract_text(&pdf).join("\n");
    assert!(text.contains("Closing balance"));
    assert!(text.contains("875.08"));
    assert!(text.contains(&sh("INV-2026-000003")));

    let stranger = id(&app.create_partner("DEALER-2").await);
    app.get(
        &format!("/v1/accounts/{account}/statement"),
        &partner_token(stranger.parse().unwrap()),
    )
    .await
    .expect(404);
    let reply = app
        .get(
            &sh(&format!(
                "/v1/accounts/{account}/statement?from=2026-11-01&to=2026-10-01"
            )),
            &billing(),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "from");
}

#[tokio::test]
async fn the_activity_timeline_tells_the_account_history_newest_first() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let contract = app
        .active_contract(json!({"account_id": account, "kind": "service", "start_date": d("2026-01-01"),
                    "charges": [{"description": "Service", "amount": "50.00", "financial_code_id": code}]}))
        .await;
    app.post(
        &format!("/v1/contracts/{contract}/amendments"),
        &billing(),
        &json!({"kind": "suspension", "effective_date": d("2026-11-01")}),
    )
    .await
    .expect(201);
    let inv = draft(&app, &account, &code).await;
    issue(&app, &id(&inv), json!({})).await.expect(200);

    let body = app
        .get(&format!("/v1/accounts/{account}/activity"), &billing())
        .await
        .expect(200)
        .body;
    let summaries: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    let number = format!("INV-{}-000001", today_year());
    assert_eq!(summaries[0], format!("Invoice {number} issued: 218.77 USD"));
    assert_eq!(summaries[1], "Invoice (draft) created: 218.77 USD");
    assert_eq!(
        summaries[2],
        sh("Contract CON-000001 amended (suspension effective 2026-11-01)")
    );
    assert!(summaries.contains(&"Contract CON-000001 activated"));
    assert_eq!(*summaries.last().unwrap(), "Account created");

    let invoices_only = app
        .get(
            &format!("/v1/accounts/{account}/activity?kind=invoice&limit=1"),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(invoices_only["data"].as_array().unwrap().len(), 1);
    assert_eq!(invoices_only["data"][0]["kind"], "invoice");
    assert_eq!(invoices_only["has_more"], true);
    app.get(
        "/v1/accounts/0192f1d2-0000-7000-8000-000000000001/activity",
        &billing(),
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn reconciliation_flags_missing_and_unpaid_periods_of_a_contract() {
    let app = spawn_app().await;
    let code = app.financial_code("4100-LEASE", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    let contract = app
        .active_contract(json!({"account_id": account, "kind": "lease", "start_date": d("2026-08-16"), "anchor_day": 1,
                    "charges": [{"description": "Base", "amount": "310.00", "financial_code_id": code}]}))
        .await;
    app.billing_run(json!({"as_of": d("2026-09-01"), "contract_id": contract, "mode": "issue"}))
        .await;
    let rec = app
        .get(
            &sh(&format!(
                "/v1/contracts/{contract}/reconciliation?as_of=2026-10-15"
            )),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    let periods = rec["periods"].as_array().unwrap();
    let starts: Vec<&str> = periods
        .iter()
        .map(|p| p["period_start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        vec![d("2026-08-16"), d("2026-09-01"), d("2026-10-01")]
    );
    // 16/31 of 310.00 = 160.00.
    assert_eq!(periods[0]["expected"], "160.00");
    assert_eq!(periods[0]["billed"], "160.00");
    assert_eq!(periods[0]["unpaid"], true);
    assert_eq!(periods[0]["invoices"][0]["number"], sh("INV-2026-000001"));
    assert_eq!(periods[1]["missing"], false);
    assert_eq!(periods[2]["missing"], true);
    assert_eq!(periods[2]["billed"], "0.00");
    assert_eq!(rec["summary"]["missing"], 1);
    assert_eq!(rec["summary"]["unpaid"], 2);
    assert_eq!(rec["summary"]["duplicate"], 0);
    assert_eq!(rec["summary"]["expected"], "780.00");
    assert_eq!(rec["summary"]["billed"], "470.00");
    let partner = id(&app.create_partner("DEALER-1").await);
    app.get(
        &format!("/v1/contracts/{contract}/reconciliation"),
        &partner_token(partner.parse().unwrap()),
    )
    .await
    .expect(403);
}

#[tokio::test]
async fn another_partners_invoices_are_not_found_on_any_invoice_endpoint() {
    let app = spawn_app().await;
    let code = app.financial_code("4200-SUPPLIES", "revenue").await;
    let owner = id(&app.create_partner("DEALER-1").await);
    let stranger = id(&app.create_partner("DEALER-2").await);
    let account = id(&app.create_account(json!({"partner_id": owner})).await);
    let inv = draft(&app, &account, &code).await;
    issue(&app, &id(&inv), json!({})).await.expect(200);
    let other = partner_token(stranger.parse().unwrap());
    let mine = partner_token(owner.parse().unwrap());
    let invoice = id(&inv);
    for path in [
        format!("/v1/invoices/{invoice}"),
        format!("/v1/invoices/{invoice}/document?format=pdf"),
        format!("/v1/invoices/{invoice}/presentments"),
        format!("/v1/accounts/{account}/statement"),
    ] {
        app.get(&path, &other).await.expect(404);
        app.get(&path, &mine).await.expect(200);
    }
    let listed = app.get("/v1/invoices", &other).await.expect(200).body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    app.post(
        &format!("/v1/invoices/{invoice}/presentments"),
        &other,
        &json!({"channel": "portal", "destination": "x", "status": "accepted"}),
    )
    .await
    .expect(404);
    // What partners may not do at all is forbidden, whoever's invoice it is.
    app.post(
        "/v1/invoices",
        &mine,
        &json!({"account_id": account, "lines": lines(&code)}),
    )
    .await
    .expect(403);
    app.patch(
        &format!("/v1/invoices/{invoice}"),
        &mine,
        &json!({"version": 2}),
    )
    .await
    .expect(403);
    app.post(
        &format!("/v1/invoices/{invoice}/void"),
        &mine,
        &json!({"reason": "x"}),
    )
    .await
    .expect(403);
    app.post(&format!("/v1/invoices/{invoice}/issue"), &mine, &json!({}))
        .await
        .expect(403);
    app.delete(&format!("/v1/invoices/{invoice}"), &mine)
        .await
        .expect(403);
    assert_eq!(app.count("invoices WHERE status = 'open'").await, 1);
    assert_eq!(app.count("invoice_presentments").await, 0);
}

/// A customer reads a statement: a payment is one line (the money received), a credit memo
/// one line (the credit issued); applying them to invoices, or taking an application back,
/// moves no balance and is listed apart.
#[tokio::test]
async fn a_payment_and_a_credit_are_each_one_line_of_the_statement() {
    let app = spawn_app().await;
    let code = app.financial_code("4000", "revenue").await;
    let credit = app.financial_code("4800", "credit").await;
    let account = id(&app.create_account(json!({})).await);
    let first = app
        .issued_invoice(&account, &code, "100.00", date("2026-10-01"))
        .await;
    let second = app
        .issued_invoice(&account, &code, "200.00", date("2026-10-15"))
        .await;
    let payment = app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": account, "amount": "250.00", "currency": "USD",
                    "method": "check", "reference": "5521", "received_date": d("2026-11-02")}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(payment["applied"], "250.00");
    let memo = app
        .post(
            "/v1/credit-memos",
            &billing(),
            &json!({"account_id": account, "reason": "pricing", "financial_code_id": credit,
                    "amount": "30.00", "description": "Agreed discount",
                    "targets": [{"invoice_id": id(&second), "amount": "30.00"}]}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/credit-memos/{}/issue", id(&memo)),
        &billing(),
        &Value::Null,
    )
    .await
    .expect(200);
    // The application to the second invoice is taken back: cash goes back to unapplied.
    let to_second = payment["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["invoice_id"] == id(&second).as_str())
        .unwrap()
        .clone();
    app.post(
        &format!(
            "/v1/payments/{}/applications/{}/reverse",
            id(&payment),
            id(&to_second)
        ),
        &billing(),
        &json!({"reason": "Customer meant it for the October invoice only"}),
    )
    .await
    .expect(200);

    let statement = app
        .get(
            &sh(&format!("/v1/accounts/{account}/statement?from=2026-09-01")),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    let lines: Vec<(String, String, String)> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_string(),
                l["amount"].as_str().unwrap().to_string(),
                l["balance"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let line = |k: &str, a: &str, b: &str| (k.to_string(), a.to_string(), b.to_string());
    assert_eq!(
        lines,
        vec![
            line("invoice_issued", "100.00", "100.00"),
            line("invoice_issued", "200.00", "300.00"),
            line("payment_received", "-250.00", "50.00"),
            line("credit_issued", "-30.00", "20.00"),
        ]
    );
    assert_eq!(statement["lines"][2]["document"], payment["number"]);
    let applied: Vec<(String, String, String)> = statement["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["invoice_number"].as_str().unwrap().to_string(),
                a["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let n = |v: &Value| v["number"].as_str().unwrap().to_string();
    assert_eq!(
        applied,
        vec![
            ("payment_applied".into(), n(&first), "100.00".into()),
            ("payment_applied".into(), n(&second), "150.00".into()),
            ("credit_applied".into(), n(&second), "30.00".into()),
            ("payment_reversal".into(), n(&second), "-150.00".into()),
        ]
    );
    // The closing balance is what the account owes: open invoices less unapplied cash.
    let summary = app
        .get(&format!("/v1/accounts/{account}"), &billing())
        .await
        .expect(200)
        .body["balance"]
        .clone();
    assert_eq!(statement["closing_balance"], "20.00");
    assert_eq!(summary["balance"], "20.00");
    assert_eq!(summary["open_balance"], "170.00");
    assert_eq!(summary["unapplied_cash"], "150.00");
    assert_eq!(statement["unapplied"], "150.00");
    // The CSV has the same lines: opening, four movements, closing, disputed.
    let csv = app
        .client
        .get(app.url(&sh(&format!(
            "/v1/accounts/{account}/statement?from=2026-09-01&format=csv"
        ))))
        .bearer_auth(billing())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + 1 + 4 + 1 + 1);
    assert!(!csv.contains("payment_applied"));
    assert_books_balance(&app).await;
}
