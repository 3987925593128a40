//! The credits and disputes reports over HTTP: small histories worked out by hand, the same
//! figures in CSV and in Excel (read back), and refused parameters.

use calamine::Data;
use receivables::auth::Role;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;
use crate::reports::{books, file, sheet, text};

async fn memo(app: &TestApp, account: &str, code: &str, reason: &str, amount: &str) -> Value {
    app.post(
        "/v1/credit-memos",
        &billing(),
        &json!({"account_id": account, "reason": reason, "financial_code_id": code,
            "amount": amount, "description": "Credit"}),
    )
    .await
    .expect(201)
    .body
}

async fn issue(app: &TestApp, memo: &Value) {
    app.post(
        &format!("/v1/credit-memos/{}/issue", id(memo)),
        &billing(),
        &Value::Null,
    )
    .await
    .expect(200);
}

/// On 25 November: memos for billing error 120.00 and goodwill 30.00 issued, one for pricing
/// 99.00 left a draft, one for 45.00 issued then voided, and a 4.00 invoice written off as a
/// small balance; a late fee is charged (not a credit). On 5 December a pricing memo of 50.00.
/// November: two memos (150.00) and one write-off (4.00); December so far: the pricing memo.
#[tokio::test]
async fn credits_count_issued_memos_and_write_offs_by_reason_and_code() {
    let app = spawn_app().await;
    let (account, revenue) = books(&app, "Credit Co", 30).await;
    let credit = app.financial_code("4900", "credit").await;
    let write_off = app.financial_code("6100", "write_off").await;
    let fee = app.financial_code("4500", "fee").await;
    for (reason, amount) in [("billing_error", "120.00"), ("goodwill", "30.00")] {
        let m = memo(&app, &account, &credit, reason, amount).await;
        issue(&app, &m).await;
    }
    memo(&app, &account, &credit, "pricing", "99.00").await;
    let voided = memo(&app, &account, &credit, "pricing", "45.00").await;
    issue(&app, &voided).await;
    app.post(
        &format!("/v1/credit-memos/{}/void", id(&voided)),
        &billing(),
        &json!({"reason": "issued in error"}),
    )
    .await
    .expect(200);
    let small = app
        .issued_invoice(&account, &revenue, "4.00", date("2026-11-01"))
        .await;
    app.post(
        "/v1/adjustments",
        &billing(),
        &json!({"kind": "small_balance_write_off", "invoice_id": id(&small),
            "financial_code_id": write_off, "reason": "Not worth collecting"}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/adjustments",
        &billing(),
        &json!({"kind": "late_fee", "account_id": account, "amount": "25.00",
            "financial_code_id": fee, "reason": "Late"}),
    )
    .await
    .expect(201);
    app.clock.advance(Duration::days(10));
    let december = memo(&app, &account, &credit, "pricing", "50.00").await;
    issue(&app, &december).await;

    let path = sh("/v1/reports/credits?from=2026-11-01&to=2026-11-30");
    let report = app.get(&path, &token(Role::Viewer)).await.expect(200).body;
    assert_eq!(
        report["parameters"],
        json!({"from": d("2026-11-01"), "to": d("2026-11-30")})
    );
    let rows: Vec<Value> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["source"],
                r["reason"],
                r["financial_code"],
                r["count"],
                r["amount"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            json!(["credit_memo", "billing_error", "4900", 1, "120.00"]),
            json!(["credit_memo", "goodwill", "4900", 1, "30.00"]),
            json!(["adjustment", "small_balance_write_off", "6100", 1, "4.00"]),
        ]
    );
    assert_eq!(report["rows"][0]["financial_code_id"], json!(credit));
    assert_eq!(
        report["totals"],
        json!([{"currency": "USD", "count": 3, "amount": "154.00", "credit_memos": "150.00",
            "adjustments": "4.00"}])
    );
    // By default: the current month so far.
    let now = app
        .get("/v1/reports/credits", &token(Role::Viewer))
        .await
        .expect(200)
        .body;
    assert_eq!(
        now["parameters"],
        json!({"from": d("2026-12-01"), "to": d("2026-12-05")})
    );
    assert_eq!(now["rows"].as_array().unwrap().len(), 1);
    assert_eq!(now["rows"][0]["amount"], "50.00");

    let (status, _, csv) = file(&app, &format!("{path}&format=csv")).await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "source,reason,financial_code,financial_code_name,currency,count,amount"
    );
    assert_eq!(lines[1], "credit_memo,billing_error,4900,4900,USD,1,120.00");
    assert_eq!(
        lines[3],
        "adjustment,small_balance_write_off,6100,6100,USD,1,4.00"
    );
    assert_eq!(lines[4], "Total,,,,USD,3,154.00");
    let (_, _, xlsx) = file(&app, &format!("{path}&format=xlsx")).await;
    let cells = sheet(xlsx, "Credits");
    for (k, row) in report["rows"].as_array().unwrap().iter().enumerate() {
        assert_eq!(text(&cells[k + 1][1]), row["reason"].as_str().unwrap());
        assert_eq!(text(&cells[k + 1][6]), row["amount"].as_str().unwrap());
        assert!(matches!(cells[k + 1][6], Data::Float(_)));
    }
    assert_eq!(text(&cells[4][0]), "Total");
    assert_eq!(cells[4][6], Data::Float(154.0));
}

