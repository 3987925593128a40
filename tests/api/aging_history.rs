//! The aging as of any day reads the kept balances (`balance_due` less the entries dated after
//! the day): on random histories it equals the aging summed from every ledger entry dated by
//! then, invoice by invoice and in the report's totals.

use receivables::collections::aging::AGED;
use receivables::seed::Options;
use serde_json::{json, Value};
use time::{Date, Duration};

use crate::helpers::*;

/// The open invoices at the end of `$1` from the whole ledger: what the aging read before the
/// kept balances, the reference [`AGED`] must equal.
const LEDGER_AGED: &str = "WITH open AS (
             SELECT l.invoice_id, sum(l.amount) AS balance
               FROM ledger_entries l
              WHERE l.invoice_id IS NOT NULL AND l.entry_date <= $1
              GROUP BY l.invoice_id
             HAVING sum(l.amount) <> 0),
         disputed AS (
             SELECT d.invoice_id, sum(d.amount) AS amount
               FROM disputes d
              WHERE d.opened_on <= $1 AND (d.resolved_at IS NULL OR d.resolved_at >= $2)
              GROUP BY d.invoice_id),
         aged AS (
             SELECT i.account_id, i.currency, o.balance, $1 - i.due_date AS days,
                    i.id AS invoice_id, i.number AS invoice_number, i.invoice_date, i.due_date,
                    LEAST(COALESCE(x.amount, 0), GREATEST(o.balance, 0)) AS disputed
               FROM open o
               JOIN invoices i ON i.id = o.invoice_id
               LEFT JOIN disputed x ON x.invoice_id = o.invoice_id)";

/// Every row of an `aged` table as of `day`, in invoice order, as one text.
async fn aged(app: &TestApp, with: &str, day: Date) -> (String, i64) {
    let sql = with.replace("$1", &format!("'{day}'::date")).replace(
        "$2",
        &format!("('{}'::date)::timestamptz", day + Duration::days(1)),
    );
    let rows = app
        .value(&format!(
            "{sql} SELECT COALESCE(string_agg(concat_ws(' ', invoice_id, account_id, currency,
                    balance, days, invoice_number, invoice_date, due_date, disputed), E'\\n'
                    ORDER BY invoice_id), '') FROM aged"
        ))
        .await;
    let n = rows.lines().count() as i64;
    (rows, n)
}

/// The report's one row of totals per currency against the reference's sums.
async fn report_totals(app: &TestApp, day: Date) -> (Value, Value) {
    let report = app
        .get(
            &format!("/v1/collections/aging?as_of={day}&group_by=none"),
            &token(receivables::auth::Role::Collections),
        )
        .await
        .expect(200)
        .body;
    let got: Vec<Value> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["currency"], r["total"], r["disputed"], r["open_invoices"]]))
        .collect();
    let sql = LEDGER_AGED
        .replace("$1", &format!("'{day}'::date"))
        .replace(
            "$2",
            &format!("('{}'::date)::timestamptz", day + Duration::days(1)),
        );
    let expected = app
        .value(&format!(
            "{sql} SELECT COALESCE(json_agg(json_build_array(currency, total::text, disputed::text, n)
                    ORDER BY total DESC, currency), '[]') FROM (
                SELECT currency, round(sum(balance), 2) AS total,
                       round(sum(disputed), 2) AS disputed, count(*) AS n
                  FROM aged GROUP BY currency) t"
        ))
        .await;
    (json!(got), serde_json::from_str(&expected).unwrap())
}

/// What the seed does not make: an invoice issued with a later date and partly paid by a
/// payment dated before that, a paid invoice reopened by the payment's return a week ago (with
/// its fee invoice), an invoice
/// voided today; each moves a balance on a day other than the one it was recorded.
async fn extras(app: &TestApp) {
    let account = id(&app
        .create_account(json!({"legal_name": "Quill Copiers Ltd"}))
        .await);
    let code = app.financial_code("4990", "revenue").await;
    app.financial_code("4950", "fee").await;
    let t = today();
    let ahead = app
        .issued_invoice(&account, &code, "300.00", t + Duration::days(10))
        .await;
    app.pay_invoice(&account, &ahead, "120.00", t - Duration::days(3))
        .await;
    let reopened = app
        .issued_invoice(&account, &code, "500.00", t - Duration::days(40))
        .await;
    let paid = app
        .pay_invoice(&account, &reopened, "500.00", t - Duration::days(20))
        .await;
    app.post(
        &format!("/v1/payments/{}/return", id(&paid)),
        &billing(),
        &json!({"reason": "nsf", "return_code": "R01",
            "returned_on": (t - Duration::days(7)).to_string(), "charge_fee": true}),
    )
    .await
    .expect(200);
    let voided = app
        .issued_invoice(&account, &code, "200.00", t - Duration::days(30))
        .await;
    app.post(
        &format!("/v1/invoices/{}/void", id(&voided)),
        &billing(),
        &json!({"reason": "Billed twice"}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_aging_from_kept_balances_equals_the_ledger_on_random_histories() {
    for seed in [3, 29] {
        let app = spawn_app().await;
        let options = Options {
            accounts: 40,
            contracts: 120,
            invoices: 1500,
            payments: 1000,
            months: 8,
            seed,
            ..crate::seed::options()
        };
        let summary = crate::seed::seed(&app, options).await.expect("seeded");
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        extras(&app).await;
        assert_books_balance(&app).await;
        let first = app
            .value("SELECT min(entry_date) FROM ledger_entries")
            .await;
        let first = Date::parse(&first, &time::format_description::well_known::Iso8601::DATE)
            .expect("a seeded ledger");
        let mut days: Vec<Date> = (0..)
            .map(|k| first - Duration::days(1) + Duration::days(9 * k))
            .take_while(|d| *d < today())
            .collect();
        days.extend([-3, -1, 0, 9, 10, 11, 45].map(|k| today() + Duration::days(k)));
        let mut seen_open = 0;
        for day in days {
            let (kept, n) = aged(&app, AGED, day).await;
            let (ledger, _) = aged(&app, LEDGER_AGED, day).await;
            assert_eq!(kept, ledger, "seed {seed}, as of {day}");
            seen_open = seen_open.max(n);
            let (got, expected) = report_totals(&app, day).await;
            assert_eq!(got, expected, "seed {seed}, as of {day}");
        }
        // The comparison is about something: the books had hundreds of invoices open.
        assert!(seen_open > 100, "seed {seed}: at most {seen_open} open");
    }
}
