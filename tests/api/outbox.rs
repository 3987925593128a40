//! The outbox over HTTP: every change that tells other systems something writes its event in
//! its own transaction, once, carrying the resource as GET answers it right after; a change
//! that rolls back writes none.

use receivables::auth::Role;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;

fn day(offset: i64) -> time::Date {
    today() + Duration::days(offset)
}

fn manager() -> String {
    token(Role::CollectionsManager)
}

fn collector() -> String {
    token(Role::Collections)
}

/// One outbox event as stored.
#[derive(Debug)]
struct Event {
    resource_type: String,
    resource_id: String,
    account_id: String,
    data: Value,
}

/// The events of `event_type`, oldest first.
async fn events(app: &TestApp, event_type: &str) -> Vec<Event> {
    let rows = app
        .value(&format!(
            "SELECT coalesce(json_agg(json_build_object('resource_type', resource_type,
                 'resource_id', resource_id, 'account_id', account_id, 'data', data)
                 ORDER BY seq), '[]') FROM outbox_events WHERE type = '{event_type}'"
        ))
        .await;
    let rows: Vec<Value> = serde_json::from_str(&rows).expect("events as JSON");
    rows.into_iter()
        .map(|r| Event {
            resource_type: r["resource_type"].as_str().unwrap().to_string(),
            resource_id: r["resource_id"].as_str().unwrap().to_string(),
            account_id: r["account_id"].as_str().unwrap_or_default().to_string(),
            data: r["data"].clone(),
        })
        .collect()
}

/// How many events of `event_type` were written.
async fn count(app: &TestApp, event_type: &str) -> i64 {
    app.count(&format!("outbox_events WHERE type = '{event_type}'"))
        .await
}

/// Asserts the latest event of `event_type` is about `resource` (as GET `path` answers it
/// now), of `account`, carrying exactly that answer; `total` events of the type exist.
#[track_caller]
fn check(events: &[Event], total: usize, resource_type: &str, got: &Value, account: &str) {
    assert_eq!(events.len(), total, "{events:#?}");
    let last = events.last().expect("an event");
    assert_eq!(last.resource_type, resource_type);
    assert_eq!(last.resource_id, id(got));
    assert_eq!(last.account_id, account);
    assert_eq!(
        last.data, *got,
        "the event carries the resource as GET answers it"
    );
}

async fn get(app: &TestApp, path: &str) -> Value {
    app.get(path, &admin_token()).await.expect(200).body
}

async fn get_invoice(app: &TestApp, invoice: &Value) -> Value {
    get(app, &format!("/v1/invoices/{}", id(invoice))).await
}

async fn get_payment(app: &TestApp, payment: &Value) -> Value {
    get(app, &format!("/v1/payments/{}", id(payment))).await
}

async fn get_account(app: &TestApp, account: &str) -> Value {
    get(app, &format!("/v1/accounts/{account}")).await
}

async fn pay(app: &TestApp, account: &str, amount: &str, extra: Value) -> Value {
    let mut body = json!({"account_id": account, "amount": amount, "currency": "USD",
        "method": "check", "received_date": today().to_string()});
    merge(&mut body, extra);
    app.post("/v1/payments", &billing(), &body)
        .await
        .expect(201)
        .body
}

/// A draft manual invoice of one untaxed line.
async fn draft(app: &TestApp, account: &str, code: &str, amount: &str) -> Value {
    app.post(
        "/v1/invoices",
        &billing(),
        &json!({"account_id": account, "lines": [{"description": "Service", "quantity": "1",
            "unit_price": amount, "financial_code_id": code, "taxable": false}]}),
    )
    .await
    .expect(201)
    .body
}

