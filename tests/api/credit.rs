//! Credit management: reviews with the payment history computed as of their date, approval
//! authority by role and amount, terms exceptions, exposure crossing the limit, credit holds,
//! periodic reviews and automatic holds by the scheduled job, partner isolation.

use receivables::auth::{self, Role};
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;

fn credit() -> String {
    token(Role::Credit)
}

/// A second credit analyst (the first is `credit-user`).
fn other_analyst() -> String {
    auth::mint(&jwt_settings(), "credit-analyst-2", Role::Credit, None, 600).unwrap()
}

fn manager() -> String {
    token(Role::CollectionsManager)
}

fn review_body(limit: &str, terms: i64, reason: &str) -> Value {
    json!({"requested_limit": limit, "requested_terms_days": terms, "reason": reason})
}

async fn request_review(app: &TestApp, who: &str, account: &str, body: &Value) -> Value {
    app.post(&format!("/v1/accounts/{account}/credit-reviews"), who, body)
        .await
        .expect(201)
        .body
}

async fn decide(app: &TestApp, who: &str, review: &Value, verdict: &str) -> Reply {
    app.post(
        &format!("/v1/credit-reviews/{}/{verdict}", id(review)),
        who,
        &json!({"note": format!("{verdict} after reading the history")}),
    )
    .await
}

/// Pays `amount` on `invoice`, received on `received`.
async fn pay(app: &TestApp, account: &str, invoice: &Value, amount: &str, received: &str) {
    app.post(
        "/v1/payments",
        &billing(),
        &json!({"account_id": account, "amount": amount, "currency": "USD", "method": "check",
                "reference": "chk", "received_date": d(received),
                "remittance": [{"invoice_id": id(invoice), "amount": amount}]}),
    )
    .await
    .expect(201);
}

/// The account's credit hold in force (null when none), as its credit profile shows it.
async fn hold_of(app: &TestApp, account: &str) -> Value {
    app.get(&format!("/v1/accounts/{account}/credit"), &credit())
        .await
        .expect(200)
        .body["hold"]
        .clone()
}

/// The scheduled jobs' run on the clock's day (credit reviews and holds among them).
async fn scheduled_run(app: &TestApp) -> Reply {
    app.post(
        "/v1/collections/dunning-runs",
        &manager(),
        &json!({"as_of": app.clock.today().to_string()}),
    )
    .await
    .expect(201)
}

fn contract_body(account: &str, code: &str, amount: &str) -> Value {
    json!({
        "account_id": account,
        "kind": "service",
        "start_date": d("2026-11-01"),
        "billing_frequency": "monthly",
        "anchor_day": 1,
        "billing_timing": "advance",
        "charges": [{"description": "Managed print service", "amount": amount, "financial_code_id": code}]
    })
}

