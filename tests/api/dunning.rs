//! Collections over HTTP: dunning runs (once per invoice, across repeated and concurrent
//! runs), promises to pay, service orders with the automatic restore, agency placement,
//! portfolios and the worklist, and the refusals.

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

/// A policy of a reminder at 1 day, a letter at 30, a call at 45 and a suspension order at
/// 60, as the default.
async fn default_policy(app: &TestApp) -> Value {
    app.post(
        "/v1/collections/dunning-policies",
        &manager(),
        &json!({"name": "Standard", "is_default": true, "steps": [
            {"days_past_due": 1, "action": "reminder_email",
             "template": {"subject": "{{invoice.number}} is overdue",
                          "text": "Dear {{account.name}}, {{amount}} {{currency}} is {{days_past_due}} days late."}},
            {"days_past_due": 30, "action": "late_notice_letter"},
            {"days_past_due": 45, "action": "call_task", "min_balance": "100.00"},
            {"days_past_due": 60, "action": "suspension_order"}
        ]}),
    )
    .await
    .expect(201)
    .body
}

async fn dun(app: &TestApp, as_of: time::Date) -> Value {
    app.post(
        "/v1/collections/dunning-runs",
        &manager(),
        &json!({"as_of": as_of.to_string()}),
    )
    .await
    .expect(201)
    .body
}

/// A run as of `as_of`, answered as a preview (200).
async fn dun_preview(app: &TestApp, as_of: time::Date) -> Value {
    app.post(
        "/v1/collections/dunning-runs",
        &manager(),
        &json!({"as_of": as_of.to_string()}),
    )
    .await
    .expect(200)
    .body
}

async fn pay(app: &TestApp, account: &str, amount: &str) -> Value {
    app.post(
        "/v1/payments",
        &billing(),
        &json!({"account_id": account, "amount": amount, "currency": "USD", "method": "check",
                "received_date": app.clock.today().to_string()}),
    )
    .await
    .expect(201)
    .body
}

