//! The aging reports over HTTP: a small book worked out by hand, as of today and of a past
//! day, every grouping and filter, the detail agreeing with the summary and the ledger, the
//! same figures in CSV and in Excel (read back), refused parameters, and the reports read
//! through `DATABASE_READ_URL`.

use calamine::Data;
use receivables::auth::Role;
use receivables::seed::{self, Options, Progress};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::reports::{books, file, sheet, text};

struct Book {
    a: String,
    b: String,
    c: String,
    partner: String,
    a2: Value,
}

async fn pay(app: &TestApp, account: &str, amount: &str, received: &str, remittance: Value) {
    let mut body = json!({"account_id": account, "amount": amount, "currency": "USD",
        "method": "check", "received_date": d(received)});
    if remittance.is_null() {
        merge(&mut body, json!({"application_mode": "none"}));
    } else {
        merge(&mut body, json!({"remittance": remittance}));
    }
    app.post("/v1/payments", &billing(), &body)
        .await
        .expect(201);
}

/// As of 25 November (net 30 everywhere):
/// - A (partner P, collector-1, risk high): 400.00 of 20 Nov (due 20 Dec: current), 1,000.00 of
///   1 Oct (due 31 Oct: 25 days, 1–30; 200.00 disputed), 700.00 of 1 Jun (due 1 Jul: 147 days,
///   over 120), and 150.00 received today on no invoice → total 2,100.00, net 1,950.00.
/// - B (risk low): 300.00 of 15 Aug (due 14 Sep), paid on 24 Nov → nothing today; on 23 Nov
///   it was open 70 days past due (61–90).
/// - C (risk low): 50.00 received today on no invoice → total 0.00, unapplied 50.00.
async fn book(app: &TestApp) -> Book {
    let partner = id(&app.create_partner("PTR").await);
    let (a, code) = books(app, "Aging One", 30).await;
    app.patch(
        &format!("/v1/accounts/{a}"),
        &admin_token(),
        &json!({"partner_id": partner, "risk_level": "high", "version": 1}),
    )
    .await
    .expect(200);
    let (b, _) = books(app, "Aging Two", 30).await;
    let (c, _) = books(app, "Aging Three", 30).await;
    app.execute(&format!(
        "INSERT INTO collection_profiles (account_id, collector, updated_at) VALUES ('{a}', 'collector-1', now())"
    ))
    .await
    .unwrap();
    app.issued_invoice(&a, &code, "400.00", date("2026-11-20"))
        .await;
    let a2 = app
        .issued_invoice(&a, &code, "1000.00", date("2026-10-01"))
        .await;
    app.issued_invoice(&a, &code, "700.00", date("2026-06-01"))
        .await;
    app.open_dispute_on(&a2, "200.00").await;
    let b1 = app
        .issued_invoice(&b, &code, "300.00", date("2026-08-15"))
        .await;
    pay(app, &a, "150.00", "2026-11-25", Value::Null).await;
    pay(
        app,
        &b,
        "300.00",
        "2026-11-24",
        json!([{"invoice_id": id(&b1), "amount": "300.00"}]),
    )
    .await;
    pay(app, &c, "50.00", "2026-11-25", Value::Null).await;
    Book {
        a,
        b,
        c,
        partner,
        a2,
    }
}