#[tokio::test]
async fn a_review_stores_the_payment_history_computed_by_hand() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let acc = id(&account);
    let code = app.financial_code("4100", "revenue").await;
    // Net 30. Paid 5, 12 and 40 days late, and one 20 days early; one still open, past due.
    let a = app
        .issued_invoice(&acc, &code, "1000.00", date("2026-06-01"))
        .await;
    let b = app
        .issued_invoice(&acc, &code, "2000.00", date("2026-07-01"))
        .await;
    let c = app
        .issued_invoice(&acc, &code, "1000.00", date("2026-08-01"))
        .await;
    let e = app
        .issued_invoice(&acc, &code, "1000.00", date("2026-09-01"))
        .await;
    let open = app
        .issued_invoice(&acc, &code, "500.00", date("2026-10-01"))
        .await;
    pay(&app, &acc, &a, "1000.00", "2026-07-06").await;
    pay(&app, &acc, &b, "2000.00", "2026-08-12").await;
    pay(&app, &acc, &c, "1000.00", "2026-10-10").await;
    pay(&app, &acc, &e, "1000.00", "2026-09-11").await;
    app.open_dispute_on(&open, "100.00").await;

    let mut body = review_body("20000.00", 30, "limit_increase");
    body["external_score"] = json!({"agency": "Dun & Bradstreet", "score": 72, "rating": "3A2", "report_date": d("2026-11-02")});
    let review = request_review(&app, &credit(), &acc, &body).await;
    assert_eq!(review["status"], "pending");
    assert_eq!(review["requested_limit"], "20000.00");
    assert_eq!(review["terms_exception"], false);
    assert_eq!(review["review_date"], today().to_string());
    assert_eq!(review["external_score"]["rating"], "3A2");
    let h = &review["history"];
    assert_eq!(h["as_of"], today().to_string());
    assert_eq!(h["period_from"], d("2025-11-26"));
    // Days to pay 35, 42, 70 and 10 on 1000, 2000, 1000 and 1000:
    // (35000 + 84000 + 70000 + 10000) / 5000 = 39.80.
    assert_eq!(h["average_days_to_pay"]["value"], "39.80");
    assert_eq!(h["average_days_to_pay"]["count"], 4);
    // Beyond terms 5, 12, 40 and 0: (5000 + 24000 + 40000 + 0) / 5000 = 13.80.
    assert_eq!(h["average_days_beyond_terms"]["value"], "13.80");
    let explanation = h["average_days_beyond_terms"]["explanation"]
        .as_str()
        .unwrap();
    assert!(
        explanation.contains("4 invoices paid in full"),
        "{explanation}"
    );
    assert!(
        explanation.contains(&format!("between {} and {}", d("2025-11-26"), today())),
        "{explanation}"
    );
    assert!(explanation.contains("5000.00 USD"), "{explanation}");
    // One of four paid by its due date.
    assert_eq!(h["on_time_share"]["value"], "25.00");
    // The balance ran 1000, 3000 (1 July), 2000, 3000, 1000, 2000, 1000, 1500, 500.
    assert_eq!(h["highest_balance"]["value"], "3000.00");
    assert!(h["highest_balance"]["explanation"]
        .as_str()
        .unwrap()
        .contains(&d("2026-07-01")));
    assert_eq!(h["open_balance"]["value"], "500.00");
    assert_eq!(h["open_balance"]["count"], 1);
    assert_eq!(h["past_due_balance"]["value"], "500.00");
    assert_eq!(h["returned_payments"]["value"], "0");
    assert_eq!(h["broken_promises"]["value"], "0");
    assert_eq!(h["open_disputes"]["value"], "1");
    assert!(h["risk_score"]["value"].is_string());
    assert!(h["risk_level"].is_string());

    // Stored with the review, as computed then.
    assert_eq!(
        app.value(&format!(
            "SELECT history->'average_days_beyond_terms'->>'value' FROM credit_reviews WHERE id = '{}'",
            id(&review)
        ))
        .await,
        "13.80"
    );
    let fetched = app
        .get(
            &format!("/v1/credit-reviews/{}", id(&review)),
            &token(Role::Viewer),
        )
        .await
        .expect(200);
    assert_eq!(fetched.body["history"], review["history"]);
    assert_eq!(
        app.count("audit_events WHERE action = 'credit_review.created'")
            .await,
        1
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn approval_follows_authority_and_the_requester_cannot_decide() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let acc = id(&account);
    let review = request_review(
        &app,
        &credit(),
        &acc,
        &review_body("60000.00", 30, "new_business"),
    )
    .await;

    decide(&app, &credit(), &review, "approve")
        .await
        .expect_problem(409, "own_review");
    decide(&app, &other_analyst(), &review, "approve")
        .await
        .expect_problem(409, "above_authority");
    decide(&app, &billing(), &review, "approve")
        .await
        .expect_problem(403, "forbidden");
    let account_now = app
        .get(&format!("/v1/accounts/{acc}"), &admin_token())
        .await
        .body;
    assert_eq!(account_now["credit_limit"], Value::Null);

    let escalated = decide(&app, &other_analyst(), &review, "escalate")
        .await
        .expect(200);
    assert_eq!(escalated.body["status"], "escalated");
    assert_eq!(escalated.body["escalated_by"], "credit-analyst-2");
    // Escalated: only a role with unlimited authority decides it now.
    decide(&app, &other_analyst(), &review, "decline")
        .await
        .expect_problem(409, "above_authority");
    let approved = decide(&app, &manager(), &review, "approve")
        .await
        .expect(200);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["decided_by"], "collections_manager-user");
    assert_eq!(approved.body["decided_role"], "collections_manager");
    let account_now = app
        .get(&format!("/v1/accounts/{acc}"), &admin_token())
        .await
        .body;
    assert_eq!(account_now["credit_limit"], "60000.00");
    assert_eq!(account_now["payment_terms_days"], 30);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'account.credit_approved' AND entity_id = '{acc}' \
             AND after->>'credit_limit' = '60000.00' AND before->>'credit_limit' IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'credit_review.approved'")
            .await,
        1
    );
    decide(&app, &manager(), &review, "decline")
        .await
        .expect_problem(409, "review_closed");

    // Within the analyst's authority (50,000.00), another analyst approves.
    let within = request_review(
        &app,
        &billing(),
        &acc,
        &review_body("50000.00", 30, "limit_increase"),
    )
    .await;
    decide(&app, &credit(), &within, "approve")
        .await
        .expect(200);
    let account_now = app
        .get(&format!("/v1/accounts/{acc}"), &admin_token())
        .await
        .body;
    assert_eq!(account_now["credit_limit"], "50000.00");
    // A role with unlimited authority has nobody to escalate to.
    let small = request_review(
        &app,
        &credit(),
        &acc,
        &review_body("100.00", 30, "limit_increase"),
    )
    .await;
    decide(&app, &admin_token(), &small, "escalate")
        .await
        .expect_problem(409, "no_higher_authority");
}

