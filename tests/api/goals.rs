//! Monthly collection goals over HTTP: set, listed, read and changed by collection managers
//! with every change audited; the collector-performance and goals reports on a history worked
//! out by hand, in JSON, CSV and Excel.

use calamine::Data;
use receivables::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::reports::{books, file, sheet, text};

fn manager() -> String {
    token(Role::CollectionsManager)
}

async fn assign(app: &TestApp, account: &str, collector: &str) {
    app.patch(
        &format!("/v1/collections/accounts/{account}"),
        &manager(),
        &json!({"collector": collector}),
    )
    .await
    .expect(200);
}

async fn pay(app: &TestApp, account: &str, amount: &str, received: &str) {
    app.post(
        "/v1/payments",
        &billing(),
        &json!({"account_id": account, "amount": amount, "currency": "USD", "method": "wire",
            "received_date": d(received), "application_mode": "auto"}),
    )
    .await
    .expect(201);
}

async fn goal(app: &TestApp, body: Value) -> Reply {
    app.post("/v1/collections/goals", &manager(), &body).await
}

#[tokio::test]
async fn goals_are_set_listed_and_changed_by_managers_with_every_change_audited() {
    let app = spawn_app().await;
    let body = json!({"collector": "ann", "month": sh("2026-12"), "currency": "USD",
        "target_collected": "50000.00", "target_past_due_percent": "15"});
    let created = goal(&app, body.clone()).await.expect(201).body;
    assert_eq!(
        (&created["collector"], &created["team"], &created["month"]),
        (&json!("ann"), &Value::Null, &json!(sh("2026-12")))
    );
    assert_eq!(
        (
            &created["target_collected"],
            &created["target_past_due_percent"]
        ),
        (&json!("50000.00"), &json!("15.00"))
    );
    let goal_id = id(&created);
    assert_eq!(
        app.value(&format!(
            "(SELECT collector || '|' || month || '|' || target_collected || '|' || version
                FROM collection_goals WHERE id = '{goal_id}')"
        ))
        .await,
        sh("ann|2026-12-01|50000.00|1")
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'collection_goal.created'
               AND entity_type = 'collection_goal' AND entity_id = '{goal_id}'"
        ))
        .await,
        1
    );
    // The same collector, month and currency again: 409, nothing written.
    let reply = goal(&app, body).await.expect_problem(409, "goal_exists");
    assert_eq!(reply.error_field(), "month");
    let team = json!({"team": "East", "month": sh("2026-12"), "currency": "USD",
        "target_past_due_percent": "20.5"});
    goal(&app, team).await.expect(201);
    assert_eq!(app.count("collection_goals").await, 2);
    for (bad, field) in [
        (
            json!({"collector": "ann", "month": sh("2027-01"), "currency": "USD"}),
            "target_collected",
        ),
        (
            json!({"collector": "ann", "month": "2027-13", "currency": "USD", "target_collected": "1.00"}),
            "month",
        ),
        (
            json!({"collector": "ann", "team": "East", "month": sh("2027-01"), "currency": "USD", "target_collected": "1.00"}),
            "collector",
        ),
        (
            json!({"collector": "ann", "month": sh("2027-01"), "currency": "USD", "target_collected": "1.001"}),
            "target_collected",
        ),
        (
            json!({"collector": "ann", "month": sh("2027-01"), "currency": "USD", "target_past_due_percent": "101"}),
            "target_past_due_percent",
        ),
    ] {
        let reply = goal(&app, bad.clone())
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{bad}");
    }
    app.post(
        "/v1/collections/goals",
        &token(Role::Collections),
        &json!({"collector": "ann", "month": sh("2027-01"), "currency": "USD", "target_collected": "1.00"}),
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(app.count("collection_goals").await, 2);

    let path = format!("/v1/collections/goals/{goal_id}");
    let read = app.get(&path, &token(Role::Collections)).await.expect(200);
    assert_eq!(read.header("etag"), Some("\"1\""));
    let page = app
        .get(
            &format!("/v1/collections/goals?month={}&limit=1", sh("2026-12")),
            &token(Role::Viewer),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (page["data"][0]["id"].clone(), page["has_more"].clone()),
        (json!(goal_id), json!(true))
    );
    let next = app
        .get(
            &format!(
                "/v1/collections/goals?limit=1&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &token(Role::Viewer),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(next["data"][0]["team"], "East");
    let anns = app
        .get("/v1/collections/goals?collector=ann", &token(Role::Viewer))
        .await
        .expect(200)
        .body;
    assert_eq!(anns["data"].as_array().unwrap().len(), 1);
    app.get("/v1/collections/goals?month=2026-1", &token(Role::Viewer))
        .await
        .expect_problem(422, "validation_failed");

    // Stale, empty and target-less patches change nothing.
    app.patch(
        &path,
        &manager(),
        &json!({"target_collected": "1.00", "version": 7}),
    )
    .await
    .expect_problem(409, "version_conflict");
    let reply = app
        .patch(&path, &manager(), &json!({"version": 1}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(
        (
            reply.error_field(),
            reply.body["errors"][0]["code"].as_str()
        ),
        ("body", Some("empty"))
    );
    let reply = app
        .patch(
            &path,
            &manager(),
            &json!({"target_collected": null, "target_past_due_percent": null, "version": 1}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "target_collected");
    assert_eq!(
        app.value(&format!("(SELECT target_collected || '|' || version FROM collection_goals WHERE id = '{goal_id}')")).await,
        "50000.00|1"
    );
    let changed = app
        .patch(
            &path,
            &manager(),
            &json!({"target_collected": "55000.00", "target_past_due_percent": null, "version": 1}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            &changed["target_collected"],
            &changed["target_past_due_percent"],
            &changed["version"]
        ),
        (&json!("55000.00"), &Value::Null, &json!(2))
    );
    assert_eq!(
        app.value(&format!(
            "(SELECT before->>'target_collected' || '|' || (after->>'target_collected')
                FROM audit_events WHERE action = 'collection_goal.updated' AND entity_id = '{goal_id}')"
        ))
        .await,
        "50000.00|55000.00"
    );
}

/// From 5 October: Ann holds A and Bob holds B (assigned that day), each owing an invoice of
/// 1 October, net 10 (A 1,000.00, B 500.00). On 20 October A pays 400.00, Ann logs a call and
/// takes a promise of the 600.00 left by 15 November; a follow-up task on A due 25 October
/// stays open. On 25 November A's 600.00 received on 10 November arrives: the promise is kept.
/// By hand, Ann: October 1 account, balance 600.00 all past due, 400.00 collected, 1 promise
/// made, 1 contact, 1 overdue item; November balance 0.00, 600.00 collected, 1 promise kept,
/// the task still overdue. Bob: 500.00 past due both months. Goals: Ann 500.00 in October
/// (80.00% reached; past due 100.00% against 50), 600.00 in November (100.00%); team East
/// 1,000.00 in November against the department's 600.00 (60.00%).
#[tokio::test]
async fn collector_performance_and_goals_are_the_hand_computed_figures_in_every_format() {
    let app = spawn_app().await;
    app.clock.set(epoch().replace_date(date("2026-10-05")));
    let (a, code) = books(&app, "Ann Account", 10).await;
    let (b, _) = books(&app, "Bob Account", 10).await;
    assign(&app, &a, "ann").await;
    assign(&app, &b, "bob").await;
    app.issued_invoice(&a, &code, "1000.00", date("2026-10-01"))
        .await;
    app.issued_invoice(&b, &code, "500.00", date("2026-10-01"))
        .await;
    app.clock.set(epoch().replace_date(date("2026-10-20")));
    pay(&app, &a, "400.00", "2026-10-20").await;
    app.post(
        &format!("/v1/accounts/{a}/notes"),
        &token(Role::Collections),
        &json!({"channel": "call", "direction": "outbound", "outcome": "promised", "text": "Will pay"}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/collections/promises",
        &token(Role::Collections),
        &json!({"account_id": a, "instalments": [{"amount": "600.00", "due_date": d("2026-11-15")}]}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/tasks",
        &token(Role::Collections),
        &json!({"type": "call_customer", "subject_type": "account", "subject_id": a,
            "account_id": a, "title": "Call back", "due_date": d("2026-10-25"), "priority": "high"}),
    )
    .await
    .expect(201);
    app.clock.set(epoch());
    pay(&app, &a, "600.00", "2026-11-10").await;
    for body in [
        json!({"collector": "ann", "month": sh("2026-10"), "currency": "USD", "target_collected": "500.00", "target_past_due_percent": "50"}),
        json!({"collector": "ann", "month": sh("2026-11"), "currency": "USD", "target_collected": "600.00"}),
        json!({"team": "East", "month": sh("2026-11"), "currency": "USD", "target_collected": "1000.00", "target_past_due_percent": "40"}),
    ] {
        goal(&app, body).await.expect(201);
    }

    let path = sh("/v1/reports/collector-performance?from=2026-10&to=2026-11");
    let report = app.get(&path, &manager()).await.expect(200).body;
    let rows: Vec<Value> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["collector"],
                r["month"],
                r["accounts"],
                r["balance"],
                r["past_due"],
                r["collected"],
                r["promises_made"],
                r["promises_kept"],
                r["contacts"],
                r["overdue_items"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            json!([
                "ann",
                sh("2026-10"),
                1,
                "600.00",
                "600.00",
                "400.00",
                1,
                0,
                1,
                1
            ]),
            json!([
                "ann",
                sh("2026-11"),
                1,
                "0.00",
                "0.00",
                "600.00",
                0,
                1,
                0,
                1
            ]),
            json!([
                "bob",
                sh("2026-10"),
                1,
                "500.00",
                "500.00",
                "0.00",
                0,
                0,
                0,
                0
            ]),
            json!([
                "bob",
                sh("2026-11"),
                1,
                "500.00",
                "500.00",
                "0.00",
                0,
                0,
                0,
                0
            ]),
        ]
    );
    assert_eq!(
        report["totals"],
        json!([{"collector": null, "month": sh("2026-10..2026-11"), "currency": "USD",
            "accounts": 2, "balance": "500.00", "past_due": "500.00", "collected": "1000.00",
            "promises_made": 1, "promises_kept": 1, "contacts": 1, "overdue_items": 1}])
    );
    let bobs = app
        .get(&format!("{path}&collector=bob"), &manager())
        .await
        .expect(200)
        .body;
    assert_eq!(bobs["rows"].as_array().unwrap().len(), 2);
    let (_, _, csv) = file(&app, &format!("{path}&format=csv")).await;
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[1],
        sh("ann,2026-10,USD,1,600.00,600.00,400.00,1,0,1,1")
    );
    assert_eq!(
        lines[5],
        sh("Total,2026-10..2026-11,USD,2,500.00,500.00,1000.00,1,1,1,1")
    );
    let (_, _, xlsx) = file(&app, &format!("{path}&format=xlsx")).await;
    let cells = sheet(xlsx, "Collector performance");
    assert_eq!(text(&cells[1][0]), "ann");
    assert_eq!(cells[1][4], Data::Float(600.0));
    assert_eq!(text(&cells[2][6]), "600.00");

    let path = sh("/v1/reports/goals?from=2026-10&to=2026-11");
    let report = app.get(&path, &manager()).await.expect(200).body;
    let rows: Vec<Value> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["collector"],
                r["team"],
                r["month"],
                r["target_collected"],
                r["collected"],
                r["collected_percent_of_target"],
                r["target_past_due_percent"],
                r["balance"],
                r["past_due"],
                r["past_due_percent"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            json!([
                "ann",
                null,
                sh("2026-10"),
                "500.00",
                "400.00",
                "80.00",
                "50.00",
                "600.00",
                "600.00",
                "100.00"
            ]),
            json!([
                "ann",
                null,
                sh("2026-11"),
                "600.00",
                "600.00",
                "100.00",
                null,
                "0.00",
                "0.00",
                null
            ]),
            json!([
                null,
                "East",
                sh("2026-11"),
                "1000.00",
                "600.00",
                "60.00",
                "40.00",
                "500.00",
                "500.00",
                "100.00"
            ]),
        ]
    );
    let totals: Vec<Value> = report["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["month"],
                r["target_collected"],
                r["collected"],
                r["collected_percent_of_target"],
                r["balance"],
                r["past_due_percent"]
            ])
        })
        .collect();
    assert_eq!(
        totals,
        vec![
            json!([
                sh("2026-10"),
                "500.00",
                "400.00",
                "80.00",
                "1100.00",
                "100.00"
            ]),
            json!([
                sh("2026-11"),
                "600.00",
                "600.00",
                "100.00",
                "500.00",
                "100.00"
            ]),
        ]
    );
    let (_, _, csv) = file(&app, &format!("{path}&format=csv")).await;
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[3],
        sh(",East,2026-11,USD,1000.00,600.00,60.00,40.00,500.00,500.00,100.00")
    );
    assert_eq!(
        lines[5],
        sh("Department,,2026-11,USD,600.00,600.00,100.00,,500.00,500.00,100.00")
    );
    let (_, _, xlsx) = file(&app, &format!("{path}&format=xlsx")).await;
    let cells = sheet(xlsx, "Goals");
    assert_eq!(cells[1][4], Data::Float(500.0));
    assert_eq!(cells[1][6], Data::Float(80.0));
    assert_eq!(text(&cells[4][0]), "Department");
    let reply = app
        .get("/v1/reports/goals?to=2026-1", &manager())
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "to");
    app.get("/v1/reports/collector-performance?format=doc", &manager())
        .await
        .expect_problem(400, "invalid_query");
}
