//! Contracts, amendments and equipment over HTTP.

use receivables::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// The fields and codes of a new equipment's 422.
async fn refused_equipment(
    app: &TestApp,
    contract_id: &str,
    body: &Value,
) -> Vec<(String, String)> {
    let reply = app
        .post(
            &format!("/v1/contracts/{contract_id}/equipment"),
            &token(Role::Billing),
            body,
        )
        .await
        .expect(422);
    fields(&reply)
}

fn fields(reply: &Reply) -> Vec<(String, String)> {
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn financial_code(app: &TestApp, code: &str, kind: &str) -> String {
    let body = app
        .post(
            "/v1/financial-codes",
            &admin_token(),
            &json!({"code": code, "name": format!("Code {code}"), "kind": kind}),
        )
        .await
        .expect(201)
        .body;
    id(&body)
}

async fn revenue_code(app: &TestApp) -> String {
    financial_code(app, "4100-LEASE", "revenue").await
}

fn contract_body(account: &str, code: &str) -> Value {
    json!({
        "account_id": account,
        "kind": "lease",
        "start_date": d("2025-01-01"),
        "end_date": d("2025-12-31"),
        "billing_frequency": "monthly",
        "anchor_day": 1,
        "billing_timing": "advance",
        "description": "Copier lease",
        "external_reference": "CRM-C-1",
        "charges": [{"description": "Base lease charge", "amount": "250.00", "financial_code_id": code, "taxable": true}]
    })
}

async fn draft(app: &TestApp, body: &Value) -> Value {
    app.post("/v1/contracts", &token(Role::Billing), body)
        .await
        .expect(201)
        .body
}

async fn activate(app: &TestApp, contract: &str) -> Value {
    app.post(
        &format!("/v1/contracts/{contract}/activate"),
        &token(Role::Billing),
        &json!({}),
    )
    .await
    .expect(200)
    .body
}

/// An account, a revenue code and an active contract of 2025 with one 250.00 charge.
async fn active_contract(app: &TestApp) -> (Value, String, Value) {
    let account = app.create_account(json!({})).await;
    let code = revenue_code(app).await;
    let contract = draft(app, &contract_body(&id(&account), &code)).await;
    let contract = activate(app, &id(&contract)).await;
    (account, code, contract)
}

fn equipment_body(serial: &str, code: &str, installed_on: &str) -> Value {
    json!({
        "serial_number": serial,
        "make": "Ricoh",
        "model": "IM C3000",
        "install_address": {"line1": "100 Main St", "city": "Springfield", "country": "US"},
        "installed_on": installed_on,
        "meters": [{"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
                    "minimum_charge": "10.00", "financial_code_id": code,
                    "expected_monthly_volume": 4000, "initial_reading": 1000}]
    })
}

async fn install(app: &TestApp, contract: &str, body: &Value) -> Value {
    app.post(
        &format!("/v1/contracts/{contract}/equipment"),
        &token(Role::Billing),
        body,
    )
    .await
    .expect(201)
    .body
}

/// Sets an account's credit status as a credit analyst would.
async fn set_credit_status(app: &TestApp, account: &str, status: &str) {
    let path = format!("/v1/accounts/{account}");
    let current = app.get(&path, &admin_token()).await.expect(200).body;
    let reply = app
        .patch(
            &path,
            &token(Role::Credit),
            &json!({"credit_status": status, "version": current["version"]}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["credit_status"], status);
}

async fn amend(app: &TestApp, contract: &str, body: &Value) -> Reply {
    app.post(
        &format!("/v1/contracts/{contract}/amendments"),
        &token(Role::Billing),
        body,
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_draft_contract_is_created_with_its_charges_and_read_back() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let code = revenue_code(&app).await;
    let contract = draft(&app, &contract_body(&id(&account), &code)).await;
    assert_eq!(contract["number"], "CON-000001");
    assert_eq!(contract["status"], "draft");
    assert_eq!(contract["currency"], "USD");
    assert_eq!(contract["account_id"], account["id"]);
    assert_eq!(contract["kind"], "lease");
    assert_eq!(contract["start_date"], d("2025-01-01"));
    assert_eq!(contract["end_date"], d("2025-12-31"));
    assert_eq!(contract["billing_timing"], "advance");
    assert_eq!(contract["version"], 1);
    assert!(contract["activated_at"].is_null());
    assert_eq!(contract["amendments"], json!([]));
    let charges = contract["charges"].as_array().unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["amount"], "250.00");
    assert_eq!(charges[0]["effective_from"], d("2025-01-01"));
    assert!(charges[0]["effective_to"].is_null());
    assert_eq!(charges[0]["financial_code_id"], code.as_str());

    // Defaults: monthly, anchored on the start date's day, billed in advance, taxable.
    let second = draft(
        &app,
        &json!({"account_id": account["id"], "kind": "service", "start_date": d("2025-03-17"),
                "charges": [{"description": "Service", "amount": "99", "financial_code_id": code}]}),
    )
    .await;
    assert_eq!(second["number"], "CON-000002");
    assert_eq!(second["billing_frequency"], "monthly");
    assert_eq!(second["anchor_day"], 17);
    assert_eq!(second["billing_timing"], "advance");
    assert!(second["end_date"].is_null());
    assert_eq!(second["charges"][0]["amount"], "99.00");
    assert_eq!(second["charges"][0]["taxable"], true);

    let fetched = app
        .get(
            &format!("/v1/contracts/{}", id(&contract)),
            &token(Role::Viewer),
        )
        .await
        .expect(200);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(fetched.body, contract);
    app.get(
        &format!("/v1/contracts/{}", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        "/v1/contracts",
        &token(Role::Viewer),
        &contract_body(&id(&account), &code),
    )
    .await
    .expect_problem(403, "forbidden");

    assert_eq!(
        app.count(&format!(
            "contracts WHERE id = '{}' AND status = 'draft' AND number = 'CON-000001' AND currency = 'USD'",
            id(&contract)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&sh(
            "contract_charges WHERE amount = 250 AND effective_from = '2025-01-01'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("contract_charges").await, 2);
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.created' AND entity_type = 'contract'")
            .await,
        2
    );
}

#[tokio::test]
async fn contracts_with_invalid_terms_or_codes_are_refused() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let code = revenue_code(&app).await;
    let tax = financial_code(&app, "2200-TAX", "tax").await;
    let retired = financial_code(&app, "4199-OLD", "revenue").await;
    app.post(
        &format!("/v1/financial-codes/{retired}/deactivate"),
        &admin_token(),
        &json!({}),
    )
    .await
    .expect(200);

    let mut body = contract_body(&id(&account), &code);
    merge(
        &mut body,
        json!({
            "end_date": d("2024-12-31"),
            "anchor_day": 32,
            "payment_terms_days": 400,
            "charges": [
                {"description": "Base", "amount": "250.005", "financial_code_id": code},
                {"description": "Tax?", "amount": "1.00", "financial_code_id": tax},
                {"description": "Old", "amount": "-1.00", "financial_code_id": retired},
                {"description": " ", "amount": "1.00", "financial_code_id": uuid::Uuid::now_v7()}
            ]
        }),
    );
    let reply = app
        .post("/v1/contracts", &admin_token(), &body)
        .await
        .expect_problem(422, "validation_failed");
    let got = fields(&reply);
    for expected in [
        ("end_date", "before_start"),
        ("anchor_day", "out_of_range"),
        ("payment_terms_days", "out_of_range"),
        ("charges[0].amount", "too_many_decimals"),
        ("charges[1].financial_code_id", "wrong_kind"),
        ("charges[2].amount", "negative"),
        ("charges[2].financial_code_id", "inactive"),
        ("charges[3].description", "required"),
        ("charges[3].financial_code_id", "unknown"),
    ] {
        assert!(
            got.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} missing from {got:?}"
        );
    }

    let reply = app
        .post(
            "/v1/contracts",
            &admin_token(),
            &contract_body(&uuid::Uuid::now_v7().to_string(), &code),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "account_id");
    assert_eq!(reply.body["errors"][0]["code"], "unknown");

    let mut body = contract_body(&id(&account), &code);
    merge(&mut body, json!({"kind": "loan"}));
    let reply = app.post("/v1/contracts", &admin_token(), &body).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.error_field(), "kind");

    let mut body = contract_body(&id(&account), &code);
    merge(&mut body, json!({"status": "active"}));
    let reply = app.post("/v1/contracts", &admin_token(), &body).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.error_field(), "status");
    assert_eq!(reply.body["errors"][0]["code"], "unknown_field");

    assert_eq!(app.count("contracts").await, 0);
    assert_eq!(app.count("contract_charges").await, 0);
    assert_eq!(
        app.count("number_series WHERE series = 'contract' AND next_value = 1")
            .await,
        1,
        "no contract number was used up"
    );
}

#[tokio::test]
async fn contracts_are_listed_with_filters_and_pages() {
    let app = spawn_app().await;
    let acme = app.create_account(json!({})).await;
    let globex = app
        .create_account(json!({"legal_name": "Globex Corporation"}))
        .await;
    let code = revenue_code(&app).await;
    let lease = draft(&app, &contract_body(&id(&acme), &code)).await;
    activate(&app, &id(&lease)).await;
    let mut body = contract_body(&id(&acme), &code);
    merge(
        &mut body,
        json!({"kind": "service", "end_date": d("2026-06-30")}),
    );
    let service = draft(&app, &body).await;
    let mut body = contract_body(&id(&globex), &code);
    merge(&mut body, json!({"kind": "rental", "end_date": null}));
    let rental = draft(&app, &body).await;

    let numbers = |reply: &Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["number"].as_str().unwrap().to_string())
            .collect()
    };
    let all = app
        .get("/v1/contracts", &token(Role::Viewer))
        .await
        .expect(200);
    assert_eq!(numbers(&all), ["CON-000001", "CON-000002", "CON-000003"]);
    assert_eq!(all.body["has_more"], false);
    assert!(
        all.body["data"][0].get("charges").is_none(),
        "lists carry summaries"
    );

    let of_acme = app
        .get(
            &format!("/v1/contracts?account_id={}", id(&acme)),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(numbers(&of_acme), ["CON-000001", "CON-000002"]);
    let active = app
        .get("/v1/contracts?status=active", &admin_token())
        .await
        .expect(200);
    assert_eq!(numbers(&active), ["CON-000001"]);
    assert_eq!(active.body["data"][0]["id"], lease["id"]);
    let rentals = app
        .get("/v1/contracts?kind=rental", &admin_token())
        .await
        .expect(200);
    assert_eq!(rentals.body["data"][0]["id"], rental["id"]);
    assert_eq!(numbers(&rentals).len(), 1);
    let ending = app
        .get(
            &sh("/v1/contracts?ending_before=2026-01-01"),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(numbers(&ending), ["CON-000001"]);
    let drafts_of_acme = app
        .get(
            &format!("/v1/contracts?account_id={}&status=draft", id(&acme)),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(drafts_of_acme.body["data"][0]["id"], service["id"]);
    assert_eq!(numbers(&drafts_of_acme).len(), 1);

    let first = app
        .get("/v1/contracts?limit=2", &admin_token())
        .await
        .expect(200);
    assert_eq!(numbers(&first), ["CON-000001", "CON-000002"]);
    assert_eq!(first.body["has_more"], true);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/v1/contracts?limit=2&cursor={cursor}"),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(numbers(&second), ["CON-000003"]);
    assert_eq!(second.body["has_more"], false);
    assert!(second.body["next_cursor"].is_null());

    app.get("/v1/contracts?status=open", &admin_token())
        .await
        .expect(400);
    app.get("/v1/contracts?limit=500", &admin_token())
        .await
        .expect(400);
    assert_eq!(app.count("contracts WHERE status = 'draft'").await, 2);
}

#[tokio::test]
async fn a_draft_is_edited_under_optimistic_concurrency_and_its_charges_are_replaced() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let code = revenue_code(&app).await;
    let contract = draft(&app, &contract_body(&id(&account), &code)).await;
    let path = format!("/v1/contracts/{}", id(&contract));
    let old_charge = contract["charges"][0]["id"].as_str().unwrap().to_string();

    app.patch(&path, &token(Role::Billing), &json!({"anchor_day": 15}))
        .await
        .expect_problem(428, "precondition_required");

    let reply = app
        .patch(
            &path,
            &token(Role::Billing),
            &json!({
                "anchor_day": 15,
                "billing_timing": "arrears",
                "description": null,
                "charges": [
                    {"description": "Base lease charge", "amount": "275.50", "financial_code_id": code},
                    {"description": "Maintenance", "amount": "40", "financial_code_id": code, "taxable": false}
                ],
                "version": 1
            }),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let body = &reply.body;
    assert_eq!(body["version"], 2);
    assert_eq!(body["anchor_day"], 15);
    assert_eq!(body["billing_timing"], "arrears");
    assert!(body["description"].is_null());
    assert_eq!(body["external_reference"], "CRM-C-1", "absent fields stay");
    let amounts: Vec<&str> = body["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["275.50", "40.00"]);
    assert_eq!(body["charges"][1]["taxable"], false);

    app.patch(
        &path,
        &token(Role::Billing),
        &json!({"anchor_day": 1, "version": 1}),
    )
    .await
    .expect_problem(409, "version_conflict");
    app.send(
        app.client
            .patch(app.url(&path))
            .bearer_auth(token(Role::Billing))
            .header("If-Match", "\"1\"")
            .json(&json!({"anchor_day": 1})),
    )
    .await
    .expect_problem(412, "precondition_failed");

    // Moving the start moves the draft's charges with it.
    let reply = app
        .send(
            app.client
                .patch(app.url(&path))
                .bearer_auth(token(Role::Billing))
                .header("If-Match", "\"2\"")
                .json(&json!({"start_date": d("2025-02-01"), "end_date": null})),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["version"], 3);
    assert_eq!(reply.body["start_date"], d("2025-02-01"));
    assert!(reply.body["end_date"].is_null());
    for charge in reply.body["charges"].as_array().unwrap() {
        assert_eq!(charge["effective_from"], d("2025-02-01"));
    }

    let reply = app
        .patch(
            &path,
            &token(Role::Billing),
            &json!({"end_date": d("2025-01-31"), "version": 3}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "end_date");

    assert_eq!(
        app.count(&format!("contract_charges WHERE id = '{old_charge}'"))
            .await,
        0,
        "charges are replaced whole"
    );
    assert_eq!(
        app.count(&sh(&format!(
            "contract_charges WHERE contract_id = '{}' AND effective_from = '2025-02-01'",
            id(&contract)
        )))
        .await,
        2
    );
    assert_eq!(
        app.count(&format!(
            "contracts WHERE id = '{}' AND version = 3 AND anchor_day = 15 AND end_date IS NULL AND description IS NULL",
            id(&contract)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.updated'")
            .await,
        2
    );
}

#[tokio::test]
async fn activation_needs_a_draft_something_to_bill_and_no_credit_hold() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let code = revenue_code(&app).await;
    let mut body = contract_body(&id(&account), &code);
    merge(&mut body, json!({"charges": []}));
    let contract = draft(&app, &body).await;
    let path = format!("/v1/contracts/{}", id(&contract));

    app.post(
        &format!("{path}/activate"),
        &token(Role::Billing),
        &json!({}),
    )
    .await
    .expect_problem(409, "nothing_to_bill");
    app.patch(
        &path,
        &token(Role::Billing),
        &json!({"charges": [{"description": "Base", "amount": "250.00", "financial_code_id": code}], "version": 1}),
    )
    .await
    .expect(200);

    set_credit_status(&app, &id(&account), "hold").await;
    app.post(
        &format!("{path}/activate"),
        &token(Role::Billing),
        &json!({}),
    )
    .await
    .expect_problem(409, "credit_hold");
    app.post(
        "/v1/contracts",
        &token(Role::Billing),
        &contract_body(&id(&account), &code),
    )
    .await
    .expect_problem(409, "credit_hold");
    assert_eq!(
        app.count("contracts").await,
        1,
        "a credit hold blocks new contracts"
    );

    set_credit_status(&app, &id(&account), "good").await;
    app.send(
        app.client
            .post(app.url(&format!("{path}/activate")))
            .bearer_auth(token(Role::Billing))
            .header("If-Match", "\"1\""),
    )
    .await
    .expect_problem(412, "precondition_failed");
    let reply = app
        .post(
            &format!("{path}/activate"),
            &token(Role::Billing),
            &json!({}),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("etag"), Some("\"3\""));
    assert_eq!(reply.body["status"], "active");
    assert!(reply.body["activated_at"].is_string());

    app.post(
        &format!("{path}/activate"),
        &token(Role::Billing),
        &json!({}),
    )
    .await
    .expect_problem(409, "contract_not_draft");
    app.patch(
        &path,
        &token(Role::Billing),
        &json!({"anchor_day": 5, "version": 3}),
    )
    .await
    .expect_problem(409, "contract_not_draft");
    app.post(
        &format!("{path}/activate"),
        &token(Role::Viewer),
        &json!({}),
    )
    .await
    .expect_problem(403, "forbidden");

    assert_eq!(
        app.count(&format!(
            "contracts WHERE id = '{}' AND status = 'active' AND activated_at IS NOT NULL AND anchor_day = 1 AND version = 3",
            id(&contract)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.activated'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_contract_billed_on_meters_alone_is_activated_once_it_has_a_meter() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let code = revenue_code(&app).await;
    let mut body = contract_body(&id(&account), &code);
    merge(&mut body, json!({"kind": "service", "charges": []}));
    let contract = draft(&app, &body).await;
    let path = format!("/v1/contracts/{}", id(&contract));
    app.post(&format!("{path}/activate"), &admin_token(), &json!({}))
        .await
        .expect_problem(409, "nothing_to_bill");
    install(
        &app,
        &id(&contract),
        &equipment_body("SN-1", &code, &d("2025-01-01")),
    )
    .await;
    let reply = app
        .post(&format!("{path}/activate"), &admin_token(), &json!({}))
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["charges"], json!([]));
    assert_eq!(
        app.count(&format!(
            "contracts WHERE id = '{}' AND status = 'active'",
            id(&contract)
        ))
        .await,
        1
    );
}

// ---------------------------------------------------------------------------------------
// Amendments
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_upgrade_ends_and_adds_charges_and_changes_meter_plans_from_its_date() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let contract_id = id(&contract);
    let equipment = install(
        &app,
        &contract_id,
        &equipment_body("SN-UP-1", &code, &d("2025-01-01")),
    )
    .await;
    let meter = id(&equipment["meters"][0]);
    let base = contract["charges"][0]["id"].as_str().unwrap().to_string();

    let reply = amend(
        &app,
        &contract_id,
        &json!({
            "kind": "upgrade",
            "effective_date": d("2025-07-01"),
            "note": "Upgraded to the colour model",
            "charges": [{"description": "Colour lease charge", "amount": "325.00", "financial_code_id": code}],
            "end_charge_ids": [base],
            "meter_plans": [{"meter_id": meter, "included_units": 6000, "overage_rate": "0.0075", "minimum_charge": "15.00"}],
            "version": 2
        }),
    )
    .await
    .expect(201);
    assert_eq!(reply.header("etag"), Some("\"3\""));
    let body = &reply.body;
    assert_eq!(body["status"], "active");
    assert_eq!(body["version"], 3);
    let charges = body["charges"].as_array().unwrap();
    assert_eq!(charges.len(), 2);
    assert_eq!(charges[0]["id"], base.as_str());
    assert_eq!(charges[0]["effective_to"], d("2025-06-30"));
    assert_eq!(charges[1]["amount"], "325.00");
    assert_eq!(charges[1]["effective_from"], d("2025-07-01"));
    assert!(charges[1]["effective_to"].is_null());
    let amendments = body["amendments"].as_array().unwrap();
    assert_eq!(amendments.len(), 1);
    let upgrade = &amendments[0];
    assert_eq!(upgrade["kind"], "upgrade");
    assert_eq!(upgrade["effective_date"], d("2025-07-01"));
    assert_eq!(upgrade["needs_review"], true);
    assert!(upgrade["review_invoice_id"].is_null());
    assert_eq!(upgrade["note"], "Upgraded to the colour model");
    assert_eq!(upgrade["created_by"], "billing-user");
    assert_eq!(charges[1]["amendment_id"], upgrade["id"]);
    assert_eq!(
        upgrade["details"]["charges_added"],
        json!([charges[1]["id"]])
    );
    assert_eq!(upgrade["details"]["charges_ended"], json!([base]));
    assert_eq!(
        upgrade["details"]["meter_plans"][0]["meter_id"],
        meter.as_str()
    );

    let fetched = app
        .get(&format!("/v1/contracts/{contract_id}"), &admin_token())
        .await
        .expect(200);
    assert_eq!(fetched.body["amendments"], body["amendments"]);
    let meter_view = app
        .get(&format!("/v1/meters/{meter}"), &admin_token())
        .await
        .expect(200)
        .body;
    let plans = meter_view["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[0]["effective_from"], d("2025-01-01"));
    assert_eq!(plans[0]["included_units"], 5000);
    assert_eq!(plans[1]["effective_from"], d("2025-07-01"));
    assert_eq!(plans[1]["included_units"], 6000);
    assert_eq!(plans[1]["overage_rate"], "0.0075");
    assert_eq!(plans[1]["amendment_id"], upgrade["id"]);

    // A charge already ended before the date cannot be ended again.
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "upgrade", "effective_date": d("2025-08-01"), "end_charge_ids": [base]}),
    )
    .await
    .expect(422);
    assert_eq!(reply.error_field(), "end_charge_ids[0]");
    assert_eq!(reply.body["errors"][0]["code"], "unknown");

    assert_eq!(
        app.count(&sh(&format!(
            "contract_amendments WHERE contract_id = '{contract_id}' AND kind = 'upgrade' AND needs_review AND effective_date = '2025-07-01'"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count(&sh(&format!(
            "contract_charges WHERE id = '{base}' AND effective_to = '2025-06-30'"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count(&sh("contract_charges WHERE amount = 325 AND effective_from = '2025-07-01' AND amendment_id IS NOT NULL"))
            .await,
        1
    );
    assert_eq!(
        app.count(&sh(&format!(
            "meter_plans WHERE meter_id = '{meter}' AND effective_from = '2025-07-01' AND included_units = 6000 AND overage_rate = 0.0075 AND minimum_charge = 15"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'contract.amended' AND entity_id = '{contract_id}' AND actor = 'billing-user'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn amendments_refuse_fields_of_another_kind_and_contracts_in_the_wrong_state() {
    let app = spawn_app().await;
    let (account, code, contract) = active_contract(&app).await;
    let contract_id = id(&contract);

    let draft_contract = draft(&app, &contract_body(&id(&account), &code)).await;
    amend(
        &app,
        &id(&draft_contract),
        &json!({"kind": "upgrade", "effective_date": d("2025-02-01"),
                "charges": [{"description": "More", "amount": "10.00", "financial_code_id": code}]}),
    )
    .await
    .expect_problem(409, "contract_state");

    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "renewal", "effective_date": d("2026-01-01"), "end_date": d("2026-12-31"),
                "account_id": account["id"]}),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(
        fields(&reply),
        [("account_id".to_string(), "not_allowed".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "suspension", "effective_date": d("2025-03-01"),
                "charges": [{"description": "More", "amount": "10.00", "financial_code_id": code}],
                "end_date": d("2026-12-31")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [
            ("charges".to_string(), "not_allowed".to_string()),
            ("end_date".to_string(), "not_allowed".to_string())
        ]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "upgrade", "effective_date": d("2025-03-01")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("charges".to_string(), "required".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "renewal", "effective_date": d("2026-01-01")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("end_date".to_string(), "required".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "ownership_change", "effective_date": d("2025-03-01")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("account_id".to_string(), "required".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "termination", "effective_date": d("2024-12-31")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("effective_date".to_string(), "before_start".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "suspension", "effective_date": d("2026-01-01")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("effective_date".to_string(), "after_end".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "merger", "effective_date": d("2025-03-01")}),
    )
    .await
    .expect(422);
    assert_eq!(reply.error_field(), "kind");
    amend(
        &app,
        &contract_id,
        &json!({"kind": "resumption", "effective_date": d("2025-03-01")}),
    )
    .await
    .expect_problem(409, "contract_state");
    amend(
        &app,
        &contract_id,
        &json!({"kind": "suspension", "effective_date": d("2025-03-01"), "version": 1}),
    )
    .await
    .expect_problem(409, "version_conflict");
    app.post(
        &format!("/v1/contracts/{contract_id}/amendments"),
        &token(Role::Viewer),
        &json!({"kind": "suspension", "effective_date": d("2025-03-01")}),
    )
    .await
    .expect_problem(403, "forbidden");
    amend(
        &app,
        &uuid::Uuid::now_v7().to_string(),
        &json!({"kind": "suspension", "effective_date": d("2025-03-01")}),
    )
    .await
    .expect_problem(404, "not_found");

    assert_eq!(app.count("contract_amendments").await, 0);
    assert_eq!(
        app.count(&format!(
            "contracts WHERE id = '{contract_id}' AND status = 'active' AND version = 2"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.amended'")
            .await,
        0
    );
}

#[tokio::test]
async fn an_upgrade_is_refused_while_the_account_is_on_credit_hold() {
    let app = spawn_app().await;
    let (account, code, contract) = active_contract(&app).await;
    let contract_id = id(&contract);
    set_credit_status(&app, &id(&account), "hold").await;
    amend(
        &app,
        &contract_id,
        &json!({"kind": "upgrade", "effective_date": d("2025-04-01"),
                "charges": [{"description": "Finisher", "amount": "30.00", "financial_code_id": code}]}),
    )
    .await
    .expect_problem(409, "credit_hold");
    assert_eq!(app.count("contract_amendments").await, 0);
    assert_eq!(app.count("contract_charges").await, 1);

    // A hold does not stop the contract from being suspended or terminated.
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "suspension", "effective_date": d("2025-04-01")}),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["status"], "suspended");

    set_credit_status(&app, &id(&account), "good").await;
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "upgrade", "effective_date": d("2025-04-01"),
                "charges": [{"description": "Finisher", "amount": "30.00", "financial_code_id": code}]}),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["charges"].as_array().unwrap().len(), 2);
    assert_eq!(reply.body["status"], "suspended");
    assert_eq!(
        app.count("contract_amendments WHERE kind = 'upgrade' AND needs_review")
            .await,
        1
    );
    assert_eq!(
        app.count("contract_amendments WHERE kind = 'suspension' AND NOT needs_review")
            .await,
        1
    );
}

#[tokio::test]
async fn a_renewal_extends_the_end_date_and_reprices_charges_from_its_date() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let contract_id = id(&contract);
    let base = contract["charges"][0]["id"].as_str().unwrap().to_string();

    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "renewal", "effective_date": d("2026-01-01"), "end_date": d("2025-12-31")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("end_date".to_string(), "not_later".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "renewal", "effective_date": d("2026-01-01"), "end_date": d("2026-12-31"),
                "prices": [{"charge_id": uuid::Uuid::now_v7(), "amount": "265.00"},
                           {"charge_id": base, "amount": "265.001"}]}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [
            ("prices[0].charge_id".to_string(), "unknown".to_string()),
            (
                "prices[1].amount".to_string(),
                "too_many_decimals".to_string()
            )
        ]
    );

    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "renewal", "effective_date": d("2026-01-01"), "end_date": d("2026-12-31"),
                "note": "One more year", "prices": [{"charge_id": base, "amount": "265.00"}]}),
    )
    .await
    .expect(201);
    let body = &reply.body;
    assert_eq!(body["end_date"], d("2026-12-31"));
    assert_eq!(body["status"], "active");
    let renewal = &body["amendments"][0];
    assert_eq!(renewal["kind"], "renewal");
    assert_eq!(renewal["new_end_date"], d("2026-12-31"));
    assert_eq!(renewal["previous_end_date"], d("2025-12-31"));
    assert_eq!(renewal["needs_review"], true);
    assert_eq!(renewal["details"]["prices"][0]["amount"], "265.00");
    let charges = body["charges"].as_array().unwrap();
    assert_eq!(charges.len(), 2);
    assert_eq!(charges[0]["id"], base.as_str());
    assert_eq!(charges[0]["amount"], "250.00");
    assert_eq!(charges[0]["effective_to"], d("2025-12-31"));
    assert_eq!(charges[1]["amount"], "265.00");
    assert_eq!(charges[1]["effective_from"], d("2026-01-01"));
    assert_eq!(charges[1]["description"], "Base lease charge");
    assert_eq!(charges[1]["financial_code_id"], code.as_str());
    assert_eq!(charges[1]["amendment_id"], renewal["id"]);

    assert_eq!(
        app.count(&sh(&format!(
            "contracts WHERE id = '{contract_id}' AND end_date = '2026-12-31' AND version = 3"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count(&sh("contract_amendments WHERE kind = 'renewal' AND needs_review AND new_end_date = '2026-12-31' AND previous_end_date = '2025-12-31'"))
            .await,
        1
    );
    assert_eq!(
        app.count(&sh("contract_charges WHERE amount = 265 AND effective_from = '2026-01-01' AND effective_to IS NULL"))
            .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.amended'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_ownership_change_moves_the_contract_to_another_account_in_its_currency() {
    let app = spawn_app().await;
    let (account, _, contract) = active_contract(&app).await;
    let contract_id = id(&contract);
    let buyer = app
        .create_account(json!({"legal_name": "Globex Corporation"}))
        .await;
    let euro = app
        .create_account(json!({"legal_name": "Euro GmbH", "currency": "EUR"}))
        .await;

    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "ownership_change", "effective_date": d("2025-06-01"), "account_id": euro["id"]}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("account_id".to_string(), "currency_mismatch".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "ownership_change", "effective_date": d("2025-06-01"), "account_id": uuid::Uuid::now_v7()}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("account_id".to_string(), "unknown".to_string())]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "ownership_change", "effective_date": d("2025-06-01"), "account_id": account["id"]}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [("account_id".to_string(), "unchanged".to_string())]
    );
    set_credit_status(&app, &id(&buyer), "hold").await;
    amend(
        &app,
        &contract_id,
        &json!({"kind": "ownership_change", "effective_date": d("2025-06-01"), "account_id": buyer["id"]}),
    )
    .await
    .expect_problem(409, "credit_hold");
    assert_eq!(app.count("contract_amendments").await, 0);
    set_credit_status(&app, &id(&buyer), "good").await;

    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "ownership_change", "effective_date": d("2025-06-01"), "account_id": buyer["id"]}),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["account_id"], buyer["id"]);
    assert_eq!(reply.body["status"], "active");
    let change = &reply.body["amendments"][0];
    assert_eq!(change["kind"], "ownership_change");
    assert_eq!(change["account_id"], buyer["id"]);
    assert_eq!(change["previous_account_id"], account["id"]);
    assert_eq!(change["needs_review"], true);

    let of_buyer = app
        .get(
            &format!("/v1/contracts?account_id={}", id(&buyer)),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(of_buyer.body["data"][0]["id"], contract_id.as_str());
    let of_seller = app
        .get(
            &format!("/v1/contracts?account_id={}", id(&account)),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(of_seller.body["data"], json!([]));

    assert_eq!(
        app.count(&format!(
            "contracts WHERE id = '{contract_id}' AND account_id = '{}'",
            id(&buyer)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "contract_amendments WHERE kind = 'ownership_change' AND account_id = '{}' AND previous_account_id = '{}' AND needs_review",
            id(&buyer),
            id(&account)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'contract.amended' AND account_id = '{}'",
            id(&buyer)
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn suspension_resumption_and_termination_change_the_status_and_list_equipment_for_pickup() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let contract_id = id(&contract);
    let installed = install(
        &app,
        &contract_id,
        &equipment_body("SN-KEEP", &code, &d("2025-01-01")),
    )
    .await;
    let removed = install(
        &app,
        &contract_id,
        &equipment_body("SN-GONE", &code, &d("2025-01-01")),
    )
    .await;
    app.patch(
        &format!("/v1/equipment/{}", id(&removed)),
        &token(Role::Billing),
        &json!({"removed_on": d("2025-05-31"), "version": 1}),
    )
    .await
    .expect(200);

    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "suspension", "effective_date": d("2025-03-01"), "note": "Past due"}),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["status"], "suspended");
    assert_eq!(reply.body["amendments"][0]["needs_review"], false);
    amend(
        &app,
        &contract_id,
        &json!({"kind": "suspension", "effective_date": d("2025-03-15")}),
    )
    .await
    .expect_problem(409, "contract_state");
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "resumption", "effective_date": d("2025-03-01")}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        [(
            "effective_date".to_string(),
            "before_suspension".to_string()
        )]
    );
    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "resumption", "effective_date": d("2025-04-01")}),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["status"], "active");

    let reply = amend(
        &app,
        &contract_id,
        &json!({"kind": "termination", "effective_date": d("2025-09-30"), "note": "Customer left"}),
    )
    .await
    .expect(201);
    let body = &reply.body;
    assert_eq!(body["status"], "terminated");
    assert_eq!(body["terminated_on"], d("2025-09-30"));
    let kinds: Vec<&str> = body["amendments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["suspension", "resumption", "termination"]);
    let termination = &body["amendments"][2];
    assert_eq!(termination["needs_review"], false);
    assert_eq!(
        termination["details"]["equipment_for_pickup"],
        json!(["SN-KEEP"])
    );

    let kept = app
        .get(&format!("/v1/equipment/{}", id(&installed)), &admin_token())
        .await
        .expect(200);
    assert_eq!(kept.body["pickup_status"], "pending");
    assert_eq!(kept.header("etag"), Some("\"2\""));
    let gone = app
        .get(&format!("/v1/equipment/{}", id(&removed)), &admin_token())
        .await
        .expect(200);
    assert!(gone.body["pickup_status"].is_null());

    amend(
        &app,
        &contract_id,
        &json!({"kind": "termination", "effective_date": d("2025-09-30")}),
    )
    .await
    .expect_problem(409, "contract_state");
    amend(
        &app,
        &contract_id,
        &json!({"kind": "resumption", "effective_date": d("2025-10-01")}),
    )
    .await
    .expect_problem(409, "contract_state");
    app.post(
        &format!("/v1/contracts/{contract_id}/equipment"),
        &token(Role::Billing),
        &equipment_body("SN-LATE", &code, &d("2025-10-01")),
    )
    .await
    .expect_problem(409, "contract_ended");

    assert_eq!(
        app.count(&sh(&format!(
            "contracts WHERE id = '{contract_id}' AND status = 'terminated' AND terminated_on = '2025-09-30'"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count("equipment WHERE pickup_status = 'pending' AND serial_number = 'SN-KEEP'")
            .await,
        1
    );
    assert_eq!(
        app.count("equipment WHERE pickup_status IS NULL AND serial_number = 'SN-GONE'")
            .await,
        1
    );
    assert_eq!(app.count("equipment").await, 2);
    assert_eq!(app.count("contract_amendments").await, 3);
    assert_eq!(app.count("contract_amendments WHERE needs_review").await, 0);
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.amended'")
            .await,
        3
    );
}

// ---------------------------------------------------------------------------------------
// Equipment and meters
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn equipment_is_installed_with_its_meters_and_an_initial_reading() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let contract_id = id(&contract);
    let mut body = equipment_body("XR7-2231-8812", &code, &d("2025-01-15"));
    body["meters"].as_array_mut().unwrap().push(
        json!({"meter_type": "color", "included_units": 1000, "overage_rate": "0.045",
                     "financial_code_id": code}),
    );
    let equipment = install(&app, &contract_id, &body).await;
    assert_eq!(equipment["serial_number"], "XR7-2231-8812");
    assert_eq!(equipment["contract_id"], contract_id.as_str());
    assert_eq!(equipment["installed_on"], d("2025-01-15"));
    assert_eq!(equipment["install_address"]["city"], "Springfield");
    assert!(equipment["pickup_status"].is_null());
    assert_eq!(equipment["version"], 1);
    let meters = equipment["meters"].as_array().unwrap();
    assert_eq!(meters.len(), 2);
    let bw = meters.iter().find(|m| m["meter_type"] == "bw").unwrap();
    let color = meters.iter().find(|m| m["meter_type"] == "color").unwrap();
    assert_eq!(bw["expected_monthly_volume"], 4000);
    assert_eq!(
        bw["plans"],
        json!([{"effective_from": d("2025-01-15"), "included_units": 5000, "overage_rate": "0.0085",
                "minimum_charge": "10.00", "amendment_id": null}])
    );
    assert_eq!(color["plans"][0]["overage_rate"], "0.045");
    assert_eq!(color["plans"][0]["included_units"], 1000);

    let listed = app
        .get(
            &format!("/v1/contracts/{contract_id}/equipment"),
            &token(Role::Viewer),
        )
        .await
        .expect(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["data"][0]["id"], equipment["id"]);
    let listed_color = listed.body["data"][0]["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["meter_type"] == "color")
        .unwrap()
        .clone();
    assert_eq!(listed_color["plans"], color["plans"]);
    let fetched = app
        .get(&format!("/v1/equipment/{}", id(&equipment)), &admin_token())
        .await
        .expect(200);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(fetched.body["serial_number"], "XR7-2231-8812");
    assert_eq!(fetched.body["meters"].as_array().unwrap().len(), 2);
    let meter = app
        .get(&format!("/v1/meters/{}", id(bw)), &admin_token())
        .await
        .expect(200);
    assert_eq!(meter.body["id"], bw["id"]);
    assert_eq!(meter.body["equipment_id"], equipment["id"]);
    assert_eq!(meter.body["financial_code_id"], code.as_str());
    assert_eq!(meter.body["plans"], bw["plans"]);
    app.get(
        &format!("/v1/meters/{}", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");
    app.get(
        &format!("/v1/equipment/{}", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");

    let readings = app
        .get(&format!("/v1/meters/{}/readings", id(bw)), &admin_token())
        .await
        .expect(200);
    assert_eq!(readings.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(readings.body["data"][0]["value"], 1000);
    assert_eq!(readings.body["data"][0]["source"], "technician");
    assert_eq!(readings.body["data"][0]["read_on"], d("2025-01-15"));

    assert_eq!(
        app.count(&format!(
            "equipment WHERE contract_id = '{contract_id}' AND serial_number = 'XR7-2231-8812'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("meters").await, 2);
    assert_eq!(
        app.count(&sh(
            "meter_plans WHERE effective_from = '2025-01-15' AND minimum_charge IN (0, 10)"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count(&sh(&format!(
            "meter_readings WHERE meter_id = '{}' AND source = 'technician' AND read_on = '2025-01-15' AND value = 1000",
            id(bw)
        )))
        .await,
        1
    );
    assert_eq!(
        app.count("meter_readings").await,
        1,
        "no initial reading for colour"
    );
    assert_eq!(
        app.count("audit_events WHERE entity_type = 'equipment'")
            .await,
        1
    );
}

#[tokio::test]
async fn equipment_with_a_known_serial_or_invalid_meters_is_refused() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let contract_id = id(&contract);
    let tax = financial_code(&app, "2200-TAX", "tax").await;
    install(
        &app,
        &contract_id,
        &equipment_body("SN-1", &code, &d("2025-01-01")),
    )
    .await;

    let reply = app
        .post(
            &format!("/v1/contracts/{contract_id}/equipment"),
            &token(Role::Billing),
            &equipment_body("SN-1", &code, &d("2025-02-01")),
        )
        .await
        .expect_problem(409, "duplicate_serial_number");
    assert_eq!(reply.error_field(), "serial_number");

    let mut body = equipment_body("SN-2", &code, &d("2025-02-01"));
    body["meters"] = json!([
        {"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0000001", "financial_code_id": code},
        {"meter_type": "Color", "included_units": -1, "overage_rate": "0.01", "financial_code_id": tax},
        {"meter_type": "scan", "included_units": 0, "overage_rate": "0.01", "minimum_charge": "5.001",
         "financial_code_id": code, "initial_reading": -5}
    ]);
    let reply = app
        .post(
            &format!("/v1/contracts/{contract_id}/equipment"),
            &token(Role::Billing),
            &body,
        )
        .await
        .expect(422);
    let got = fields(&reply);
    for expected in [
        ("meters[0].overage_rate", "too_many_decimals"),
        ("meters[1].meter_type", "invalid"),
        ("meters[1].included_units", "negative"),
        ("meters[1].financial_code_id", "wrong_kind"),
        ("meters[2].minimum_charge", "too_many_decimals"),
        ("meters[2].initial_reading", "negative"),
    ] {
        assert!(
            got.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} missing from {got:?}"
        );
    }

    let mut body = equipment_body("SN-3", &code, &d("2025-02-01"));
    let meter = body["meters"][0].clone();
    body["meters"].as_array_mut().unwrap().push(meter);
    assert_eq!(
        refused_equipment(&app, &contract_id, &body).await,
        [("meters".to_string(), "duplicate_meter_type".to_string())]
    );

    let mut body = equipment_body(" ", &code, &d("2025-02-01"));
    merge(&mut body, json!({"make": ""}));
    assert_eq!(
        refused_equipment(&app, &contract_id, &body).await,
        [
            ("serial_number".to_string(), "required".to_string()),
            ("make".to_string(), "required".to_string())
        ]
    );
    // An install address follows the rules of a billing address.
    let mut body = equipment_body("SN-6", &code, &d("2025-02-01"));
    merge(
        &mut body,
        json!({"install_address": {"line1": "100 Main St", "city": "Springfield",
                                   "postal_code": "", "country": "usa"}}),
    );
    assert_eq!(
        refused_equipment(&app, &contract_id, &body).await,
        [
            (
                "install_address.postal_code".to_string(),
                "required".to_string()
            ),
            ("install_address.country".to_string(), "invalid".to_string())
        ]
    );
    // Equipment recorded before addresses were checked can still be changed; a new address
    // given in a change is checked.
    let equipment = install(
        &app,
        &contract_id,
        &equipment_body("SN-7", &code, &d("2025-02-01")),
    )
    .await;
    app.execute(&format!(
        "UPDATE equipment SET install_address = install_address || '{{\"country\": \"usa\"}}' WHERE id = '{}'",
        id(&equipment)
    ))
    .await
    .unwrap();
    let path = format!("/v1/equipment/{}", id(&equipment));
    let reply = app
        .patch(
            &path,
            &token(Role::Billing),
            &json!({"install_address": {"line1": " ", "city": "Springfield", "country": "US"},
                    "version": 1}),
        )
        .await
        .expect(422);
    assert_eq!(
        fields(&reply),
        [("install_address.line1".to_string(), "required".to_string())]
    );
    let changed = app
        .patch(
            &path,
            &token(Role::Billing),
            &json!({"model": "IM C3500", "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["model"], "IM C3500");
    assert_eq!(changed.body["install_address"]["country"], "usa");
    app.post(
        &format!("/v1/contracts/{}/equipment", uuid::Uuid::now_v7()),
        &token(Role::Billing),
        &equipment_body("SN-4", &code, &d("2025-02-01")),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/v1/contracts/{contract_id}/equipment"),
        &token(Role::Viewer),
        &equipment_body("SN-5", &code, &d("2025-02-01")),
    )
    .await
    .expect_problem(403, "forbidden");

    assert_eq!(app.count("equipment").await, 2);
    assert_eq!(app.count("meters").await, 2);
    assert_eq!(app.count("meter_plans").await, 2);
    assert_eq!(app.count("meter_readings").await, 2);
}

#[tokio::test]
async fn an_overage_rate_with_trailing_zeros_is_stored_as_its_value() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let mut body = equipment_body("SN-Z", &code, &d("2025-01-01"));
    body["meters"][0]["overage_rate"] = json!("0.01250000");
    let equipment = install(&app, &id(&contract), &body).await;
    assert_eq!(equipment["meters"][0]["plans"][0]["overage_rate"], "0.0125");
    let meter = id(&equipment["meters"][0]);
    let reply = amend(
        &app,
        &id(&contract),
        &json!({"kind": "upgrade", "effective_date": d("2025-06-01"),
                "meter_plans": [{"meter_id": meter, "included_units": 100, "overage_rate": "0.0200000"}]}),
    )
    .await
    .expect(201);
    assert_eq!(
        reply.body["amendments"][0]["details"]["meter_plans"][0]["meter_id"],
        meter.as_str()
    );
    assert_eq!(
        app.count(&format!(
            "meter_plans WHERE meter_id = '{meter}' AND overage_rate IN (0.0125, 0.02)"
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn meters_are_added_to_equipment_and_equipment_is_updated() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let equipment = install(
        &app,
        &id(&contract),
        &equipment_body("SN-M", &code, &d("2025-01-01")),
    )
    .await;
    let path = format!("/v1/equipment/{}", id(&equipment));

    let meter = app
        .post(
            &format!("{path}/meters"),
            &token(Role::Billing),
            &json!({"meter_type": "scan", "included_units": 0, "overage_rate": "0.001",
                    "financial_code_id": code, "initial_reading": 50}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(meter["meter_type"], "scan");
    assert_eq!(meter["equipment_id"], equipment["id"]);
    assert_eq!(meter["contract_id"], contract["id"]);
    assert_eq!(meter["plans"][0]["effective_from"], d("2025-01-01"));
    assert_eq!(meter["plans"][0]["overage_rate"], "0.001");

    let reply = app
        .post(
            &format!("{path}/meters"),
            &token(Role::Billing),
            &json!({"meter_type": "scan", "included_units": 0, "overage_rate": "0.002",
                    "financial_code_id": code}),
        )
        .await
        .expect_problem(409, "duplicate_meter_type");
    assert_eq!(reply.error_field(), "meter_type");
    let reply = app
        .post(
            &format!("{path}/meters"),
            &token(Role::Billing),
            &json!({"meter_type": "fax", "included_units": 0, "overage_rate": "0.1234567",
                    "financial_code_id": code}),
        )
        .await
        .expect(422);
    assert_eq!(
        fields(&reply),
        [("overage_rate".to_string(), "too_many_decimals".to_string())]
    );
    app.post(
        &format!("/v1/equipment/{}/meters", uuid::Uuid::now_v7()),
        &token(Role::Billing),
        &json!({"meter_type": "fax", "included_units": 0, "overage_rate": "0.1", "financial_code_id": code}),
    )
    .await
    .expect_problem(404, "not_found");

    app.patch(&path, &token(Role::Billing), &json!({"model": "IM C4500"}))
        .await
        .expect_problem(428, "precondition_required");
    let reply = app
        .patch(
            &path,
            &token(Role::Billing),
            &json!({"removed_on": d("2024-12-31"), "version": 1}),
        )
        .await
        .expect(422);
    assert_eq!(
        fields(&reply),
        [("removed_on".to_string(), "before_install".to_string())]
    );
    let reply = app
        .patch(
            &path,
            &token(Role::Billing),
            &json!({"model": " IM C4500 ", "install_address": null, "removed_on": d("2025-08-31"),
                    "pickup_status": "completed", "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.body["model"], "IM C4500");
    assert_eq!(reply.body["make"], "Ricoh");
    assert!(reply.body["install_address"].is_null());
    assert_eq!(reply.body["removed_on"], d("2025-08-31"));
    assert_eq!(reply.body["pickup_status"], "completed");
    assert_eq!(reply.body["meters"].as_array().unwrap().len(), 2);
    app.patch(
        &path,
        &token(Role::Billing),
        &json!({"model": "Stale", "version": 1}),
    )
    .await
    .expect_problem(409, "version_conflict");
    app.patch(
        &path,
        &token(Role::Billing),
        &json!({"serial_number": "NEW", "version": 2}),
    )
    .await
    .expect(422);

    assert_eq!(
        app.count(&format!("meters WHERE equipment_id = '{}'", id(&equipment)))
            .await,
        2
    );
    assert_eq!(
        app.count(&format!(
            "meter_readings WHERE meter_id = '{}' AND value = 50 AND source = 'technician'",
            id(&meter)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&sh("equipment WHERE model = 'IM C4500' AND removed_on = '2025-08-31' AND pickup_status = 'completed' AND install_address IS NULL AND version = 2"))
            .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action IN ('meter.added', 'equipment.updated')")
            .await,
        2
    );
}

#[tokio::test]
async fn dates_out_of_range_and_repeated_repricing_are_refused() {
    let app = spawn_app().await;
    let (account, code, contract) = active_contract(&app).await;
    let mut body = contract_body(&id(&account), &code);
    body["start_date"] = json!("1900-01-01");
    body["end_date"] = json!("2300-01-01");
    let reply = app
        .post("/v1/contracts", &token(Role::Billing), &body)
        .await
        .expect(422);
    assert_eq!(
        fields(&reply),
        vec![
            ("start_date".to_string(), "out_of_range".to_string()),
            ("end_date".to_string(), "out_of_range".to_string()),
        ]
    );
    let charge = contract["charges"][0]["id"].clone();
    let reply = amend(
        &app,
        &id(&contract),
        &json!({"kind": "renewal", "effective_date": d("2025-07-01"), "end_date": d("2026-12-31"),
                "prices": [{"charge_id": charge, "amount": "260.00"},
                           {"charge_id": charge, "amount": "270.00"}]}),
    )
    .await
    .expect(422);
    assert_eq!(
        fields(&reply),
        vec![("prices[1].charge_id".to_string(), "duplicate".to_string())]
    );
    let reply = amend(
        &app,
        &id(&contract),
        &json!({"kind": "renewal", "effective_date": d("2025-07-01"), "end_date": "2400-12-31"}),
    )
    .await
    .expect(422);
    assert_eq!(reply.error_field(), "end_date");
    let reply = app
        .post(
            &format!("/v1/contracts/{}/equipment", id(&contract)),
            &token(Role::Billing),
            &equipment_body("SN-OLD", &code, "1800-01-01"),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "installed_on");
    assert_eq!(app.count("contracts").await, 1);
    assert_eq!(app.count("contract_charges").await, 1);
    assert_eq!(app.count("contract_amendments").await, 0);
    assert_eq!(app.count("equipment").await, 0);
}

#[tokio::test]
async fn a_contract_patch_naming_no_field_changes_nothing() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let code = revenue_code(&app).await;
    let contract = draft(&app, &contract_body(&id(&account), &code)).await;
    let path = format!("/v1/contracts/{}", id(&contract));
    app.refuses_empty_patches(&path, &token(Role::Billing))
        .await;
    let current = app.get(&path, &admin_token()).await.expect(200);
    assert_eq!(current.body["version"], 1);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_id = '{}' AND action = 'contract.updated'",
            id(&contract)
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn an_equipment_patch_naming_no_field_changes_nothing() {
    let app = spawn_app().await;
    let (_, code, contract) = active_contract(&app).await;
    let equipment = install(
        &app,
        &id(&contract),
        &equipment_body("SN-E", &code, &d("2025-01-01")),
    )
    .await;
    let path = format!("/v1/equipment/{}", id(&equipment));
    app.refuses_empty_patches(&path, &token(Role::Billing))
        .await;
    let current = app.get(&path, &admin_token()).await.expect(200);
    assert_eq!(current.body["version"], 1);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_id = '{}' AND action = 'equipment.updated'",
            id(&equipment)
        ))
        .await,
        0
    );
}