#[tokio::test]
async fn issuing_and_voiding_an_invoice_write_one_event_each_and_a_replay_none() {
    let app = spawn_app().await;
    let a = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let invoice = draft(&app, &a, &code, "120.00").await;
    assert_eq!(
        count(&app, "invoice.issued").await,
        0,
        "a draft is not news"
    );
    let path = format!("/v1/invoices/{}/issue", id(&invoice));
    let body = json!({"invoice_date": today().to_string()});
    app.post_with_key(&path, &billing(), "issue-1", &body)
        .await
        .expect(200);
    let replay = app
        .post_with_key(&path, &billing(), "issue-1", &body)
        .await
        .expect(200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let issued = get_invoice(&app, &invoice).await;
    check(
        &events(&app, "invoice.issued").await,
        1,
        "invoice",
        &issued,
        &a,
    );
    // Issuing again is refused and writes nothing.
    app.post(&path, &billing(), &body)
        .await
        .expect_problem(409, "invoice_not_draft");
    assert_eq!(count(&app, "invoice.issued").await, 1);

    app.post(
        &format!("/v1/invoices/{}/void", id(&invoice)),
        &billing(),
        &json!({"reason": "Billed to the wrong account"}),
    )
    .await
    .expect(200);
    let voided = get_invoice(&app, &invoice).await;
    assert_eq!(voided["status"], "void");
    check(
        &events(&app, "invoice.voided").await,
        1,
        "invoice",
        &voided,
        &a,
    );
    assert_eq!(count(&app, "invoice.paid").await, 0);
}

#[tokio::test]
async fn a_billing_run_writes_invoice_issued_for_each_invoice_it_issues_and_none_for_drafts() {
    let app = spawn_app().await;
    let code = app.financial_code("4100", "revenue").await;
    let a = id(&app
        .create_account(json!({"legal_name": "Acme Manufacturing", "tax_rate": "8.25"}))
        .await);
    let b = id(&app
        .create_account(json!({"legal_name": "Bolt Logistics", "tax_rate": "0"}))
        .await);
    for (account, start) in [(&a, "2025-10-01"), (&a, "2025-10-16"), (&b, "2025-09-01")] {
        app.active_contract(json!({
            "account_id": account, "kind": "lease", "start_date": d(start),
            "billing_frequency": "monthly", "anchor_day": 1, "billing_timing": "advance",
            "charges": [
                {"description": "Base charge", "amount": "250.00", "financial_code_id": code},
                {"description": "Service plan", "amount": "39.90", "financial_code_id": code}
            ],
        }))
        .await;
    }
    let drafts = app.billing_run(json!({"as_of": d("2025-10-16")})).await;
    assert_eq!(drafts["status"], "completed", "{drafts}");
    assert!(app.count("invoices WHERE status = 'draft'").await > 0);
    assert_eq!(
        count(&app, "invoice.issued").await,
        0,
        "drafts are not news"
    );

    let run = app
        .billing_run(json!({"as_of": d("2025-11-01"), "mode": "issue"}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let issued = get(
        &app,
        &format!("/v1/invoices?billing_run_id={}&limit=200", id(&run)),
    )
    .await["data"]
        .as_array()
        .unwrap()
        .clone();
    assert!(issued.len() >= 3, "{issued:#?}");
    let events = events(&app, "invoice.issued").await;
    assert_eq!(events.len(), issued.len());
    for listed in &issued {
        let invoice = get_invoice(&app, listed).await;
        assert_eq!(invoice["status"], "open");
        let event = events
            .iter()
            .find(|e| e.resource_id == id(&invoice))
            .expect("an event of each invoice issued");
        assert_eq!(event.resource_type, "invoice");
        assert_eq!(event.account_id, invoice["account_id"].as_str().unwrap());
        assert_eq!(event.data, invoice);
    }
    // A run again bills nothing and says nothing.
    app.billing_run(json!({"as_of": d("2025-11-01"), "mode": "issue"}))
        .await;
    assert_eq!(count(&app, "invoice.issued").await, issued.len() as i64);
}

#[tokio::test]
async fn invoice_paid_is_written_once_when_a_payment_pays_it_in_full_and_not_for_a_part() {
    let app = spawn_app().await;
    let a = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let invoice = app.issued_invoice(&a, &code, "100.00", day(-10)).await;

    let part = pay(&app, &a, "40.00", json!({})).await;
    assert_eq!(get_invoice(&app, &invoice).await["status"], "open");
    assert_eq!(count(&app, "invoice.paid").await, 0);
    let part = get_payment(&app, &part).await;
    check(
        &events(&app, "payment.received").await,
        1,
        "payment",
        &part,
        &a,
    );
    check(
        &events(&app, "payment.applied").await,
        1,
        "payment",
        &part,
        &a,
    );

    let rest = pay(&app, &a, "60.00", json!({})).await;
    let paid = get_invoice(&app, &invoice).await;
    assert_eq!(paid["status"], "paid");
    check(&events(&app, "invoice.paid").await, 1, "invoice", &paid, &a);
    let rest = get_payment(&app, &rest).await;
    check(
        &events(&app, "payment.applied").await,
        2,
        "payment",
        &rest,
        &a,
    );

    // Cash with nothing left to pay is received, not applied; the paid invoice says nothing
    // more.
    let spare = pay(&app, &a, "10.00", json!({})).await;
    let spare = get_payment(&app, &spare).await;
    check(
        &events(&app, "payment.received").await,
        3,
        "payment",
        &spare,
        &a,
    );
    assert_eq!(count(&app, "payment.applied").await, 2);
    assert_eq!(count(&app, "invoice.paid").await, 1);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn every_way_an_invoice_reaches_a_zero_balance_writes_invoice_paid_once() {
    let app = spawn_app().await;
    let a = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let credit = app.financial_code("4900", "credit").await;
    let write_off = app.financial_code("6900", "write_off").await;

    // A remittance short by 3.00 (a deduction), then its small-balance write-off.
    let short = app.issued_invoice(&a, &code, "103.00", day(-5)).await;
    let payment = pay(
        &app,
        &a,
        "100.00",
        json!({"remittance": [{"invoice_id": id(&short), "amount": "100.00",
                               "deduction_reason": "pricing"}]}),
    )
    .await;
    assert_eq!(count(&app, "invoice.paid").await, 0);
    let deduction = id(&payment["deductions"][0]);
    app.post(
        &format!("/v1/deductions/{deduction}/write-off"),
        &billing(),
        &json!({"financial_code_id": write_off}),
    )
    .await
    .expect(200);
    let short = get_invoice(&app, &short).await;
    assert_eq!(short["status"], "paid");
    check(
        &events(&app, "invoice.paid").await,
        1,
        "invoice",
        &short,
        &a,
    );

    // A credit memo applied by hand.
    let credited = app.issued_invoice(&a, &code, "80.00", day(-5)).await;
    let memo = app
        .post(
            "/v1/credit-memos",
            &billing(),
            &json!({"account_id": a, "reason": "billing_error", "financial_code_id": credit,
                    "amount": "80.00", "description": "Billed twice"}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/credit-memos/{}/issue", id(&memo)),
        &billing(),
        &json!(null),
    )
    .await
    .expect(200);
    assert_eq!(count(&app, "invoice.paid").await, 1);
    app.post(
        &format!("/v1/credit-memos/{}/applications", id(&memo)),
        &billing(),
        &json!({"invoice_id": id(&credited), "amount": "80.00"}),
    )
    .await
    .expect(201);
    let credited = get_invoice(&app, &credited).await;
    assert_eq!(credited["status"], "paid");
    check(
        &events(&app, "invoice.paid").await,
        2,
        "invoice",
        &credited,
        &a,
    );

    // A small balance written off by an adjustment.
    let small = app.issued_invoice(&a, &code, "4.00", day(-5)).await;
    app.post(
        "/v1/adjustments",
        &billing(),
        &json!({"kind": "small_balance_write_off", "invoice_id": id(&small),
                "financial_code_id": write_off, "reason": "Not worth collecting"}),
    )
    .await
    .expect(201);
    let small = get_invoice(&app, &small).await;
    assert_eq!(small["status"], "paid");
    check(
        &events(&app, "invoice.paid").await,
        3,
        "invoice",
        &small,
        &a,
    );

    // Paid, reopened by a reversal, paid again: a second transition, a second event.
    let again = app.issued_invoice(&a, &code, "50.00", day(-5)).await;
    let cash = pay(&app, &a, "50.00", json!({})).await;
    assert_eq!(count(&app, "invoice.paid").await, 4);
    let application = id(&cash["applications"][0]);
    app.post(
        &format!(
            "/v1/payments/{}/applications/{application}/reverse",
            id(&cash)
        ),
        &billing(),
        &json!({"reason": "Applied to the wrong invoice"}),
    )
    .await
    .expect(200);
    assert_eq!(get_invoice(&app, &again).await["status"], "open");
    assert_eq!(count(&app, "invoice.paid").await, 4);
    let apply = format!("/v1/payments/{}/applications", id(&cash));
    let body = json!({"invoice_id": id(&again), "amount": "50.00"});
    app.post_with_key(&apply, &billing(), "apply-1", &body)
        .await
        .expect(201);
    let replay = app
        .post_with_key(&apply, &billing(), "apply-1", &body)
        .await
        .expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let again = get_invoice(&app, &again).await;
    check(
        &events(&app, "invoice.paid").await,
        5,
        "invoice",
        &again,
        &a,
    );
    // The remittance's, the 50.00 on receipt, and this one (its replay wrote nothing).
    check(
        &events(&app, "payment.applied").await,
        3,
        "payment",
        &get_payment(&app, &cash).await,
        &a,
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_returned_payment_writes_its_return_the_fee_invoice_and_the_broken_promise() {
    let app = spawn_app().await;
    app.financial_code(RETURNED_FEE_CODE, "fee").await;
    let a = id(&app
        .create_account(json!({"legal_name": "Bouncer Ltd"}))
        .await);
    let code = app.financial_code("4000", "revenue").await;
    let invoice = app.issued_invoice(&a, &code, "300.00", day(-40)).await;
    let promise = app
        .post(
            "/v1/collections/promises",
            &collector(),
            &json!({"account_id": a,
                    "instalments": [{"amount": "300.00", "due_date": day(7).to_string()}]}),
        )
        .await
        .expect(201)
        .body;
    let account = get_account(&app, &a).await;
    assert_eq!(account["collections_status"], "promised");
    check(
        &events(&app, "account.collections_status_changed").await,
        1,
        "account",
        &account,
        &a,
    );

    // Applied on receipt, it pays the invoice and keeps the promise: the account leaves
    // collections.
    let payment = pay(&app, &a, "300.00", json!({})).await;
    let applied = get_payment(&app, &payment).await;
    check(
        &events(&app, "payment.received").await,
        1,
        "payment",
        &applied,
        &a,
    );
    check(
        &events(&app, "payment.applied").await,
        1,
        "payment",
        &applied,
        &a,
    );
    let paid = get_invoice(&app, &invoice).await;
    check(&events(&app, "invoice.paid").await, 1, "invoice", &paid, &a);
    assert_eq!(
        get(&app, &format!("/v1/collections/promises/{}", id(&promise))).await["status"],
        "kept"
    );
    assert_eq!(count(&app, "promise.broken").await, 0);
    let account = get_account(&app, &a).await;
    assert_eq!(account["collections_status"], "none");
    check(
        &events(&app, "account.collections_status_changed").await,
        2,
        "account",
        &account,
        &a,
    );

    // The bank returns it: the invoice reopens, a fee is billed, the promise is broken and
    // the account goes back to dunning.
    app.post(
        &format!("/v1/payments/{}/return", id(&payment)),
        &billing(),
        &json!({"reason": "nsf", "charge_fee": true}),
    )
    .await
    .expect(200);
    let returned = get_payment(&app, &payment).await;
    check(
        &events(&app, "payment.returned").await,
        1,
        "payment",
        &returned,
        &a,
    );
    let fee = get(
        &app,
        &format!(
            "/v1/invoices/{}",
            returned["return"]["fee_invoice_id"]
                .as_str()
                .expect("a fee invoice")
        ),
    )
    .await;
    // The manual invoice's issue, then the fee's.
    check(
        &events(&app, "invoice.issued").await,
        2,
        "invoice",
        &fee,
        &a,
    );
    let broken = get(&app, &format!("/v1/collections/promises/{}", id(&promise))).await;
    assert_eq!(broken["status"], "broken");
    check(
        &events(&app, "promise.broken").await,
        1,
        "promise",
        &broken,
        &a,
    );
    let account = get_account(&app, &a).await;
    assert_eq!(account["collections_status"], "in_dunning");
    check(
        &events(&app, "account.collections_status_changed").await,
        3,
        "account",
        &account,
        &a,
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn credit_memos_write_credit_memo_issued_however_they_are_issued() {
    let app = spawn_app().await;
    let a = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let credit = app.financial_code("4900", "credit").await;
    let memo = |amount: &str| {
        json!({"account_id": a, "reason": "billing_error", "financial_code_id": credit,
               "amount": amount, "description": "Colour overage billed twice"})
    };
    // Within billing's limit: issued at once.
    let small = app
        .post("/v1/credit-memos", &billing(), &memo("120.00"))
        .await
        .expect(201)
        .body;
    assert_eq!(
        count(&app, "credit_memo.issued").await,
        0,
        "a draft is not news"
    );
    app.post(
        &format!("/v1/credit-memos/{}/issue", id(&small)),
        &billing(),
        &json!(null),
    )
    .await
    .expect(200);
    let small = get(&app, &format!("/v1/credit-memos/{}", id(&small))).await;
    assert_eq!(small["status"], "issued");
    check(
        &events(&app, "credit_memo.issued").await,
        1,
        "credit_memo",
        &small,
        &a,
    );

    // Above it: pending approval says nothing; the approval issues it.
    let large = app
        .post("/v1/credit-memos", &billing(), &memo("900.00"))
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/credit-memos/{}/issue", id(&large)),
        &billing(),
        &json!(null),
    )
    .await
    .expect(200);
    assert_eq!(count(&app, "credit_memo.issued").await, 1);
    app.post(
        &format!("/v1/credit-memos/{}/approve", id(&large)),
        &manager(),
        &json!({"note": "Confirmed with sales"}),
    )
    .await
    .expect(200);
    let large = get(&app, &format!("/v1/credit-memos/{}", id(&large))).await;
    check(
        &events(&app, "credit_memo.issued").await,
        2,
        "credit_memo",
        &large,
        &a,
    );

    // A dispute opened, then resolved valid: its memo is issued and applied, which pays
    // the invoice.
    let invoice = app.issued_invoice(&a, &code, "200.00", day(-5)).await;
    let dispute = app.open_dispute_on(&invoice, "200.00").await;
    let opened = get(&app, &format!("/v1/disputes/{}", id(&dispute))).await;
    check(
        &events(&app, "dispute.opened").await,
        1,
        "dispute",
        &opened,
        &a,
    );
    app.post(
        &format!("/v1/disputes/{}/resolve", id(&dispute)),
        &manager(),
        &json!({"outcome": "valid", "root_cause": "billing_error", "note": "Confirmed",
                "approved_amount": "200.00", "financial_code_id": credit}),
    )
    .await
    .expect(200);
    let resolved = get(&app, &format!("/v1/disputes/{}", id(&dispute))).await;
    check(
        &events(&app, "dispute.resolved").await,
        1,
        "dispute",
        &resolved,
        &a,
    );
    let memo = get(
        &app,
        &format!(
            "/v1/credit-memos/{}",
            resolved["credit_memo_id"].as_str().unwrap()
        ),
    )
    .await;
    check(
        &events(&app, "credit_memo.issued").await,
        3,
        "credit_memo",
        &memo,
        &a,
    );
    let paid = get_invoice(&app, &invoice).await;
    assert_eq!(paid["status"], "paid");
    check(&events(&app, "invoice.paid").await, 1, "invoice", &paid, &a);

    // A dispute opened on a short payment's deduction.
    let short = app.issued_invoice(&a, &code, "100.00", day(-5)).await;
    let payment = pay(
        &app,
        &a,
        "60.00",
        json!({"remittance": [{"invoice_id": id(&short), "amount": "60.00",
                               "deduction_reason": "pricing"}]}),
    )
    .await;
    let from_deduction = app
        .post(
            &format!("/v1/deductions/{}/dispute", id(&payment["deductions"][0])),
            &billing(),
            &json!({}),
        )
        .await
        .expect(201)
        .body;
    let from_deduction = get(&app, &format!("/v1/disputes/{}", id(&from_deduction))).await;
    check(
        &events(&app, "dispute.opened").await,
        2,
        "dispute",
        &from_deduction,
        &a,
    );
    assert_books_balance(&app).await;
}

/// A policy of a reminder at 1 day past due and a suspension order at 60.
async fn policy(app: &TestApp) {
    app.post(
        "/v1/collections/dunning-policies",
        &manager(),
        &json!({"name": "Standard", "is_default": true, "steps": [
            {"days_past_due": 1, "action": "reminder_email",
             "template": {"subject": "{{invoice.number}} is overdue",
                          "text": "Dear {{account.name}}, {{amount}} {{currency}} is {{days_past_due}} days late."}},
            {"days_past_due": 60, "action": "suspension_order"}
        ]}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn dunning_writes_its_notices_orders_and_the_account_moving_into_dunning() {
    let app = spawn_app().await;
    policy(&app).await;
    let a = id(&app
        .create_account(json!({"legal_name": "Smith & <Sons>"}))
        .await);
    app.post(
        &format!("/v1/accounts/{a}/contacts"),
        &billing(),
        &json!({"name": "Dana", "email": "ap@smith.example", "role": "billing"}),
    )
    .await
    .expect(201);
    let code = app.financial_code("4000", "revenue").await;
    // 5 days past due (a reminder) and 70 (a suspension order).
    app.issued_invoice(&a, &code, "150.00", day(-35)).await;
    app.issued_invoice(&a, &code, "300.00", day(-100)).await;

    let run = app
        .post_with_key(
            "/v1/collections/dunning-runs",
            &manager(),
            "dun-1",
            &json!({"as_of": today().to_string()}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(run["notices"], 1, "{run}");
    assert_eq!(run["service_orders"], 1, "{run}");
    let notices = events(&app, "notice.created").await;
    let notice = get(
        &app,
        &format!("/v1/collections/notices/{}", notices[0].resource_id),
    )
    .await;
    check(&notices, 1, "notice", &notice, &a);
    assert_eq!(notice["channel"], "email");
    assert_eq!(notice["recipient"], "ap@smith.example");
    assert!(notice["body_html"]
        .as_str()
        .unwrap()
        .contains("Smith &amp; &lt;Sons&gt;"));
    assert!(notice["body_text"]
        .as_str()
        .unwrap()
        .contains("Smith & <Sons>"));
    let orders = events(&app, "service_order.created").await;
    let order = get(
        &app,
        &format!("/v1/service-orders/{}", orders[0].resource_id),
    )
    .await;
    check(&orders, 1, "service_order", &order, &a);
    assert_eq!(order["source"], "dunning");
    let account = get_account(&app, &a).await;
    assert_eq!(account["collections_status"], "in_dunning");
    check(
        &events(&app, "account.collections_status_changed").await,
        1,
        "account",
        &account,
        &a,
    );

    // The same run again (replayed) and a new run: every step is done, nothing is news.
    app.post_with_key(
        "/v1/collections/dunning-runs",
        &manager(),
        "dun-1",
        &json!({"as_of": today().to_string()}),
    )
    .await;
    app.post(
        "/v1/collections/dunning-runs",
        &manager(),
        &json!({"as_of": today().to_string()}),
    )
    .await
    .expect(201);
    assert_eq!(count(&app, "notice.created").await, 1);
    assert_eq!(count(&app, "service_order.created").await, 1);
    assert_eq!(count(&app, "account.collections_status_changed").await, 1);

    // An order by hand, and its cancellation.
    let pickup = app
        .post(
            "/v1/service-orders",
            &collector(),
            &json!({"account_id": a, "kind": "equipment_pickup", "reason": "Returned to depot"}),
        )
        .await
        .expect(201)
        .body;
    let pickup = get(&app, &format!("/v1/service-orders/{}", id(&pickup))).await;
    check(
        &events(&app, "service_order.created").await,
        2,
        "service_order",
        &pickup,
        &a,
    );
    app.post(
        &format!("/v1/service-orders/{}/cancel", id(&pickup)),
        &collector(),
        &json!({"reason": "The customer keeps the copier"}),
    )
    .await
    .expect(200);
    let cancelled = get(&app, &format!("/v1/service-orders/{}", id(&pickup))).await;
    check(
        &events(&app, "service_order.cancelled").await,
        1,
        "service_order",
        &cancelled,
        &a,
    );

    // Paying what is past due cancels the dunning order and takes the account out of
    // dunning.
    pay(&app, &a, "450.00", json!({})).await;
    let obsolete = get(&app, &format!("/v1/service-orders/{}", id(&order))).await;
    assert_eq!(obsolete["status"], "cancelled");
    check(
        &events(&app, "service_order.cancelled").await,
        2,
        "service_order",
        &obsolete,
        &a,
    );
    let account = get_account(&app, &a).await;
    assert_eq!(account["collections_status"], "none");
    check(
        &events(&app, "account.collections_status_changed").await,
        2,
        "account",
        &account,
        &a,
    );
}

#[tokio::test]
async fn a_collections_status_set_by_hand_or_by_a_write_off_is_written() {
    let app = spawn_app().await;
    let a = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let bad_debt = app.financial_code("6950", "write_off").await;
    app.issued_invoice(&a, &code, "500.00", day(-90)).await;
    let version = get_account(&app, &a).await["version"].clone();
    app.patch(
        &format!("/v1/accounts/{a}"),
        &manager(),
        &json!({"version": version, "collections_status": "in_dunning"}),
    )
    .await
    .expect(200);
    let account = get_account(&app, &a).await;
    check(
        &events(&app, "account.collections_status_changed").await,
        1,
        "account",
        &account,
        &a,
    );
    // A change of anything else is not a collections move.
    app.patch(
        &format!("/v1/accounts/{a}"),
        &billing(),
        &json!({"version": account["version"], "legal_name": "Acme Holdings Inc."}),
    )
    .await
    .expect(200);
    assert_eq!(count(&app, "account.collections_status_changed").await, 1);

    app.post(
        "/v1/adjustments",
        &manager(),
        &json!({"kind": "bad_debt_write_off", "account_id": a, "financial_code_id": bad_debt,
                "reason": "Customer out of business"}),
    )
    .await
    .expect(201);
    let account = get_account(&app, &a).await;
    assert_eq!(account["collections_status"], "written_off");
    check(
        &events(&app, "account.collections_status_changed").await,
        2,
        "account",
        &account,
        &a,
    );
    assert_eq!(
        count(&app, "invoice.paid").await,
        0,
        "written off is not paid"
    );
}

#[tokio::test]
async fn a_change_that_rolls_back_writes_no_event() {
    let app = spawn_app().await;
    let a = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let invoice = app.issued_invoice(&a, &code, "100.00", day(-10)).await;
    let before = app.count("outbox_events").await;

    // Refused by a rule after part of its work: the applications were reversed when the fee
    // (whose code does not exist here) is refused.
    let payment = pay(&app, &a, "100.00", json!({})).await;
    assert_eq!(count(&app, "invoice.paid").await, 1);
    let written = app.count("outbox_events").await;
    app.post(
        &format!("/v1/payments/{}/return", id(&payment)),
        &billing(),
        &json!({"reason": "nsf", "charge_fee": true}),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(app.count("outbox_events").await, written);
    assert_eq!(get_invoice(&app, &invoice).await["status"], "paid");

    // Failing at its very end, after its events were written (the audit entry, written
    // last, is refused): the payment, its application and its events are all gone.
    app.execute(
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.action = 'payment.received' THEN
                 RAISE EXCEPTION 'refused' USING ERRCODE = '40001';
             END IF;
             RETURN NEW;
         END $$",
    )
    .await
    .unwrap();
    app.execute(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events
         FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
    )
    .await
    .unwrap();
    let other = app.issued_invoice(&a, &code, "70.00", day(-5)).await;
    let written = app.count("outbox_events").await;
    app.post(
        "/v1/payments",
        &billing(),
        &json!({"account_id": a, "amount": "70.00", "currency": "USD", "method": "check",
                "received_date": today().to_string()}),
    )
    .await
    .expect_problem(409, "concurrent_update");
    assert_eq!(app.count("outbox_events").await, written);
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(get_invoice(&app, &other).await["status"], "open");
    assert!(written > before);
}
