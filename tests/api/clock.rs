//! The service's one clock: a day of work done with the clock set years away from the real
//! date leaves no timestamp and no business date from anywhere else.

use receivables::auth::Role;
use serde_json::json;
use time::macros::datetime;
use time::Duration;

use crate::helpers::*;

/// Every `timestamptz` column of the service's tables, but the billing workers' heartbeats
/// (the database's own time, shared by every instance to tell live workers from dead ones)
/// and the migrations' bookkeeping.
async fn timestamp_columns(app: &TestApp) -> Vec<(String, String)> {
    let list = app
        .value(
            "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name)
               FROM information_schema.columns
              WHERE table_schema = 'public' AND data_type = 'timestamp with time zone'
                AND NOT (table_name = 'billing_runs' AND column_name = 'heartbeat_at')
                AND table_name NOT LIKE '\\_\\_%'",
        )
        .await;
    list.split(',')
        .map(|c| {
            let (t, c) = c.split_once('.').expect("table.column");
            (t.to_string(), c.to_string())
        })
        .collect()
}

#[tokio::test]
async fn every_date_and_timestamp_comes_from_the_services_clock() {
    let app = spawn_app().await;
    // Years away from the real date and from the default test clock.
    let start = datetime!(2041-03-11 09:00 UTC);
    app.clock.set(start);
    let today = app.clock.today();
    let revenue = app.financial_code("4000", "revenue").await;
    app.financial_code("4800", "credit").await;
    let account = id(&app.create_account(json!({})).await);
    let contract = app
        .active_contract(json!({"account_id": account, "kind": "lease",
            "start_date": (today - Duration::days(40)).to_string(), "anchor_day": 1,
            "charges": [{"description": "Base", "amount": "250.00", "financial_code_id": revenue}]}))
        .await;
    let run = app
        .billing_run(json!({"as_of": today.to_string(), "mode": "issue"}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let invoice = app
        .issued_invoice(&account, &revenue, "100.00", today - Duration::days(45))
        .await;
    // Due 15 days ago on the service's clock, not on the real one.
    assert_eq!(invoice["days_past_due"], 15);
    app.post(
        "/v1/payments",
        &billing(),
        &json!({"account_id": account, "amount": "40.00", "currency": "USD", "method": "check",
                "received_date": today.to_string()}),
    )
    .await
    .expect(201);
    let dispute = app.open_dispute_on(&invoice, "10.00").await;
    assert_eq!(dispute["opened_on"], today.to_string());
    app.post(
        "/v1/tasks",
        &billing(),
        &json!({"type": "call_customer", "subject_type": "contract", "subject_id": contract,
                "title": "Call", "due_date": today.to_string()}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/v1/accounts/{account}/notes"),
        &token(Role::Collections),
        &json!({"channel": "call", "direction": "outbound", "outcome": "no_answer", "text": "Rang"}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/collections/dunning-runs",
        &token(Role::CollectionsManager),
        &json!({}),
    )
    .await
    .expect(201);
    let got = app
        .get(&format!("/v1/accounts/{account}/statement"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(got["to"], today.to_string(), "the statement ends today");

    let end = app.clock.now();
    let (from, to) = (start - Duration::minutes(1), end + Duration::minutes(1));
    let columns = timestamp_columns(&app).await;
    assert!(columns.len() > 40, "{columns:?}");
    for (table, column) in columns {
        let outside = app
            .count(&format!(
                "{table} WHERE {column} < '{from}' OR {column} > '{to}'"
            ))
            .await;
        assert_eq!(outside, 0, "{table}.{column} has times not from the clock");
    }
    assert!(
        app.count(&format!("audit_events WHERE occurred_at >= '{from}'"))
            .await
            > 10
    );
    assert_books_balance(&app).await;
}
