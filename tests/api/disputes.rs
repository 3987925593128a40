//! Disputes over HTTP: opening (on an invoice, from a deduction, by a partner), the lifecycle
//! and every refused transition, SLA due dates in business days, resolution with exactly one
//! credit memo, what a dispute holds back from cash application, and attachments.

use futures_util::future::join_all;
use receivables::auth::Role;
use serde_json::{json, Value};
use time::{Date, Duration, Weekday};

use crate::helpers::*;

/// An issued, untaxed invoice of `amount` on the account, dated `days_ago`.
async fn invoice(
    app: &TestApp,
    account: &str,
    revenue: &str,
    amount: &str,
    days_ago: i64,
) -> Value {
    app.issued_invoice(account, revenue, amount, today() - Duration::days(days_ago))
        .await
}

struct Setup {
    account: String,
    revenue: String,
    credit: String,
}

async fn setup(app: &TestApp, extra: Value) -> Setup {
    Setup {
        account: id(&app.create_account(extra).await),
        revenue: app.financial_code("4000", "revenue").await,
        credit: app.financial_code("4900", "credit").await,
    }
}

async fn dispute(app: &TestApp, token: &str, invoice: &Value, amount: &str) -> Reply {
    app.post(
        "/v1/disputes",
        token,
        &json!({"invoice_id": id(invoice), "amount": amount, "reason": "meter_reading",
            "description": "The colour count is ten times last month's",
            "contact": {"name": "Dana Ortiz", "email": "ap@acme.example"}}),
    )
    .await
}

async fn get_invoice(app: &TestApp, invoice: &Value) -> Value {
    app.get(&format!("/v1/invoices/{}", id(invoice)), &billing())
        .await
        .expect(200)
        .body
}

/// Business days counted independently of the service: weekdays that are not holidays.
fn business_days_after(start: Date, n: u32, holidays: &[Date]) -> Date {
    let mut date = start;
    let mut left = n;
    while left > 0 {
        date = date.next_day().unwrap();
        let weekend = matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
        if !weekend && !holidays.contains(&date) {
            left -= 1;
        }
    }
    date
}