fn figures(row: &Value) -> Vec<String> {
    [
        "current",
        "days_1_30",
        "days_31_60",
        "days_61_90",
        "days_91_120",
        "days_over_120",
        "total",
        "disputed",
        "unapplied",
        "net",
    ]
    .iter()
    .map(|k| {
        row[*k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {row}"))
            .to_string()
    })
    .collect()
}

async fn report(app: &TestApp, path: &str) -> Value {
    app.get(&sh(path), &token(Role::Viewer))
        .await
        .expect(200)
        .body
}

#[tokio::test]
async fn the_summary_buckets_a_hand_worked_book_by_every_grouping_and_filter() {
    let app = spawn_app().await;
    let bk = book(&app).await;
    let summary = report(&app, "/v1/reports/aging-summary").await;
    assert_eq!(
        summary["parameters"],
        json!({"as_of": today().to_string(), "partner_id": null, "collector": null,
            "risk_level": null})
    );
    assert_eq!(summary["group_by"], "account");
    let rows = summary["rows"].as_array().unwrap();
    let keys: Vec<&Value> = rows.iter().map(|r| &r["key"]).collect();
    assert_eq!(keys, vec![&json!(bk.a), &json!(bk.c)], "{rows:?}");
    assert_eq!(rows[0]["label"], "ACC-000001 Aging One");
    assert_eq!(
        figures(&rows[0]),
        [
            "400.00", "1000.00", "0.00", "0.00", "0.00", "700.00", "2100.00", "200.00", "150.00",
            "1950.00"
        ]
    );
    assert_eq!(
        (&rows[0]["accounts"], &rows[0]["open_invoices"]),
        (&json!(1), &json!(3))
    );
    assert_eq!(
        figures(&rows[1]),
        ["0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "50.00", "-50.00"]
    );
    let totals = summary["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(
        figures(&totals[0]),
        [
            "400.00", "1000.00", "0.00", "0.00", "0.00", "700.00", "2100.00", "200.00", "200.00",
            "1900.00"
        ]
    );
    assert_eq!(
        (&totals[0]["accounts"], &totals[0]["open_invoices"]),
        (&json!(2), &json!(3))
    );

    // `net` is each account's ledger balance: open invoices less what is on no invoice.
    for (account, row) in [(&bk.a, &rows[0]), (&bk.c, &rows[1])] {
        let view = app
            .get(&format!("/v1/accounts/{account}"), &billing())
            .await
            .expect(200)
            .body;
        assert_eq!(view["balance"]["balance"], row["net"], "{view}");
    }

    // On 23 November B's invoice was open 70 days past due, and nobody had paid on account.
    let before = report(&app, "/v1/reports/aging-summary?as_of=2026-11-23").await;
    let rows = before["rows"].as_array().unwrap();
    let keys: Vec<&Value> = rows.iter().map(|r| &r["key"]).collect();
    assert_eq!(keys, vec![&json!(bk.a), &json!(bk.b)]);
    assert_eq!(
        figures(&rows[1]),
        ["0.00", "0.00", "0.00", "300.00", "0.00", "0.00", "300.00", "0.00", "0.00", "300.00"]
    );
    assert_eq!(rows[0]["unapplied"], "0.00");

    let by_partner = report(&app, "/v1/reports/aging-summary?group_by=partner").await;
    let labels: Vec<(&Value, &Value, &Value)> = by_partner["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (&r["key"], &r["label"], &r["total"]))
        .collect();
    assert_eq!(
        labels,
        vec![
            (
                &json!(bk.partner),
                &json!("PTR Partner PTR"),
                &json!("2100.00")
            ),
            (&Value::Null, &json!("No partner"), &json!("0.00")),
        ]
    );
    let by_collector = report(&app, "/v1/reports/aging-summary?group_by=collector").await;
    let labels: Vec<&Value> = by_collector["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["label"])
        .collect();
    assert_eq!(labels, vec!["collector-1", "Unassigned"]);
    let total = report(&app, "/v1/reports/aging-summary?group_by=total").await;
    assert_eq!(total["rows"].as_array().unwrap().len(), 1);
    assert_eq!(total["rows"][0]["label"], "All accounts");
    assert_eq!(figures(&total["rows"][0]), figures(&summary["totals"][0]));
    let family = report(&app, "/v1/reports/aging-summary?group_by=family").await;
    assert_eq!(family["rows"].as_array().unwrap().len(), 2);

    for (filter, expected) in [
        (format!("partner_id={}", bk.partner), vec![json!(bk.a)]),
        ("collector=collector-1".to_string(), vec![json!(bk.a)]),
        ("risk_level=low".to_string(), vec![json!(bk.c)]),
        ("risk_level=critical".to_string(), vec![]),
    ] {
        let r = report(&app, &format!("/v1/reports/aging-summary?{filter}")).await;
        let keys: Vec<Value> = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].clone())
            .collect();
        assert_eq!(keys, expected, "{filter}");
    }

    // CSV and Excel hold the JSON's figures.
    let (status, kind, csv) = file(&app, "/v1/reports/aging-summary?format=csv").await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "label,currency,accounts,open_invoices,current,days_1_30,days_31_60,days_61_90,\
         days_91_120,days_over_120,total,disputed,unapplied,net,group_by,key"
    );
    assert_eq!(
        lines[1],
        format!(
            "ACC-000001 Aging One,USD,1,3,400.00,1000.00,0.00,0.00,0.00,700.00,2100.00,200.00,\
             150.00,1950.00,account,{}",
            bk.a
        )
    );
    assert!(
        lines[3].starts_with("Total,USD,2,3,400.00,1000.00,"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("parameter,as_of,{},", today())),
        "{csv}"
    );
    let (_, _, xlsx) = file(&app, "/v1/reports/aging-summary?format=xlsx").await;
    let cells = sheet(xlsx, "Aging summary");
    assert_eq!(text(&cells[1][0]), "ACC-000001 Aging One");
    assert_eq!(cells[1][10], Data::Float(2100.0));
    assert_eq!(cells[2][13], Data::Float(-50.0));
    assert_eq!(text(&cells[3][0]), "Total");
    assert_eq!(cells[3][13], Data::Float(1900.0));
}

#[tokio::test]
async fn the_detail_lists_every_open_invoice_and_unapplied_amount_and_adds_up_to_the_summary() {
    let app = spawn_app().await;
    let bk = book(&app).await;
    let detail = report(&app, "/v1/reports/aging-detail").await;
    let rows = detail["rows"].as_array().unwrap();
    let lines: Vec<(&Value, &Value, &Value, &Value, &Value, &Value)> = rows
        .iter()
        .map(|r| {
            (
                &r["account_id"],
                &r["kind"],
                &r["days_past_due"],
                &r["bucket"],
                &r["balance"],
                &r["unapplied"],
            )
        })
        .collect();
    let (a, c) = (json!(bk.a), json!(bk.c));
    assert_eq!(
        lines,
        vec![
            (
                &a,
                &json!("invoice"),
                &json!(147),
                &json!("over_120"),
                &json!("700.00"),
                &Value::Null
            ),
            (
                &a,
                &json!("invoice"),
                &json!(25),
                &json!("1-30"),
                &json!("1000.00"),
                &Value::Null
            ),
            (
                &a,
                &json!("invoice"),
                &json!(-25),
                &json!("current"),
                &json!("400.00"),
                &Value::Null
            ),
            (
                &a,
                &json!("unapplied"),
                &Value::Null,
                &Value::Null,
                &Value::Null,
                &json!("150.00")
            ),
            (
                &c,
                &json!("unapplied"),
                &Value::Null,
                &Value::Null,
                &Value::Null,
                &json!("50.00")
            ),
        ]
    );
    assert_eq!(rows[1]["invoice_id"], json!(id(&bk.a2)));
    assert_eq!(rows[1]["disputed"], "200.00");
    assert_eq!(rows[1]["due_date"], d("2026-10-31"));
    assert_eq!(
        (
            &rows[0]["collector"],
            &rows[0]["partner_code"],
            &rows[0]["risk_level"]
        ),
        (&json!("collector-1"), &json!("PTR"), &json!("high"))
    );
    let summary = report(&app, "/v1/reports/aging-summary?group_by=total").await;
    assert_eq!(detail["totals"], summary["totals"]);
    assert_eq!(detail["parameters"], summary["parameters"]);

    let past = report(
        &app,
        "/v1/reports/aging-detail?as_of=2026-11-23&risk_level=low",
    )
    .await;
    let rows = past["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            &rows[0]["account_id"],
            &rows[0]["bucket"],
            &rows[0]["balance"]
        ),
        (&json!(bk.b), &json!("61-90"), &json!("300.00"))
    );
    let none = report(&app, "/v1/reports/aging-detail?collector=nobody").await;
    assert_eq!(none["rows"], json!([]));
    assert_eq!(none["totals"], json!([]));

    let (status, kind, csv) = file(&app, "/v1/reports/aging-detail?format=csv").await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "account_number,legal_name,kind,invoice_number,invoice_date,due_date,days_past_due,\
         bucket,currency,balance,disputed,unapplied,collector,partner_code,risk_level,\
         account_id,invoice_id"
    );
    assert!(
        lines[2].starts_with(&format!(
            "ACC-000001,Aging One,invoice,{},{},{},25,1-30,USD,1000.00,200.00,,collector-1,PTR,high,",
            bk.a2["number"].as_str().unwrap(),
            d("2026-10-01"),
            d("2026-10-31")
        )),
        "{csv}"
    );
    assert!(lines[5].starts_with("ACC-000003,Aging Three,unapplied,,,,,,USD,,,50.00,"));
    assert_eq!(
        lines[6],
        "Total,2 accounts,,3 open invoices,,,,,USD,2100.00,200.00,200.00,,,,,"
    );
    assert!(lines[7].starts_with(&format!("parameter,as_of,{}", today())));
    let (status, kind, xlsx) = file(&app, "/v1/reports/aging-detail?format=xlsx").await;
    assert_eq!(
        (status, kind.as_str()),
        (
            200,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    );
    let cells = sheet(xlsx.clone(), "Aging detail");
    assert_eq!(cells.len(), 7, "{cells:?}");
    assert_eq!(text(&cells[1][0]), "ACC-000001");
    assert_eq!(cells[1][9], Data::Float(700.0));
    assert_eq!(cells[2][10], Data::Float(200.0));
    assert_eq!(cells[5][11], Data::Float(50.0));
    assert_eq!(text(&cells[6][0]), "Total");
    assert_eq!(cells[6][9], Data::Float(2100.0));
    assert!(
        matches!(cells[1][5], Data::DateTime(_)),
        "{:?}",
        cells[1][5]
    );
    let parameters = sheet(xlsx, "Parameters");
    assert_eq!(text(&parameters[1][1]), today().to_string());
}

