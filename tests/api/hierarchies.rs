//! Customer hierarchies: parents (same currency, no cycles, at most five levels), the family
//! view with balances, a head office's payment applied to its sites' invoices with the books
//! balancing per account, the consolidated statement, credit used at the top of the family,
//! aging by family, and partner scoping.

use receivables::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;

fn credit() -> String {
    token(Role::Credit)
}

async fn child_of(app: &TestApp, parent: &Value, name: &str) -> Value {
    let mut body = account_body(name);
    merge(&mut body, json!({"parent_id": id(parent)}));
    app.post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(201)
        .body
}

async fn get(app: &TestApp, path: &str) -> Value {
    app.get(path, &admin_token()).await.expect(200).body
}

/// The content type and bytes of a GET that answers a file.
async fn raw(app: &TestApp, path: &str) -> (String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (kind, response.bytes().await.unwrap().to_vec())
}

async fn balance(app: &TestApp, account: &Value) -> Value {
    get(app, &format!("/v1/accounts/{}", id(account))).await["balance"].clone()
}

#[tokio::test]
async fn parents_are_refused_across_currencies_in_cycles_and_beyond_five_levels() {
    let app = spawn_app().await;
    let top = app.create_account(json!({})).await;
    let a = child_of(&app, &top, "Site A").await;
    assert_eq!(a["parent_id"], top["id"]);
    assert_eq!(a["credit_scope"], "own");
    let a1 = child_of(&app, &a, "Site A1").await;
    let (path_top, path_a) = (
        format!("/v1/accounts/{}", id(&top)),
        format!("/v1/accounts/{}", id(&a)),
    );
    let refused = |field: &'static str, code: &'static str| {
        move |r: Reply| {
            let r = r.expect(422);
            assert_eq!(r.error_field(), field, "{}", r.body);
            assert_eq!(r.body["errors"][0]["code"], code, "{}", r.body);
        }
    };

    // A cycle, directly or through a descendant.
    refused("parent_id", "cycle")(
        app.patch(
            &path_top,
            &admin_token(),
            &json!({"parent_id": id(&top), "version": 1}),
        )
        .await,
    );
    refused("parent_id", "cycle")(
        app.patch(
            &path_top,
            &admin_token(),
            &json!({"parent_id": id(&a1), "version": 1}),
        )
        .await,
    );
    // Another currency, an unknown parent, a parent's credit without a parent.
    let mut euro = account_body("Euro site");
    merge(&mut euro, json!({"currency": "EUR", "parent_id": id(&top)}));
    refused("parent_id", "currency_mismatch")(
        app.post("/v1/accounts", &admin_token(), &euro).await,
    );
    let mut orphan = account_body("Orphan");
    merge(&mut orphan, json!({"parent_id": uuid::Uuid::now_v7()}));
    refused("parent_id", "unknown")(app.post("/v1/accounts", &admin_token(), &orphan).await);
    let mut scoped = account_body("Scoped");
    merge(&mut scoped, json!({"credit_scope": "parent"}));
    refused("credit_scope", "no_parent")(app.post("/v1/accounts", &admin_token(), &scoped).await);
    // Using the parent's credit is a credit decision.
    app.patch(
        &path_a,
        &billing(),
        &json!({"credit_scope": "parent", "version": 1}),
    )
    .await
    .expect_problem(403, "forbidden");

    // Five levels are allowed, a sixth is not; nor is moving a branch where it would make six.
    let a2 = child_of(&app, &a1, "Site A2").await;
    let a3 = child_of(&app, &a2, "Site A3").await;
    let mut sixth = account_body("Site A4");
    merge(&mut sixth, json!({"parent_id": id(&a3)}));
    refused("parent_id", "too_deep")(app.post("/v1/accounts", &admin_token(), &sixth).await);
    let other = app.create_account(json!({})).await;
    let branch = child_of(&app, &other, "Branch").await;
    refused("parent_id", "too_deep")(
        app.patch(
            &format!("/v1/accounts/{}", id(&other)),
            &admin_token(),
            &json!({"parent_id": id(&a2), "version": 1}),
        )
        .await,
    );
    // Nothing changed: no account was opened, none moved.
    assert_eq!(app.count("accounts").await, 7);
    assert_eq!(
        app.count(&format!(
            "accounts WHERE id IN ('{}', '{}') AND parent_id IS NULL AND version = 1",
            id(&top),
            id(&other)
        ))
        .await,
        2
    );
    assert_eq!(branch["parent_id"], other["id"]);

    // Moving a branch under a parent (and back out) is an audited change.
    let moved = app
        .patch(
            &format!("/v1/accounts/{}", id(&other)),
            &admin_token(),
            &json!({"parent_id": id(&a), "version": 1}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(moved["parent_id"], a["id"]);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_id = '{}' AND action = 'account.updated'",
            id(&other)
        ))
        .await,
        1
    );
    let out = app
        .patch(
            &format!("/v1/accounts/{}", id(&other)),
            &admin_token(),
            &json!({"parent_id": null, "version": 2}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(out["parent_id"], Value::Null);
}

#[tokio::test]
async fn the_family_lists_members_with_balances_and_a_partner_sees_only_its_own() {
    let app = spawn_app().await;
    let code = app.financial_code("4100", "revenue").await;
    let partner = app.create_partner("DLR").await;
    let top = app.create_account(json!({})).await;
    let b = child_of(&app, &top, "Site B").await;
    let mut body = account_body("Site A");
    merge(
        &mut body,
        json!({"parent_id": id(&top), "partner_id": id(&partner)}),
    );
    let a = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(201)
        .body;
    let mut body = account_body("Site A1");
    merge(
        &mut body,
        json!({"parent_id": id(&a), "partner_id": id(&partner)}),
    );
    let a1 = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(201)
        .body;
    for (account, amount) in [(&top, "100.00"), (&a, "200.00"), (&a1, "300.00")] {
        app.issued_invoice(&id(account), &code, amount, date("2026-10-01"))
            .await;
    }

    let family = get(&app, &format!("/v1/accounts/{}/family", id(&a1))).await;
    assert_eq!(family["account_id"], a1["id"]);
    assert_eq!(family["top_id"], top["id"]);
    let members: Vec<(&str, i64, &str)> = family["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["legal_name"].as_str().unwrap(),
                m["depth"].as_i64().unwrap(),
                m["balance"]["balance"].as_str().unwrap(),
            )
        })
        .collect();
    // Parents before children; A's number comes before B's (A was opened after B, but its
    // children follow it).
    let (na, nb) = (a["number"].as_str().unwrap(), b["number"].as_str().unwrap());
    let expected_order = if na < nb {
        vec![
            ("Acme Manufacturing Inc.", 0, "100.00"),
            ("Site A", 1, "200.00"),
            ("Site A1", 2, "300.00"),
            ("Site B", 1, "0.00"),
        ]
    } else {
        vec![
            ("Acme Manufacturing Inc.", 0, "100.00"),
            ("Site B", 1, "0.00"),
            ("Site A", 1, "200.00"),
            ("Site A1", 2, "300.00"),
        ]
    };
    assert_eq!(members, expected_order);
    assert_eq!(family["totals"]["balance"], "600.00");
    assert_eq!(family["totals"]["open_invoices"], 3);
    assert_eq!(family["totals"]["past_due"], "600.00");

    // A partner sees its own accounts of the family only, and nothing of the others.
    let portal = partner_token(uuid::Uuid::parse_str(&id(&partner)).unwrap());
    let seen = app
        .get(&format!("/v1/accounts/{}/family", id(&a1)), &portal)
        .await
        .expect(200)
        .body;
    let names: Vec<&str> = seen["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["legal_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Site A", "Site A1"]);
    assert_eq!(seen["top_id"], a["id"]);
    assert_eq!(seen["totals"]["balance"], "500.00");
    app.get(&format!("/v1/accounts/{}/family", id(&top)), &portal)
        .await
        .expect_problem(404, "not_found");
    app.get(
        &format!("/v1/accounts/{}/family-statement", id(&top)),
        &portal,
    )
    .await
    .expect_problem(404, "not_found");
    // An unknown account has no family.
    app.get(
        &format!("/v1/accounts/{}/family", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");
}

#[tokio::test]
async fn a_head_office_payment_pays_its_sites_invoices_oldest_first_and_the_books_balance() {
    let app = spawn_app().await;
    let code = app.financial_code("4100", "revenue").await;
    let top = app.create_account(json!({})).await;
    let site1 = child_of(&app, &top, "Site 1").await;
    let site2 = child_of(&app, &top, "Site 2").await;
    let stranger = app.create_account(json!({})).await;
    let old = app
        .issued_invoice(&id(&site1), &code, "100.00", date("2026-09-01"))
        .await;
    let mid = app
        .issued_invoice(&id(&site2), &code, "200.00", date("2026-10-01"))
        .await;
    let own = app
        .issued_invoice(&id(&top), &code, "50.00", date("2026-10-15"))
        .await;
    let theirs = app
        .issued_invoice(&id(&stranger), &code, "70.00", date("2026-08-01"))
        .await;

    // A remittance naming an invoice outside the family, or a site paying its parent, is
    // refused whole.
    let payment = |account: &Value, amount: &str, extra: Value| {
        let mut body = json!({"account_id": id(account), "amount": amount, "currency": "USD",
            "method": "check", "reference": "HQ-1", "received_date": d("2026-11-20")});
        merge(&mut body, extra);
        body
    };
    let r = app
        .post(
            "/v1/payments",
            &billing(),
            &payment(
                &top,
                "170.00",
                json!({"remittance": [{"invoice_id": id(&old), "amount": "100.00"},
                                      {"invoice_id": id(&theirs), "amount": "70.00"}]}),
            ),
        )
        .await
        .expect(422);
    assert_eq!(r.error_field(), "remittance[1].invoice_id");
    assert_eq!(r.body["errors"][0]["code"], "other_account");
    app.post(
        "/v1/payments",
        &billing(),
        &payment(
            &site1,
            "50.00",
            json!({"remittance": [{"invoice_id": id(&own), "amount": "50.00"}]}),
        ),
    )
    .await
    .expect(422);
    assert_eq!(app.count("payments").await, 0);

    // Auto across the family: oldest due first, the sites' invoices before the head office's.
    let paid = app
        .post(
            "/v1/payments",
            &billing(),
            &payment(&top, "320.00", json!({})),
        )
        .await
        .expect(201)
        .body;
    let applied: Vec<(String, String, String)> = paid["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["invoice_id"].as_str().unwrap().to_string(),
                a["account_id"].as_str().unwrap().to_string(),
                a["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        applied,
        [
            (id(&old), id(&site1), "100.00".to_string()),
            (id(&mid), id(&site2), "200.00".to_string()),
            (id(&own), id(&top), "20.00".to_string()),
        ]
    );
    assert_eq!(paid["account_id"], top["id"]);
    assert_eq!(paid["unapplied"], "0.00");
    // Each account's balance is its own invoices less its own cash.
    assert_eq!(balance(&app, &site1).await["balance"], "0.00");
    assert_eq!(balance(&app, &site2).await["balance"], "0.00");
    let hq = balance(&app, &top).await;
    assert_eq!(hq["balance"], "30.00");
    assert_eq!(hq["unapplied_cash"], "0.00");
    assert_eq!(balance(&app, &stranger).await["balance"], "70.00");
    // The ledger: the sites' invoice entries are on the sites, the cash side on the payer.
    assert_eq!(
        app.value(&format!(
            "SELECT sum(amount)::text FROM ledger_entries WHERE account_id = '{}'",
            id(&site1)
        ))
        .await,
        "0.00"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT sum(amount)::text FROM ledger_entries WHERE account_id = '{}' AND document_type = 'payment'",
            id(&top)
        ))
        .await,
        "-20.00"
    );
    assert_books_balance(&app).await;

    // Each statement stays right: the site sees its invoice paid, the head office the cash
    // that left it for its sites.
    let statement = |account: &Value| {
        format!(
            "/v1/accounts/{}/statement?from={}&to={}",
            id(account),
            d("2026-08-01"),
            d("2026-11-25")
        )
    };
    let s1 = get(&app, &statement(&site1)).await;
    assert_eq!(s1["closing_balance"], "0.00");
    let last = s1["lines"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "payment_applied");
    assert_eq!(last["amount"], "-100.00");
    let hq_statement = get(&app, &statement(&top)).await;
    assert_eq!(hq_statement["closing_balance"], "30.00");
    let kinds: Vec<(&str, &str)> = hq_statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("invoice_issued", "50.00"),
            ("payment_received", "-320.00"),
            ("payment_applied", "100.00"),
            ("payment_applied", "200.00"),
        ]
    );

    // The consolidated statement: every member, and the family's totals.
    let family = get(
        &app,
        &format!(
            "/v1/accounts/{}/family-statement?from={}&to={}",
            id(&top),
            d("2026-08-01"),
            d("2026-11-25")
        ),
    )
    .await;
    assert_eq!(family["members"].as_array().unwrap().len(), 3);
    assert_eq!(family["members"][0]["account_id"], top["id"]);
    assert_eq!(family["totals"]["opening_balance"], "0.00");
    assert_eq!(family["totals"]["closing_balance"], "30.00");
    assert_eq!(family["totals"]["aging"]["total"], "30.00");
    let (kind, csv) = raw(
        &app,
        &format!(
            "/v1/accounts/{}/family-statement?from={}&to={}&format=csv",
            id(&top),
            d("2026-08-01"),
            d("2026-11-25")
        ),
    )
    .await;
    assert_eq!(kind, "text/csv; charset=utf-8");
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with("account,date,kind,document,description,amount,balance\n"));
    assert!(
        text.contains(&format!(
            "FAMILY,{},closing_balance,,Family closing balance,,30.00\n",
            d("2026-11-25")
        )),
        "{text}"
    );
    let site_rows = text
        .lines()
        .filter(|l| l.starts_with(site1["number"].as_str().unwrap()))
        .count();
    assert_eq!(
        site_rows, 5,
        "opening, invoice, payment, closing, disputed: {text}"
    );
    let (kind, pdf) = raw(
        &app,
        &format!("/v1/accounts/{}/family-statement?format=pdf", id(&top)),
    )
    .await;
    assert_eq!(kind, "application/pdf");
    let words = receivables::pdf::extract_text(&pdf).join(" ");
    assert!(words.contains("Consolidated statement of"), "{words}");
    assert!(words.contains("Site 2"), "{words}");

    // Returned by the bank: the sites' invoices open again, and the books still balance.
    app.post(
        &format!("/v1/payments/{}/return", id(&paid)),
        &billing(),
        &json!({"reason": "nsf", "returned_on": d("2026-11-24")}),
    )
    .await
    .expect(200);
    assert_eq!(balance(&app, &site1).await["balance"], "100.00");
    assert_eq!(balance(&app, &site2).await["balance"], "200.00");
    assert_eq!(balance(&app, &top).await["balance"], "50.00");
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_site_using_its_parents_credit_counts_in_the_parents_exposure_and_holds() {
    let app = spawn_app().await;
    let code = app.financial_code("4100", "revenue").await;
    let top = app.create_account(json!({"credit_limit": "1000.00"})).await;
    let mut body = account_body("Site");
    merge(
        &mut body,
        json!({"parent_id": id(&top), "credit_scope": "parent"}),
    );
    let site = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(201)
        .body;
    assert_eq!(site["credit_scope"], "parent");

    app.issued_invoice(&id(&top), &code, "800.00", date("2026-11-01"))
        .await;
    let profile = get(&app, &format!("/v1/accounts/{}/credit", id(&site))).await;
    assert_eq!(profile["credit_account_id"], top["id"]);
    assert_eq!(profile["credit_family"], json!([id(&top), id(&site)]));
    assert_eq!(profile["exposure"]["credit_limit"], "1000.00");
    assert_eq!(profile["exposure"]["total"], "800.00");
    // The site's invoice takes the family over the top's limit: one task, on the top.
    app.issued_invoice(&id(&site), &code, "300.00", date("2026-11-02"))
        .await;
    app.issued_invoice(&id(&site), &code, "50.00", date("2026-11-03"))
        .await;
    let tasks = format!(
        "tasks WHERE type = 'credit_limit_exceeded' AND account_id = '{}'",
        id(&top)
    );
    assert_eq!(app.count(&tasks).await, 1);
    assert_eq!(
        app.count("tasks WHERE type = 'credit_limit_exceeded'")
            .await,
        1
    );
    let description = app.value(&format!("SELECT description FROM {tasks}")).await;
    assert!(
        description.contains("and the 1 account(s) using its credit: balance 1100.00 USD"),
        "{description}"
    );

    // Reviews are of the family, on the top.
    app.post(
        &format!("/v1/accounts/{}/credit-reviews", id(&site)),
        &credit(),
        &json!({"requested_limit": "5000.00", "requested_terms_days": 30, "reason": "limit_increase"}),
    )
    .await
    .expect_problem(409, "credit_at_parent");
    let review = app
        .post(
            &format!("/v1/accounts/{}/credit-reviews", id(&top)),
            &credit(),
            &json!({"requested_limit": "5000.00", "requested_terms_days": 30, "reason": "limit_increase"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(review["history"]["open_balance"]["value"], "1150.00");
    assert_eq!(review["history"]["open_balance"]["count"], 3);

    // A hold on the top blocks the site's manual invoices, naming the top.
    let hold = app
        .post(
            &format!("/v1/accounts/{}/credit-holds", id(&top)),
            &credit(),
            &json!({"reason": "Family over its limit"}),
        )
        .await
        .expect(201)
        .body;
    let refused = app
        .post(
            "/v1/invoices",
            &billing(),
            &json!({"account_id": id(&site), "lines": [{"description": "Toner", "quantity": "1",
                "unit_price": "10.00", "financial_code_id": code, "taxable": false}]}),
        )
        .await
        .expect_problem(409, "credit_hold");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&id(&top)) && detail.contains(&id(&hold)),
        "{detail}"
    );
    let profile = get(&app, &format!("/v1/accounts/{}/credit", id(&site))).await;
    assert_eq!(profile["hold"]["id"], hold["id"]);
    app.post(
        &format!("/v1/accounts/{}/credit-holds/release", id(&top)),
        &credit(),
        &json!({"note": "Paid down"}),
    )
    .await
    .expect(200);
    app.post(
        "/v1/invoices",
        &billing(),
        &json!({"account_id": id(&site), "lines": [{"description": "Toner", "quantity": "1",
            "unit_price": "10.00", "financial_code_id": code, "taxable": false}]}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn the_aging_groups_by_family() {
    let app = spawn_app().await;
    let code = app.financial_code("4100", "revenue").await;
    let top = app.create_account(json!({})).await;
    let site = child_of(&app, &top, "Site").await;
    let sub = child_of(&app, &site, "Sub-site").await;
    let alone = app.create_account(json!({})).await;
    app.issued_invoice(&id(&top), &code, "10.00", date("2026-11-20"))
        .await;
    app.issued_invoice(&id(&site), &code, "20.00", date("2026-09-01"))
        .await;
    app.issued_invoice(&id(&sub), &code, "40.00", date("2026-07-01"))
        .await;
    app.issued_invoice(&id(&alone), &code, "5.00", date("2026-11-01"))
        .await;
    let aging = get(&app, "/v1/collections/aging?group_by=family").await;
    assert_eq!(aging["group_by"], "family");
    let rows = aging["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{aging}");
    assert_eq!(rows[0]["key"], top["id"]);
    assert_eq!(rows[0]["total"], "70.00");
    assert_eq!(rows[0]["current"], "10.00");
    // Due 1 October: 55 days; due 31 July: 117 days.
    assert_eq!(rows[0]["days_31_60"], "20.00");
    assert_eq!(rows[0]["days_91_120"], "40.00");
    assert_eq!(rows[0]["open_invoices"], 3);
    assert_eq!(rows[1]["key"], alone["id"]);
    assert_eq!(rows[1]["total"], "5.00");
    assert_eq!(aging["totals"][0]["total"], "75.00");
}

#[tokio::test]
async fn concurrent_moves_never_close_a_loop() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let a = app.create_account(json!({})).await;
        let b = app.create_account(json!({})).await;
        let (path_a, path_b) = (
            format!("/v1/accounts/{}", id(&a)),
            format!("/v1/accounts/{}", id(&b)),
        );
        let (under_b, under_a) = (
            json!({"parent_id": id(&b), "version": 1}),
            json!({"parent_id": id(&a), "version": 1}),
        );
        let token = admin_token();
        let (ab, ba) = tokio::join!(
            app.patch(&path_a, &token, &under_b),
            app.patch(&path_b, &token, &under_a)
        );
        let mut statuses = [ab.status, ba.status];
        statuses.sort();
        assert_eq!(statuses, [200, 422], "{} / {}", ab.body, ba.body);
        let refused = if ab.status == 422 { &ab } else { &ba };
        assert_eq!(refused.body["errors"][0]["code"], "cycle");
        assert_eq!(
            app.count(&format!(
                "accounts WHERE id IN ('{}', '{}') AND parent_id IS NOT NULL",
                id(&a),
                id(&b)
            ))
            .await,
            1
        );
    }
}

#[tokio::test]
async fn a_head_office_and_its_site_paying_the_same_invoice_at_once_never_overpay_it() {
    let app = spawn_app().await;
    let code = app.financial_code("4100", "revenue").await;
    let top = app.create_account(json!({})).await;
    let site = child_of(&app, &top, "Site").await;
    let invoice = app
        .issued_invoice(&id(&site), &code, "100.00", date("2026-10-01"))
        .await;
    let body = |account: &Value| {
        json!({"account_id": id(account), "amount": "80.00", "currency": "USD",
            "method": "check", "received_date": d("2026-11-20")})
    };
    let (from_top, from_site, token) = (body(&top), body(&site), billing());
    let (a, b) = tokio::join!(
        app.post("/v1/payments", &token, &from_top),
        app.post("/v1/payments", &token, &from_site)
    );
    a.expect(201);
    b.expect(201);
    // 160.00 arrived for a 100.00 invoice: it is paid once, the rest stays unapplied.
    let paid = get(&app, &format!("/v1/invoices/{}", id(&invoice))).await;
    assert_eq!(paid["balance_due"], "0.00");
    assert_eq!(paid["amount_paid"], "100.00");
    assert_eq!(
        app.value("SELECT sum(amount - amount_applied)::text FROM payments")
            .await,
        "60.00"
    );
    assert_books_balance(&app).await;
}