#[tokio::test]
async fn a_dispute_holds_its_amount_with_an_sla_in_business_days() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "500.00", 10).await;
    let opened = dispute(&app, &billing(), &inv, "200.00")
        .await
        .expect(201)
        .body;
    assert!(opened["number"].as_str().unwrap().starts_with("DSP-"));
    assert_eq!(opened["status"], "open");
    assert_eq!(opened["amount"], "200.00");
    assert_eq!(opened["contact"]["email"], "ap@acme.example");
    assert_eq!(opened["opened_on"], today().to_string());
    // The test configuration's holidays include the second and third days from today.
    let due = business_days_after(today(), 10, &test_holidays());
    assert_eq!(opened["sla_due_date"], due.to_string());
    assert!(
        due > business_days_after(today(), 10, &[]),
        "holidays push the due date"
    );
    assert_eq!(opened["sla_state"], "on_track");
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["disputed_amount"], "200.00");
    let account = app
        .get(&format!("/v1/accounts/{}", s.account), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(account["balance"]["disputed"], "200.00");
    let statement = app
        .get(&format!("/v1/accounts/{}/statement", s.account), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(statement["disputed"], "200.00");
    // Only the undisputed 300.00 is left to dispute.
    let refused = dispute(&app, &billing(), &inv, "300.01")
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(
        refused.body["errors"][0]["code"],
        "exceeds_undisputed_balance"
    );
    dispute(&app, &billing(), &inv, "300.00").await.expect(201);
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "500.00");
    // A disputed invoice is not voided, nor paid into its disputed part.
    app.post(
        &format!("/v1/invoices/{}/void", id(&inv)),
        &billing(),
        &json!({"reason": "x"}),
    )
    .await
    .expect_problem(409, "invoice_not_voidable");
    let other = invoice(&app, &s.account, &s.revenue, "10.00", 1).await;
    let line = get_invoice(&app, &other).await["lines"][0]["id"].clone();
    let reply = app
        .post(
            "/v1/disputes",
            &billing(),
            &json!({"invoice_id": id(&inv), "invoice_line_id": line, "amount": "1.00",
                "reason": "pricing", "description": "x"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "invoice_line_id");
    app.post(
        "/v1/disputes",
        &token(Role::Viewer),
        &json!({"invoice_id": id(&inv), "amount": "1.00", "reason": "pricing", "description": "x"}),
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(app.count("disputes").await, 2);
    assert_eq!(
        app.count("audit_events WHERE action = 'dispute.opened'")
            .await,
        2
    );
}

#[test]
fn the_independent_business_day_count_crosses_a_weekend_and_a_holiday() {
    use time::macros::date;
    // Friday 18 December 2026 + 10 business days, Christmas a holiday: Monday 4 January.
    assert_eq!(
        business_days_after(date!(2026 - 12 - 18), 10, &[date!(2026 - 12 - 25)]),
        date!(2027 - 01 - 04)
    );
}

#[tokio::test]
async fn the_lifecycle_moves_forward_only() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "400.00", 5).await;
    let d = dispute(&app, &billing(), &inv, "100.00")
        .await
        .expect(201)
        .body;
    let path = format!("/v1/disputes/{}", id(&d));
    let collections = token(Role::Collections);
    let reviewed = app
        .post(&format!("{path}/review"), &collections, &Value::Null)
        .await
        .expect(200)
        .body;
    assert_eq!(reviewed["status"], "under_review");
    assert_eq!(reviewed["assignee"], "collections-user");
    app.post(&format!("{path}/review"), &collections, &Value::Null)
        .await
        .expect_problem(409, "invalid_status_transition");
    // Reassign under optimistic concurrency.
    app.patch(&path, &collections, &json!({"assignee": "dana"}))
        .await
        .expect(428);
    app.patch(
        &path,
        &collections,
        &json!({"assignee": "dana", "version": 1}),
    )
    .await
    .expect_problem(409, "version_conflict");
    let assigned = app
        .patch(
            &path,
            &collections,
            &json!({"assignee": "dana", "version": reviewed["version"]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(assigned["assignee"], "dana");
    // A patch naming no field changes nothing: 422, and the version stays.
    let empty = app
        .patch(
            &path,
            &collections,
            &json!({"version": assigned["version"]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(empty.error_field(), "body");
    assert_eq!(empty.body["errors"][0]["code"], "empty");
    let unchanged = app.get(&path, &collections).await.expect(200).body;
    assert_eq!(unchanged["version"], assigned["version"]);
    let noted = app
        .post(
            &format!("{path}/notes"),
            &collections,
            &json!({"text": "Asked for a meter photo"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(noted["notes"][0]["text"], "Asked for a meter photo");
    assert_eq!(noted["notes"][0]["author"], "collections-user");
    // Collections may review but not resolve.
    let resolve = json!({"outcome": "invalid", "root_cause": "customer_misunderstanding",
        "note": "The reading matches the photo"});
    app.post(&format!("{path}/resolve"), &collections, &resolve)
        .await
        .expect_problem(403, "forbidden");
    let bad = app
        .post(
            &format!("{path}/resolve"),
            &billing(),
            &json!({"outcome": "invalid", "root_cause": "other", "note": "x", "approved_amount": "5.00"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(bad.error_field(), "approved_amount");
    let resolved = app
        .post(&format!("{path}/resolve"), &billing(), &resolve)
        .await
        .expect(200)
        .body;
    assert_eq!(resolved["status"], "resolved_invalid");
    assert_eq!(resolved["root_cause"], "customer_misunderstanding");
    assert_eq!(resolved["sla_state"], Value::Null);
    assert_eq!(resolved["credit_memo_id"], Value::Null);
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "0.00");
    for (action, body) in [
        ("resolve", resolve.clone()),
        ("withdraw", json!({})),
        ("review", json!({})),
    ] {
        app.post(&format!("{path}/{action}"), &billing(), &body)
            .await
            .expect_problem(409, "invalid_status_transition");
    }
    app.patch(
        &path,
        &collections,
        &json!({"assignee": "x", "version": resolved["version"]}),
    )
    .await
    .expect_problem(409, "dispute_closed");
    // Withdrawn by the customer.
    let second = dispute(&app, &billing(), &inv, "50.00")
        .await
        .expect(201)
        .body;
    let withdrawn = app
        .post(
            &format!("/v1/disputes/{}/withdraw", id(&second)),
            &billing(),
            &json!({"note": "Customer found the reading right"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "0.00");
    assert_eq!(
        app.count(&format!("audit_events WHERE entity_id = '{}'", id(&d)))
            .await,
        5
    );
}

/// A valid resolution issues one credit memo and applies it, even when resolved five times at
/// once.
#[tokio::test]
async fn a_valid_resolution_issues_exactly_one_credit_memo() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "500.00", 20).await;
    let d = dispute(&app, &billing(), &inv, "200.00")
        .await
        .expect(201)
        .body;
    let path = format!("/v1/disputes/{}/resolve", id(&d));
    let too_much = app
        .post(
            &path,
            &billing(),
            &json!({"outcome": "valid", "root_cause": "meter_misread", "note": "x",
                "approved_amount": "200.01", "financial_code_id": s.credit}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(too_much.body["errors"][0]["code"], "exceeds_disputed");
    let wrong_code = app
        .post(
            &path,
            &billing(),
            &json!({"outcome": "valid", "root_cause": "meter_misread", "note": "x",
                "approved_amount": "150.00", "financial_code_id": s.revenue}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(wrong_code.body["errors"][0]["code"], "wrong_kind");
    let body = json!({"outcome": "valid", "root_cause": "meter_misread",
        "note": "Technician keyed 12,000 for 1,200", "approved_amount": "150.00",
        "financial_code_id": s.credit});
    let token = billing();
    let replies = join_all((0..5).map(|_| app.post(&path, &token, &body))).await;
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 409).count(), 4);
    let resolved = &replies.iter().find(|r| r.status == 200).unwrap().body;
    assert_eq!(resolved["status"], "resolved_valid");
    assert_eq!(resolved["approved_amount"], "150.00");
    assert_eq!(
        app.count(&format!("credit_memos WHERE dispute_id = '{}'", id(&d)))
            .await,
        1
    );
    let memo = app
        .get(
            &format!(
                "/v1/credit-memos/{}",
                resolved["credit_memo_id"].as_str().unwrap()
            ),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(memo["status"], "issued");
    assert_eq!(memo["reason"], "dispute");
    assert_eq!(memo["total"], "150.00");
    assert_eq!(memo["applied"], "150.00");
    assert!(memo["number"].as_str().unwrap().starts_with("CM-"));
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["disputed_amount"], "0.00");
    assert_eq!(now["amount_credited"], "150.00");
    assert_eq!(now["balance_due"], "350.00");
    assert_eq!(now["credits"][0]["amount"], "150.00");
    assert_eq!(now["credits"][0]["credit_memo_number"], memo["number"]);
    assert_eq!(
        app.count(
            "invoices i WHERE i.balance_due <> COALESCE((SELECT sum(amount) FROM ledger_entries l \
             WHERE l.invoice_id = i.id), 0)"
        )
        .await,
        0
    );
}

/// Above the resolver's approval limit the credit memo waits for approval.
#[tokio::test]
async fn a_large_valid_resolution_sends_its_credit_for_approval() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "2000.00", 20).await;
    let d = dispute(&app, &billing(), &inv, "800.00")
        .await
        .expect(201)
        .body;
    let resolved = app
        .post(
            &format!("/v1/disputes/{}/resolve", id(&d)),
            &billing(),
            &json!({"outcome": "valid", "root_cause": "pricing_setup", "note": "Wrong rate card",
                "approved_amount": "800.00", "financial_code_id": s.credit}),
        )
        .await
        .expect(200)
        .body;
    let memo_id = resolved["credit_memo_id"].as_str().unwrap();
    let memo = app
        .get(&format!("/v1/credit-memos/{memo_id}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(memo["status"], "pending_approval");
    assert_eq!(memo["number"], Value::Null);
    let held = get_invoice(&app, &inv).await;
    assert_eq!(held["balance_due"], "2000.00");
    // The approved amount stays held until the credit is approved.
    assert_eq!(held["disputed_amount"], "800.00");
    let approved = app
        .post(
            &format!("/v1/credit-memos/{memo_id}/approve"),
            &token(Role::CollectionsManager),
            &json!({"note": "Confirmed with pricing"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(approved["status"], "issued");
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["balance_due"], "1200.00");
    assert_eq!(now["disputed_amount"], "0.00");
    // A rejected credit releases what it held.
    let second = dispute(&app, &billing(), &inv, "700.00")
        .await
        .expect(201)
        .body;
    let resolved = app
        .post(
            &format!("/v1/disputes/{}/resolve", id(&second)),
            &billing(),
            &json!({"outcome": "valid", "root_cause": "pricing_setup", "note": "Same rate card",
                "approved_amount": "600.00", "financial_code_id": s.credit}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "600.00");
    app.post(
        &format!(
            "/v1/credit-memos/{}/reject",
            resolved["credit_memo_id"].as_str().unwrap()
        ),
        &token(Role::CollectionsManager),
        &json!({"note": "Not approved by pricing"}),
    )
    .await
    .expect(200);
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "0.00");
}

#[tokio::test]
async fn disputed_amounts_are_skipped_by_auto_application() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "500.00", 40).await;
    let d = dispute(&app, &billing(), &inv, "200.00")
        .await
        .expect(201)
        .body;
    let payment = app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": s.account, "amount": "500.00", "currency": "USD",
                "method": "ach", "received_date": today().to_string()}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(payment["applied"], "300.00");
    assert_eq!(payment["unapplied"], "200.00");
    // Once withdrawn, the rest can be applied.
    app.post(
        &format!("/v1/disputes/{}/withdraw", id(&d)),
        &billing(),
        &Value::Null,
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/payments/{}/applications", id(&payment)),
        &billing(),
        &json!({"invoice_id": id(&inv), "amount": "200.00"}),
    )
    .await
    .expect(201);
    assert_eq!(get_invoice(&app, &inv).await["status"], "paid");
}

/// A check of `amount` paying `invoice` short, for pricing: the payment, with its deduction.
async fn short_payment(app: &TestApp, account: &str, invoice: &Value, amount: &str) -> Value {
    app.post(
        "/v1/payments",
        &billing(),
        &json!({"account_id": account, "amount": amount, "currency": "USD",
            "method": "check", "received_date": today().to_string(),
            "remittance": [{"invoice_id": id(invoice), "amount": amount, "deduction_reason": "pricing"}]}),
    )
    .await
    .expect(201)
    .body
}

#[tokio::test]
async fn a_deduction_becomes_a_dispute_with_its_amount_and_reason() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "1000.00", 30).await;
    let payment = short_payment(&app, &s.account, &inv, "950.00").await;
    let deduction = id(&payment["deductions"][0]);
    let path = format!("/v1/deductions/{deduction}/dispute");
    app.post(&path, &partner_token(uuid::Uuid::now_v7()), &Value::Null)
        .await
        .expect_problem(403, "forbidden");
    let d = app
        .post(&path, &billing(), &json!({"contact": {"name": "AP desk"}}))
        .await
        .expect(201)
        .body;
    assert_eq!(d["amount"], "50.00");
    assert_eq!(d["reason"], "pricing");
    assert_eq!(d["deduction_id"], json!(deduction));
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "50.00");
    let now = app
        .get(&format!("/v1/deductions/{deduction}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(now["status"], "disputed");
    app.post(&path, &billing(), &Value::Null)
        .await
        .expect_problem(409, "deduction_not_open");
    // Withdrawn, the dispute gives the deduction back; a retry of the withdrawal answers it
    // again and gives nothing back twice.
    let withdraw = format!("/v1/disputes/{}/withdraw", id(&d));
    let note = json!({"note": "Customer accepts the price"});
    let withdrawn = app
        .post_with_key(&withdraw, &billing(), "withdraw-1", &note)
        .await
        .expect(200);
    let replay = app
        .post_with_key(&withdraw, &billing(), "withdraw-1", &note)
        .await
        .expect(200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, withdrawn.body);
    assert_eq!(replay.header("etag"), withdrawn.header("etag"));
    let back = app
        .get(&format!("/v1/deductions/{deduction}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(back["status"], "open");
    assert_eq!(back["amount"], "50.00");
    // Given back, it is disputed again: a second dispute of the same deduction, the first
    // kept as withdrawn.
    let again = app
        .post(
            &path,
            &billing(),
            &json!({"description": "Second look at the price"}),
        )
        .await
        .expect(201)
        .body;
    assert_ne!(again["id"], d["id"]);
    assert_eq!(again["deduction_id"], json!(deduction));
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "50.00");
    assert_eq!(
        app.count(&format!(
            "disputes WHERE deduction_id = '{deduction}' AND status = 'withdrawn'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "deductions WHERE id = '{deduction}' AND status = 'disputed' AND dispute_id = '{}'",
            id(&again)
        ))
        .await,
        1
    );
    assert_books_balance(&app).await;
}

async fn get_deduction(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/deductions/{id}"), &billing())
        .await
        .expect(200)
        .body
}

/// A dispute opened on an invoice that a short payment left with an open deduction takes its
/// amount out of what is short: the deduction shrinks to what is still short apart from what
/// is disputed; a dispute that leaves nothing short takes the deduction over (`disputed`,
/// linked both ways), and gives it back if it ends without a credit.
#[tokio::test]
async fn a_dispute_on_a_short_paid_invoice_shrinks_or_takes_over_its_deduction() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "1000.00", 30).await;
    let payment = short_payment(&app, &s.account, &inv, "700.00").await;
    let deduction = id(&payment["deductions"][0]);
    assert_eq!(get_deduction(&app, &deduction).await["amount"], "300.00");
    let first = dispute(&app, &billing(), &inv, "120.00")
        .await
        .expect(201)
        .body;
    let now = get_deduction(&app, &deduction).await;
    assert_eq!(
        (now["status"].as_str(), now["amount"].as_str()),
        (Some("open"), Some("180.00"))
    );
    assert_eq!(first["deduction_id"], Value::Null);
    assert_books_balance(&app).await;
    // The second dispute leaves nothing short: the deduction is disputed, by it.
    let second = dispute(&app, &billing(), &inv, "180.00")
        .await
        .expect(201)
        .body;
    let now = get_deduction(&app, &deduction).await;
    assert_eq!(now["status"], "disputed");
    assert_eq!(now["amount"], "180.00");
    assert_eq!(second["deduction_id"], json!(deduction));
    assert_eq!(
        app.count(&format!(
            "deductions WHERE id = '{deduction}' AND dispute_id = '{}'",
            id(&second)
        ))
        .await,
        1
    );
    assert_books_balance(&app).await;
    // Withdrawn, the second dispute gives it back for what is short again.
    app.post(
        &format!("/v1/disputes/{}/withdraw", id(&second)),
        &billing(),
        &json!({"note": "Customer accepts"}),
    )
    .await
    .expect(200);
    let now = get_deduction(&app, &deduction).await;
    assert_eq!(
        (now["status"].as_str(), now["amount"].as_str()),
        (Some("open"), Some("180.00"))
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn partners_dispute_their_own_accounts_invoices_only() {
    let app = spawn_app().await;
    let partner = app.create_partner("DLR-1").await;
    let partner_id = id(&partner);
    let s = setup(&app, json!({"partner_id": partner_id})).await;
    let other = id(&app.create_account(json!({})).await);
    let mine = invoice(&app, &s.account, &s.revenue, "100.00", 3).await;
    let theirs = invoice(&app, &other, &s.revenue, "100.00", 3).await;
    let portal = partner_token(partner_id.parse().unwrap());
    let d = dispute(&app, &portal, &mine, "40.00")
        .await
        .expect(201)
        .body;
    assert_eq!(d["opened_by"], "portal-user");
    let reply = dispute(&app, &portal, &theirs, "40.00")
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "invoice_id");
    let internal = dispute(&app, &billing(), &theirs, "10.00")
        .await
        .expect(201)
        .body;
    let listed = app.get("/v1/disputes", &portal).await.expect(200).body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], d["id"]);
    app.get(
        &format!("/v1/disputes/{}/attachments", id(&internal)),
        &portal,
    )
    .await
    .expect_problem(404, "not_found");
    app.get(&format!("/v1/disputes/{}", id(&internal)), &portal)
        .await
        .expect_problem(404, "not_found");
    app.post(
        &format!("/v1/disputes/{}/withdraw", id(&internal)),
        &portal,
        &Value::Null,
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/v1/disputes/{}/review", id(&d)),
        &portal,
        &Value::Null,
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        &format!("/v1/disputes/{}/withdraw", id(&d)),
        &portal,
        &json!({"note": "Paid by mistake, sorry"}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn overdue_disputes_are_listed_by_sla_state() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "900.00", 30).await;
    let late = dispute(&app, &billing(), &inv, "100.00")
        .await
        .expect(201)
        .body;
    let fresh = dispute(&app, &billing(), &inv, "100.00")
        .await
        .expect(201)
        .body;
    let closed = dispute(&app, &billing(), &inv, "100.00")
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/disputes/{}/withdraw", id(&closed)),
        &billing(),
        &Value::Null,
    )
    .await
    .expect(200);
    let yesterday = (today() - Duration::days(1)).to_string();
    app.execute(&format!(
        "UPDATE disputes SET sla_due_date = '{yesterday}' WHERE id IN ('{}', '{}')",
        id(&late),
        id(&closed)
    ))
    .await
    .unwrap();
    let ids =
        |body: Value| -> Vec<String> { body["data"].as_array().unwrap().iter().map(id).collect() };
    let viewer = token(Role::Viewer);
    let breached = app
        .get("/v1/disputes?sla=breached", &viewer)
        .await
        .expect(200)
        .body;
    assert_eq!(breached["data"][0]["sla_state"], "breached");
    assert_eq!(ids(breached), vec![id(&late)]);
    assert_eq!(
        ids(app
            .get("/v1/disputes?sla=on_track", &viewer)
            .await
            .expect(200)
            .body),
        vec![id(&fresh)]
    );
    assert_eq!(
        ids(app
            .get(
                &format!("/v1/disputes?status=withdrawn&account_id={}", s.account),
                &viewer
            )
            .await
            .expect(200)
            .body),
        vec![id(&closed)]
    );
    assert_eq!(
        ids(app
            .get("/v1/disputes?reason=pricing", &viewer)
            .await
            .expect(200)
            .body),
        Vec::<String>::new()
    );
    app.get("/v1/disputes?sla=late", &viewer).await.expect(400);
}

#[tokio::test]
async fn evidence_is_attached_and_downloaded_byte_for_byte() {
    let app = spawn_app().await;
    let s = setup(&app, json!({})).await;
    let inv = invoice(&app, &s.account, &s.revenue, "100.00", 3).await;
    let d = dispute(&app, &billing(), &inv, "10.00")
        .await
        .expect(201)
        .body;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[7u8; 64]);
    let path = format!("/v1/disputes/{}/attachments", id(&d));
    let upload = |content_type: &'static str, body: Vec<u8>| {
        app.send(
            app.client
                .post(app.url(&format!("{path}?filename=meter%20photo.png")))
                .bearer_auth(billing())
                .header("Content-Type", content_type)
                .body(body),
        )
    };
    let attached = upload("image/png", png.clone()).await.expect(201).body;
    assert_eq!(attached["filename"], "meter photo.png");
    assert_eq!(attached["size_bytes"], 72);
    upload("image/gif", png.clone()).await.expect(415);
    let mismatch = upload("application/pdf", png.clone())
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(mismatch.error_field(), "content");
    let listed = app.get(&path, &billing()).await.expect(200).body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let response = app
        .client
        .get(app.url(&format!("{path}/{}/content", id(&attached))))
        .bearer_auth(billing())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), png);
    assert_eq!(
        app.count("audit_events WHERE action = 'dispute.attachment_added'")
            .await,
        1
    );
}