#[tokio::test]
async fn a_dunning_run_performs_each_due_step_once_and_renders_its_notice() {
    let app = spawn_app().await;
    default_policy(&app).await;
    let account = app
        .create_account(json!({"legal_name": "Smith & <Sons>"}))
        .await;
    let a = id(&account);
    app.post(
        &format!("/v1/accounts/{a}/contacts"),
        &billing(),
        &json!({"name": "Dana", "email": "ap@smith.example", "role": "billing"}),
    )
    .await
    .expect(201);
    let code = app.financial_code("4000", "revenue").await;
    // Due 5 days ago (net 30), 200.00 of which 50.00 is disputed; one not yet due.
    let late = app.issued_invoice(&a, &code, "200.00", day(-35)).await;
    app.issued_invoice(&a, &code, "70.00", day(-5)).await;
    app.open_dispute_on(&late, "50.00").await;

    let first = dun(&app, today()).await;
    assert_eq!(first["status"], "completed");
    assert_eq!(first["invoices_examined"], 1);
    assert_eq!(first["steps_performed"], 1);
    assert_eq!(first["notices"], 1);
    let again = dun(&app, today()).await;
    assert_eq!(again["steps_performed"], 0);
    assert_eq!(app.count("notices").await, 1);

    let notices = app
        .get(
            &format!("/v1/collections/notices?invoice_id={}", id(&late)),
            &collector(),
        )
        .await
        .expect(200)
        .body;
    let notice = &notices["data"][0];
    assert_eq!(notice["channel"], "email");
    assert_eq!(notice["recipient"], "ap@smith.example");
    let number = late["number"].as_str().unwrap();
    assert_eq!(notice["subject"], format!("{number} is overdue"));
    // Only the undisputed 150.00 is dunned; the name is escaped in the HTML only.
    assert_eq!(
        notice["body_text"],
        "Dear Smith & <Sons>, 150.00 USD is 5 days late."
    );
    assert!(notice["body_html"]
        .as_str()
        .unwrap()
        .contains("Smith &amp; &lt;Sons&gt;"));
    let doc = app
        .get(
            &format!("/v1/collections/notices/{}/document", id(notice)),
            &collector(),
        )
        .await
        .expect(200);
    assert!(doc.header("content-type").unwrap().starts_with("text/html"));
    let status = app
        .value(&format!(
            "SELECT collections_status FROM accounts WHERE id = '{a}'"
        ))
        .await;
    assert_eq!(status, "in_dunning");
    // The audit log holds the notice as rendered and the account's move into dunning.
    let notice_entry = app
        .value(&format!(
            "SELECT concat_ws('|', entity_type, account_id, after->>'subject', before IS NULL)
               FROM audit_events WHERE action = 'notice.created' AND entity_id = '{}'",
            id(notice)
        ))
        .await;
    assert_eq!(notice_entry, format!("notice|{a}|{number} is overdue|t"));
    let moved = app
        .value(&format!(
            "SELECT concat_ws('|', entity_type, entity_id, before, after) FROM audit_events
              WHERE action = 'account.collections_status_changed' AND account_id = '{a}'"
        ))
        .await;
    assert_eq!(
        moved,
        format!(
            "account|{a}|{{\"collections_status\": \"none\"}}|{{\"collections_status\": \"in_dunning\"}}"
        )
    );

    // A run as of 45 days on is only a preview: it says what it would do and does nothing.
    let preview = dun_preview(&app, day(45)).await;
    assert_eq!(preview["preview"], true);
    let planned: Vec<(String, String)> = preview["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["invoice_number"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(planned.len(), 2);
    assert!(planned.contains(&(number.to_string(), "call_task".to_string())));
    assert_eq!(app.count("dunning_actions").await, 1);
    assert_eq!(app.count("notices").await, 1);
    assert_eq!(app.count("tasks").await, 0);
    assert_eq!(app.count("dunning_runs").await, 2);

    // 45 days on, the letter (30) is superseded by the call (45): a task, no letter; the
    // other invoice, 20 days late by then, gets its reminder.
    app.clock.advance(Duration::days(45));
    let later = dun(&app, app.clock.today()).await;
    assert_eq!(later["steps_performed"], 2);
    assert_eq!(later["tasks"], 1);
    assert_eq!(later["notices"], 1);
    assert_eq!(
        app.count(&format!(
            "dunning_actions WHERE invoice_id = '{}' AND outcome = 'superseded' AND step_no = 2",
            id(&late)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("tasks WHERE type = 'collections_call' AND subject_type = 'invoice'")
            .await,
        1
    );
    // At 60 days a suspension order for the account; the not-yet-due invoice is reminded.
    app.clock.advance(Duration::days(10));
    let sixty = dun(&app, app.clock.today()).await;
    assert_eq!(sixty["service_orders"], 1);
    assert_eq!(
        app.count(&format!(
            "service_orders WHERE account_id = '{a}' AND kind = 'suspend' AND source = 'dunning' AND status = 'pending'"
        ))
        .await,
        1
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn concurrent_dunning_runs_fire_each_step_once() {
    let app = spawn_app().await;
    default_policy(&app).await;
    let code = app.financial_code("4000", "revenue").await;
    for n in 0..6 {
        let a = id(&app
            .create_account(json!({"legal_name": format!("Customer {n}")}))
            .await);
        app.issued_invoice(&a, &code, "120.00", day(-40)).await;
        app.issued_invoice(&a, &code, "150.00", day(-75)).await;
    }
    let (token, body) = (manager(), json!({"as_of": today().to_string()}));
    let runs = futures_util::future::join_all(
        (0..4).map(|_| app.post("/v1/collections/dunning-runs", &token, &body)),
    )
    .await;
    let mut performed = 0;
    for r in runs {
        let body = r.expect(201).body;
        assert_eq!(body["status"], "completed");
        performed += body["steps_performed"].as_i64().unwrap();
    }
    // 6 invoices 10 days late (reminder) and 6 at 45 days (call task): 12 steps in all.
    assert_eq!(performed, 12);
    assert_eq!(app.count("notices").await, 6);
    assert_eq!(
        app.count("dunning_actions WHERE outcome = 'performed'")
            .await,
        12
    );
    assert_eq!(app.count("tasks WHERE type = 'collections_call'").await, 6);
}

#[tokio::test]
async fn promises_are_kept_broken_and_broken_again_by_a_returned_payment() {
    let app = spawn_app().await;
    default_policy(&app).await;
    let code = app.financial_code("4000", "revenue").await;
    let a = id(&app
        .create_account(json!({"legal_name": "Keeper Ltd"}))
        .await);
    let b = id(&app
        .create_account(json!({"legal_name": "Breaker Ltd"}))
        .await);
    let c = id(&app
        .create_account(json!({"legal_name": "Bouncer Ltd"}))
        .await);
    for account in [&a, &b, &c] {
        app.issued_invoice(account, &code, "300.00", day(-40)).await;
    }
    app.execute(&format!(
        "INSERT INTO collection_profiles (account_id, collector, updated_at) VALUES ('{b}', 'collector-1', '{}')",
        app.clock.now()
    ))
    .await
    .unwrap();
    let promise = |account: &str, instalments: Value| json!({"account_id": account, "instalments": instalments});
    // Above the past-due balance: refused, nothing written.
    app.post(
        "/v1/collections/promises",
        &collector(),
        &promise(
            &a,
            json!([{"amount": "300.01", "due_date": day(5).to_string()}]),
        ),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(app.count("promises").await, 0);

    let kept = app
        .post(
            "/v1/collections/promises",
            &collector(),
            &promise(
                &a,
                json!([{"amount": "100.00", "due_date": today().to_string()},
                       {"amount": "200.00", "due_date": day(14).to_string()}]),
            ),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(kept["grace_days"], 3);
    assert_eq!(kept["invoice_ids"].as_array().unwrap().len(), 1);
    app.post(
        "/v1/collections/promises",
        &collector(),
        &promise(
            &a,
            json!([{"amount": "10.00", "due_date": day(3).to_string()}]),
        ),
    )
    .await
    .expect_problem(409, "promise_exists");
    // Promised invoices are not dunned.
    assert_eq!(dun(&app, today()).await["invoices_examined"], 2);
    pay(&app, &a, "300.00").await;
    let kept = app
        .get(
            &format!("/v1/collections/promises/{}", id(&kept)),
            &collector(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(kept["status"], "kept");
    assert_eq!(kept["instalments"][1]["status"], "kept");

    let broken = app
        .post(
            "/v1/collections/promises",
            &collector(),
            &promise(
                &b,
                json!([{"amount": "300.00", "due_date": day(2).to_string()}]),
            ),
        )
        .await
        .expect(201)
        .body;
    let promised_status = app
        .value(&format!(
            "SELECT collections_status FROM accounts WHERE id = '{b}'"
        ))
        .await;
    assert_eq!(promised_status, "promised");
    // Two days after its date plus grace, the run breaks it and dunning resumes.
    app.clock.advance(Duration::days(6));
    let run = dun(&app, app.clock.today()).await;
    assert_eq!(run["promises_broken"], 1);
    let broken = app
        .get(
            &format!("/v1/collections/promises/{}", id(&broken)),
            &collector(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(broken["status"], "broken");
    assert_eq!(broken["instalments"][0]["status"], "missed");
    assert_eq!(
        app.count(&format!(
            "tasks WHERE account_id = '{b}' AND type = 'broken_promise' AND priority = 'high' AND assignee = 'collector-1'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!("notices WHERE account_id = '{b}'"))
            .await,
        1
    );
    let view = app
        .get(&format!("/v1/collections/accounts/{b}"), &collector())
        .await
        .expect(200)
        .body;
    let broken_part = view["risk"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["factor"] == "broken_promises")
        .unwrap()
        .clone();
    assert_eq!(broken_part["value"], "1");

    let bounced = app
        .post(
            "/v1/collections/promises",
            &collector(),
            &promise(
                &c,
                json!([{"amount": "300.00", "due_date": day(7).to_string()}]),
            ),
        )
        .await
        .expect(201)
        .body;
    let payment = pay(&app, &c, "300.00").await;
    assert_eq!(
        app.get(
            &format!("/v1/collections/promises/{}", id(&bounced)),
            &collector()
        )
        .await
        .body["status"],
        "kept"
    );
    app.post(
        &format!("/v1/payments/{}/return", id(&payment)),
        &billing(),
        &json!({"reason": "nsf"}),
    )
    .await
    .expect(200);
    let bounced = app
        .get(
            &format!("/v1/collections/promises/{}", id(&bounced)),
            &collector(),
        )
        .await
        .body;
    assert_eq!(bounced["status"], "broken");
    assert_eq!(
        app.count(&format!(
            "tasks WHERE account_id = '{c}' AND type = 'broken_promise'"
        ))
        .await,
        1
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_completed_suspension_suspends_and_payment_orders_the_restore() {
    let app = spawn_app().await;
    let code = app.financial_code("4000", "revenue").await;
    let account = app
        .create_account(json!({"legal_name": "Paused Inc"}))
        .await;
    let a = id(&account);
    let contract = app
        .active_contract(
            json!({"account_id": a, "kind": "service", "start_date": d("2026-01-01"),
            "charges": [{"description": "Service", "amount": "50.00", "financial_code_id": code}]}),
        )
        .await;
    app.issued_invoice(&a, &code, "400.00", day(-60)).await;
    let order = app
        .post(
            "/v1/service-orders",
            &collector(),
            &json!({"account_id": a, "kind": "suspend", "reason": "60 days past due"}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        "/v1/service-orders",
        &collector(),
        &json!({"account_id": a, "kind": "suspend", "reason": "again"}),
    )
    .await
    .expect_problem(409, "order_exists");
    let path = format!("/v1/service-orders/{}", id(&order));
    // pending cannot be completed before it is sent.
    app.post(&format!("{path}/complete"), &collector(), &json!({}))
        .await
        .expect_problem(409, "order_state");
    app.post(&format!("{path}/send"), &billing(), &json!({}))
        .await
        .expect(403);
    app.post(&format!("{path}/send"), &collector(), &json!({}))
        .await
        .expect(200);
    let done = app
        .post_with_key(
            &format!("{path}/complete"),
            &collector(),
            "done-1",
            &json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(done["status"], "completed");
    // A retry of the completion answers it again and suspends nothing twice.
    let replay = app
        .post_with_key(
            &format!("{path}/complete"),
            &collector(),
            "done-1",
            &json!({}),
        )
        .await
        .expect(200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, done);
    assert_eq!(
        app.count(&format!(
            "contract_amendments WHERE contract_id = '{contract}' AND kind = 'suspension'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.value(&format!("SELECT status FROM accounts WHERE id = '{a}'"))
            .await,
        "suspended"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT status FROM contracts WHERE id = '{contract}'"
        ))
        .await,
        "suspended"
    );
    app.post(
        &format!("{path}/cancel"),
        &collector(),
        &json!({"reason": "late"}),
    )
    .await
    .expect_problem(409, "order_state");

    pay(&app, &a, "100.00").await;
    assert_eq!(app.count("service_orders WHERE kind = 'restore'").await, 0);
    pay(&app, &a, "300.00").await;
    let restore_id = app
        .value(&format!(
            "SELECT id::text FROM service_orders WHERE account_id = '{a}' AND kind = 'restore' AND source = 'automatic' AND status = 'pending'"
        ))
        .await;
    let restore = format!("/v1/service-orders/{restore_id}");
    app.post(&format!("{restore}/send"), &collector(), &json!({}))
        .await
        .expect(200);
    app.post(&format!("{restore}/complete"), &collector(), &json!({}))
        .await
        .expect(200);
    assert_eq!(
        app.value(&format!("SELECT status FROM accounts WHERE id = '{a}'"))
            .await,
        "active"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT status FROM contracts WHERE id = '{contract}'"
        ))
        .await,
        "active"
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn the_worklist_orders_a_portfolio_by_risk_then_next_action() {
    let app = spawn_app().await;
    let code = app.financial_code("4000", "revenue").await;
    let big = id(&app
        .create_account(json!({"legal_name": "Big Debt Co"}))
        .await);
    let small = id(&app
        .create_account(json!({"legal_name": "Small Debt Co"}))
        .await);
    let soon = id(&app
        .create_account(json!({"legal_name": "Soon Debt Co"}))
        .await);
    let other = id(&app
        .create_account(json!({"legal_name": "Other Desk Co"}))
        .await);
    let paid = id(&app
        .create_account(json!({"legal_name": "Paid Up Co"}))
        .await);
    // Big: 9000 at 150 days. Small and Soon: 100 at 10 days; Soon has a task due tomorrow.
    app.issued_invoice(&big, &code, "9000.00", day(-180)).await;
    app.issued_invoice(&small, &code, "100.00", day(-40)).await;
    app.issued_invoice(&soon, &code, "100.00", day(-40)).await;
    app.issued_invoice(&other, &code, "5000.00", day(-100))
        .await;
    app.issued_invoice(&paid, &code, "50.00", day(-5)).await;
    app.post(
        "/v1/tasks",
        &collector(),
        &json!({"type": "follow_up", "subject_type": "account", "subject_id": soon,
                "account_id": soon, "title": "Call back", "due_date": day(1).to_string()}),
    )
    .await
    .expect(201);
    // Rules: the partner-less big balances to collector-2, the rest to collector-1; a hand
    // assignment wins over the rules.
    app.post(
        "/v1/collections/assignment-rules",
        &collector(),
        &json!({"position": 1, "collector": "collector-2", "min_balance": "4000"}),
    )
    .await
    .expect(403);
    app.post(
        "/v1/collections/assignment-rules",
        &manager(),
        &json!({"position": 1, "collector": "collector-2", "min_balance": "4000"}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/collections/assignment-rules",
        &manager(),
        &json!({"position": 2, "collector": "collector-1"}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/collections/assignment-rules",
        &manager(),
        &json!({"position": 2, "collector": "collector-3"}),
    )
    .await
    .expect_problem(409, "position_taken");
    // A floor beyond what the column holds is refused, naming the field.
    let reply = app
        .post(
            "/v1/collections/assignment-rules",
            &manager(),
            &json!({"position": 3, "collector": "collector-3",
                    "min_balance": "6452328092395956112"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "min_balance");
    app.patch(
        &format!("/v1/collections/accounts/{big}"),
        &manager(),
        &json!({"collector": "collector-1"}),
    )
    .await
    .expect(200);
    let applied = app
        .post(
            "/v1/collections/assignment-rules/apply",
            &manager(),
            &json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(applied["changes"].as_array().unwrap().len(), 4);
    assert_eq!(
        app.value(&format!(
            "SELECT collector FROM collection_profiles WHERE account_id = '{other}'"
        ))
        .await,
        "collector-2"
    );
    let by_collector = app
        .get("/v1/collections/aging?group_by=collector", &collector())
        .await
        .expect(200)
        .body;
    let labels: Vec<(&str, &str)> = by_collector["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["label"].as_str().unwrap(), r["total"].as_str().unwrap()))
        .collect();
    assert_eq!(
        labels,
        [("collector-1", "9250.00"), ("collector-2", "5000.00")]
    );
    let list = app
        .get(
            "/v1/collections/worklist?collector=collector-1",
            &collector(),
        )
        .await
        .expect(200)
        .body;
    let order: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["legal_name"].as_str().unwrap())
        .collect();
    // Paid Up Co owes nothing past due; Other Desk Co is collector-2's.
    // Small and Soon score alike: Small's next action (a contact today) comes before Soon's
    // task tomorrow.
    assert_eq!(order, ["Big Debt Co", "Small Debt Co", "Soon Debt Co"]);
    let first = &list["items"][0];
    assert_eq!(first["past_due"], "9000.00");
    assert_eq!(first["days_past_due"], 150);
    assert!(
        first["risk"]["score"].as_u64().unwrap()
            > list["items"][1]["risk"]["score"].as_u64().unwrap()
    );
    assert_eq!(list["items"][1]["next_action"]["kind"], "contact");
    assert_eq!(list["items"][2]["next_action"]["kind"], "task");
    assert_eq!(list["items"][2]["next_action"]["date"], day(1).to_string());
    // A note is the last contact, and appears in the account's timeline.
    app.post(
        &format!("/v1/accounts/{small}/notes"),
        &collector(),
        &json!({"channel": "call", "direction": "outbound", "outcome": "left_message",
                "text": "Left a voicemail for AP"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/v1/accounts/{small}/notes"),
        &collector(),
        &json!({"channel": "pigeon", "direction": "outbound", "text": "x"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(app.count("account_notes").await, 1);
    let list = app
        .get(
            "/v1/collections/worklist?collector=collector-1",
            &collector(),
        )
        .await
        .body;
    assert_eq!(list["items"][1]["last_contact"]["outcome"], "left_message");
    let timeline = app
        .get(&format!("/v1/accounts/{small}/activity"), &collector())
        .await
        .expect(200)
        .body;
    assert!(timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["action"] == "account_note.created"));
}

#[tokio::test]
async fn an_agency_placement_stops_dunning_records_recoveries_and_is_recalled() {
    let app = spawn_app().await;
    default_policy(&app).await;
    let code = app.financial_code("4000", "revenue").await;
    let a = id(&app
        .create_account(json!({"legal_name": "Gone Quiet LLC"}))
        .await);
    app.issued_invoice(&a, &code, "1200.00", day(-200)).await;
    let expense = app.financial_code("6150", "expense").await;
    let mut body = json!({"account_id": a, "agency": "Midwest Recovery", "commission_rate": "25"});
    app.post("/v1/collections/placements", &collector(), &body)
        .await
        .expect(403);
    // A commission needs the expense code it is posted under; a revenue code will not do.
    let refused = app
        .post("/v1/collections/placements", &manager(), &body)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.error_field(), "commission_financial_code_id");
    merge(&mut body, json!({"commission_financial_code_id": code}));
    let refused = app
        .post("/v1/collections/placements", &manager(), &body)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.error_field(), "commission_financial_code_id");
    assert_eq!(app.count("agency_placements").await, 0);
    merge(&mut body, json!({"commission_financial_code_id": expense}));
    let placement = app
        .post("/v1/collections/placements", &manager(), &body)
        .await
        .expect(201)
        .body;
    assert_eq!(placement["amount_placed"], "1200.00");
    assert_eq!(
        app.value(&format!(
            "SELECT collections_status FROM accounts WHERE id = '{a}'"
        ))
        .await,
        "with_agency"
    );
    app.post("/v1/collections/placements", &manager(), &body)
        .await
        .expect_problem(409, "collections_status");
    assert_eq!(dun(&app, today()).await["invoices_examined"], 0);
    let path = format!("/v1/collections/placements/{}", id(&placement));
    let recovered = app
        .post(
            &format!("{path}/recoveries"),
            &manager(),
            &json!({"amount": "400.00", "reference": "MRP-1"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(recovered["recovered"], "400.00");
    assert_eq!(recovered["commission"], "100.00");
    let recovery = &recovered["recoveries"][0];
    assert_eq!(recovery["net"], "300.00");
    // The gross amount settles the customer's invoice.
    assert_eq!(
        app.value(&format!(
            "SELECT sum(balance_due)::text FROM invoices WHERE account_id = '{a}'"
        ))
        .await,
        "800.00"
    );
    let payment = app
        .get(
            &format!("/v1/payments/{}", recovery["payment_id"].as_str().unwrap()),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(payment["amount"], "400.00");
    assert_eq!(payment["applied"], "400.00");
    // The commission is its own entry under the expense code, tied to the payment, and moves
    // no invoice: receipts (400.00) less commissions (100.00) are the agency's deposit (300.00).
    let commission = app
        .get(
            &format!("/v1/adjustments?kind=agency_commission&account_id={a}"),
            &billing(),
        )
        .await
        .expect(200)
        .body["data"][0]
        .clone();
    assert_eq!(commission["id"], recovery["commission_adjustment_id"]);
    assert_eq!(commission["amount"], "100.00");
    assert_eq!(commission["financial_code_id"], json!(expense));
    assert_eq!(commission["payment_id"], recovery["payment_id"]);
    assert!(commission["invoice_id"].is_null());
    assert_eq!(
        app.value(&format!(
            "SELECT (SELECT sum(amount) FROM payments WHERE account_id = '{a}')
                  - (SELECT sum(amount) FROM adjustments WHERE account_id = '{a}' AND kind = 'agency_commission')"
        ))
        .await,
        "300.00"
    );
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE document_id = '{}'",
            commission["id"].as_str().unwrap()
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'adjustment.created' AND entity_id = '{}'",
            commission["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    app.post(
        &format!("{path}/recall"),
        &manager(),
        &json!({"reason": "no progress"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("{path}/recall"),
        &manager(),
        &json!({"reason": "again"}),
    )
    .await
    .expect_problem(409, "placement_state");
    assert_eq!(
        app.value(&format!(
            "SELECT collections_status FROM accounts WHERE id = '{a}'"
        ))
        .await,
        "in_dunning"
    );
    assert_eq!(dun(&app, today()).await["invoices_examined"], 1);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn dunning_policies_are_versioned_and_checked() {
    let app = spawn_app().await;
    let policy = default_policy(&app).await;
    let path = format!("/v1/collections/dunning-policies/{}", id(&policy));
    app.post(
        "/v1/collections/dunning-policies",
        &manager(),
        &json!({"name": "Bad", "steps": [
            {"days_past_due": 1, "action": "reminder_email",
             "template": {"subject": "{{account.password}}", "text": "x"}}]}),
    )
    .await
    .expect_problem(422, "validation_failed");
    app.post(
        "/v1/collections/dunning-policies",
        &manager(),
        &json!({"name": "Second default", "is_default": true,
                "steps": [{"days_past_due": 1, "action": "reminder_email"}]}),
    )
    .await
    .expect_problem(409, "default_taken");
    app.patch(
        &path,
        &manager(),
        &json!({"steps": [{"days_past_due": 10, "action": "late_notice_letter"}]}),
    )
    .await
    .expect(428);
    let v2 = app
        .patch(
            &path,
            &manager(),
            &json!({"version": 1, "steps": [{"days_past_due": 10, "action": "late_notice_letter"}]}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["steps"].as_array().unwrap().len(), 1);
    let v1 = app
        .get(&format!("{path}?version=1"), &collector())
        .await
        .expect(200)
        .body;
    assert_eq!(v1["steps"].as_array().unwrap().len(), 4);
    assert_eq!(v1["latest_version"], 2);
    // A do-not-dun account is skipped.
    let code = app.financial_code("4000", "revenue").await;
    let a = id(&app
        .create_account(json!({"legal_name": "Hands Off Ltd"}))
        .await);
    app.issued_invoice(&a, &code, "100.00", day(-60)).await;
    app.patch(
        &format!("/v1/collections/accounts/{a}"),
        &manager(),
        &json!({"do_not_dun": true}),
    )
    .await
    .expect_problem(422, "validation_failed");
    app.patch(
        &format!("/v1/collections/accounts/{a}"),
        &manager(),
        &json!({"do_not_dun": true, "do_not_dun_reason": "in bankruptcy protection"}),
    )
    .await
    .expect(200);
    let audited = app
        .value(
            "SELECT concat_ws('|', entity_type, entity_id, account_id,
                              before->>'do_not_dun', after->>'do_not_dun', after->>'do_not_dun_reason')
               FROM audit_events WHERE action = 'collection_profile.updated'",
        )
        .await;
    assert_eq!(
        audited,
        format!("collection_profile|{a}|{a}|false|true|in bankruptcy protection")
    );
    assert_eq!(dun(&app, today()).await["invoices_examined"], 0);
    app.post("/v1/collections/dunning-runs", &collector(), &json!({}))
        .await
        .expect(403);
}

/// The suspension order of an account that dunning reached, and the account: `{id, order}`.
async fn dunned_to_suspension(app: &TestApp, code: &str, name: &str) -> (String, Value) {
    let a = id(&app.create_account(json!({"legal_name": name})).await);
    // Due 40 days after its date: 70 days past due, past the 60-day suspension step.
    app.issued_invoice(&a, code, "300.00", day(-100)).await;
    let run = dun(app, today()).await;
    assert!(run["service_orders"].as_i64().unwrap() >= 1, "{run}");
    let order = app
        .get(
            &format!("/v1/service-orders?account_id={a}&kind=suspend"),
            &collector(),
        )
        .await
        .expect(200)
        .body["data"][0]
        .clone();
    assert_eq!(order["source"], "dunning");
    assert_eq!(order["status"], "pending");
    (a, order)
}

async fn order_status(app: &TestApp, order: &Value) -> Value {
    app.get(&format!("/v1/service-orders/{}", id(order)), &collector())
        .await
        .expect(200)
        .body
}

/// A suspension made by dunning follows the account: it is refused (409 `order_obsolete`)
/// while what is past due is disputed or promised, and cancelled, with the reason, audited and
/// on the account's timeline, once cash or credit clears the past-due balance. An order made by
/// hand is the collector's own decision and is left alone.
#[tokio::test]
async fn a_dunning_suspension_is_refused_once_its_reason_is_gone_and_cancelled_by_payment() {
    let app = spawn_app().await;
    default_policy(&app).await;
    let code = app.financial_code("4000", "revenue").await;
    let (a, order) = dunned_to_suspension(&app, &code, "Late Payer Co").await;
    let path = format!("/v1/service-orders/{}", id(&order));
    let invoice = app
        .get(&format!("/v1/invoices?account_id={a}"), &billing())
        .await
        .expect(200)
        .body["data"][0]
        .clone();

    // The whole past-due balance disputed: the order cannot go out.
    let dispute = app.open_dispute_on(&invoice, "300.00").await;
    let refused = app
        .post(&format!("{path}/send"), &collector(), &json!({}))
        .await
        .expect_problem(409, "order_obsolete");
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("under dispute"));
    assert_eq!(order_status(&app, &order).await["status"], "pending");
    app.post(
        &format!("/v1/disputes/{}/withdraw", id(&dispute)),
        &billing(),
        &json!({}),
    )
    .await
    .expect(200);
    app.post(&format!("{path}/send"), &collector(), &json!({}))
        .await
        .expect(200);

    // Covered by an active promise: it cannot be completed; without the promise it can be
    // again (nothing has changed but the promise).
    let promise = app
        .post(
            "/v1/collections/promises",
            &collector(),
            &json!({"account_id": a, "instalments": [{"amount": "300.00", "due_date": day(7).to_string()}]}),
        )
        .await
        .expect(201)
        .body;
    let refused = app
        .post(&format!("{path}/complete"), &collector(), &json!({}))
        .await
        .expect_problem(409, "order_obsolete");
    assert!(refused.body["detail"].as_str().unwrap().contains("promise"));
    assert_eq!(order_status(&app, &order).await["status"], "sent");
    assert_eq!(
        app.value(&format!("SELECT status FROM accounts WHERE id = '{a}'"))
            .await,
        "active"
    );
    app.post(
        &format!("/v1/collections/promises/{}/cancel", id(&promise)),
        &collector(),
        &json!({"reason": "customer changed their mind"}),
    )
    .await
    .expect(200);

    // A manual suspension of the same account, and a partial payment: both orders stay.
    let manual = app
        .post(
            "/v1/service-orders",
            &collector(),
            &json!({"account_id": a, "kind": "terminate", "reason": "customer asked to end service"}),
        )
        .await
        .expect(201)
        .body;
    pay(&app, &a, "100.00").await;
    assert_eq!(order_status(&app, &order).await["status"], "sent");
    // Paid in full: the dunning order is cancelled with the reason; the manual one is not.
    pay(&app, &a, "200.00").await;
    let cancelled = order_status(&app, &order).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["cancel_reason"],
        "cancelled automatically: the past-due balance was paid or credited"
    );
    assert_eq!(order_status(&app, &manual).await["status"], "pending");
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'service_order.cancelled' AND entity_id = '{}' \
             AND account_id = '{a}' AND before->>'status' = 'sent'",
            id(&order)
        ))
        .await,
        1
    );
    let timeline = app
        .get(
            &format!("/v1/accounts/{a}/activity?kind=service_order"),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    let summaries: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries.contains(&format!(
            "Service order {} (suspend) cancelled: cancelled automatically: the past-due balance was paid or credited",
            order["number"].as_str().unwrap()
        ).as_str()),
        "{summaries:?}"
    );
    app.post(&format!("{path}/complete"), &collector(), &json!({}))
        .await
        .expect_problem(409, "order_state");
    assert_books_balance(&app).await;
}

/// A credit memo that clears the past-due balance cancels the dunning suspension too.
#[tokio::test]
async fn a_credit_that_clears_the_past_due_balance_cancels_the_dunning_order() {
    let app = spawn_app().await;
    default_policy(&app).await;
    let code = app.financial_code("4000", "revenue").await;
    let credit = app.financial_code("4800", "credit").await;
    let (a, order) = dunned_to_suspension(&app, &code, "Overbilled Ltd").await;
    let invoice = app
        .get(&format!("/v1/invoices?account_id={a}"), &billing())
        .await
        .expect(200)
        .body["data"][0]
        .clone();
    let memo = app
        .post(
            "/v1/credit-memos",
            &billing(),
            &json!({"account_id": a, "reason": "billing_error", "financial_code_id": credit,
                    "amount": "300.00", "description": "Billed in error",
                    "targets": [{"invoice_id": id(&invoice), "amount": "300.00"}]}),
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
    let cancelled = order_status(&app, &order).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["cancel_reason"],
        "cancelled automatically: the past-due balance was paid or credited"
    );
    assert_books_balance(&app).await;
}

/// A run never judges the future: as of a later day it is a preview, which reviews no promise
/// (no instalment missed, no promise broken, no task) and records nothing; asked to act after
/// today it is refused. Once the deadline has really passed, the run breaks the promise.
#[tokio::test]
async fn a_run_as_of_a_later_day_breaks_no_promise_and_records_nothing() {
    let app = spawn_app().await;
    default_policy(&app).await;
    let code = app.financial_code("4000", "revenue").await;
    let a = id(&app
        .create_account(json!({"legal_name": "Promising Ltd"}))
        .await);
    app.issued_invoice(&a, &code, "300.00", day(-40)).await;
    let promise = app
        .post(
            "/v1/collections/promises",
            &collector(),
            &json!({"account_id": a, "instalments": [{"amount": "300.00", "due_date": day(2).to_string()}]}),
        )
        .await
        .expect(201)
        .body;
    // Ten days on the instalment (due in 2, grace 3) would be missed: not judged today.
    let preview = dun_preview(&app, day(10)).await;
    assert_eq!(preview["as_of"], day(10).to_string());
    // The promised invoice is not dunned while the promise stands.
    assert_eq!(preview["invoices_examined"], 0);
    let refused = app
        .post(
            "/v1/collections/dunning-runs",
            &manager(),
            &json!({"as_of": day(10).to_string(), "preview": false}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.error_field(), "preview");
    let after = app
        .get(
            &format!("/v1/collections/promises/{}", id(&promise)),
            &collector(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(after["status"], "active");
    assert_eq!(after["instalments"][0]["status"], "pending");
    assert_eq!(app.count("tasks").await, 0);
    assert_eq!(app.count("dunning_runs").await, 0);
    assert_eq!(app.count("dunning_actions").await, 0);
    assert_eq!(
        app.value(&format!(
            "SELECT collections_status FROM accounts WHERE id = '{a}'"
        ))
        .await,
        "promised"
    );
    // A run of today asked for as a preview does nothing either.
    let today_preview = app
        .post(
            "/v1/collections/dunning-runs",
            &manager(),
            &json!({"preview": true}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(today_preview["preview"], true);
    assert_eq!(app.count("dunning_runs").await, 0);

    // Six days later the deadline and its grace have passed: the run breaks the promise.
    app.clock.advance(Duration::days(6));
    let run = dun(&app, app.clock.today()).await;
    assert_eq!(run["promises_broken"], 1);
    assert_eq!(
        app.count(&format!(
            "tasks WHERE account_id = '{a}' AND type = 'broken_promise'"
        ))
        .await,
        1
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_policy_patch_naming_no_field_changes_nothing() {
    let app = spawn_app().await;
    let policy = default_policy(&app).await;
    let policy_id = id(&policy);
    let path = format!("/v1/collections/dunning-policies/{policy_id}");
    let audited = format!("audit_events WHERE entity_id = '{policy_id}'");
    let entries = app.count(&audited).await;
    app.refuses_empty_patches(&path, &manager()).await;
    let current = app.get(&path, &collector()).await.expect(200).body;
    assert_eq!(current["version"], 1);
    assert_eq!(current["latest_version"], 1);
    assert_eq!(app.count(&audited).await, entries);
}
