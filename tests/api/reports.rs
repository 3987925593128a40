//! Reports over HTTP: the KPIs and the past-due report on histories worked out by hand, the
//! same figures in CSV and in Excel (read back), and refused parameters.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use receivables::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;

pub async fn file(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token(Role::CollectionsManager))
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

pub fn sheet(bytes: Vec<u8>, name: &str) -> Vec<Vec<Data>> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let range = workbook.worksheet_range(name).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

/// A cell of a sheet as the JSON's text: numbers with two decimals, as the report writes them.
pub fn text(cell: &Data) -> String {
    match cell {
        Data::Float(f) => format!("{f:.2}"),
        Data::Int(i) => i.to_string(),
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// An account with net `terms` days and a revenue code.
pub async fn books(app: &TestApp, name: &str, terms: i64) -> (String, String) {
    let mut body = account_body(name);
    merge(&mut body, json!({"payment_terms_days": terms}));
    let account = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(201)
        .body;
    let code = app
        .value("(SELECT id FROM financial_codes WHERE code = '4000')")
        .await;
    let code = if code.is_empty() {
        app.financial_code("4000", "revenue").await
    } else {
        code
    };
    (id(&account), code)
}

/// October: invoice A 50,000.00 (1 Oct, net 10: past due by the 31st). November: B 70,000.00
/// (5 Nov, due the 15th) and C 30,000.00 (25 Nov, due 5 Dec), and 110,000.00 received on the
/// 20th, applied oldest first (A, then 60,000.00 of B). By hand, for November (30 days):
/// opening 50,000, sales 100,000, closing 40,000 (B 10,000 + C 30,000), closing current
/// 30,000 (C) → DSO 40,000 ÷ 100,000 × 30 = 12.0; best possible 30,000 ÷ 100,000 × 30 = 9.0;
/// average days delinquent 3.0; CEI (50,000 + 100,000 − 40,000) ÷ (50,000 + 100,000 −
/// 30,000) = 91.67%; count-back: 40,000 of November's 100,000 → 12.0. October (31 days):
/// opening 0, sales 50,000, closing 50,000, nothing current → DSO 31.0, CEI 0.00, best 0.0.
#[tokio::test]
async fn kpis_of_a_constructed_history_are_the_hand_computed_figures_in_every_format() {
    let app = spawn_app().await;
    let (account, code) = books(&app, "Kpi Co", 10).await;
    app.issued_invoice(&account, &code, "50000.00", date("2026-10-01"))
        .await;
    app.issued_invoice(&account, &code, "70000.00", date("2026-11-05"))
        .await;
    app.issued_invoice(&account, &code, "30000.00", date("2026-11-25"))
        .await;
    app.post(
        "/v1/payments",
        &billing(),
        &json!({"account_id": account, "amount": "110000.00", "currency": "USD",
            "method": "wire", "received_date": d("2026-11-20"), "application_mode": "auto"}),
    )
    .await
    .expect(201);

    let path = sh("/v1/reports/kpis?from=2026-10&to=2026-11");
    let report = app
        .get(&path, &token(Role::CollectionsManager))
        .await
        .expect(200)
        .body;
    assert_eq!(report["from"], sh("2026-10"));
    assert_eq!(report["to"], sh("2026-11"));
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let oct = &rows[0];
    assert_eq!(
        (
            &oct["month"],
            &oct["days"],
            &oct["opening_ar"],
            &oct["credit_sales"]
        ),
        (
            &json!(sh("2026-10")),
            &json!(31),
            &json!("0.00"),
            &json!("50000.00")
        )
    );
    assert_eq!(
        (
            &oct["closing_ar"],
            &oct["closing_current_ar"],
            &oct["dso"],
            &oct["cei"]
        ),
        (
            &json!("50000.00"),
            &json!("0.00"),
            &json!("31.0"),
            &json!("0.00")
        )
    );
    assert_eq!(oct["best_possible_dso"], "0.0");
    let nov = &rows[1];
    let figures = |keys: &[&str]| -> Vec<Value> { keys.iter().map(|k| nov[*k].clone()).collect() };
    assert_eq!(
        figures(&[
            "days",
            "opening_ar",
            "credit_sales",
            "closing_ar",
            "closing_current_ar",
            "bad_debt_written_off"
        ]),
        vec![
            json!(30),
            json!("50000.00"),
            json!("100000.00"),
            json!("40000.00"),
            json!("30000.00"),
            json!("0.00")
        ]
    );
    assert_eq!(
        figures(&[
            "dso",
            "countback_dso",
            "cei",
            "best_possible_dso",
            "average_days_delinquent"
        ]),
        vec![
            json!("12.0"),
            json!("12.0"),
            json!("91.67"),
            json!("9.0"),
            json!("3.0")
        ]
    );
    // The range: opening of October, sales of both months, closing of November, over 61 days:
    // DSO 40,000 ÷ 150,000 × 61 = 16.3; CEI (0 + 150,000 − 40,000) ÷ (150,000 − 30,000).
    let total = &report["totals"][0];
    assert_eq!(
        (
            &total["credit_sales"],
            &total["days"],
            &total["dso"],
            &total["cei"]
        ),
        (
            &json!("150000.00"),
            &json!(61),
            &json!("16.3"),
            &json!("91.67")
        )
    );

    let (status, kind, csv) = file(&app, &format!("{path}&format=csv")).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "month,currency,days,opening_ar,credit_sales,closing_ar,closing_current_ar,\
         bad_debt_written_off,dso,countback_dso,cei,best_possible_dso,average_days_delinquent"
    );
    assert_eq!(
        lines[2],
        sh("2026-11,USD,30,50000.00,100000.00,40000.00,30000.00,0.00,12.0,12.0,91.67,9.0,3.0")
    );
    assert!(lines[3].starts_with(&sh("2026-10..2026-11,USD,61,0.00,150000.00")));
    assert_eq!(lines[4], sh("parameter,from,2026-10,,,,,,,,,,"));

    let (status, kind, xlsx) = file(&app, &format!("{path}&format=xlsx")).await;
    assert_eq!(
        (status, kind.as_str()),
        (
            200,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    );
    let cells = sheet(xlsx.clone(), "KPIs");
    assert_eq!(text(&cells[0][0]), "month");
    // Numbers are numbers, equal to the JSON's.
    assert!(matches!(cells[2][4], Data::Float(_)));
    let json_row: Vec<String> = [
        "opening_ar",
        "credit_sales",
        "closing_ar",
        "closing_current_ar",
    ]
    .iter()
    .map(|k| nov[*k].as_str().unwrap().to_string())
    .collect();
    let sheet_row: Vec<String> = cells[2][3..7].iter().map(text).collect();
    assert_eq!(sheet_row, json_row);
    assert_eq!(cells[2][10], Data::Float(91.67));
    let parameters = sheet(xlsx, "Parameters");
    assert_eq!(text(&parameters[1][0]), "from");
    assert_eq!(text(&parameters[1][1]), sh("2026-10"));
}

/// Net 10 days; today is 25 November. P owes X 10,000.00 (16 Sep, due the 26th: 60 days past
/// due) and Y 500.00 (1 Nov: 14 days); Q owes 9,999.99 for 75 days (under the threshold); R
/// owes 20,000.00 for 59 days (not yet 60). At 10,000.00 and 60 days, both inclusive, only P
/// is listed; the day before, X was 59 days past due and nobody is.
#[tokio::test]
async fn past_due_lists_the_accounts_at_the_threshold_and_the_days_inclusive() {
    let app = spawn_app().await;
    let (p, code) = books(&app, "Pee Corp", 10).await;
    let (q, _) = books(&app, "Queue Corp", 10).await;
    let (r, _) = books(&app, "Arr Corp", 10).await;
    app.issued_invoice(&p, &code, "10000.00", date("2026-09-16"))
        .await;
    app.issued_invoice(&p, &code, "500.00", date("2026-11-01"))
        .await;
    app.issued_invoice(&q, &code, "9999.99", date("2026-09-01"))
        .await;
    app.issued_invoice(&r, &code, "20000.00", date("2026-09-17"))
        .await;

    let report = app
        .get("/v1/reports/past-due", &token(Role::Viewer))
        .await
        .expect(200)
        .body;
    assert_eq!(
        report["parameters"],
        json!({"as_of": today().to_string(), "min_days": 60, "threshold": "10000.00",
            "partner_id": null})
    );
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["account_id"], json!(p));
    assert_eq!(
        (
            &row["balance"],
            &row["past_due"],
            &row["past_due_beyond"],
            &row["oldest_days"]
        ),
        (
            &json!("10500.00"),
            &json!("10500.00"),
            &json!("10000.00"),
            &json!(60)
        )
    );
    assert_eq!(
        (&row["collector"], &row["promise_amount"], &row["disputed"]),
        (&Value::Null, &Value::Null, &json!("0.00"))
    );
    assert_eq!(
        report["totals"],
        json!([{"currency": "USD", "accounts": 1, "balance": "10500.00", "past_due": "10500.00",
            "past_due_beyond": "10000.00", "disputed": "0.00"}])
    );

    let yesterday = (today() - time::Duration::days(1)).to_string();
    let before = app
        .get(
            &format!("/v1/reports/past-due?as_of={yesterday}"),
            &token(Role::Viewer),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(before["rows"], json!([]));
    // A lower bar lists R and Q too, largest first.
    let lower = app
        .get(
            "/v1/reports/past-due?min_days=59&threshold=9999.99",
            &token(Role::Viewer),
        )
        .await
        .expect(200)
        .body;
    let listed: Vec<&Value> = lower["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["account_id"])
        .collect();
    assert_eq!(listed, vec![&json!(r), &json!(p), &json!(q)]);

    let (status, _, csv) = file(&app, "/v1/reports/past-due?format=csv").await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(lines[1].starts_with("ACC-000001,Pee Corp,USD,10500.00,10500.00,10000.00,60,0.00,,,,,"));
    assert_eq!(
        lines[2],
        "Total,1 accounts,USD,10500.00,10500.00,10000.00,,0.00,,,,,"
    );
    let (_, _, xlsx) = file(&app, "/v1/reports/past-due?format=xlsx").await;
    let cells = sheet(xlsx, "Past due");
    assert_eq!(text(&cells[1][1]), "Pee Corp");
    assert_eq!(cells[1][5], Data::Float(10000.0));
    assert_eq!(text(&cells[2][0]), "Total");
}

#[tokio::test]
async fn bad_parameters_are_named_and_partners_see_no_reports() {
    let app = spawn_app().await;
    let viewer = token(Role::Viewer);
    let reply = app
        .get("/v1/reports/kpis?from=2026-13", &viewer)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "from");
    let reply = app
        .get("/v1/reports/kpis?from=2026-11&to=2026-10", &viewer)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "from");
    let reply = app
        .get("/v1/reports/past-due?min_days=0", &viewer)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "min_days");
    let reply = app
        .get("/v1/reports/past-due?threshold=-1", &viewer)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "threshold");
    let reply = app
        .get("/v1/reports/past-due?format=pdf", &viewer)
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(reply.error_field(), "format");
    app.get("/v1/reports/kpis", &partner_token(uuid::Uuid::now_v7()))
        .await
        .expect_problem(403, "forbidden");
    app.get("/v1/reports/past-due", &token(Role::Integration))
        .await
        .expect_problem(403, "forbidden");
}

