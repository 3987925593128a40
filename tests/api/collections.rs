//! Collections over HTTP: the aging as of past dates, reconstructed from the ledger.

use receivables::auth::Role;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;

fn day(offset: i64) -> time::Date {
    today() + Duration::days(offset)
}

/// The buckets of an aging row, in order: current, 1–30, 31–60, 61–90, 91–120, over 120,
/// disputed, total.
fn buckets(row: &Value) -> Vec<&str> {
    [
        "current",
        "days_1_30",
        "days_31_60",
        "days_61_90",
        "days_91_120",
        "days_over_120",
        "disputed",
        "total",
    ]
    .iter()
    .map(|k| row[*k].as_str().unwrap())
    .collect()
}

async fn aging(app: &TestApp, query: &str) -> Value {
    app.get(
        &format!("/v1/collections/aging?{query}"),
        &token(Role::Collections),
    )
    .await
    .expect(200)
    .body
}

fn row<'a>(aging: &'a Value, label_start: &str) -> &'a Value {
    aging["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"].as_str().unwrap().starts_with(label_start))
        .unwrap_or_else(|| panic!("no row {label_start} in {aging}"))
}

/// A hand-worked ledger (terms net 30, T = today):
///
/// | invoice | account | amount | dated | due   | later                                  |
/// |---------|---------|--------|-------|-------|----------------------------------------|
/// | I1      | X       | 1000   | T−200 | T−170 | 300 paid on T−60                       |
/// | I2      | X       | 500    | T−100 | T−70  | 200 disputed from T                    |
/// | I3      | Y       | 250    | T−40  | T−10  | paid in full on T                      |
/// | I4      | Y       | 100    | T−10  | T+20  |                                        |
/// | I5      | X       | 80     | T−50  | T−20  | voided on T                            |
///
/// As of T−80: X has I1 1000 at 90 days (61–90) and I2 500 current; nothing else is issued.
/// As of T−5: X has I1 700 (over 120), I2 500 (61–90), I5 80 (1–30: the void comes later);
/// Y has I3 250 (1–30: its payment comes later) and I4 100 current.
/// As of T: X has I1 700 (over 120) and I2 500 (61–90, 200 of it disputed); Y has I4 100.
#[tokio::test]
async fn the_aging_as_of_three_dates_follows_the_ledger() {
    let app = spawn_app().await;
    let partner = app.create_partner("DLR-7").await;
    let x = id(&app
        .create_account(json!({"legal_name": "Xylo Print Ltd", "partner_id": partner["id"]}))
        .await);
    let y = id(&app
        .create_account(json!({"legal_name": "Yarrow Offices LLC"}))
        .await);
    let code = app.financial_code("4000", "revenue").await;
    let i1 = app.issued_invoice(&x, &code, "1000.00", day(-200)).await;
    let i2 = app.issued_invoice(&x, &code, "500.00", day(-100)).await;
    let i3 = app.issued_invoice(&y, &code, "250.00", day(-40)).await;
    app.issued_invoice(&y, &code, "100.00", day(-10)).await;
    let i5 = app.issued_invoice(&x, &code, "80.00", day(-50)).await;
    app.pay_invoice(&x, &i1, "300.00", day(-60)).await;
    app.pay_invoice(&y, &i3, "250.00", day(0)).await;
    app.post(
        &format!("/v1/invoices/{}/void", id(&i5)),
        &billing(),
        &json!({"reason": "Billed twice"}),
    )
    .await
    .expect(200);
    app.open_dispute_on(&i2, "200.00").await;

    let early = aging(&app, &format!("as_of={}", day(-80))).await;
    assert_eq!(early["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        buckets(row(&early, "ACC")),
        ["500.00", "0.00", "0.00", "1000.00", "0.00", "0.00", "0.00", "1500.00"]
    );
    assert_eq!(row(&early, "ACC")["key"], json!(x));

    let before = aging(&app, &format!("as_of={}", day(-5))).await;
    let rows = before["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // Largest total first.
    assert_eq!(rows[0]["key"], json!(x));
    assert_eq!(
        buckets(&rows[0]),
        ["0.00", "80.00", "0.00", "500.00", "0.00", "700.00", "0.00", "1280.00"]
    );
    assert_eq!(rows[0]["open_invoices"], 3);
    assert_eq!(
        buckets(&rows[1]),
        ["100.00", "250.00", "0.00", "0.00", "0.00", "0.00", "0.00", "350.00"]
    );
    assert_eq!(
        buckets(&before["totals"][0]),
        ["100.00", "330.00", "0.00", "500.00", "0.00", "700.00", "0.00", "1630.00"]
    );

    let now = aging(&app, "").await;
    assert_eq!(now["as_of"], today().to_string());
    assert_eq!(
        buckets(row(&now, "ACC")),
        ["0.00", "0.00", "0.00", "500.00", "0.00", "700.00", "200.00", "1200.00"]
    );
    // Today's totals equal the open balances the accounts show.
    for (account, open) in [(&x, "1200.00"), (&y, "100.00")] {
        let body = app
            .get(&format!("/v1/accounts/{account}"), &billing())
            .await
            .expect(200)
            .body;
        assert_eq!(body["balance"]["open_balance"], open);
    }
    assert_eq!(now["totals"][0]["total"], "1300.00");

    let by_partner = aging(&app, "group_by=partner").await;
    assert_eq!(row(&by_partner, "DLR-7")["total"], "1200.00");
    assert_eq!(row(&by_partner, "DLR-7")["key"], partner["id"]);
    assert_eq!(row(&by_partner, "No partner")["total"], "100.00");
    let all = aging(&app, &format!("group_by=none&as_of={}", day(-5))).await;
    assert_eq!(all["rows"].as_array().unwrap().len(), 1);
    assert_eq!(all["rows"][0]["label"], "All accounts");
    assert_eq!(all["rows"][0]["total"], "1630.00");

    app.get("/v1/collections/aging?group_by=region", &billing())
        .await
        .expect(400);
    app.get("/v1/collections/aging?as_of=yesterday", &billing())
        .await
        .expect(400);
    app.get(
        "/v1/collections/aging",
        &partner_token(uuid::Uuid::now_v7()),
    )
    .await
    .expect_problem(403, "forbidden");
}
