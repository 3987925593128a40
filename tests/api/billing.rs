//! Billing runs over HTTP: the worked examples to the cent, re-runs and concurrent runs that
//! bill each period once, estimates, true-ups, reviews after amendments, run errors.

use receivables::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;

/// A revenue code and an account (8.25 % tax, net 30).
async fn setup(app: &TestApp) -> (String, String) {
    let code = app
        .post(
            "/v1/financial-codes",
            &billing(),
            &json!({"code": "4100-LEASE", "name": "Lease revenue", "kind": "revenue"}),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let account = app
        .create_account(json!({"legal_name": "Acme Manufacturing", "tax_rate": "8.25"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    (code, account)
}

/// An active monthly contract (anchor day 1, in advance) with a 250.00 base charge.
async fn contract(app: &TestApp, account: &str, code: &str, start: &str, extra: Value) -> String {
    let mut body = json!({
        "account_id": account,
        "kind": "lease",
        "start_date": start,
        "billing_frequency": "monthly",
        "anchor_day": 1,
        "billing_timing": "advance",
        "charges": [{"description": "Base charge", "amount": "250.00", "financial_code_id": code}],
    });
    merge(&mut body, extra);
    let id = app
        .post("/v1/contracts", &billing(), &body)
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    id
}

async fn activate(app: &TestApp, contract: &str) {
    app.post(
        &format!("/v1/contracts/{contract}/activate"),
        &billing(),
        &json!(null),
    )
    .await
    .expect(200);
}

/// Equipment with the given meters; returns the meter ids in order.
async fn equipment(
    app: &TestApp,
    contract: &str,
    serial: &str,
    installed_on: &str,
    meters: Value,
) -> Vec<String> {
    let body = app
        .post(
            &format!("/v1/contracts/{contract}/equipment"),
            &billing(),
            &json!({"serial_number": serial, "make": "Ricoh", "model": "IM C3000",
                    "installed_on": installed_on, "meters": meters}),
        )
        .await
        .expect(201)
        .body;
    body["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

async fn reading(app: &TestApp, meter: &str, on: &str, value: i64) {
    app.post(
        &format!("/v1/meters/{meter}/readings"),
        &billing(),
        &json!({"read_on": on, "value": value, "source": "customer"}),
    )
    .await
    .expect(201);
}

/// Starts a run and waits until it has finished; returns the finished run.
async fn run(app: &TestApp, as_of: &str, extra: Value) -> Value {
    let mut body = json!({"as_of": as_of});
    merge(&mut body, extra);
    app.billing_run(body).await
}

async fn invoices_of(app: &TestApp, run: &Value) -> Vec<Value> {
    app.get(
        &format!(
            "/v1/invoices?billing_run_id={}",
            run["id"].as_str().unwrap()
        ),
        &billing(),
    )
    .await
    .expect(200)
    .body["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn lines_of<'a>(invoice: &'a Value, kind: &str) -> Vec<&'a Value> {
    invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == kind)
        .collect()
}

fn meter_line<'a>(invoice: &'a Value, meter: &str) -> &'a Value {
    lines_of(invoice, "usage")
        .into_iter()
        .find(|l| l["meter"]["meter_id"] == meter)
        .expect("a usage line of the meter")
}

fn bw_and_color(code: &str, bw_start: i64, color_start: i64) -> Value {
    json!([
        {"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
         "financial_code_id": code, "initial_reading": bw_start},
        {"meter_type": "color", "included_units": 1000, "overage_rate": "0.065",
         "financial_code_id": code, "initial_reading": color_start},
    ])
}

#[tokio::test]
async fn october_usage_and_the_base_charge_match_the_worked_example() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let c = contract(&app, &account, &code, &d("2025-10-01"), json!({})).await;
    let meters = equipment(
        &app,
        &c,
        "SN-1",
        &d("2025-10-01"),
        bw_and_color(&code, 120_000, 30_000),
    )
    .await;
    activate(&app, &c).await;

    let october = run(&app, &d("2025-10-01"), json!({})).await;
    assert_eq!(october["status"], "completed");
    assert_eq!(october["progress"]["contracts_total"], 1);
    assert_eq!(october["progress"]["invoices_created"], 1);
    let invoices = invoices_of(&app, &october).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["status"], "draft");
    assert_eq!(invoices[0]["subtotal"], "250.00");
    assert!(lines_of(&invoices[0], "usage").is_empty());

    reading(&app, &meters[0], &d("2025-11-01"), 127_350).await;
    reading(&app, &meters[1], &d("2025-11-01"), 31_420).await;
    let november = run(&app, &d("2025-11-01"), json!({})).await;
    let invoices = invoices_of(&app, &november).await;
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    let base = lines_of(inv, "recurring");
    assert_eq!(base.len(), 1);
    assert_eq!(base[0]["amount"], "250.00");
    assert_eq!(base[0]["period_start"], d("2025-11-01"));
    let bw = meter_line(inv, &meters[0]);
    assert_eq!(bw["meter"]["start_reading"], 120_000);
    assert_eq!(bw["meter"]["end_reading"], 127_350);
    assert_eq!(bw["meter"]["usage"], 7_350);
    assert_eq!(bw["meter"]["included_units"], 5_000);
    assert_eq!(bw["meter"]["overage_units"], 2_350);
    assert_eq!(bw["meter"]["overage_rate"], "0.0085");
    assert_eq!(bw["meter"]["end_estimated"], false);
    assert_eq!(bw["amount"], "19.98");
    assert_eq!(bw["period_start"], d("2025-10-01"));
    assert_eq!(bw["period_end"], d("2025-10-31"));
    let color = meter_line(inv, &meters[1]);
    assert_eq!(color["meter"]["usage"], 1_420);
    assert_eq!(color["meter"]["overage_units"], 420);
    assert_eq!(color["amount"], "27.30");
    // 250.00 + 19.98 + 27.30 = 297.28; tax 8.25 % = 24.5256 → 24.53.
    assert_eq!(inv["subtotal"], "297.28");
    assert_eq!(inv["tax_total"], "24.53");
    assert_eq!(inv["total"], "321.81");
    assert_eq!(inv["invoice_date"], d("2025-11-01"));
    assert_eq!(inv["due_date"], d("2025-12-01"));
    assert_eq!(app.count("billed_periods").await, 2);
    assert_eq!(
        app.count("meter_periods WHERE usage IN (7350, 1420)").await,
        2
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'invoice.created'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_contract_starting_mid_month_is_prorated_16_of_31_days() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let c = contract(&app, &account, &code, &d("2025-10-16"), json!({})).await;
    activate(&app, &c).await;
    let done = run(&app, &d("2025-10-16"), json!({})).await;
    let invoices = invoices_of(&app, &done).await;
    let line = lines_of(&invoices[0], "recurring")[0].clone();
    assert_eq!(line["amount"], "129.03");
    assert_eq!(line["billed_days"], 16);
    assert_eq!(line["period_days"], 31);
    assert_eq!(line["period_start"], d("2025-10-16"));
    assert_eq!(line["period_end"], d("2025-10-31"));
    assert_eq!(
        app.count(&sh(
            "billed_periods WHERE period_start = '2025-10-16' AND period_end = '2025-10-31'"
        ))
        .await,
        1
    );
}

/// The estimation example: actuals on 1 Jul, Aug, Sep and Oct; none on 1 Nov.
async fn estimated_october(app: &TestApp) -> (String, String) {
    let (code, account) = setup(app).await;
    let c = contract(app, &account, &code, &d("2025-07-01"), json!({})).await;
    let meters = equipment(
        app,
        &c,
        "SN-EST",
        &d("2025-07-01"),
        json!([{"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
                "financial_code_id": code, "initial_reading": 100_000}]),
    )
    .await;
    let bw = meters[0].clone();
    reading(app, &bw, &d("2025-08-01"), 106_200).await;
    reading(app, &bw, &d("2025-09-01"), 112_400).await;
    reading(app, &bw, &d("2025-10-01"), 120_000).await;
    activate(app, &c).await;
    run(app, &d("2025-10-01"), json!({})).await;
    let november = run(app, &d("2025-11-01"), json!({})).await;
    let invoices = invoices_of(app, &november).await;
    let line = meter_line(&invoices[0], &bw);
    assert_eq!(line["meter"]["start_reading"], 120_000);
    assert_eq!(line["meter"]["end_reading"], 126_739);
    assert_eq!(line["meter"]["end_estimated"], true);
    assert_eq!(line["meter"]["estimate_method"], "average_daily_usage");
    assert_eq!(line["meter"]["usage"], 6_739);
    assert_eq!(line["meter"]["overage_units"], 1_739);
    assert_eq!(line["amount"], "14.78");
    assert!(line["description"].as_str().unwrap().contains("estimated"));
    assert_eq!(
        app.count(&sh(
            "meter_readings WHERE source = 'estimated' AND read_on = '2025-11-01' \
             AND value = 126739 AND estimate_method = 'average_daily_usage'"
        ))
        .await,
        1
    );
    let estimates = app
        .get(
            &format!("/v1/meters/{bw}/readings?estimated=true"),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(estimates["data"][0]["value"], 126_739);
    assert_eq!(estimates["data"][0]["estimate_basis"]["days"], 92);
    (bw, account)
}

#[tokio::test]
async fn true_up_a_bills_november_from_the_estimate() {
    let app = spawn_app().await;
    let (bw, _) = estimated_october(&app).await;
    reading(&app, &bw, &d("2025-12-01"), 132_000).await;
    let december = run(&app, &d("2025-12-01"), json!({})).await;
    let invoices = invoices_of(&app, &december).await;
    let line = meter_line(&invoices[0], &bw);
    assert_eq!(line["meter"]["start_reading"], 126_739);
    assert_eq!(line["meter"]["start_estimated"], true);
    assert_eq!(line["meter"]["end_reading"], 132_000);
    assert_eq!(line["meter"]["usage"], 5_261);
    assert_eq!(line["meter"]["overage_units"], 261);
    assert_eq!(line["amount"], "2.22");
    assert!(lines_of(&invoices[0], "true_up").is_empty());
}

#[tokio::test]
async fn true_up_b_credits_the_over_estimate_and_bills_november_at_zero() {
    let app = spawn_app().await;
    let (bw, _) = estimated_october(&app).await;
    reading(&app, &bw, &d("2025-12-01"), 125_000).await;
    let december = run(&app, &d("2025-12-01"), json!({})).await;
    let invoices = invoices_of(&app, &december).await;
    let inv = &invoices[0];
    let credit = lines_of(inv, "true_up");
    assert_eq!(credit.len(), 1);
    assert_eq!(credit[0]["amount"], "-14.78");
    assert_eq!(credit[0]["period_start"], d("2025-10-01"));
    assert_eq!(credit[0]["meter"]["usage"], 5_000);
    let november = meter_line(inv, &bw);
    assert_eq!(november["meter"]["usage"], 0);
    assert_eq!(november["meter"]["start_reading"], 125_000);
    assert_eq!(november["amount"], "0.00");
    // 250.00 − 14.78 = 235.22; tax 19.40565 → 19.41.
    assert_eq!(inv["subtotal"], "235.22");
    assert_eq!(inv["tax_total"], "19.41");
    assert_eq!(
        app.count(&sh(
            "meter_periods WHERE period_start = '2025-10-01' AND rerated_usage = 5000 \
             AND rerated_charged = 0 AND rerated_invoice_id IS NOT NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_rerun_creates_nothing_new() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let c = contract(&app, &account, &code, &d("2025-09-01"), json!({})).await;
    activate(&app, &c).await;
    let first = run(&app, &d("2025-11-01"), json!({})).await;
    assert_eq!(first["progress"]["invoices_created"], 1);
    let invoice = &invoices_of(&app, &first).await[0];
    assert_eq!(lines_of(invoice, "recurring").len(), 3);
    let again = run(&app, &d("2025-11-01"), json!({})).await;
    assert_eq!(again["status"], "completed");
    assert_eq!(again["progress"]["contracts_done"], 1);
    assert_eq!(again["progress"]["invoices_created"], 0);
    assert_eq!(app.count("invoices").await, 1);
    assert_eq!(app.count("invoice_lines").await, 3);
    assert_eq!(app.count("billed_periods").await, 3);
}

#[tokio::test]
async fn two_runs_started_at_once_bill_each_period_exactly_once() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let mut meters = Vec::new();
    for i in 0..6 {
        let c = contract(&app, &account, &code, &d("2025-10-01"), json!({})).await;
        let m = equipment(
            &app,
            &c,
            &format!("SN-P{i}"),
            &d("2025-10-01"),
            bw_and_color(&code, 0, 0),
        )
        .await;
        meters.extend(m);
        activate(&app, &c).await;
    }
    for m in &meters {
        reading(&app, m, &d("2025-11-01"), 9_000).await;
    }
    // Two more workers on the same database, as other instances of the service would run.
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    for _ in 0..2 {
        receivables::billing::worker::spawn(
            app.pool.clone(),
            Default::default(),
            wake.clone(),
            app.clock.clone(),
        );
    }
    let (token, body) = (billing(), json!({"as_of": d("2025-11-01")}));
    let start = || app.post("/v1/billing-runs", &token, &body);
    let (a, b) = tokio::join!(start(), start());
    let (a, b) = (a.expect(202), b.expect(202));
    wake.notify_waiters();
    let a = app.wait_for_run(a.body["id"].as_str().unwrap()).await;
    let b = app.wait_for_run(b.body["id"].as_str().unwrap()).await;
    assert_eq!(a["status"], "completed");
    assert_eq!(b["status"], "completed");
    let created = a["progress"]["invoices_created"].as_i64().unwrap()
        + b["progress"]["invoices_created"].as_i64().unwrap();
    assert_eq!(created, 6);
    assert_eq!(app.count("invoices").await, 6);
    assert_eq!(app.count("billed_periods").await, 12);
    assert_eq!(app.count("meter_periods").await, 12);
    assert_eq!(
        app.count("meter_readings WHERE source = 'estimated'").await,
        0
    );
    // The database itself refuses a second bill of a period.
    let duplicate = app
        .execute(
            "INSERT INTO billed_periods (contract_id, period_start, period_end, invoice_id)
             SELECT contract_id, period_start, period_end, invoice_id FROM billed_periods LIMIT 1",
        )
        .await;
    assert!(duplicate.unwrap_err().contains("billed_periods_pkey"));
}

#[tokio::test]
async fn a_meter_without_basis_for_an_estimate_is_an_error_of_the_run() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let bare = contract(&app, &account, &code, &d("2025-10-01"), json!({})).await;
    equipment(
        &app,
        &bare,
        "SN-BARE",
        &d("2025-10-01"),
        json!([{"meter_type": "bw", "included_units": 0, "overage_rate": "0.01",
                "financial_code_id": code, "initial_reading": 500}]),
    )
    .await;
    activate(&app, &bare).await;
    let expected = contract(&app, &account, &code, &d("2025-10-01"), json!({})).await;
    let meter = equipment(
        &app,
        &expected,
        "SN-EXP",
        &d("2025-10-01"),
        json!([{"meter_type": "bw", "included_units": 0, "overage_rate": "0.01",
                "financial_code_id": code, "initial_reading": 500,
                "expected_monthly_volume": 3100}]),
    )
    .await;
    activate(&app, &expected).await;

    let done = run(&app, &d("2025-11-01"), json!({})).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["progress"]["contracts_done"], 2);
    assert_eq!(done["progress"]["errors"], 1);
    assert_eq!(done["errors"][0]["contract_id"], bare.as_str());
    assert_eq!(done["errors"][0]["code"], "no_basis_for_estimate");
    assert!(done["errors"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no basis for estimate"));
    assert_eq!(
        app.count(&format!("invoices WHERE contract_id = '{bare}'"))
            .await,
        0
    );
    let invoices = invoices_of(&app, &done).await;
    assert_eq!(invoices.len(), 1);
    let line = meter_line(&invoices[0], &meter[0]);
    assert_eq!(line["meter"]["estimate_method"], "expected_volume");
    assert_eq!(line["meter"]["usage"], 3_100);
    assert_eq!(line["amount"], "31.00");
}

#[tokio::test]
async fn the_first_invoice_after_an_upgrade_is_flagged_and_a_review_task_created() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let c = contract(&app, &account, &code, &d("2025-10-01"), json!({})).await;
    activate(&app, &c).await;
    run(&app, &d("2025-10-01"), json!({})).await;
    app.post(
        &format!("/v1/contracts/{c}/amendments"),
        &billing(),
        &json!({"kind": "upgrade", "effective_date": d("2025-11-01"),
                "charges": [{"description": "Finisher", "amount": "40.00", "financial_code_id": code}]}),
    )
    .await
    .expect(201);
    let november = run(&app, &d("2025-11-01"), json!({})).await;
    let inv = &invoices_of(&app, &november).await[0];
    assert_eq!(inv["review_required"], true);
    assert!(inv["review_reason"].as_str().unwrap().contains("upgrade"));
    assert_eq!(inv["subtotal"], "290.00");
    let id = inv["id"].as_str().unwrap();
    assert_eq!(
        app.count(&format!(
            "tasks WHERE type = 'first_invoice_review' AND subject_type = 'invoice' \
             AND subject_id = '{id}' AND status = 'open'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "contract_amendments WHERE contract_id = '{c}' AND review_invoice_id = '{id}'"
        ))
        .await,
        1
    );
    let tasks = app
        .get("/v1/tasks?type=first_invoice_review", &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(tasks["data"].as_array().unwrap().len(), 1);
    assert_eq!(tasks["data"][0]["subject_id"], id);
    assert!(tasks["data"][0]["description"]
        .as_str()
        .unwrap()
        .contains("upgrade"));
    assert_eq!(
        app.count("audit_events WHERE action = 'task.created' AND actor LIKE 'billing-run:%'")
            .await,
        1
    );
    let december = run(&app, &d("2025-12-01"), json!({})).await;
    let next = &invoices_of(&app, &december).await[0];
    assert_eq!(next["review_required"], false);
    assert_eq!(app.count("tasks").await, 1);
}

#[tokio::test]
async fn an_ownership_change_splits_the_period_and_keeps_earlier_days_with_the_old_owner() {
    let app = spawn_app().await;
    let (code, old) = setup(&app).await;
    let new = app.create_account(json!({"legal_name": "Buyer Ltd"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = contract(
        &app,
        &old,
        &code,
        &d("2025-10-01"),
        json!({"billing_timing": "arrears",
               "charges": [{"description": "Service", "amount": "300.00", "financial_code_id": code}]}),
    )
    .await;
    activate(&app, &c).await;
    app.post(
        &format!("/v1/contracts/{c}/amendments"),
        &billing(),
        &json!({"kind": "ownership_change", "effective_date": d("2025-11-11"), "account_id": new}),
    )
    .await
    .expect(201);
    let done = run(&app, &d("2025-12-01"), json!({})).await;
    let invoices = invoices_of(&app, &done).await;
    assert_eq!(invoices.len(), 2);
    let of = |account: &str| {
        invoices
            .iter()
            .find(|i| i["account_id"] == account)
            .unwrap()
            .clone()
    };
    let old_inv = of(&old);
    let new_inv = of(&new);
    // October whole to the old owner; November 1–10 (10/30) to the old, 11–30 (20/30) to the new.
    assert_eq!(old_inv["subtotal"], "400.00");
    assert_eq!(new_inv["subtotal"], "200.00");
    assert_eq!(old_inv["review_required"], false);
    assert_eq!(new_inv["review_required"], true);
}

#[tokio::test]
async fn issue_mode_numbers_invoices_consecutively() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    for _ in 0..2 {
        let c = contract(&app, &account, &code, &d("2025-10-01"), json!({})).await;
        activate(&app, &c).await;
    }
    let done = run(&app, &d("2025-10-01"), json!({"mode": "issue"})).await;
    let mut numbers: Vec<String> = invoices_of(&app, &done)
        .await
        .iter()
        .map(|i| {
            assert_eq!(i["status"], "open");
            i["number"].as_str().unwrap().to_string()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![sh("INV-2025-000001"), sh("INV-2025-000002")]);
}

#[tokio::test]
async fn billing_runs_refuse_bad_requests() {
    let app = spawn_app().await;
    app.post(
        "/v1/billing-runs",
        &billing(),
        &json!({"as_of": d("2030-01-01")}),
    )
    .await
    .expect(422);
    let reply = app
        .post(
            "/v1/billing-runs",
            &billing(),
            &json!({"as_of": d("2025-10-01"), "account_id": "0192f1d2-0000-7000-8000-000000000001"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "account_id");
    app.post(
        "/v1/billing-runs",
        &token(Role::Viewer),
        &json!({"as_of": d("2025-10-01")}),
    )
    .await
    .expect(403);
    app.post(
        "/v1/billing-runs",
        &billing(),
        &json!({"as_of": d("2025-10-01"), "mode": "final"}),
    )
    .await
    .expect(422);
    app.get(
        "/v1/billing-runs/0192f1d2-0000-7000-8000-000000000001",
        &billing(),
    )
    .await
    .expect(404);
    assert_eq!(app.count("billing_runs").await, 0);
}

#[tokio::test]
async fn partners_see_only_their_accounts_invoices() {
    let app = spawn_app().await;
    let (code, _) = setup(&app).await;
    let partner = app.create_partner("DEALER-1").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = app
        .create_account(json!({"legal_name": "Dealer client", "partner_id": partner}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app
        .create_account(json!({"legal_name": "Direct client"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for account in [&theirs, &other] {
        let c = contract(&app, account, &code, &d("2025-10-01"), json!({})).await;
        activate(&app, &c).await;
    }
    let done = run(&app, &d("2025-10-01"), json!({})).await;
    let all = invoices_of(&app, &done).await;
    assert_eq!(all.len(), 2);
    let token = partner_token(partner.parse().unwrap());
    let seen = app.get("/v1/invoices", &token).await.expect(200).body;
    assert_eq!(seen["data"].as_array().unwrap().len(), 1);
    assert_eq!(seen["data"][0]["account_id"], theirs.as_str());
    let hidden = all
        .iter()
        .find(|i| i["account_id"] == other.as_str())
        .unwrap();
    app.get(
        &format!("/v1/invoices/{}", hidden["id"].as_str().unwrap()),
        &token,
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn billing_stops_at_termination_and_contracts_expire_after_their_end() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let terminated = contract(
        &app,
        &account,
        &code,
        &d("2025-10-01"),
        json!({"billing_timing": "arrears"}),
    )
    .await;
    activate(&app, &terminated).await;
    // The termination day is over: the contract is settled at once, on a final invoice.
    let amended = app
        .post(
            &format!("/v1/contracts/{terminated}/amendments"),
            &billing(),
            &json!({"kind": "termination", "effective_date": d("2025-10-15")}),
        )
        .await
        .expect(201)
        .body;
    let settlement = &amended["amendments"][0]["details"]["settlement"];
    assert_eq!(settlement["final_invoice_ids"].as_array().unwrap().len(), 1);
    let final_run = settlement["billing_run_id"].as_str().unwrap().to_string();
    let ending = contract(
        &app,
        &account,
        &code,
        &d("2025-10-01"),
        json!({"end_date": d("2025-10-31")}),
    )
    .await;
    activate(&app, &ending).await;

    let done = run(&app, &d("2025-12-01"), json!({})).await;
    assert_eq!(done["progress"]["errors"], 0);
    let mut invoices = invoices_of(&app, &done).await;
    // The final invoice was made by the termination; the run bills nothing more of it.
    assert!(invoices
        .iter()
        .all(|i| i["contract_id"] != terminated.as_str()));
    let final_run = app
        .get(&format!("/v1/billing-runs/{final_run}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(final_run["status"], "completed");
    assert_eq!(final_run["contract_id"], terminated.as_str());
    invoices.extend(invoices_of(&app, &final_run).await);
    let of = |c: &str| {
        invoices
            .iter()
            .find(|i| i["contract_id"] == c)
            .unwrap()
            .clone()
    };
    // Terminated on 15 October: 15/31 of 250.00 in arrears, nothing after.
    let t = of(&terminated);
    assert_eq!(lines_of(&t, "recurring").len(), 1);
    assert_eq!(t["subtotal"], "120.97");
    assert_eq!(t["period_end"], d("2025-10-15"));
    // Ended on 31 October: October only, then expired.
    let e = of(&ending);
    assert_eq!(e["subtotal"], "250.00");
    let contract_now = app
        .get(&format!("/v1/contracts/{ending}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(contract_now["status"], "expired");
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'contract.expired' AND entity_id = '{ending}'"
        ))
        .await,
        1
    );
    let again = run(&app, &d("2026-01-01"), json!({})).await;
    assert_eq!(again["progress"]["invoices_created"], 0);
}

/// Calendar quarters: a quarterly contract with anchor month 1 from 20 May 2025 bills 20 May –
/// 30 Jun as 42 of the quarter's 91 days (553.85 of 1,200.00), then the July quarter whole.
#[tokio::test]
async fn calendar_quarters_prorate_the_first_partial_quarter_over_the_whole_quarter() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let quarterly = |extra: Value| {
        let mut body = json!({"billing_frequency": "quarterly", "anchor_month": 1,
            "charges": [{"description": "Service", "amount": "1200.00", "financial_code_id": code,
                         "taxable": false}]});
        merge(&mut body, extra);
        body
    };
    // anchor_month is checked: 1–12, and only for quarterly and annual billing.
    for (extra, field) in [
        (json!({"anchor_month": 13}), "anchor_month"),
        (json!({"anchor_month": 0}), "anchor_month"),
        (
            json!({"billing_frequency": "monthly", "anchor_month": 4}),
            "anchor_month",
        ),
    ] {
        let mut body = json!({"account_id": account, "kind": "service",
            "start_date": d("2025-05-20"), "anchor_day": 1});
        merge(&mut body, quarterly(extra));
        let refused = app
            .post("/v1/contracts", &billing(), &body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused.error_field(), field);
    }
    assert_eq!(app.count("contracts").await, 0);

    let c = contract(
        &app,
        &account,
        &code,
        &d("2025-05-20"),
        quarterly(json!({})),
    )
    .await;
    let got = app
        .get(&format!("/v1/contracts/{c}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(got["anchor_month"], 1);
    activate(&app, &c).await;
    let done = run(&app, &d("2025-07-01"), json!({})).await;
    assert_eq!(done["status"], "completed", "{done}");
    let invoices = invoices_of(&app, &done).await;
    assert_eq!(invoices.len(), 1);
    let lines = lines_of(&invoices[0], "recurring");
    let billed: Vec<(String, String, String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["period_start"].as_str().unwrap().to_string(),
                l["period_end"].as_str().unwrap().to_string(),
                l["amount"].as_str().unwrap().to_string(),
                l["explanation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        billed,
        vec![
            (
                d("2025-05-20"),
                d("2025-06-30"),
                "553.85".to_string(),
                "1200.00 × 42/91 days, rounded half-up".to_string()
            ),
            (
                d("2025-07-01"),
                d("2025-09-30"),
                "1200.00".to_string(),
                "full period at 1200.00".to_string()
            ),
        ]
    );
    assert_eq!(invoices[0]["total"], "1753.85");
    assert_eq!(
        app.count(&sh(
            "billed_periods WHERE period_start IN ('2025-05-20', '2025-07-01')"
        ))
        .await,
        2
    );
    // The next run bills the October quarter and nothing twice.
    let october = run(&app, &d("2025-10-01"), json!({})).await;
    let invoices = invoices_of(&app, &october).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(lines_of(&invoices[0], "recurring").len(), 1);
    assert_eq!(
        lines_of(&invoices[0], "recurring")[0]["period_end"],
        d("2025-12-31")
    );
    // A draft's anchor month can be cleared (back to the grid of its start).
    let draft = contract(
        &app,
        &account,
        &code,
        &d("2025-05-20"),
        quarterly(json!({})),
    )
    .await;
    let patched = app
        .patch(
            &format!("/v1/contracts/{draft}"),
            &billing(),
            &json!({"anchor_month": null, "version": 1}),
        )
        .await
        .expect(200)
        .body;
    assert!(patched["anchor_month"].is_null());
    assert_books_balance(&app).await;
}

/// `mode: preview` computes what a run would bill with the same engine and writes nothing: no
/// invoice, estimate, period, run or audit entry; the run made afterwards bills exactly that.
#[tokio::test]
async fn a_preview_answers_what_a_run_would_bill_and_writes_nothing() {
    let app = spawn_app().await;
    let (account, c, bw) = copier(&app, "SN-PRE", "2025-07-01", 100_000).await;
    for (on, value) in [
        ("2025-08-01", 106_200),
        ("2025-09-01", 112_400),
        ("2025-10-01", 120_000),
    ] {
        reading(&app, &bw, &d(on), value).await;
    }
    activate(&app, &c).await;
    let before_audit = app.count("audit_events").await;
    let preview = app
        .post(
            "/v1/billing-runs",
            &billing(),
            &json!({"as_of": d("2025-11-01"), "mode": "preview", "account_id": account}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(preview["preview"], true);
    assert_eq!(preview["contracts"], 1);
    let invoices = preview["invoices"].as_array().unwrap();
    // July to November in advance, and the usage of July to October (October estimated).
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    assert_eq!(inv["status"], "draft");
    assert!(inv["number"].is_null());
    assert_eq!(lines_of(inv, "recurring").len(), 5);
    let october = lines_of(inv, "usage")
        .into_iter()
        .find(|l| l["period_start"] == d("2025-10-01"))
        .unwrap()
        .clone();
    assert_eq!(october["meter"]["end_reading"], 126_739);
    assert_eq!(october["meter"]["end_estimated"], true);
    assert_eq!(preview["totals"][0]["currency"], "USD");
    assert_eq!(preview["totals"][0]["invoices"], 1);
    assert_eq!(preview["totals"][0]["total"], inv["total"]);
    // Nothing was written.
    for table in [
        "invoices",
        "invoice_lines",
        "billed_periods",
        "meter_periods",
        "billing_runs",
        "meter_readings WHERE source = 'estimated'",
    ] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
    assert_eq!(app.count("audit_events").await, before_audit);
    // Refusals change nothing either.
    let refused = app
        .post(
            "/v1/billing-runs",
            &billing(),
            &json!({"as_of": d("2025-11-01"), "mode": "preview",
                    "account_id": "0192f1d2-0000-7000-8000-000000000999"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.error_field(), "account_id");
    app.post(
        "/v1/billing-runs",
        &billing(),
        &json!({"as_of": d("2025-11-01"), "mode": "rehearsal"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    app.post(
        "/v1/billing-runs",
        &token(Role::Collections),
        &json!({"as_of": d("2025-11-01"), "mode": "preview"}),
    )
    .await
    .expect_problem(403, "forbidden");

    // The run bills what the preview said, to the cent.
    let done = run(&app, &d("2025-11-01"), json!({})).await;
    let billed = invoices_of(&app, &done).await;
    assert_eq!(billed.len(), 1);
    for field in ["subtotal", "tax_total", "total"] {
        assert_eq!(billed[0][field], inv[field], "{field}");
    }
    let amounts = |i: &Value| -> Vec<(String, String)> {
        i["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["description"].as_str().unwrap().to_string(),
                    l["amount"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(amounts(&billed[0]), amounts(inv));
}

/// A draft a run made can be deleted: its periods are billed again by the next run, with the
/// contract corrected in between (an upgrade from the released period, refused before). The
/// drafts go newest first: a meter's later period on another draft blocks the earlier one.
#[tokio::test]
async fn deleting_a_runs_draft_releases_its_periods_to_be_billed_again() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let c = contract(&app, &account, &code, &d("2025-10-01"), json!({})).await;
    let meters = equipment(
        &app,
        &c,
        "SN-REBILL",
        &d("2025-10-01"),
        json!([{"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
                "financial_code_id": code, "initial_reading": 120_000,
                "expected_monthly_volume": 6000}]),
    )
    .await;
    activate(&app, &c).await;
    let october = invoices_of(&app, &run(&app, &d("2025-10-01"), json!({})).await).await;
    reading(&app, &meters[0], &d("2025-11-01"), 127_350).await;
    let november = invoices_of(&app, &run(&app, &d("2025-11-01"), json!({})).await).await;
    // December's usage of November is estimated (no reading).
    let december = invoices_of(&app, &run(&app, &d("2025-12-01"), json!({})).await).await;
    assert_eq!(
        meter_line(&december[0], &meters[0])["meter"]["end_estimated"],
        true
    );
    let (oct, nov, dec) = (id(&october[0]), id(&november[0]), id(&december[0]));

    // November's draft holds October's meter period; December's draft holds November's.
    app.delete(&format!("/v1/invoices/{nov}"), &billing())
        .await
        .expect_problem(409, "later_periods_billed");
    assert_eq!(app.count("invoices").await, 3);
    // An upgrade cannot reach into a billed period.
    let upgrade = json!({"kind": "upgrade", "effective_date": d("2025-11-01"),
        "end_charge_ids": [app.get(&format!("/v1/contracts/{c}"), &billing()).await.body["charges"][0]["id"]],
        "charges": [{"description": "Base charge", "amount": "300.00", "financial_code_id": code}]});
    app.post(
        &format!("/v1/contracts/{c}/amendments"),
        &billing(),
        &upgrade,
    )
    .await
    .expect_problem(422, "validation_failed");

    app.delete(&format!("/v1/invoices/{dec}"), &billing())
        .await
        .expect(204);
    assert_eq!(
        app.count(&sh(
            "meter_readings WHERE source = 'estimated' AND read_on = '2025-12-01'"
        ))
        .await,
        0
    );
    app.delete(&format!("/v1/invoices/{nov}"), &billing())
        .await
        .expect(204);
    assert_eq!(app.count("billed_periods").await, 1);
    assert_eq!(app.count("meter_periods").await, 0);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'contract.periods_released' AND entity_id = '{c}' \
             AND after->>'invoice_id' = '{nov}' AND jsonb_array_length(after->'released'->'periods') = 1 \
             AND jsonb_array_length(after->'released'->'meter_periods') = 1"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'invoice.deleted' AND entity_id IN ('{nov}', '{dec}')"
        ))
        .await,
        2
    );
    // Now the correction is possible, and the next run bills November and December again at
    // the new price, with October's and November's usage.
    app.post(
        &format!("/v1/contracts/{c}/amendments"),
        &billing(),
        &upgrade,
    )
    .await
    .expect(201);
    let rebilled = invoices_of(&app, &run(&app, &d("2025-12-01"), json!({})).await).await;
    assert_eq!(rebilled.len(), 1);
    let recurring: Vec<(String, String)> = lines_of(&rebilled[0], "recurring")
        .iter()
        .map(|l| {
            (
                l["period_start"].as_str().unwrap().to_string(),
                l["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        recurring,
        vec![
            (d("2025-11-01"), "300.00".to_string()),
            (d("2025-12-01"), "300.00".to_string())
        ]
    );
    let usage: Vec<String> = lines_of(&rebilled[0], "usage")
        .iter()
        .map(|l| l["period_start"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(usage, vec![d("2025-10-01"), d("2025-11-01")]);
    let october_usage = meter_line(&rebilled[0], &meters[0]);
    assert_eq!(october_usage["meter"]["end_reading"], 127_350);
    // Contract versus invoices: nothing missing, nothing twice.
    let check = app
        .get(
            &format!("/v1/contracts/{c}/reconciliation?as_of={}", d("2025-12-01")),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(check["summary"]["missing"], 0);
    assert_eq!(check["summary"]["duplicate"], 0);
    assert_eq!(check["summary"]["periods"], 3);
    // The rebilled draft is the first after the upgrade: flagged, with a review task. Deleted,
    // its task is cancelled and the next draft is flagged again.
    assert_eq!(rebilled[0]["review_required"], true);
    let first = id(&rebilled[0]);
    assert_eq!(
        app.count(&format!(
            "tasks WHERE subject_id = '{first}' AND status = 'open'"
        ))
        .await,
        1
    );
    app.delete(&format!("/v1/invoices/{first}"), &billing())
        .await
        .expect(204);
    assert_eq!(
        app.count(&format!(
            "tasks WHERE subject_id = '{first}' AND status = 'cancelled'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("contract_amendments WHERE kind = 'upgrade' AND review_invoice_id IS NULL")
            .await,
        1
    );
    let again = invoices_of(&app, &run(&app, &d("2025-12-01"), json!({})).await).await;
    assert_eq!(again[0]["review_required"], true);
    assert_eq!(again[0]["total"], rebilled[0]["total"]);
    // October's draft is untouched; an issued invoice is never deleted.
    assert_eq!(
        app.get(&format!("/v1/invoices/{oct}"), &billing())
            .await
            .expect(200)
            .body["status"],
        "draft"
    );
    app.post(&format!("/v1/invoices/{oct}/issue"), &billing(), &json!({}))
        .await
        .expect(200);
    app.delete(&format!("/v1/invoices/{oct}"), &billing())
        .await
        .expect(409);
    assert_eq!(app.count("billed_periods").await, 3);
    assert_books_balance(&app).await;
}

/// A contract starting on `start` with one copier (5,000 included, 0.0085 over) read
/// `initial` at installation, not yet activated. (account, contract, meter).
async fn copier(
    app: &TestApp,
    serial: &str,
    start: &str,
    initial: i64,
) -> (String, String, String) {
    let (code, account) = setup(app).await;
    let c = contract(app, &account, &code, &d(start), json!({})).await;
    let bw = equipment(
        app,
        &c,
        serial,
        &d(start),
        json!([{"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
                "financial_code_id": code, "initial_reading": initial}]),
    )
    .await[0]
        .clone();
    (account, c, bw)
}

/// [`copier`] from 1 October 2025, read 30,000, activated.
async fn copier_from_october(app: &TestApp, serial: &str) -> (String, String, String) {
    let (account, c, bw) = copier(app, serial, "2025-10-01", 30_000).await;
    activate(app, &c).await;
    (account, c, bw)
}

/// The typo of the field: 376,500 read for 37,650. Billed, it blocked every later reading
/// (lower than the last actual); corrected, the next invoice re-rates October to the
/// corrected value and credits the overage charged too much.
#[tokio::test]
async fn a_billed_typo_is_corrected_and_the_overbilled_usage_credited() {
    let app = spawn_app().await;
    let (account, c, bw) = copier_from_october(&app, "SN-TYPO").await;
    run(&app, &d("2025-10-01"), json!({})).await;
    let typo = app
        .post(
            &format!("/v1/meters/{bw}/readings"),
            &billing(),
            &json!({"read_on": d("2025-11-01"), "value": 376_500, "source": "customer"}),
        )
        .await
        .expect(201)
        .body;
    let november = invoices_of(&app, &run(&app, &d("2025-11-01"), json!({})).await).await;
    // 346,500 − 5,000 included = 341,500 × 0.0085 = 2,902.75 billed.
    assert_eq!(meter_line(&november[0], &bw)["amount"], "2902.75");
    // The dead end: the real December reading is lower than the typo.
    app.post(
        &format!("/v1/meters/{bw}/readings"),
        &billing(),
        &json!({"read_on": d("2025-12-01"), "value": 38_300, "source": "customer"}),
    )
    .await
    .expect_problem(422, "validation_failed");

    let path = format!("/v1/meter-readings/{}", id(&typo));
    // It ends a billed period: not voided (there would be nothing to end it), corrected.
    app.post(
        &format!("{path}/void"),
        &billing(),
        &json!({"reason": "typo"}),
    )
    .await
    .expect_problem(409, "reading_billed");
    // Correcting is billing's: partners post readings but do not correct them.
    app.post(
        &format!("{path}/correct"),
        &partner_token(uuid::Uuid::now_v7()),
        &json!({"value": 37_650, "reason": "typo"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let refused = app
        .post(
            &format!("{path}/correct"),
            &billing(),
            &json!({"value": 37_650, "read_on": d("2025-11-02"), "reason": "typo"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.error_field(), "read_on");
    let refused = app
        .post(
            &format!("{path}/correct"),
            &billing(),
            &json!({"value": 29_999, "reason": "typo"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["errors"][0]["code"], "lower_than_previous");
    let corrected = app
        .post_with_key(
            &format!("{path}/correct"),
            &billing(),
            "fix-typo-1",
            &json!({"value": 37_650, "reason": "typed 376,500 for 37,650"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(corrected["value"], 37_650);
    assert_eq!(corrected["replaces_id"], typo["id"]);
    assert_eq!(corrected["read_on"], d("2025-11-01"));
    // The replay answers the same correction, once.
    let replay = app
        .post_with_key(
            &format!("{path}/correct"),
            &billing(),
            "fix-typo-1",
            &json!({"value": 37_650, "reason": "typed 376,500 for 37,650"}),
        )
        .await
        .expect(201);
    assert_eq!(replay.body["id"], corrected["id"]);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    // History kept: the typo is voided with the reason, both are listed.
    let listed = app
        .get(&format!("/v1/meters/{bw}/readings"), &billing())
        .await
        .expect(200)
        .body;
    let old = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == typo["id"])
        .unwrap()
        .clone();
    assert_eq!(old["void_reason"], "corrected: typed 376,500 for 37,650");
    assert_eq!(old["voided_by"], "billing-user");
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'meter_reading.corrected' AND entity_id = '{}' \
             AND before->>'value' = '376500' AND after->>'value' = '37650'",
            id(&corrected)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("meter_periods WHERE corrected_end_value = 37650 AND rerated_usage IS NULL")
            .await,
        1
    );
    // Now December's reading goes in, and December's invoice trues October up.
    app.post(
        &format!("/v1/meters/{bw}/readings"),
        &billing(),
        &json!({"read_on": d("2025-12-01"), "value": 38_300, "source": "customer"}),
    )
    .await
    .expect(201);
    // November's invoice is still a draft: the credit has nowhere to go, the contract is
    // refused with the way out, and nothing is written.
    let refused = run(&app, &d("2025-12-01"), json!({})).await;
    assert_eq!(refused["progress"]["invoices_created"], 0);
    assert_eq!(refused["errors"][0]["contract_id"], c.as_str());
    assert_eq!(refused["errors"][0]["code"], "usage_invoice_draft");
    assert_eq!(app.count("credit_memos").await, 0);
    assert_eq!(
        app.count("meter_periods WHERE rerated_usage IS NOT NULL")
            .await,
        0
    );
    app.post(
        &format!("/v1/invoices/{}/issue", id(&november[0])),
        &billing(),
        &json!({}),
    )
    .await
    .expect(200);
    let december = invoices_of(
        &app,
        &run(&app, &d("2025-12-01"), json!({"mode": "issue"})).await,
    )
    .await;
    let inv = &december[0];
    // October re-rated: 7,650 used, 2,650 over: 22.53; charged 2,902.75: 2,880.22 back. More
    // than December's invoice could take: it is credited on a memo against October's usage
    // line of November's invoice, with its tax, and December keeps its own charges.
    assert!(lines_of(inv, "true_up").is_empty());
    let usage = meter_line(inv, &bw);
    assert_eq!(usage["meter"]["start_reading"], 37_650);
    assert_eq!(usage["meter"]["usage"], 650);
    assert_eq!(usage["amount"], "0.00");
    let memos = app
        .get(
            &format!("/v1/credit-memos?account_id={account}"),
            &billing(),
        )
        .await
        .expect(200)
        .body["data"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(memos.len(), 1);
    let memo = &memos[0];
    assert_eq!(memo["status"], "issued");
    assert_eq!(memo["reason"], "meter_reading");
    let line = &memo["lines"][0];
    assert_eq!(line["amount"], "2880.22");
    // 8.25% of 2,880.22 = 237.62.
    assert_eq!(line["tax_amount"], "237.62");
    assert_eq!(line["total"], "3117.84");
    assert_eq!(line["invoice_id"], november[0]["id"]);
    assert_eq!(line["invoice_line_id"], meter_line(&november[0], &bw)["id"]);
    assert_eq!(line["period_start"], d("2025-10-01"));
    assert_eq!(memo["total"], "3117.84");
    assert_eq!(memo["applied"], "3117.84");
    let nov = app
        .get(&format!("/v1/invoices/{}", id(&november[0])), &billing())
        .await
        .expect(200)
        .body;
    // 3,412.85 billed (2,902.75 of it October's overage), 3,117.84 credited: 295.01 left.
    assert_eq!(nov["amount_credited"], "3117.84");
    assert_eq!(nov["balance_due"], "295.01");
    assert_eq!(
        app.count(
            "meter_periods WHERE corrected_end_value = 37650 AND rerated_usage = 7650 \
             AND rerated_invoice_id IS NULL"
        )
        .await,
        1
    );
    // Periods were billed from the corrected reading since: it stays as billed.
    app.post(
        &format!("/v1/meter-readings/{}/correct", id(&corrected)),
        &billing(),
        &json!({"value": 37_600, "reason": "again"}),
    )
    .await
    .expect_problem(409, "reading_billed");
    // A rerun trues nothing up twice.
    let again = run(&app, &d("2025-12-01"), json!({})).await;
    assert_eq!(again["progress"]["invoices_created"], 0);
    assert_books_balance(&app).await;
}

/// A draft run leaves the true-up's credit memo a draft: billing issues it with the drafts,
/// and above billing's limit it waits for a manager's approval like any credit.
#[tokio::test]
async fn a_draft_run_leaves_the_usage_credit_a_draft_for_review() {
    let app = spawn_app().await;
    let (account, _, bw) = copier_from_october(&app, "SN-TYPO2").await;
    run(&app, &d("2025-10-01"), json!({"mode": "issue"})).await;
    let typo = post_reading(&app, &bw, "2025-11-01", 376_500)
        .await
        .expect(201)
        .body;
    let november = invoices_of(
        &app,
        &run(&app, &d("2025-11-01"), json!({"mode": "issue"})).await,
    )
    .await;
    app.post(
        &format!("/v1/meter-readings/{}/correct", id(&typo)),
        &billing(),
        &json!({"value": 37_650, "reason": "typo"}),
    )
    .await
    .expect(201);
    post_reading(&app, &bw, "2025-12-01", 38_300)
        .await
        .expect(201);
    let december = invoices_of(&app, &run(&app, &d("2025-12-01"), json!({})).await).await;
    assert_eq!(december[0]["status"], "draft");
    assert!(lines_of(&december[0], "true_up").is_empty());
    let memos = app
        .get(
            &format!("/v1/credit-memos?account_id={account}"),
            &billing(),
        )
        .await
        .expect(200)
        .body["data"]
        .clone();
    let memo = &memos[0];
    assert_eq!(memos.as_array().unwrap().len(), 1);
    assert_eq!(memo["status"], "draft");
    assert_eq!(memo["total"], "3117.84");
    assert_eq!(memo["lines"][0]["invoice_id"], november[0]["id"]);
    // Nothing moved yet: the November invoice owes what it did.
    let path = format!("/v1/invoices/{}", id(&november[0]));
    let balance = async || app.get(&path, &billing()).await.expect(200).body["balance_due"].clone();
    assert_eq!(balance().await, "3412.85");
    let pending = app
        .post(
            &format!("/v1/credit-memos/{}/issue", id(memo)),
            &billing(),
            &json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(pending["status"], "pending_approval");
    let issued = app
        .post(
            &format!("/v1/credit-memos/{}/approve", id(memo)),
            &token(Role::CollectionsManager),
            &json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(issued["status"], "issued");
    assert_eq!(issued["applied"], "3117.84");
    assert_eq!(balance().await, "295.01");
    // A rerun credits nothing twice.
    run(&app, &d("2025-12-01"), json!({})).await;
    assert_eq!(app.count("credit_memos").await, 1);
    assert_books_balance(&app).await;
}

/// Posts a customer reading of the meter on a test date.
async fn post_reading(app: &TestApp, meter: &str, on: &str, value: i64) -> Reply {
    app.post(
        &format!("/v1/meters/{meter}/readings"),
        &billing(),
        &json!({"read_on": d(on), "value": value, "source": "customer"}),
    )
    .await
}

/// An unbilled reading is voided or corrected (date too) with nothing else changed; estimates
/// are billing's, and a correction stays between the readings around it.
#[tokio::test]
async fn an_unbilled_reading_is_voided_or_corrected_and_nothing_else_changes() {
    let app = spawn_app().await;
    let (_, c, bw) = copier(&app, "SN-FIX", "2025-10-01", 10_000).await;
    let wrong = post_reading(&app, &bw, "2025-10-20", 90_000)
        .await
        .expect(201)
        .body;
    let voided = app
        .post(
            &format!("/v1/meter-readings/{}/void", id(&wrong)),
            &billing(),
            &json!({"reason": "read from the wrong copier"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(voided["void_reason"], "read from the wrong copier");
    assert!(voided["voided_at"].is_string());
    app.post(
        &format!("/v1/meter-readings/{}/void", id(&wrong)),
        &billing(),
        &json!({"reason": "again"}),
    )
    .await
    .expect_problem(409, "reading_voided");
    // The voided reading no longer stops a lower one (nor the same day).
    let right = post_reading(&app, &bw, "2025-10-20", 12_000)
        .await
        .expect(201)
        .body;
    post_reading(&app, &bw, "2025-10-28", 13_000)
        .await
        .expect(201);
    // Corrected: a new date and value between its neighbours.
    let refused = app
        .post(
            &format!("/v1/meter-readings/{}/correct", id(&right)),
            &billing(),
            &json!({"value": 13_500, "reason": "misread"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["errors"][0]["code"], "higher_than_next");
    let fixed = app
        .post(
            &format!("/v1/meter-readings/{}/correct", id(&right)),
            &billing(),
            &json!({"value": 12_100, "read_on": d("2025-10-21"), "reason": "misread"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(fixed["read_on"], d("2025-10-21"));
    assert_eq!(app.count("meter_periods").await, 0);
    assert_eq!(
        app.count(&format!(
            "meter_readings WHERE meter_id = '{bw}' AND voided_at IS NULL"
        ))
        .await,
        3
    );
    // Billing uses the corrected reading (the usage period closes on 1 November).
    post_reading(&app, &bw, "2025-11-01", 14_000)
        .await
        .expect(201);
    activate(&app, &c).await;
    let november = invoices_of(&app, &run(&app, &d("2025-11-01"), json!({})).await).await;
    assert_eq!(meter_line(&november[0], &bw)["meter"]["usage"], 4_000);
    // Estimates are billing's own.
    let estimate = app
        .execute(&format!(
            "INSERT INTO meter_readings (id, meter_id, read_on, value, source, estimate_method, created_by)
             VALUES ('0192f1d2-0000-7000-8000-00000000e571', '{bw}', '{}', 15000, 'estimated', 'expected_volume', 'billing-run')",
            d("2025-12-01")
        ))
        .await;
    assert!(estimate.is_ok(), "{estimate:?}");
    app.post(
        "/v1/meter-readings/0192f1d2-0000-7000-8000-00000000e571/correct",
        &billing(),
        &json!({"value": 15_100, "reason": "x"}),
    )
    .await
    .expect_problem(409, "estimated_reading");
    app.post(
        "/v1/meter-readings/0192f1d2-0000-7000-8000-000000000000/void",
        &billing(),
        &json!({"reason": "x"}),
    )
    .await
    .expect_problem(404, "not_found");
}

/// A copier contract of 300.00 a month in advance from 1 September (taxed at 8.25 %), billed
/// and issued for September to November with the meter read on the first of each month.
async fn billed_copier(
    app: &TestApp,
    code: &str,
    account: &str,
    expected_volume: bool,
) -> (String, String) {
    let c = contract(
        app,
        account,
        code,
        &d("2026-09-01"),
        json!({"charges": [{"description": "Copier lease", "amount": "300.00", "financial_code_id": code}]}),
    )
    .await;
    let mut meter = json!({"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
                           "financial_code_id": code, "initial_reading": 10_000});
    if expected_volume {
        merge(&mut meter, json!({"expected_monthly_volume": 6000}));
    }
    let meters = equipment(app, &c, "SN-END", &d("2026-09-01"), json!([meter])).await;
    let bw = meters[0].clone();
    activate(app, &c).await;
    for (month, value) in [
        ("2026-09-01", None),
        ("2026-10-01", Some(13_000)),
        ("2026-11-01", Some(16_000)),
    ] {
        if let Some(value) = value {
            reading(app, &bw, &d(month), value).await;
        }
        let done = run(app, &d(month), json!({"mode": "issue"})).await;
        assert_eq!(done["status"], "completed");
    }
    (c, bw)
}

/// Terminated on 15 November, the contract is settled at once: November's 300.00 billed in
/// advance is credited for 16–30 November (150.00 and its tax, by the invoice's rule) on a
/// credit memo under the charge's code that names the invoice and the period; the usage of 1–15
/// November is billed on a final invoice up to the pick-up reading; and the reconciliation shows
/// no duplicate and nothing missing.
#[tokio::test]
async fn termination_credits_the_days_billed_in_advance_and_bills_the_final_readings() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let (c, bw) = billed_copier(&app, &code, &account, false).await;
    let november = app
        .get(
            &format!("/v1/invoices?contract_id={c}&sort=invoice_date&order=desc&limit=1"),
            &billing(),
        )
        .await
        .expect(200)
        .body["data"][0]
        .clone();
    assert_eq!(november["invoice_date"], d("2026-11-01"));
    let nov_line = lines_of(&november, "recurring")[0].clone();
    // The technician reads the meter when the copier is picked up, after the 15th.
    reading(&app, &bw, &d("2026-11-20"), 20_000).await;

    let terminate =
        json!({"kind": "termination", "effective_date": d("2026-11-15"), "note": "Moved out"});
    let amendments = format!("/v1/contracts/{c}/amendments");
    let amended = app
        .post_with_key(&amendments, &billing(), "terminate-1", &terminate)
        .await
        .expect(201)
        .body;
    assert_eq!(amended["status"], "terminated");
    // A retry of the termination answers it again: settled once, one memo, one final invoice.
    let replay = app
        .post_with_key(&amendments, &billing(), "terminate-1", &terminate)
        .await
        .expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, amended);
    assert_eq!(
        app.count("credit_memos WHERE reason = 'termination'").await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'contract.settled' AND entity_id = '{c}'"
        ))
        .await,
        1
    );
    let settlement =
        amended["amendments"].as_array().unwrap().last().unwrap()["details"]["settlement"].clone();
    let memos = settlement["credit_memo_ids"].as_array().unwrap();
    assert_eq!(memos.len(), 1);
    let memo = app
        .get(
            &format!("/v1/credit-memos/{}", memos[0].as_str().unwrap()),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(memo["status"], "issued");
    assert_eq!(memo["reason"], "termination");
    assert_eq!(memo["financial_code_id"], json!(code));
    let line = &memo["lines"][0];
    // 300.00 − 15/30 of it = 150.00; tax 24.75 on 300.00, 12.38 on the 150.00 left: 12.37.
    assert_eq!(line["amount"], "150.00");
    assert_eq!(line["tax_amount"], "12.37");
    assert_eq!(line["total"], "162.37");
    assert_eq!(line["financial_code_id"], json!(code));
    assert_eq!(line["invoice_id"], november["id"]);
    assert_eq!(line["invoice_line_id"], nov_line["id"]);
    assert_eq!(line["period_start"], d("2026-11-16"));
    assert_eq!(line["period_end"], d("2026-11-30"));
    assert_eq!(memo["applied"], "162.37");
    // The final invoice: 1–15 November's usage, 16,000 to the pick-up's 20,000: 4,000 used,
    // 2,500 included (15/30 of 5,000): 1,500 × 0.0085 = 12.75, and its tax 1.05.
    let finals = settlement["final_invoice_ids"].as_array().unwrap();
    assert_eq!(finals.len(), 1);
    let final_invoice = app
        .get(
            &format!("/v1/invoices/{}", finals[0].as_str().unwrap()),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(final_invoice["status"], "open");
    assert!(lines_of(&final_invoice, "recurring").is_empty());
    let usage = meter_line(&final_invoice, &bw);
    assert_eq!(usage["period_start"], d("2026-11-01"));
    assert_eq!(usage["period_end"], d("2026-11-15"));
    assert_eq!(usage["meter"]["end_reading"], 20_000);
    assert_eq!(usage["meter"]["end_read_on"], d("2026-11-20"));
    assert_eq!(usage["meter"]["end_estimated"], false);
    assert_eq!(usage["meter"]["included_units"], 2_500);
    assert_eq!(usage["amount"], "12.75");
    assert_eq!(final_invoice["total"], "13.80");
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'contract.settled' AND entity_id = '{c}'"
        ))
        .await,
        1
    );
    // Contract versus invoices: November is 150.00 billed net of the credit; nothing twice,
    // nothing missing.
    let check = app
        .get(&format!("/v1/contracts/{c}/reconciliation"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(check["summary"]["missing"], 0);
    assert_eq!(check["summary"]["duplicate"], 0);
    let last = check["periods"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["period_end"], d("2026-11-15"));
    assert_eq!(last["expected"], "150.00");
    assert_eq!(last["credited"], "150.00");
    assert_eq!(last["billed"], "150.00");
    // Nothing more is billed for it.
    let later = run(&app, &today().to_string(), json!({})).await;
    assert_eq!(later["progress"]["invoices_created"], 0);
    assert_books_balance(&app).await;
}

/// A termination by a completed service order settles the contract the same way; without a
/// reading near the termination, the final usage is estimated, and the pick-up reading that
/// comes later settles the estimate on the next run (charged here, as more was used).
#[tokio::test]
async fn a_terminated_contracts_final_estimate_is_settled_by_the_pick_up_reading() {
    let app = spawn_app().await;
    let (code, account) = setup(&app).await;
    let (c, bw) = billed_copier(&app, &code, &account, true).await;
    let collector = token(Role::Collections);
    let order = app
        .post(
            "/v1/service-orders",
            &collector,
            &json!({"account_id": account, "kind": "terminate", "contract_id": c,
                    "reason": "customer asked to end the lease"}),
        )
        .await
        .expect(201)
        .body;
    let path = format!("/v1/service-orders/{}", id(&order));
    app.post(&format!("{path}/send"), &collector, &json!({}))
        .await
        .expect(200);
    app.post(
        &format!("{path}/complete"),
        &collector,
        &json!({"completed_on": today().to_string()}),
    )
    .await
    .expect(200);
    // Terminated today: the day is not over, so nothing is billed yet; November's advance
    // charge for the rest of the month is credited at once.
    let contract_now = app
        .get(&format!("/v1/contracts/{c}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(contract_now["terminated_on"], today().to_string());
    let settlement = &contract_now["amendments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["details"]["settlement"];
    assert_eq!(settlement["credit_memo_ids"].as_array().unwrap().len(), 1);
    assert!(settlement["final_invoice_ids"]
        .as_array()
        .unwrap()
        .is_empty());
    // 25/30 of November owed: 300.00 − 250.00 = 50.00 back; tax 24.75 − 20.63 = 4.12.
    assert_eq!(
        app.count("credit_memo_lines WHERE amount = 50 AND tax_amount = 4.12")
            .await,
        1
    );
    // Tomorrow's run bills the final period on an estimate (no reading near the 26th).
    app.clock.advance(time::Duration::days(1));
    let tomorrow = app.clock.today().to_string();
    let first = invoices_of(&app, &run(&app, &tomorrow, json!({})).await).await;
    let estimated = meter_line(&first[0], &bw);
    assert_eq!(estimated["period_end"], today().to_string());
    assert_eq!(estimated["meter"]["end_estimated"], true);
    let estimate = estimated["meter"]["end_reading"].as_i64().unwrap();
    // The pick-up reading, higher than the estimate, comes a week later.
    app.clock.advance(time::Duration::days(6));
    let picked = estimate + 3_000;
    app.post(
        &format!("/v1/meters/{bw}/readings"),
        &billing(),
        &json!({"read_on": app.clock.today().to_string(), "value": picked, "source": "technician"}),
    )
    .await
    .expect(201);
    let settled = invoices_of(
        &app,
        &run(&app, &app.clock.today().to_string(), json!({})).await,
    )
    .await;
    assert_eq!(settled.len(), 1);
    let line = meter_line(&settled[0], &bw);
    assert_eq!(line["meter"]["end_reading"], picked);
    assert!(line["description"]
        .as_str()
        .unwrap()
        .starts_with("Final usage"));
    // Charged now what the whole usage costs, less what the estimate was charged.
    let money = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    let used = line["meter"]["usage"].as_i64().unwrap();
    assert_eq!(used, estimated["meter"]["usage"].as_i64().unwrap() + 3_000);
    let included = estimated["meter"]["included_units"].as_i64().unwrap();
    let now_costs = (rust_decimal::Decimal::from((used - included).max(0))
        * "0.0085".parse::<rust_decimal::Decimal>().unwrap())
    .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(
        money(&line["amount"]),
        now_costs - money(&estimated["amount"])
    );
    assert_eq!(
        app.count(&format!(
            "meter_periods WHERE meter_id = '{bw}' AND rerated_end_value = {picked}"
        ))
        .await,
        1
    );
    // Once: the next run bills nothing more.
    let again = run(&app, &app.clock.today().to_string(), json!({})).await;
    assert_eq!(again["progress"]["invoices_created"], 0);
    assert_books_balance(&app).await;
}