/// Three payments on 20 November: 1,000.00 by wire applied to a 1,000.00 invoice, 300.00 by
/// wire left unapplied, and 200.00 by check that the bank returned; one on the 10th by ACH
/// outside the period asked for. By day, method and account, with received = applied +
/// refunded + returned + unapplied.
#[tokio::test]
async fn cash_receipts_are_grouped_by_day_method_and_account_with_what_became_of_them() {
    let app = spawn_app().await;
    let (account, code) = books(&app, "Cash Co", 30).await;
    app.issued_invoice(&account, &code, "1000.00", date("2026-11-01"))
        .await;
    let pay = |amount: &str, method: &str, day: &str| {
        json!({"account_id": account, "amount": amount, "currency": "USD", "method": method,
            "received_date": d(day), "application_mode": "auto"})
    };
    for body in [
        pay("1000.00", "wire", "2026-11-20"),
        pay("300.00", "wire", "2026-11-20"),
        pay("50.00", "ach", "2026-11-10"),
    ] {
        app.post("/v1/payments", &billing(), &body)
            .await
            .expect(201);
    }
    let check = app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": account, "amount": "200.00", "currency": "USD",
                "method": "check", "received_date": d("2026-11-20"), "application_mode": "none"}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/payments/{}/return", id(&check)),
        &billing(),
        &json!({"reason": "nsf"}),
    )
    .await
    .expect(200);

    let path = sh("/v1/reports/cash-receipts?from=2026-11-15&to=2026-11-25");
    let report = app.get(&path, &token(Role::Billing)).await.expect(200).body;
    let rows: Vec<Value> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["received_date"],
                r["method"],
                r["payments"],
                r["received"],
                r["applied"],
                r["refunded"],
                r["returned"],
                r["unapplied"]
            ])
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            json!([
                d("2026-11-20"),
                "check",
                1,
                "200.00",
                "0.00",
                "0.00",
                "200.00",
                "0.00"
            ]),
            json!([
                d("2026-11-20"),
                "wire",
                2,
                "1300.00",
                "1000.00",
                "0.00",
                "0.00",
                "300.00"
            ]),
        ]
    );
    assert_eq!(
        report["totals"],
        json!([{"currency": "USD", "payments": 3, "received": "1500.00", "applied": "1000.00",
            "refunded": "0.00", "returned": "200.00", "unapplied": "300.00"}])
    );
    let wires = app
        .get(&format!("{path}&method=wire"), &token(Role::Billing))
        .await
        .expect(200)
        .body;
    assert_eq!(wires["rows"].as_array().unwrap().len(), 1);

    let (_, _, csv) = file(&app, &format!("{path}&format=csv")).await;
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[2],
        sh("2026-11-20,wire,ACC-000001,Cash Co,USD,2,1300.00,1000.00,0.00,0.00,300.00")
    );
    assert_eq!(
        lines[3],
        "Total,,,,USD,3,1500.00,1000.00,0.00,200.00,300.00"
    );
    let (_, _, xlsx) = file(&app, &format!("{path}&format=xlsx")).await;
    let cells = sheet(xlsx, "Cash receipts");
    assert!(
        matches!(cells[1][0], Data::DateTime(_)),
        "{:?}",
        cells[1][0]
    );
    assert_eq!(cells[2][6], Data::Float(1300.0));
    let reply = app
        .get(
            &sh("/v1/reports/cash-receipts?from=2026-11-26&to=2026-11-25"),
            &token(Role::Billing),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "from");
}

