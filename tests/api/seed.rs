//! `receivables seed`: a small seeded history whose books reconcile, whose documents are
//! numbered without gaps in date order, and which the API reads, pays and bills like any
//! other data.

use receivables::auth::Role;
use receivables::seed::{self, Options, Progress, Settings};
use serde_json::json;

use crate::helpers::*;

pub fn options() -> Options {
    Options {
        accounts: 120,
        // More than two chunks of a billing run, so that its lanes bill side by side.
        contracts: 450,
        invoices: 6000,
        payments: 4200,
        months: 12,
        seed: 7,
        as_of: today(),
        threads: 2,
    }
}

pub fn settings() -> Settings {
    let config = test_config("postgres://unused");
    Settings {
        billing: config.billing,
        small_balance_tolerance: config.payments.small_balance_tolerance,
        dispute_sla_business_days: config.credits.dispute_sla_business_days,
        holidays: config.credits.holidays,
    }
}

pub async fn seed(app: &TestApp, options: Options) -> Result<seed::Summary, String> {
    let url = app.db_url();
    tokio::task::spawn_blocking(move || seed::run(&url, &options, &settings(), &Progress::new()))
        .await
        .expect("the seed task")
}

/// Every constraint and index of the schema, as PostgreSQL describes them.
const SCHEMA: &str = "SELECT string_agg(d, E'\\n' ORDER BY d) FROM (
    SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS d
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public') x";

