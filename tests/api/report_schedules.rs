//! Scheduled reports over HTTP: a schedule runs once on its date however many jobs look at
//! once, its file is what the report's route answers that day, its `report.ready` event goes
//! to its recipients only; refused schedules leave nothing behind.

use receivables::auth::Role;
use serde_json::{json, Value};
use time::Duration;

use crate::helpers::*;
use crate::reports::books;

fn manager() -> String {
    token(Role::CollectionsManager)
}

async fn endpoint(app: &TestApp, url: &str, types: Value) -> String {
    let created = app
        .post(
            "/v1/webhook-endpoints",
            &admin_token(),
            &json!({"url": url, "event_types": types}),
        )
        .await
        .expect(201);
    id(&created.body)
}

async fn schedule(app: &TestApp, body: Value) -> Reply {
    app.post("/v1/report-schedules", &manager(), &body).await
}

async fn run_due(app: &TestApp) -> Value {
    app.post("/v1/report-runs", &manager(), &Value::Null)
        .await
        .expect(200)
        .body
}

/// The body and headers of a GET, whatever its content type.
async fn download(app: &TestApp, path: &str) -> (u16, String, String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(manager())
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status().as_u16();
    (
        status,
        kind,
        disposition,
        response.bytes().await.unwrap().to_vec(),
    )
}

fn weekday_name(date: time::Date) -> String {
    date.weekday().to_string().to_lowercase()
}