#[tokio::test]
async fn dates_beyond_the_business_calendar_and_future_months_are_refused_not_failed() {
    let app = spawn_app().await;
    let viewer = token(Role::Viewer);
    for (path, field) in [
        ("/v1/reports/past-due?as_of=1899-12-31", "as_of"),
        ("/v1/reports/cash-receipts?to=9999-12-31", "to"),
        ("/v1/reports/cash-receipts?from=1000-01-01", "from"),
        ("/v1/collections/aging?as_of=9999-06-30", "as_of"),
        ("/v1/credit/due-reviews?as_of=1800-01-01", "as_of"),
    ] {
        let reply = app
            .get(path, &viewer)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{path}");
    }
    let next_month = (today().replace_day(1).unwrap() + time::Duration::days(40)).replace_day(1);
    let next_month = next_month.unwrap().to_string()[..7].to_string();
    let reply = app
        .get(&format!("/v1/reports/kpis?to={next_month}"), &viewer)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "to");
    // A threshold of zero lists nobody who owes nothing past due.
    let (account, code) = books(&app, "Current Co", 30).await;
    app.issued_invoice(&account, &code, "100.00", today()).await;
    let report = app
        .get("/v1/reports/past-due?threshold=0", &viewer)
        .await
        .expect(200)
        .body;
    assert_eq!(report["rows"], json!([]));
}