#[tokio::test]
async fn bad_aging_parameters_are_named_and_partners_see_no_aging() {
    let app = spawn_app().await;
    for (query, field) in [("as_of=1800-01-01", "as_of"), ("collector=", "collector")] {
        for report in ["aging-summary", "aging-detail"] {
            let reply = app
                .get(
                    &format!("/v1/reports/{report}?{query}"),
                    &token(Role::Viewer),
                )
                .await
                .expect(422);
            assert_eq!(reply.body["errors"][0]["field"], field, "{report}?{query}");
        }
    }
    app.get(
        "/v1/reports/aging-summary?group_by=region",
        &token(Role::Viewer),
    )
    .await
    .expect(400);
    app.get(
        "/v1/reports/aging-detail?risk_level=extreme",
        &token(Role::Viewer),
    )
    .await
    .expect(400);
    let partner = app.create_partner("PRT").await;
    app.get(
        "/v1/reports/aging-detail",
        &partner_token(id(&partner).parse().unwrap()),
    )
    .await
    .expect(403);
}

/// With `DATABASE_READ_URL`, the reports read there and nothing else does: pointed at another
/// book, the aging reports show that book while the collections aging shows the service's own.
#[tokio::test]
async fn reports_read_through_the_read_url() {
    let replica = spawn_app().await;
    let (other, code) = books(&replica, "Replica Co", 30).await;
    replica
        .issued_invoice(&other, &code, "80.00", date("2026-11-01"))
        .await;
    let app = spawn_app_with(|c| c.database_read_url = Some(service_url(&replica.db_name))).await;
    let (mine, code) = books(&app, "Primary Co", 30).await;
    app.issued_invoice(&mine, &code, "20.00", date("2026-11-01"))
        .await;
    let summary = report(&app, "/v1/reports/aging-summary").await;
    let keys: Vec<&Value> = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["key"])
        .collect();
    assert_eq!(keys, vec![&json!(other)]);
    let detail = report(&app, "/v1/reports/aging-detail").await;
    assert_eq!(detail["rows"][0]["balance"], "80.00");
    let aging = app
        .get("/v1/collections/aging", &token(Role::Viewer))
        .await
        .expect(200)
        .body;
    assert_eq!(aging["rows"][0]["key"], json!(mine));
    assert_eq!(aging["rows"][0]["total"], "20.00");
}