#[tokio::test]
async fn a_seeded_history_reconciles_and_is_numbered_in_date_order() {
    let app = spawn_app().await;
    let schema = app.value(SCHEMA).await;
    let summary = seed(&app, options()).await.expect("seeded");
    // Keys, indexes and foreign keys set aside for the load are all back, as they were.
    assert_eq!(app.value(SCHEMA).await, schema);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let rows = |table: &str| {
        summary
            .rows
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n as i64)
    };
    assert_eq!(rows("accounts"), 120);
    assert_eq!(rows("contracts"), 450);
    assert_eq!(summary.invoices as i64, rows("invoices"));
    assert!(
        (5400..6600).contains(&rows("invoices")),
        "{}",
        rows("invoices")
    );
    assert!(
        (3300..5100).contains(&rows("payments")),
        "{}",
        rows("payments")
    );
    for (table, n) in &summary.rows {
        assert_eq!(app.count(table).await, *n as i64, "{table}");
    }
    assert_books_balance(&app).await;

    // Invoices of every kind and state a receivables book has.
    let past_due = format!(
        "invoices WHERE status = 'open' AND due_date < '{}'",
        today()
    );
    let not_yet_due = format!(
        "invoices WHERE status = 'open' AND due_date >= '{}'",
        today()
    );
    for (what, from_where) in [
        (
            "billing-run invoices",
            "invoices WHERE billing_run_id IS NOT NULL",
        ),
        ("one-off invoices", "invoices WHERE billing_run_id IS NULL"),
        ("paid invoices", "invoices WHERE status = 'paid'"),
        ("past due", past_due.as_str()),
        ("not yet due", not_yet_due.as_str()),
        (
            "partly paid",
            "invoices WHERE status = 'open' AND amount_paid > 0",
        ),
        ("usage lines", "invoice_lines WHERE kind = 'usage'"),
        (
            "estimated readings",
            "meter_readings WHERE source = 'estimated'",
        ),
        (
            "payments applied in full",
            "payments WHERE status = 'applied'",
        ),
        (
            "payments with cash left",
            "payments WHERE status IN ('unapplied', 'partially_applied')",
        ),
        ("open deductions", "deductions WHERE status = 'open'"),
        (
            "disputes still open",
            "disputes WHERE status IN ('open', 'under_review')",
        ),
        (
            "disputes credited",
            "disputes WHERE status = 'resolved_valid' AND credit_memo_id IS NOT NULL",
        ),
        (
            "credit memos applied",
            "credit_memos WHERE status = 'issued' AND amount_applied > 0",
        ),
        (
            "small-balance write-offs",
            "adjustments WHERE kind = 'small_balance_write_off'",
        ),
        ("billed periods", "billed_periods"),
        ("billed meter periods", "meter_periods"),
    ] {
        assert!(app.count(from_where).await > 0, "no {what}");
    }
    // Amounts are exact: each one-off line is its quantity times its price, rounded half-up.
    assert_eq!(
        app.count(
            "invoice_lines WHERE kind = 'manual' AND amount <> round(quantity * unit_price, 2)"
        )
        .await,
        0
    );
    assert_eq!(
        app.count("invoices WHERE total <> subtotal + tax_total")
            .await,
        0
    );
    numbered_without_gaps_in_date_order(&app).await;
    assert_eq!(
        app.value("SELECT last_value = (SELECT count(*) FROM payments) FROM payment_numbers")
            .await,
        "true"
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'database.seeded'")
            .await,
        1
    );

    // The API reads the seeded invoices as it reads its own.
    let billing = token(Role::Billing);
    let id = app
        .value("SELECT id FROM invoices WHERE status = 'open' AND amount_paid > 0 LIMIT 1")
        .await;
    let invoice = app
        .get(&format!("/v1/invoices/{id}"), &billing)
        .await
        .expect(200)
        .body;
    assert_eq!(
        invoice["balance_due"].as_str().unwrap(),
        app.value(&format!(
            "SELECT balance_due FROM invoices WHERE id = '{id}'"
        ))
        .await
    );
    assert!(!invoice["lines"].as_array().unwrap().is_empty());
    assert!(!invoice["payments"].as_array().unwrap().is_empty());
    let account = invoice["account_id"].as_str().unwrap().to_string();
    let page = app
        .get(
            &format!("/v1/invoices?account_id={account}&limit=50"),
            &billing,
        )
        .await
        .expect(200)
        .body;
    assert!(!page["data"].as_array().unwrap().is_empty());
    let aging = app
        .get(
            "/v1/collections/aging?group_by=none",
            &token(Role::Collections),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        aging["totals"][0]["total"].as_str().unwrap(),
        app.value("SELECT sum(balance_due) FROM invoices WHERE status = 'open'")
            .await
    );

    // Cash and billing go on from where the history ends.
    let payment = app
        .post_with_key(
            "/v1/payments",
            &billing,
            "seeded-1",
            &json!({"account_id": account, "amount": "100.00", "currency": "USD",
                    "method": "ach", "received_date": today().to_string()}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(payment["status"], "applied");
    let before = app.count("invoices").await;
    let run = app
        .billing_run(json!({"as_of": today().to_string(), "mode": "issue"}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["progress"]["contracts_total"], 450);
    assert_eq!(run["progress"]["contracts_done"], 450);
    assert_eq!(run["progress"]["errors"], 0, "{run}");
    assert!(app.count("invoices").await > before);
    numbered_without_gaps_in_date_order(&app).await;
    let again = app
        .billing_run(json!({"as_of": today().to_string(), "mode": "issue"}))
        .await;
    assert_eq!(again["progress"]["invoices_created"], 0, "{again}");
    assert_books_balance(&app).await;
}

/// Invoice and credit-memo numbers are gapless per series and follow their dates, and the
/// counters continue after them.
async fn numbered_without_gaps_in_date_order(app: &TestApp) {
    let series = "substring(number from '^(.*)-[0-9]+$')";
    let seq = "substring(number from '[0-9]+$')::int";
    for table in ["invoices", "credit_memos"] {
        assert_eq!(
            app.count(&format!(
                "(SELECT {series} AS s, count(*) AS c, max({seq}) AS m FROM {table}
                   WHERE number IS NOT NULL GROUP BY 1) x WHERE c <> m"
            ))
            .await,
            0,
            "{table} numbered with gaps"
        );
    }
    let date = |table: &str| {
        if table == "invoices" {
            "invoice_date"
        } else {
            "credit_date"
        }
    };
    for table in ["invoices", "credit_memos"] {
        assert_eq!(
            app.count(&format!(
                "(SELECT {d} AS d, lag({d}) OVER (PARTITION BY {series} ORDER BY {seq}) AS prev
                   FROM {table} WHERE number IS NOT NULL) x WHERE prev > d",
                d = date(table)
            ))
            .await,
            0,
            "{table} numbers out of date order"
        );
    }
    assert_eq!(
        app.count(&format!(
            "(SELECT {series} AS s, max({seq}) AS m FROM invoices WHERE number IS NOT NULL GROUP BY 1) x
              JOIN number_series n ON n.series = 'invoice:INV:' || substring(x.s from '[0-9]{{4}}$')
             WHERE n.next_value <> x.m + 1"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn seeding_refuses_a_database_that_holds_data_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_account(json!({})).await;
    let err = seed(&app, options()).await.unwrap_err();
    assert!(err.contains("already holds"), "{err}");
    assert_eq!(app.count("accounts").await, 1);
    assert_eq!(app.count("invoices").await, 0);
}
