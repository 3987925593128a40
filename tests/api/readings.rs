//! Meter readings over HTTP.

use futures_util::future::join_all;
use receivables::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn fields(body: &Value) -> Vec<(String, String)> {
    body["errors"]
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

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_string(), code.to_string())
}

async fn revenue_code(app: &TestApp) -> String {
    id(&app
        .post(
            "/v1/financial-codes",
            &admin_token(),
            &json!({"code": "4200-USAGE", "name": "Usage revenue", "kind": "revenue"}),
        )
        .await
        .expect(201)
        .body)
}

/// An active contract of `account` with a copier installed on 2025-01-01 whose `bw` meter
/// read 1000 at installation (and a `color` meter never read); returns the two meter ids.
async fn meters_of_account(
    app: &TestApp,
    account: &Value,
    code: &str,
    serial: &str,
) -> (String, String) {
    let contract = app
        .post(
            "/v1/contracts",
            &admin_token(),
            &json!({"account_id": account["id"], "kind": "service", "start_date": d("2025-01-01"),
                    "charges": [{"description": "Service", "amount": "50.00", "financial_code_id": code}]}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/contracts/{}/activate", id(&contract)),
        &admin_token(),
        &json!({}),
    )
    .await
    .expect(200);
    let equipment = app
        .post(
            &format!("/v1/contracts/{}/equipment", id(&contract)),
            &admin_token(),
            &json!({"serial_number": serial, "make": "Ricoh", "model": "IM C3000", "installed_on": d("2025-01-01"),
                    "meters": [
                        {"meter_type": "bw", "included_units": 5000, "overage_rate": "0.0085",
                         "financial_code_id": code, "initial_reading": 1000},
                        {"meter_type": "color", "included_units": 1000, "overage_rate": "0.045",
                         "financial_code_id": code}
                    ]}),
        )
        .await
        .expect(201)
        .body;
    let meter = |t: &str| {
        id(equipment["meters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["meter_type"] == t)
            .unwrap())
    };
    (meter("bw"), meter("color"))
}

async fn meters(app: &TestApp) -> (String, String) {
    let account = app.create_account(json!({})).await;
    let code = revenue_code(app).await;
    meters_of_account(app, &account, &code, "SN-1").await
}

async fn post_reading(app: &TestApp, meter: &str, body: Value) -> Reply {
    app.post(
        &format!("/v1/meters/{meter}/readings"),
        &token(Role::Billing),
        &body,
    )
    .await
}

fn tomorrow() -> String {
    today().next_day().unwrap().to_string()
}

#[tokio::test]
async fn a_reading_is_recorded_and_listed_apart_from_estimates() {
    let app = spawn_app().await;
    let (meter, _) = meters(&app).await;

    // An estimate made by a billing run does not count as the last actual reading.
    let estimate = uuid::Uuid::now_v7();
    app.execute(&sh(&format!(
        "INSERT INTO meter_readings (id, meter_id, read_on, value, source, estimate_method, created_by)
         VALUES ('{estimate}', '{meter}', '2025-02-01', 2000, 'estimated', 'average_daily_usage', 'billing-run')"
    )))
    .await
    .unwrap();

    let reply = post_reading(
        &app,
        &meter,
        json!({"read_on": d("2025-02-15"), "value": 1500, "source": "customer", "note": "Read by phone"}),
    )
    .await
    .expect(201);
    let reading = &reply.body;
    assert_eq!(reading["meter_id"], meter.as_str());
    assert_eq!(reading["read_on"], d("2025-02-15"));
    assert_eq!(reading["value"], 1500);
    assert_eq!(reading["source"], "customer");
    assert_eq!(reading["estimated"], false);
    assert!(reading["reset"].is_null());
    assert!(reading["estimate_method"].is_null());
    assert_eq!(reading["note"], "Read by phone");
    assert_eq!(reading["created_by"], "billing-user");

    let path = format!("/v1/meters/{meter}/readings");
    let all = app.get(&path, &token(Role::Viewer)).await.expect(200);
    let values: Vec<i64> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [1000, 2000, 1500]);
    let estimates = app
        .get(&format!("{path}?estimated=true"), &admin_token())
        .await
        .expect(200);
    assert_eq!(estimates.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(estimates.body["data"][0]["id"], estimate.to_string());
    assert_eq!(estimates.body["data"][0]["estimated"], true);
    assert_eq!(
        estimates.body["data"][0]["estimate_method"],
        "average_daily_usage"
    );
    let actual = app
        .get(&format!("{path}?estimated=false"), &admin_token())
        .await
        .expect(200);
    let sources: Vec<&str> = actual.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["technician", "customer"]);
    let page = app
        .get(&format!("{path}?limit=2"), &admin_token())
        .await
        .expect(200);
    assert_eq!(page.body["has_more"], true);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("{path}?limit=2&cursor={cursor}"), &admin_token())
        .await
        .expect(200);
    assert_eq!(rest.body["data"][0]["id"], reading["id"]);
    assert_eq!(rest.body["has_more"], false);
    app.get(&format!("{path}?estimated=maybe"), &admin_token())
        .await
        .expect(400);
    app.get(
        &format!("/v1/meters/{}/readings", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");

    assert_eq!(
        app.count(&sh(&format!(
            "meter_readings WHERE meter_id = '{meter}' AND read_on = '2025-02-15' AND value = 1500 AND source = 'customer' AND created_by = 'billing-user'"
        )))
        .await,
        1
    );
    assert_eq!(app.count("meter_readings").await, 3);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'meter_reading.recorded' AND entity_id = '{}'",
            id(reading)
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn readings_are_refused_with_the_field_and_the_reason() {
    let app = spawn_app().await;
    let (meter, fresh) = meters(&app).await;
    post_reading(
        &app,
        &meter,
        json!({"read_on": d("2025-03-01"), "value": 3000, "source": "device"}),
    )
    .await
    .expect(201);

    let refused = |body: Value, meter: String| {
        let app = &app;
        async move {
            post_reading(app, &meter, body)
                .await
                .expect_problem(422, "validation_failed")
                .body
        }
    };
    let cases = [
        (
            json!({"read_on": d("2025-04-01"), "value": 2999, "source": "customer"}),
            vec![pair("value", "lower_than_last_actual")],
        ),
        (
            json!({"read_on": tomorrow(), "value": 5000, "source": "customer"}),
            vec![pair("read_on", "future_date")],
        ),
        (
            json!({"read_on": d("2025-03-01"), "value": 3100, "source": "customer"}),
            vec![pair("read_on", "not_after_last_actual")],
        ),
        (
            json!({"read_on": d("2025-02-01"), "value": 3100, "source": "customer"}),
            vec![pair("read_on", "not_after_last_actual")],
        ),
        (
            json!({"read_on": d("2025-04-01"), "value": 3100, "source": "estimated"}),
            vec![pair("source", "not_allowed")],
        ),
        (
            json!({"read_on": d("2025-04-01"), "value": 100, "source": "technician", "reset": "replacement"}),
            vec![pair("starting_value", "required")],
        ),
        (
            json!({"read_on": d("2025-04-01"), "value": 3100, "source": "technician", "starting_value": 0}),
            vec![pair("starting_value", "not_allowed")],
        ),
        (
            json!({"read_on": d("2025-04-01"), "value": 3100, "source": "technician", "final_value": 3050}),
            vec![pair("final_value", "not_allowed")],
        ),
        (
            json!({"read_on": d("2025-04-01"), "value": 5, "source": "technician", "reset": "rollover",
                   "starting_value": 10}),
            vec![pair("value", "below_starting_value")],
        ),
        (
            json!({"read_on": d("2025-04-01"), "value": 50, "source": "technician", "reset": "rollover",
                   "starting_value": 0, "final_value": 2500}),
            vec![pair("final_value", "lower_than_last_actual")],
        ),
    ];
    for (body, expected) in cases {
        let problem = refused(body.clone(), meter.clone()).await;
        assert_eq!(fields(&problem), expected, "{body}");
    }
    let problem = refused(
        json!({"read_on": d("2024-12-31"), "value": 10, "source": "customer"}),
        fresh.clone(),
    )
    .await;
    assert_eq!(fields(&problem), [pair("read_on", "before_install")]);
    let problem = refused(
        json!({"read_on": d("2025-04-01"), "value": -1, "source": "customer"}),
        fresh.clone(),
    )
    .await;
    assert_eq!(fields(&problem), [pair("value", "negative")]);
    let problem = refused(
        json!({"read_on": d("2025-04-01"), "value": 10, "source": "guess"}),
        fresh.clone(),
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "source");
    assert_eq!(
        app.count("meter_readings").await,
        2,
        "nothing refused was stored"
    );

    // A new meter starts lower: accepted when flagged as a replacement with its start.
    let replaced = post_reading(
        &app,
        &meter,
        json!({"read_on": d("2025-04-01"), "value": 120, "source": "technician", "reset": "replacement",
               "starting_value": 0, "final_value": 3400, "note": "Meter swapped"}),
    )
    .await
    .expect(201);
    assert_eq!(replaced.body["reset"], "replacement");
    assert_eq!(replaced.body["starting_value"], 0);
    assert_eq!(replaced.body["final_value"], 3400);
    // From then on the new register is the one compared with.
    let problem = refused(
        json!({"read_on": d("2025-05-01"), "value": 119, "source": "customer"}),
        meter.clone(),
    )
    .await;
    assert_eq!(fields(&problem), [pair("value", "lower_than_last_actual")]);
    post_reading(
        &app,
        &meter,
        json!({"read_on": d("2025-05-01"), "value": 900, "source": "customer"}),
    )
    .await
    .expect(201);
    post_reading(
        &app,
        &fresh,
        json!({"read_on": d("2025-01-01"), "value": 0, "source": "technician"}),
    )
    .await
    .expect(201);

    assert_eq!(
        app.count(&format!(
            "meter_readings WHERE meter_id = '{meter}' AND reset = 'replacement' AND starting_value = 0 AND final_value = 3400 AND value = 120"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!("meter_readings WHERE meter_id = '{meter}'"))
            .await,
        4
    );
    assert_eq!(
        app.count(&format!("meter_readings WHERE meter_id = '{fresh}'"))
            .await,
        1
    );
}

#[tokio::test]
async fn a_batch_accepts_and_refuses_each_reading_on_its_own_in_order() {
    let app = spawn_app().await;
    let (bw, color) = meters(&app).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let reply = app
        .post(
            "/v1/meter-readings/batch",
            &token(Role::Integration),
            &json!({"readings": [
                {"meter_id": bw, "read_on": d("2025-02-01"), "value": 1500, "source": "device"},
                {"meter_id": bw, "read_on": d("2025-02-01"), "value": 1600, "source": "device"},
                {"meter_id": bw, "read_on": d("2025-03-01"), "value": 1400, "source": "device"},
                {"meter_id": unknown, "read_on": d("2025-03-01"), "value": 10, "source": "device"},
                {"meter_id": color, "read_on": d("2024-12-31"), "value": 10, "source": "device"},
                {"meter_id": color, "read_on": tomorrow(), "value": 10, "source": "device"},
                {"meter_id": color, "read_on": d("2025-02-01"), "value": 100, "source": "device"},
                {"meter_id": bw, "read_on": d("2025-03-01"), "value": 1700, "source": "portal"},
                {"meter_id": color, "read_on": d("2025-03-01"), "value": 200, "source": "estimated"}
            ]}),
        )
        .await
        .expect(200);
    let body = &reply.body;
    assert_eq!(body["accepted"], 3);
    assert_eq!(body["refused"], 6);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 9);
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "accepted", "refused", "refused", "refused", "refused", "refused", "accepted",
            "accepted", "refused"
        ]
    );
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(results[3]["meter_id"], unknown.as_str());
    let errors_of = |i: usize| fields(&results[i]);
    assert_eq!(
        errors_of(1),
        [pair("readings[1].read_on", "not_after_last_actual")]
    );
    assert_eq!(
        errors_of(2),
        [pair("readings[2].value", "lower_than_last_actual")]
    );
    assert_eq!(errors_of(3), [pair("readings[3].meter_id", "unknown")]);
    assert_eq!(
        errors_of(4),
        [pair("readings[4].read_on", "before_install")]
    );
    assert_eq!(errors_of(5), [pair("readings[5].read_on", "future_date")]);
    assert_eq!(errors_of(8), [pair("readings[8].source", "not_allowed")]);
    assert!(results[1]["reading"].is_null());
    assert_eq!(results[0]["errors"], json!([]));
    assert_eq!(results[0]["reading"]["value"], 1500);
    assert_eq!(results[0]["reading"]["created_by"], "integration-user");
    assert_eq!(results[6]["reading"]["meter_id"], color.as_str());
    assert_eq!(results[7]["reading"]["source"], "portal");

    let listed = app
        .get(&format!("/v1/meters/{bw}/readings"), &admin_token())
        .await
        .expect(200);
    let values: Vec<i64> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [1000, 1500, 1700]);
    assert_eq!(
        app.count("meter_readings WHERE created_by = 'integration-user'")
            .await,
        3,
        "rows match the accepted count"
    );
    for r in [&results[0], &results[6], &results[7]] {
        assert_eq!(
            app.count(&format!(
                "meter_readings WHERE id = '{}'",
                r["reading"]["id"].as_str().unwrap()
            ))
            .await,
            1
        );
    }
    assert_eq!(
        app.count("audit_events WHERE action = 'meter_readings.batch_recorded'")
            .await,
        1
    );

    // A batch where everything is refused is still answered, and stores nothing.
    let reply = app
        .post(
            "/v1/meter-readings/batch",
            &token(Role::Integration),
            &json!({"readings": [{"meter_id": bw, "read_on": d("2025-03-01"), "value": 1800, "source": "device"}]}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["accepted"], 0);
    assert_eq!(reply.body["refused"], 1);
    let reply = app
        .post(
            "/v1/meter-readings/batch",
            &token(Role::Integration),
            &json!({"readings": []}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "readings");
    assert_eq!(app.count("meter_readings").await, 4);
}

#[tokio::test]
async fn a_batch_holds_at_most_1000_readings() {
    let app = spawn_app().await;
    let (bw, _) = meters(&app).await;
    // The production body limit (256 KiB): the test configuration's 64 KiB cannot carry
    // 1,000 readings.
    let (address, handle, _) = app.serve_again(|c| c.json_limit = 256 * 1024);
    let batch = |n: usize| {
        let readings: Vec<Value> = (0..n)
            .map(|i| json!({"meter_id": bw, "read_on": d("2025-02-01"), "value": 2000 + i, "source": "device"}))
            .collect();
        json!({ "readings": readings })
    };
    let send = |body: Value| {
        let app = &app;
        let address = address.clone();
        async move {
            app.send(
                app.client
                    .post(format!("{address}/v1/meter-readings/batch"))
                    .bearer_auth(token(Role::Integration))
                    .json(&body),
            )
            .await
        }
    };

    let reply = send(batch(1001)).await.expect(422);
    assert_eq!(fields(&reply.body), [pair("readings", "out_of_range")]);
    assert_eq!(app.count("meter_readings").await, 1);

    // 1,000 is allowed: the first is accepted, the 999 others (same date) refused.
    let reply = send(batch(1000)).await.expect(200);
    assert_eq!(reply.body["accepted"], 1);
    assert_eq!(reply.body["refused"], 999);
    assert_eq!(reply.body["results"][999]["outcome"], "refused");
    assert_eq!(
        reply.body["results"][999]["errors"][0]["field"],
        "readings[999].read_on"
    );
    assert_eq!(app.count("meter_readings").await, 2);
    assert_eq!(
        app.count(&sh(&format!(
            "meter_readings WHERE meter_id = '{bw}' AND read_on = '2025-02-01' AND value = 2000"
        )))
        .await,
        1
    );
    handle.stop(false).await;
}

#[tokio::test]
async fn partners_post_readings_for_their_own_accounts_meters_only() {
    let app = spawn_app().await;
    let code = revenue_code(&app).await;
    let mine = app.create_partner("NW-OFFICE").await;
    let theirs = app.create_partner("SE-OFFICE").await;
    let my_account = app.create_account(json!({"partner_id": mine["id"]})).await;
    let their_account = app
        .create_account(json!({"legal_name": "Globex", "partner_id": theirs["id"]}))
        .await;
    let direct_account = app.create_account(json!({"legal_name": "Direct Co"})).await;
    let (my_meter, _) = meters_of_account(&app, &my_account, &code, "SN-MINE").await;
    let (their_meter, _) = meters_of_account(&app, &their_account, &code, "SN-THEIRS").await;
    let (direct_meter, _) = meters_of_account(&app, &direct_account, &code, "SN-DIRECT").await;
    let portal = partner_token(mine["id"].as_str().unwrap().parse().unwrap());

    let reading = json!({"read_on": d("2025-02-01"), "value": 1800, "source": "partner"});
    let reply = app
        .post(
            &format!("/v1/meters/{my_meter}/readings"),
            &portal,
            &reading,
        )
        .await
        .expect(201);
    assert_eq!(reply.body["source"], "partner");
    assert_eq!(reply.body["created_by"], "portal-user");
    for other in [&their_meter, &direct_meter] {
        app.post(&format!("/v1/meters/{other}/readings"), &portal, &reading)
            .await
            .expect_problem(404, "not_found");
        app.get(&format!("/v1/meters/{other}/readings"), &portal)
            .await
            .expect_problem(404, "not_found");
    }
    let listed = app
        .get(&format!("/v1/meters/{my_meter}/readings"), &portal)
        .await
        .expect(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    app.get(&format!("/v1/meters/{my_meter}"), &portal)
        .await
        .expect_problem(403, "forbidden");

    let reply = app
        .post(
            "/v1/meter-readings/batch",
            &portal,
            &json!({"readings": [
                {"meter_id": their_meter, "read_on": d("2025-03-01"), "value": 1900, "source": "partner"},
                {"meter_id": my_meter, "read_on": d("2025-03-01"), "value": 1900, "source": "partner"}
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["accepted"], 1);
    assert_eq!(
        fields(&reply.body["results"][0]),
        [pair("readings[0].meter_id", "unknown")]
    );
    assert_eq!(reply.body["results"][1]["outcome"], "accepted");

    app.post(
        &format!("/v1/meters/{my_meter}/readings"),
        &token(Role::Viewer),
        &json!({"read_on": d("2025-04-01"), "value": 2000, "source": "customer"}),
    )
    .await
    .expect_problem(403, "forbidden");

    assert_eq!(
        app.count(&format!(
            "meter_readings WHERE meter_id = '{my_meter}' AND created_by = 'portal-user'"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count("meter_readings WHERE created_by = 'portal-user'")
            .await,
        2,
        "nothing was recorded on other partners' meters"
    );
    assert_eq!(
        app.count(&format!("meter_readings WHERE meter_id = '{their_meter}'"))
            .await,
        1
    );
}

#[tokio::test]
async fn a_replayed_reading_returns_the_first_response_once_recorded() {
    let app = spawn_app().await;
    let (meter, _) = meters(&app).await;
    let path = format!("/v1/meters/{meter}/readings");
    let body = json!({"read_on": d("2025-02-01"), "value": 1800, "source": "customer"});
    let first = app
        .post_with_key(&path, &token(Role::Billing), "reading-1", &body)
        .await
        .expect(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = app
        .post_with_key(&path, &token(Role::Billing), "reading-1", &body)
        .await
        .expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    app.post_with_key(
        &path,
        &token(Role::Billing),
        "reading-1",
        &json!({"read_on": d("2025-03-01"), "value": 1900, "source": "customer"}),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    // Without the key the same reading is a second one, refused for its date.
    let reply = app
        .post(&path, &token(Role::Billing), &body)
        .await
        .expect(422);
    assert_eq!(
        fields(&reply.body),
        [pair("read_on", "not_after_last_actual")]
    );

    assert_eq!(
        app.count(&sh(&format!(
            "meter_readings WHERE meter_id = '{meter}' AND read_on = '2025-02-01'"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'meter_reading.recorded'")
            .await,
        1
    );
    assert_eq!(
        app.count("idempotency_keys WHERE key = 'reading-1' AND response_status = 201")
            .await,
        1
    );
}

#[tokio::test]
async fn concurrent_readings_of_one_meter_and_date_record_exactly_one() {
    let app = spawn_app().await;
    let (meter, _) = meters(&app).await;
    let path = format!("/v1/meters/{meter}/readings");
    let billing = token(Role::Billing);
    let replies = join_all((0..10).map(|i| {
        let body = json!({"read_on": d("2025-02-01"), "value": 2000 + i, "source": "device"});
        let (app, path, billing) = (&app, &path, &billing);
        async move { app.post(path, billing, &body).await }
    }))
    .await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one reading wins");
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(reply.status, 422, "the others are refused: {}", reply.body);
        // A loser with a lower value than the winner's is also told so.
        let reasons = fields(&reply.body);
        assert_eq!(reasons[0], pair("read_on", "not_after_last_actual"));
        assert!(reasons[1..]
            .iter()
            .all(|r| *r == pair("value", "lower_than_last_actual")));
    }
    assert_eq!(
        app.count(&sh(&format!(
            "meter_readings WHERE meter_id = '{meter}' AND read_on = '2025-02-01'"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count(&sh(&format!(
            "meter_readings WHERE meter_id = '{meter}' AND read_on = '2025-02-01' AND value = {}",
            created[0].body["value"]
        )))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'meter_reading.recorded'")
            .await,
        1
    );
}