#[tokio::test]
async fn terms_longer_than_the_standard_need_the_higher_role() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let acc = id(&account);
    let review = request_review(
        &app,
        &billing(),
        &acc,
        &review_body("1000.00", 60, "terms_exception"),
    )
    .await;
    assert_eq!(review["terms_exception"], true);
    assert_eq!(review["current_terms_days"], 30);
    decide(&app, &credit(), &review, "approve")
        .await
        .expect_problem(409, "terms_exception");
    let account_now = app
        .get(&format!("/v1/accounts/{acc}"), &admin_token())
        .await
        .body;
    assert_eq!(account_now["payment_terms_days"], 30);
    decide(&app, &manager(), &review, "approve")
        .await
        .expect(200);
    let account_now = app
        .get(&format!("/v1/accounts/{acc}"), &admin_token())
        .await
        .body;
    assert_eq!(account_now["payment_terms_days"], 60);
    assert_eq!(account_now["credit_limit"], "1000.00");
}

#[tokio::test]
async fn bad_review_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let path = format!("/v1/accounts/{}/credit-reviews", id(&account));
    let cases = [
        (review_body("-1.00", 30, "periodic"), "requested_limit"),
        (review_body("10.005", 30, "periodic"), "requested_limit"),
        (
            review_body("10.00", 400, "periodic"),
            "requested_terms_days",
        ),
        (
            json!({"requested_limit": 10.0, "requested_terms_days": 30, "reason": "periodic"}),
            "requested_limit",
        ),
        (review_body("10.00", 30, "because"), "reason"),
        (
            json!({"requested_limit": "10.00", "requested_terms_days": 30, "reason": "periodic", "colour": "red"}),
            "colour",
        ),
        (
            json!({"requested_limit": "10.00", "requested_terms_days": 30, "reason": "periodic",
                   "external_score": {"agency": "D&B", "score": 70, "report_date": d("2026-12-25")}}),
            "external_score.report_date",
        ),
        (
            json!({"requested_limit": "10.00", "requested_terms_days": 30, "reason": "periodic",
                   "external_score": {"agency": " ", "score": 70, "report_date": d("2026-11-02")}}),
            "external_score.agency",
        ),
    ];
    for (body, field) in cases {
        let reply = app
            .post(&path, &credit(), &body)
            .await
            .expect_problem(422, "validation_failed");
        assert!(
            reply.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"].as_str().unwrap_or("").starts_with(field)),
            "{body}: {}",
            reply.body
        );
    }
    app.send(
        app.client
            .post(app.url(&path))
            .bearer_auth(credit())
            .header("content-type", "application/json")
            .body("{\"requested_limit\":"),
    )
    .await
    .expect_problem(400, "malformed_json");
    app.post(
        &format!("/v1/accounts/{}/credit-reviews", uuid::Uuid::now_v7()),
        &credit(),
        &review_body("10.00", 30, "periodic"),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/v1/accounts/{}/credit-holds", id(&account)),
        &credit(),
        &json!({"reason": ""}),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(app.count("credit_reviews").await, 0);
    assert_eq!(app.count("credit_holds").await, 0);
    assert_eq!(
        app.count("audit_events WHERE action LIKE 'credit%'").await,
        0
    );
}