/// Two schedules due on 30 November: the past-due report as CSV monthly on day 31 (November
/// has 30) to one endpoint, and the KPIs as JSON weekly on that day's weekday to no one. On
/// the 25th neither is due; on the 30th six jobs at once make one run each; a seventh makes
/// none. Each file is byte for byte (JSON: value for value) what the report's route answers
/// that day with the same parameters.
#[tokio::test]
async fn a_due_schedule_runs_once_however_many_jobs_and_its_file_is_the_routes_answer() {
    let app = spawn_app().await;
    let (account, code) = books(&app, "Scheduled Co", 10).await;
    app.issued_invoice(&account, &code, "15000.00", date("2026-08-01"))
        .await;
    app.issued_invoice(&account, &code, "2500.00", date("2026-11-10"))
        .await;
    let told = endpoint(
        &app,
        "https://reports.example.com/in",
        json!(["invoice.issued"]),
    )
    .await;
    let other = endpoint(&app, "https://other.example.com/in", json!([])).await;
    let day = date("2026-11-30");
    let past_due = schedule(
        &app,
        json!({"report": "past-due", "parameters": {"min_days": "30", "threshold": "1000.00"},
            "format": "csv", "cadence": "monthly", "day_of_month": 31, "recipients": [told],
            "description": "Past due to management"}),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(
        (
            &past_due["report"],
            &past_due["day_of_month"],
            &past_due["recipients"]
        ),
        (&json!("past-due"), &json!(31), &json!([told]))
    );
    let kpis = schedule(
        &app,
        json!({"report": "kpis", "format": "json", "cadence": "weekly",
            "weekday": weekday_name(day)}),
    )
    .await
    .expect(201)
    .body;
    let (past_due, kpis) = (id(&past_due), id(&kpis));

    // The 25th: neither is due.
    let none = run_due(&app).await;
    assert_eq!(
        (&none["run_date"], &none["data"]),
        (&json!(today()), &json!([]))
    );
    assert_eq!(app.count("report_runs").await, 0);

    // The 30th: six jobs at once, one run per schedule.
    app.clock.set(epoch() + Duration::days(5));
    let jobs = (0..6).map(|_| run_due(&app));
    let answers = futures_util::future::join_all(jobs).await;
    let mut made: Vec<String> = answers
        .iter()
        .flat_map(|a| a["data"].as_array().unwrap().clone())
        .map(|r| r["schedule_id"].as_str().unwrap().to_string())
        .collect();
    made.sort();
    let mut expected = vec![past_due.clone(), kpis.clone()];
    expected.sort();
    assert_eq!(made, expected);
    assert_eq!(app.count("report_runs").await, 2);
    for s in [&past_due, &kpis] {
        let where_ = format!("report_runs WHERE schedule_id = '{s}' AND status = 'succeeded'");
        assert_eq!(app.count(&where_).await, 1);
    }
    // A seventh finds nothing left to do.
    assert_eq!(run_due(&app).await["data"], json!([]));
    assert_eq!(app.count("report_runs").await, 2);

    // The past-due file is the route's CSV of that day, byte for byte.
    let runs = app
        .get(
            &format!("/v1/report-runs?schedule_id={past_due}"),
            &manager(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(runs["data"].as_array().unwrap().len(), 1);
    let run = &runs["data"][0];
    assert_eq!(
        (&run["status"], &run["run_date"], &run["format"]),
        (&json!("succeeded"), &json!(day), &json!("csv"))
    );
    let file_path = run["file_path"].as_str().unwrap().to_string();
    assert_eq!(file_path, format!("/v1/report-runs/{}/file", id(run)));
    let (status, kind, disposition, stored) = download(&app, &file_path).await;
    assert_eq!(status, 200);
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert_eq!(
        disposition,
        format!("attachment; filename=\"past-due-{day}.csv\"")
    );
    let route = "/v1/reports/past-due?min_days=30&threshold=1000.00&format=csv";
    let (_, _, _, answered) = download(&app, route).await;
    assert_eq!(
        String::from_utf8(stored.clone()).unwrap(),
        String::from_utf8(answered).unwrap()
    );
    assert!(String::from_utf8(stored.clone())
        .unwrap()
        .contains("15000.00"));
    assert_eq!(run["size_bytes"], json!(stored.len()));
    let got = app
        .get(&format!("/v1/report-runs/{}", id(run)), &manager())
        .await;
    assert_eq!(
        got.expect(200).body["file_name"],
        json!(format!("past-due-{day}.csv"))
    );

    // The KPI file is the route's JSON of that day.
    let runs = app
        .get(&format!("/v1/report-runs?schedule_id={kpis}"), &manager())
        .await
        .expect(200)
        .body;
    let kpi_run = &runs["data"][0];
    let (status, kind, _, stored) = download(&app, kpi_run["file_path"].as_str().unwrap()).await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let stored: Value = serde_json::from_slice(&stored).unwrap();
    let answered = app
        .get("/v1/reports/kpis", &manager())
        .await
        .expect(200)
        .body;
    assert_eq!(stored, answered);
    assert!(stored["rows"].is_array());

    // One `report.ready` event per run; the past-due one delivered to its recipient only
    // (although it subscribes to another type), the KPI one to no one.
    assert_eq!(
        app.count("outbox_events WHERE type = 'report.ready'").await,
        2
    );
    let event = app
        .value(&format!(
            "(SELECT data::text FROM outbox_events WHERE type = 'report.ready'
               AND resource_id = '{}')",
            id(run)
        ))
        .await;
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(
        (&event["run_id"], &event["schedule_id"], &event["report"]),
        (&json!(id(run)), &json!(past_due), &json!("past-due"))
    );
    assert_eq!(
        (&event["format"], &event["run_date"], &event["file_path"]),
        (&json!("csv"), &json!(day), &json!(file_path))
    );
    let deliveries = |endpoint: &str, run: &str| {
        format!(
            "webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id
             WHERE d.endpoint_id = '{endpoint}' AND e.resource_id = '{run}'"
        )
    };
    assert_eq!(app.count(&deliveries(&told, &id(run))).await, 1);
    assert_eq!(app.count(&deliveries(&other, &id(run))).await, 0);
    let kpi_deliveries = format!(
        "webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id
         WHERE e.resource_id = '{}'",
        id(kpi_run)
    );
    assert_eq!(app.count(&kpi_deliveries).await, 0);
    assert_eq!(
        app.count("audit_events WHERE action = 'report_run.succeeded'")
            .await,
        2
    );

    // Another day: the weekly one is due again a week later, the monthly one is not.
    app.clock.set(epoch() + Duration::days(12));
    let later = run_due(&app).await;
    assert_eq!(later["data"].as_array().unwrap().len(), 1);
    assert_eq!(later["data"][0]["schedule_id"], json!(kpis));
}

/// A report that refuses its parameters when it runs (written past the checks, as an older
/// release might have stored it) fails, keeps its error, has no file and is not retried.
#[tokio::test]
async fn a_failed_run_keeps_its_error_and_is_not_retried() {
    let app = spawn_app().await;
    let created = schedule(
        &app,
        json!({"report": "past-due", "format": "xlsx", "cadence": "monthly",
            "day_of_month": today().day()}),
    )
    .await
    .expect(201)
    .body;
    let schedule_id = id(&created);
    app.execute(&format!(
        "UPDATE report_schedules SET parameters = '{{\"min_days\": \"0\"}}' WHERE id = '{schedule_id}'"
    ))
    .await
    .unwrap();
    let done = run_due(&app).await;
    let run = &done["data"][0];
    assert_eq!(run["status"], json!("failed"));
    assert_eq!(run["file_path"], Value::Null);
    assert!(run["error"]
        .as_str()
        .unwrap()
        .contains("parameters.min_days"));
    let file = app
        .get(&format!("/v1/report-runs/{}/file", id(run)), &manager())
        .await;
    file.expect_problem(409, "report_run_failed");
    assert_eq!(run_due(&app).await["data"], json!([]));
    assert_eq!(app.count("report_runs WHERE status = 'failed'").await, 1);
    assert_eq!(
        app.count("outbox_events WHERE type = 'report.ready'").await,
        0
    );
}

/// Every refusal is a 422 naming its field, and writes nothing.
#[tokio::test]
async fn refused_schedules_change_nothing() {
    let app = spawn_app().await;
    let disabled = endpoint(&app, "https://off.example.com/in", json!([])).await;
    app.execute(&format!(
        "UPDATE webhook_endpoints SET enabled = false WHERE id = '{disabled}'"
    ))
    .await
    .unwrap();
    let base = json!({"report": "past-due", "format": "csv", "cadence": "monthly",
        "day_of_month": 1});
    let cases = [
        (json!({"report": "aging-fantasy"}), "report"),
        (
            json!({"parameters": {"min_days": "0"}}),
            "parameters.min_days",
        ),
        (
            json!({"parameters": {"min_days": "soon"}}),
            "parameters.min_days",
        ),
        (
            json!({"parameters": {"threshold": 5}}),
            "parameters.threshold",
        ),
        (
            json!({"parameters": {"as_of": d("2026-11-01")}}),
            "parameters.as_of",
        ),
        (
            json!({"parameters": {"format": "xlsx"}}),
            "parameters.format",
        ),
        (
            json!({"parameters": {"colour": "red"}}),
            "parameters.colour",
        ),
        (json!({"recipients": [uuid::Uuid::now_v7()]}), "recipients"),
        (json!({"recipients": [disabled]}), "recipients"),
        (json!({"day_of_month": 32}), "day_of_month"),
        (json!({"day_of_month": 0}), "day_of_month"),
        (json!({"day_of_month": null}), "day_of_month"),
        (json!({"cadence": "weekly"}), "weekday"),
        (json!({"format": "pdf"}), "format"),
    ];
    for (change, field) in cases {
        let mut body = base.clone();
        merge(&mut body, change.clone());
        let reply = schedule(&app, body)
            .await
            .expect_problem(422, "validation_failed");
        let fields: Vec<&str> = reply.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{change}: {}", reply.body);
    }
    let billing = app.post("/v1/report-schedules", &billing(), &base).await;
    billing.expect_problem(403, "forbidden");
    assert_eq!(app.count("report_schedules").await, 0);
    assert_eq!(
        app.count("audit_events WHERE entity_type = 'report_schedule'")
            .await,
        0
    );
    assert_eq!(app.count("report_runs").await, 0);
}

/// A schedule is created once per idempotency key, listed, changed under its version, and
/// once deactivated does not run on its day.
#[tokio::test]
async fn schedules_are_listed_changed_and_deactivated() {
    let app = spawn_app().await;
    let body = json!({"report": "credits", "format": "xlsx", "cadence": "weekly",
        "weekday": weekday_name(today())});
    let first = app
        .post_with_key("/v1/report-schedules", &manager(), "sched-1", &body)
        .await
        .expect(201)
        .body;
    let again = app
        .post_with_key("/v1/report-schedules", &manager(), "sched-1", &body)
        .await
        .expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(id(&again.body), id(&first));
    assert_eq!(app.count("report_schedules").await, 1);
    let schedule_id = id(&first);
    let path = format!("/v1/report-schedules/{schedule_id}");
    let got = app.get(&path, &token(Role::Viewer)).await.expect(200);
    assert_eq!(got.header("etag"), Some("\"1\""));
    let list = app
        .get("/v1/report-schedules?report=credits", &manager())
        .await;
    assert_eq!(list.expect(200).body["data"].as_array().unwrap().len(), 1);

    // A weekly schedule made monthly needs its day; a stale version is refused.
    let reply = app
        .patch(
            &path,
            &manager(),
            &json!({"cadence": "monthly", "version": 1}),
        )
        .await;
    assert_eq!(
        reply.expect_problem(422, "validation_failed").error_field(),
        "day_of_month"
    );
    let changed = app
        .patch(
            &path,
            &manager(),
            &json!({"cadence": "monthly", "day_of_month": 31, "version": 1}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            &changed["cadence"],
            &changed["day_of_month"],
            &changed["weekday"],
            &changed["version"]
        ),
        (&json!("monthly"), &json!(31), &Value::Null, &json!(2))
    );
    app.patch(&path, &manager(), &json!({"active": false, "version": 1}))
        .await
        .expect_problem(409, "version_conflict");
    let off = app
        .patch(&path, &manager(), &json!({"active": false, "version": 2}))
        .await
        .expect(200)
        .body;
    assert_eq!(off["active"], json!(false));
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_id = '{schedule_id}' AND action = 'report_schedule.updated'"
        ))
        .await,
        2
    );
    // Its day (30 November, the month's last): inactive, it does not run.
    app.clock.set(epoch() + Duration::days(5));
    assert_eq!(run_due(&app).await["data"], json!([]));
    assert_eq!(app.count("report_runs").await, 0);
    app.patch(&path, &manager(), &json!({"active": true, "version": 3}))
        .await
        .expect(200);
    // Run with a key: a retry answers the first answer, not an empty list.
    let first = app
        .post_with_key("/v1/report-runs", &manager(), "run-1", &Value::Null)
        .await
        .expect(200);
    assert_eq!(first.body["data"].as_array().unwrap().len(), 1);
    let retry = app
        .post_with_key("/v1/report-runs", &manager(), "run-1", &Value::Null)
        .await
        .expect(200);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body, first.body);
    assert_eq!(run_due(&app).await["data"], json!([]));
    assert_eq!(app.count("report_runs").await, 1);
}