/// On a seeded history (a year of billing, payments, credits, disputes): every account's
/// aging row holds its open invoices' kept balances, its unapplied amount and its ledger
/// balance, and the detail adds up to the summary in JSON and in CSV.
#[tokio::test]
async fn on_a_seeded_history_the_aging_is_the_ledger_and_the_detail_adds_up() {
    let app = spawn_app().await;
    let options = Options {
        accounts: 40,
        contracts: 80,
        invoices: 1200,
        payments: 800,
        months: 12,
        seed: 3,
        as_of: today(),
        threads: 2,
    };
    let url = app.db_url();
    let settings = crate::seed::settings();
    tokio::task::spawn_blocking(move || seed::run(&url, &options, &settings, &Progress::new()))
        .await
        .unwrap()
        .expect("seeded");
    let expected = app
        .value(
            "(SELECT string_agg(id || ' ' || total || ' ' || unapplied || ' ' || net, E'\\n' ORDER BY id)
                FROM (SELECT a.id,
                             round(COALESCE((SELECT sum(balance_due) FROM invoices i
                                              WHERE i.account_id = a.id AND i.status <> 'draft'), 0), 2) AS total,
                             round(COALESCE((SELECT -sum(amount) FROM ledger_entries l
                                              WHERE l.account_id = a.id AND l.invoice_id IS NULL), 0), 2) AS unapplied,
                             round(COALESCE((SELECT sum(amount) FROM ledger_entries l
                                              WHERE l.account_id = a.id), 0), 2) AS net,
                             EXISTS (SELECT 1 FROM invoices i WHERE i.account_id = a.id
                                        AND i.status <> 'draft' AND i.balance_due <> 0) AS owing
                        FROM accounts a) x
               WHERE owing OR unapplied <> 0)",
        )
        .await;
    assert!(expected.lines().count() > 20, "{expected}");
    let summary = report(&app, "/v1/reports/aging-summary").await;
    let mut rows: Vec<String> = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["key"].as_str().unwrap(),
                r["total"].as_str().unwrap(),
                r["unapplied"].as_str().unwrap(),
                r["net"].as_str().unwrap()
            )
        })
        .collect();
    rows.sort();
    assert_eq!(rows.join("\n"), expected);

    let totals = report(&app, "/v1/reports/aging-summary?group_by=total").await["totals"].clone();
    let detail = report(&app, "/v1/reports/aging-detail").await;
    assert_eq!(detail["totals"], totals);
    let lines = detail["rows"].as_array().unwrap();
    let open = lines.iter().filter(|l| l["kind"] == "invoice").count() as i64;
    assert_eq!(json!(open), totals[0]["open_invoices"]);
    let (_, _, csv) = file(&app, "/v1/reports/aging-detail?format=csv").await;
    let csv = String::from_utf8(csv).unwrap();
    let total_line = csv.split("\r\n").find(|l| l.starts_with("Total,")).unwrap();
    let t = &totals[0];
    assert_eq!(
        total_line,
        format!(
            "Total,{} accounts,,{} open invoices,,,,,USD,{},{},{},,,,,",
            t["accounts"],
            t["open_invoices"],
            t["total"].as_str().unwrap(),
            t["disputed"].as_str().unwrap(),
            t["unapplied"].as_str().unwrap()
        )
    );
    assert_eq!(csv.matches("\r\n").count(), lines.len() + 1 + 1 + 4);
}