#[tokio::test]
async fn crossing_the_credit_limit_opens_one_task_while_it_is_open() {
    let app = spawn_app().await;
    let account = app.create_account(json!({"credit_limit": "1000.00"})).await;
    let acc = id(&account);
    let code = app.financial_code("4100", "revenue").await;
    let contract = app
        .active_contract(contract_body(&acc, &code, "400.00"))
        .await;
    let tasks = "tasks WHERE type = 'credit_limit_exceeded'";
    assert_eq!(app.count(tasks).await, 0, "400.00 of 1000.00 is within");

    // 700.00 open + 400.00 committed = 1100.00 > 1000.00.
    app.issued_invoice(&acc, &code, "700.00", today()).await;
    assert_eq!(app.count(tasks).await, 1);
    let task = app
        .get("/v1/tasks?type=credit_limit_exceeded", &credit())
        .await
        .expect(200)
        .body["data"][0]
        .clone();
    assert_eq!(task["account_id"], acc);
    assert_eq!(task["priority"], "high");
    assert_eq!(task["status"], "open");
    let description = task["description"].as_str().unwrap();
    assert!(
        description.contains("balance 700.00 USD")
            && description.contains("committed charges 400.00 USD")
            && description.contains("exposure 1100.00 USD")
            && description.contains("over by 100.00 USD"),
        "{description}"
    );

    // Over again while the task is open: nothing more.
    app.issued_invoice(&acc, &code, "50.00", today()).await;
    assert_eq!(app.count(tasks).await, 1);
    let profile = app
        .get(&format!("/v1/accounts/{acc}/credit"), &credit())
        .await
        .expect(200)
        .body;
    assert_eq!(profile["exposure"]["balance"], "750.00");
    assert_eq!(profile["exposure"]["committed_charges"], "400.00");
    assert_eq!(profile["exposure"]["active_contracts"], 1);
    assert_eq!(profile["exposure"]["total"], "1150.00");
    assert_eq!(profile["exposure"]["available"], "-150.00");
    assert_eq!(profile["exposure"]["over_limit"], true);

    // Once the task is done, an upgrade that crosses again opens a new one.
    app.patch(
        &format!("/v1/tasks/{}", id(&task)),
        &credit(),
        &json!({"status": "done", "version": task["version"]}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/contracts/{contract}/amendments"),
        &billing(),
        &json!({"kind": "upgrade", "effective_date": d("2026-12-01"),
                "charges": [{"description": "Finisher", "amount": "30.00", "financial_code_id": code}]}),
    )
    .await
    .expect(201);
    assert_eq!(app.count(tasks).await, 2);
    assert_eq!(
        app.count("audit_events WHERE action = 'task.created'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_billing_run_that_issues_over_the_limit_opens_the_task_too() {
    let app = spawn_app().await;
    let account = app.create_account(json!({"credit_limit": "300.00"})).await;
    let acc = id(&account);
    let code = app.financial_code("4100", "revenue").await;
    app.active_contract(contract_body(&acc, &code, "250.00"))
        .await;
    let tasks = "tasks WHERE type = 'credit_limit_exceeded'";
    assert_eq!(app.count(tasks).await, 0);
    let run = app
        .billing_run(json!({"as_of": today().to_string(), "mode": "issue"}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert!(app.count("invoices WHERE status = 'open'").await >= 1);
    assert_eq!(app.count(tasks).await, 1);
    assert_eq!(
        app.count(&format!(
            "{tasks} AND account_id = '{acc}' AND created_by LIKE 'billing-run:%'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_hold_blocks_contracts_upgrades_and_manual_invoices_until_released() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let acc = id(&account);
    let code = app.financial_code("4100", "revenue").await;
    let contract = app
        .active_contract(contract_body(&acc, &code, "100.00"))
        .await;
    let hold_path = format!("/v1/accounts/{acc}/credit-holds");
    let reason = "Three returned payments since September";
    app.post(&hold_path, &billing(), &json!({"reason": reason}))
        .await
        .expect_problem(403, "forbidden");
    let hold = app
        .post(&hold_path, &credit(), &json!({"reason": reason}))
        .await
        .expect(201)
        .body;
    assert_eq!(hold["source"], "manual");
    assert_eq!(hold["placed_by"], "credit-user");
    let account_now = app
        .get(&format!("/v1/accounts/{acc}"), &admin_token())
        .await
        .body;
    assert_eq!(account_now["credit_status"], "hold");
    assert_eq!(
        app.count("outbox_events WHERE type = 'credit_hold.placed'")
            .await,
        1
    );
    app.post(&hold_path, &credit(), &json!({"reason": "again"}))
        .await
        .expect_problem(409, "hold_exists");

    let refused = app
        .post(
            "/v1/contracts",
            &billing(),
            &contract_body(&acc, &code, "50.00"),
        )
        .await
        .expect_problem(409, "credit_hold");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(reason) && detail.contains(hold["id"].as_str().unwrap()),
        "{detail}"
    );
    app.post(
        &format!("/v1/contracts/{contract}/amendments"),
        &billing(),
        &json!({"kind": "upgrade", "effective_date": d("2026-12-01"),
                "charges": [{"description": "Finisher", "amount": "30.00", "financial_code_id": code}]}),
    )
    .await
    .expect_problem(409, "credit_hold");
    app.post(
        "/v1/invoices",
        &billing(),
        &json!({"account_id": acc, "lines": [{"description": "Toner", "quantity": "1",
                "unit_price": "80.00", "financial_code_id": code, "taxable": false}]}),
    )
    .await
    .expect_problem(409, "credit_hold");
    assert_eq!(app.count("contracts").await, 1);
    assert_eq!(app.count("contract_amendments").await, 0);
    assert_eq!(app.count("invoices").await, 0);

    let released = app
        .post(
            &format!("{hold_path}/release"),
            &credit(),
            &json!({"note": "Past-due balance paid in full"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(released["released_by"], "credit-user");
    assert_eq!(released["release_note"], "Past-due balance paid in full");
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'credit_hold.released' AND entity_id = '{}' \
             AND before->>'released_at' IS NULL AND after->>'released_by' = 'credit-user'",
            id(&hold)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("outbox_events WHERE type = 'credit_hold.released'")
            .await,
        1
    );
    app.post(&format!("{hold_path}/release"), &credit(), &json!({}))
        .await
        .expect_problem(409, "no_hold");
    app.post(
        "/v1/contracts",
        &billing(),
        &contract_body(&acc, &code, "50.00"),
    )
    .await
    .expect(201);
    let holds = app.get(&hold_path, &credit()).await.expect(200).body;
    assert_eq!(holds.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_scheduled_job_opens_a_periodic_review_once_and_holds_accounts_far_past_due() {
    let app = spawn_app_with(|c| c.credit_management.hold_days_past_due = 60).await;
    // Critical risk: reviewed every month.
    let account = app.create_account(json!({"risk_level": "critical"})).await;
    let acc = id(&account);
    let code = app.financial_code("4100", "revenue").await;
    // Due 70 days ago: more than 60 days past due.
    app.issued_invoice(&acc, &code, "300.00", today() - Duration::days(100))
        .await;
    let calm = app.create_account(json!({})).await;

    let run = || scheduled_run(&app);
    run().await;
    assert_eq!(app.count("credit_reviews").await, 0, "not due yet");
    let hold = hold_of(&app, &acc).await;
    assert_eq!(hold["source"], "automatic");
    assert_eq!(hold["placed_by"], "system:credit");
    assert!(hold["reason"]
        .as_str()
        .unwrap()
        .contains("70 days past due"));
    assert_eq!(app.count("credit_holds").await, 1);

    app.clock.advance(Duration::days(31));
    run().await;
    run().await;
    let periodic = format!("credit_reviews WHERE account_id = '{acc}' AND reason = 'periodic'");
    assert_eq!(
        app.count(&periodic).await,
        1,
        "once, however often the job runs"
    );
    assert_eq!(
        app.count("credit_reviews").await,
        1,
        "the low-risk account waits a year"
    );
    assert_eq!(app.count("credit_holds").await, 1);
    let due = app
        .get("/v1/credit/due-reviews", &credit())
        .await
        .expect(200)
        .body;
    assert_eq!(due["data"].as_array().unwrap().len(), 1);
    assert_eq!(due["data"][0]["account_id"], acc);
    let review_id = due["data"][0]["open_review_id"]
        .as_str()
        .unwrap()
        .to_string();
    let review = app
        .get(&format!("/v1/credit-reviews/{review_id}"), &credit())
        .await
        .expect(200)
        .body;
    assert_eq!(review["requested_by"], "system:credit");
    assert_eq!(review["history"]["past_due_balance"]["value"], "300.00");

    // Decided: the next review is a month on, and nothing is due.
    decide(&app, &credit(), &review, "decline")
        .await
        .expect(200);
    let profile = app
        .get(&format!("/v1/accounts/{acc}/credit"), &credit())
        .await
        .body;
    assert_eq!(
        profile["next_review_date"],
        (app.clock.today() + Duration::days(31)).to_string()
    );
    let due = app
        .get("/v1/credit/due-reviews", &credit())
        .await
        .expect(200)
        .body;
    assert_eq!(due["data"].as_array().unwrap().len(), 0);
    let calm_profile = app
        .get(&format!("/v1/accounts/{}/credit", id(&calm)), &credit())
        .await
        .body;
    assert_eq!(calm_profile["next_review_date"], d("2027-11-25"));
    assert_eq!(calm_profile["hold"], Value::Null);
}

#[tokio::test]
async fn a_released_automatic_hold_stays_released_until_another_invoice_crosses_the_line() {
    let app = spawn_app_with(|c| c.credit_management.hold_days_past_due = 60).await;
    let acc = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4100", "revenue").await;
    // Net 30: due 70 days ago.
    app.issued_invoice(&acc, &code, "300.00", today() - Duration::days(100))
        .await;
    let run = || scheduled_run(&app);
    let held = format!("credit_holds WHERE account_id = '{acc}' AND released_at IS NULL");
    run().await;
    assert_eq!(app.count(&held).await, 1);
    app.post(
        &format!("/v1/accounts/{acc}/credit-holds/release"),
        &credit(),
        &json!({"note": "Payment plan agreed with the controller"}),
    )
    .await
    .expect(200);

    // The overdue invoice the credit analyst decided on does not hold the account again.
    run().await;
    app.clock.advance(Duration::days(10));
    run().await;
    assert_eq!(app.count(&held).await, 0);
    assert_eq!(app.count("credit_holds").await, 1);

    // A newer invoice crossing the line after the release does: due in 30 days, more than
    // 60 past due 91 days from now, not 90.
    app.issued_invoice(&acc, &code, "200.00", app.clock.today())
        .await;
    app.clock.advance(Duration::days(90));
    run().await;
    assert_eq!(
        app.count(&held).await,
        0,
        "60 days past due is not more than 60"
    );
    app.clock.advance(Duration::days(1));
    run().await;
    assert_eq!(app.count(&held).await, 1);
    let hold = hold_of(&app, &acc).await;
    assert_eq!(hold["source"], "automatic");
    assert!(hold["reason"]
        .as_str()
        .unwrap()
        .contains("171 days past due"));
}

#[tokio::test]
async fn partners_see_no_credit_files_and_cannot_act_on_them() {
    let app = spawn_app().await;
    let north = app.create_partner("NORTH").await;
    let south = app.create_partner("SOUTH").await;
    let mine = app.create_account(json!({"partner_id": id(&north)})).await;
    let theirs = app.create_account(json!({"partner_id": id(&south)})).await;
    let my_review = request_review(
        &app,
        &credit(),
        &id(&mine),
        &review_body("100.00", 30, "periodic"),
    )
    .await;
    let their_review = request_review(
        &app,
        &credit(),
        &id(&theirs),
        &review_body("100.00", 30, "periodic"),
    )
    .await;
    let portal = partner_token(uuid::Uuid::parse_str(&id(&north)).unwrap());
    // Credit files stay internal: a partner reads none, not even its own accounts'.
    for path in [
        format!("/v1/accounts/{}/credit-reviews", id(&theirs)),
        format!("/v1/credit-reviews/{}", id(&their_review)),
        format!("/v1/accounts/{}/credit", id(&theirs)),
        format!("/v1/accounts/{}/credit-holds", id(&theirs)),
        format!("/v1/accounts/{}/credit-reviews", id(&mine)),
        format!("/v1/credit-reviews/{}", id(&my_review)),
        format!("/v1/accounts/{}/credit", id(&mine)),
        "/v1/credit-reviews".to_string(),
    ] {
        app.get(&path, &portal)
            .await
            .expect_problem(403, "forbidden");
    }
    app.post(
        &format!("/v1/accounts/{}/credit-reviews", id(&mine)),
        &portal,
        &review_body("100.00", 30, "periodic"),
    )
    .await
    .expect_problem(403, "forbidden");
    decide(&app, &portal, &my_review, "approve")
        .await
        .expect_problem(403, "forbidden");
}

/// Uploads `bytes` as `content_type` to a review's documents.
async fn upload_report(
    app: &TestApp,
    who: &str,
    review: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Reply {
    app.send(
        app.client
            .post(app.url(&format!(
                "/v1/credit-reviews/{review}/documents?filename=D%26B%20report.pdf"
            )))
            .bearer_auth(who)
            .header("content-type", content_type)
            .body(bytes),
    )
    .await
}

#[tokio::test]
async fn the_agency_report_is_kept_with_the_review() {
    let app = spawn_app().await;
    let north = app.create_partner("NORTH").await;
    let account = app.create_account(json!({})).await;
    let review = request_review(
        &app,
        &credit(),
        &id(&account),
        &review_body("5000.00", 30, "new_business"),
    )
    .await;
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'x', 2000));
    let doc = upload_report(
        &app,
        &credit(),
        &id(&review),
        "application/pdf",
        pdf.clone(),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(doc["filename"], "D&B report.pdf");
    assert_eq!(doc["size_bytes"], 2009);
    assert_eq!(doc["uploaded_by"], "credit-user");
    upload_report(
        &app,
        &credit(),
        &id(&review),
        "application/pdf",
        b"not a pdf".to_vec(),
    )
    .await
    .expect_problem(422, "validation_failed");
    let list = app
        .get(
            &format!("/v1/credit-reviews/{}/documents", id(&review)),
            &credit(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let content = app
        .client
        .get(app.url(&format!(
            "/v1/credit-reviews/{}/documents/{}/content",
            id(&review),
            id(&doc)
        )))
        .bearer_auth(credit())
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.bytes().await.unwrap().to_vec(), pdf);
    assert_eq!(
        app.count("audit_events WHERE action = 'credit_review.document_attached'")
            .await,
        1
    );
    let portal = partner_token(uuid::Uuid::parse_str(&id(&north)).unwrap());
    app.get(
        &format!("/v1/credit-reviews/{}/documents", id(&review)),
        &portal,
    )
    .await
    .expect_problem(403, "forbidden");
    // A decided review keeps what it was decided on.
    decide(&app, &other_analyst(), &review, "decline")
        .await
        .expect(200);
    upload_report(&app, &credit(), &id(&review), "application/pdf", pdf)
        .await
        .expect_problem(409, "review_closed");
    assert_eq!(app.count("credit_review_documents").await, 1);
}