async fn dispute(app: &TestApp, invoice: &Value, amount: &str, reason: &str) -> String {
    id(&app
        .post(
            "/v1/disputes",
            &billing(),
            &json!({"invoice_id": id(invoice), "amount": amount, "reason": reason,
                "description": "Not what was agreed"}),
        )
        .await
        .expect(201)
        .body)
}

async fn resolve(app: &TestApp, dispute: &str, body: Value) {
    app.post(
        &format!("/v1/disputes/{dispute}/resolve"),
        &billing(),
        &body,
    )
    .await
    .expect(200);
}

/// Opened on 25 November: pricing 200.00 (resolved valid on the 27th, 150.00 credited) and
/// 100.00 (resolved invalid on the 27th), both root cause billing error; pricing 20.00
/// (withdrawn); meter reading 80.00 (still open); tax 50.00 (resolved invalid on 15 December,
/// 20 days later, past its SLA of ten business days). Opened on 15 December: one more, outside
/// November. By hand: pricing/billing error 2 opened, 2 resolved in 2 days each (average 2.0),
/// both within SLA (100.00%); tax 1 in 20 days, none within SLA (0.00%); in total 5 opened,
/// 3 resolved, 24 days (average 8.0), 2 of 3 within SLA (66.67%), 450.00 disputed, 150.00
/// credited.
#[tokio::test]
async fn disputes_by_reason_and_root_cause_with_days_to_resolve_and_sla_compliance() {
    let app = spawn_app().await;
    let (account, revenue) = books(&app, "Dispute Co", 30).await;
    let credit = app.financial_code("4900", "credit").await;
    let one = app
        .issued_invoice(&account, &revenue, "1000.00", date("2026-11-01"))
        .await;
    let two = app
        .issued_invoice(&account, &revenue, "1000.00", date("2026-11-01"))
        .await;
    let valid = dispute(&app, &one, "200.00", "pricing").await;
    let invalid = dispute(&app, &two, "100.00", "pricing").await;
    let withdrawn = dispute(&app, &two, "20.00", "pricing").await;
    dispute(&app, &two, "80.00", "meter_reading").await;
    let late = dispute(&app, &one, "50.00", "tax").await;
    let opened = app
        .get(&format!("/v1/disputes/{late}"), &billing())
        .await
        .expect(200)
        .body;
    assert!(opened["sla_due_date"].as_str().unwrap() < d("2026-12-15").as_str());
    app.post(
        &format!("/v1/disputes/{withdrawn}/withdraw"),
        &billing(),
        &json!({}),
    )
    .await
    .expect(200);
    app.clock.advance(Duration::days(2));
    resolve(
        &app,
        &valid,
        json!({"outcome": "valid", "root_cause": "billing_error", "note": "Wrong rate",
            "approved_amount": "150.00", "financial_code_id": credit}),
    )
    .await;
    let invalid_body =
        |cause: &str| json!({"outcome": "invalid", "root_cause": cause, "note": "As agreed"});
    resolve(&app, &invalid, invalid_body("billing_error")).await;
    app.clock.advance(Duration::days(18));
    resolve(&app, &late, invalid_body("customer_misunderstanding")).await;
    dispute(&app, &one, "10.00", "duplicate").await;

    let path = sh("/v1/reports/disputes?from=2026-11-01&to=2026-11-30");
    let report = app.get(&path, &token(Role::Billing)).await.expect(200).body;
    let rows: Vec<Value> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["reason"],
                r["root_cause"],
                r["opened"],
                r["resolved"],
                r["resolved_within_sla"],
                r["amount_disputed"],
                r["amount_credited"],
                r["days_to_resolve"],
                r["average_days_to_resolve"],
                r["sla_compliance"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            json!([
                "meter_reading",
                null,
                1,
                0,
                0,
                "80.00",
                "0.00",
                0,
                null,
                null
            ]),
            json!([
                "pricing",
                "billing_error",
                2,
                2,
                2,
                "300.00",
                "150.00",
                4,
                "2.0",
                "100.00"
            ]),
            json!(["pricing", null, 1, 0, 0, "20.00", "0.00", 0, null, null]),
            json!([
                "tax",
                "customer_misunderstanding",
                1,
                1,
                0,
                "50.00",
                "0.00",
                20,
                "20.0",
                "0.00"
            ]),
        ]
    );
    assert_eq!(
        report["totals"],
        json!([{"reason": null, "root_cause": null, "currency": "USD", "opened": 5,
            "resolved": 3, "resolved_within_sla": 2, "amount_disputed": "450.00",
            "amount_credited": "150.00", "days_to_resolve": 24,
            "average_days_to_resolve": "8.0", "sla_compliance": "66.67"}])
    );
    let december = app
        .get("/v1/reports/disputes", &token(Role::Billing))
        .await
        .expect(200)
        .body;
    assert_eq!(december["totals"][0]["opened"], 1);
    assert_eq!(december["rows"][0]["reason"], "duplicate");

    let (_, _, csv) = file(&app, &format!("{path}&format=csv")).await;
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "reason,root_cause,currency,opened,resolved,resolved_within_sla,amount_disputed,\
         amount_credited,days_to_resolve,average_days_to_resolve,sla_compliance"
    );
    assert_eq!(
        lines[2],
        "pricing,billing_error,USD,2,2,2,300.00,150.00,4,2.0,100.00"
    );
    assert_eq!(lines[5], "Total,,USD,5,3,2,450.00,150.00,24,8.0,66.67");
    let (_, _, xlsx) = file(&app, &format!("{path}&format=xlsx")).await;
    let cells = sheet(xlsx, "Disputes");
    assert_eq!(text(&cells[2][1]), "billing_error");
    assert_eq!(cells[2][6], Data::Float(300.0));
    assert_eq!(cells[5][10], Data::Float(66.67));
    assert_eq!(text(&cells[5][0]), "Total");
}

#[tokio::test]
async fn credits_and_disputes_refuse_bad_periods_and_formats() {
    let app = spawn_app().await;
    let viewer = token(Role::Viewer);
    for (path, field) in [
        ("/v1/reports/credits?from=1899-12-31", "from"),
        ("/v1/reports/credits?to=9999-12-31", "to"),
        ("/v1/reports/disputes?from=2026-11-26&to=2026-11-25", "from"),
        ("/v1/reports/disputes?from=2025-01-01&to=2026-11-25", "from"),
    ] {
        let reply = app
            .get(&sh(path), &viewer)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{path}");
    }
    for path in [
        "/v1/reports/credits?from=2026-13-01",
        "/v1/reports/disputes?format=pdf",
    ] {
        app.get(path, &viewer)
            .await
            .expect_problem(400, "invalid_query");
    }
    app.get("/v1/reports/credits", &partner_token(uuid::Uuid::now_v7()))
        .await
        .expect_problem(403, "forbidden");
}
