//! Inbound CRM events: signed, stored once per event id, processed through the services the API
//! uses, failed events retried after a fix.

use receivables::auth::Role;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::helpers::*;

const EVENTS: &str = "/v1/integrations/crm/events";

fn integration() -> String {
    token(Role::Integration)
}

/// An instant on the service's clock, `minutes` from now, as the CRM writes it.
fn at(app: &TestApp, minutes: i64) -> String {
    (app.clock.now() + Duration::minutes(minutes))
        .format(&Rfc3339)
        .unwrap()
}

fn event(id: &str, type_: &str, occurred_at: &str, data: Value) -> Value {
    json!({"id": id, "type": type_, "occurred_at": occurred_at, "data": data})
}

fn account_data(crm_id: &str, legal_name: &str) -> Value {
    json!({
        "crm_id": crm_id, "legal_name": legal_name, "currency": "USD",
        "payment_terms_days": 45, "tax_rate": "8.25",
        "billing_address": {"line1": "100 Main St", "city": "Springfield", "region": "IL",
                            "postal_code": "62701", "country": "US"}
    })
}

/// A post of exactly `raw` as JSON by the integration role, with this signature header.
fn post_raw(app: &TestApp, raw: &[u8], signature: Option<&str>) -> reqwest::RequestBuilder {
    post_as(app, &integration(), "application/json", raw, signature)
}

fn post_as(
    app: &TestApp,
    token: &str,
    content_type: &str,
    raw: &[u8],
    signature: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = app
        .client
        .post(app.url(EVENTS))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(raw.to_vec());
    match signature {
        Some(header) => request.header("Receivables-Signature", header),
        None => request,
    }
}

fn signature(raw: &[u8], secret: &str, t: i64) -> String {
    receivables::signature::header([secret.as_bytes()], t, raw)
}

/// A post of exactly `raw`, signed at `t` with `secret`.
fn signed(app: &TestApp, raw: &[u8], secret: &str, t: i64) -> reqwest::RequestBuilder {
    post_raw(app, raw, Some(&signature(raw, secret, t)))
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().unix_timestamp()
}

/// Posts `body` signed with the first test secret at the service's now.
async fn post_event(app: &TestApp, body: &Value) -> Reply {
    let raw = serde_json::to_vec(body).unwrap();
    app.send(signed(app, &raw, CRM_SECRET, now(app))).await
}

async fn processed(app: &TestApp, body: &Value) -> Value {
    let reply = post_event(app, body).await.expect(201);
    assert_eq!(reply.body["status"], "processed", "{}", reply.body);
    reply.body
}

fn event_path(id: &str) -> String {
    format!("{EVENTS}/{CRM_SOURCE}/{id}")
}

async fn account_column(app: &TestApp, crm_id: &str, column: &str) -> String {
    app.value(&format!(
        "SELECT {column} FROM accounts WHERE external_crm_id = '{crm_id}'"
    ))
    .await
}

#[tokio::test]
async fn a_signed_event_is_stored_and_opens_the_account_with_its_fields() {
    let app = spawn_app().await;
    let body = event(
        "evt-1",
        "account.upserted",
        &at(&app, -2),
        account_data("C-1", "Acme Manufacturing Inc."),
    );
    let raw = serde_json::to_vec(&body).unwrap();
    let reply = app
        .send(signed(&app, &raw, CRM_SECRET, now(&app)))
        .await
        .expect(201);
    let answer = &reply.body;
    assert_eq!(answer["source"], CRM_SOURCE);
    assert_eq!(answer["id"], "evt-1");
    assert_eq!(answer["type"], "account.upserted");
    assert_eq!(answer["subject"], "account:C-1");
    assert_eq!(answer["status"], "processed");
    assert_eq!(answer["attempts"], 1);
    assert_eq!(answer["signature_secret"], 0);
    assert_eq!(answer["result"]["created"], true);
    assert!(answer["failure_code"].is_null());
    let account_id = answer["result"]["account_id"].as_str().unwrap().to_string();

    let account = app
        .get(&format!("/v1/accounts/{account_id}"), &admin_token())
        .await
        .expect(200)
        .body;
    assert_eq!(account["external_crm_id"], "C-1");
    assert_eq!(account["legal_name"], "Acme Manufacturing Inc.");
    assert_eq!(account["payment_terms_days"], 45);
    assert_eq!(account["tax_rate"], "8.2500");
    assert_eq!(account["billing_address"]["city"], "Springfield");
    assert_eq!(account["number"], "ACC-000001");
    assert_eq!(
        app.count(&format!(
            "crm_events WHERE source = '{CRM_SOURCE}' AND id = 'evt-1' AND status = 'processed' \
             AND subject = 'account:C-1' AND attempts = 1 AND signature_secret = 0 \
             AND raw_body = convert_to('{}', 'UTF8') AND result->>'account_id' = '{account_id}'",
            String::from_utf8(raw.clone()).unwrap().replace('\'', "''")
        ))
        .await,
        1,
        "the raw body is stored as signed"
    );
    assert_eq!(
        app.count(
            "audit_events WHERE action = 'account.created' AND actor = 'integration-user' \
             AND actor_role = 'integration' AND request_id IS NOT NULL"
        )
        .await,
        1
    );
    // Read back, one by one and in the list.
    let read = app
        .get(&event_path("evt-1"), &admin_token())
        .await
        .expect(200);
    assert_eq!(&read.body, answer);
    let listed = app
        .get(&format!("{EVENTS}?status=processed"), &integration())
        .await
        .expect(200);
    assert_eq!(listed.body["data"][0], *answer);
    assert_eq!(listed.body["has_more"], false);
    let failed = app
        .get(&format!("{EVENTS}?status=failed"), &integration())
        .await
        .expect(200);
    assert_eq!(failed.body["data"], json!([]));
    app.get(EVENTS, &billing())
        .await
        .expect_problem(403, "forbidden");
    app.get(&event_path("evt-404"), &admin_token())
        .await
        .expect_problem(404, "not_found");
}

#[tokio::test]
async fn a_missing_malformed_or_wrong_signature_is_a_401_and_stores_nothing() {
    let app = spawn_app().await;
    let body = event(
        "evt-1",
        "account.upserted",
        &at(&app, 0),
        account_data("C-1", "Acme"),
    );
    let raw = serde_json::to_vec(&body).unwrap();
    let t = now(&app);
    let missing = app
        .send(post_raw(&app, &raw, None))
        .await
        .expect_problem(401, "missing_signature");
    assert!(
        missing.body["detail"].as_str().unwrap().contains("missing"),
        "{}",
        missing.body
    );
    app.send(signed(&app, &raw, "not-the-secret-of-any-source", t))
        .await
        .expect_problem(401, "invalid_signature");
    // Signed, then changed on the way: the HMAC is over the raw bytes.
    let header = signature(&raw, CRM_SECRET, t);
    let mut tampered = raw.clone();
    tampered.extend_from_slice(b" ");
    app.send(post_raw(&app, &tampered, Some(&header)))
        .await
        .expect_problem(401, "invalid_signature");
    for malformed in ["v1=abcd", "t=soon,v1=ab", &format!("t={t}")] {
        app.send(post_raw(&app, &raw, Some(malformed)))
            .await
            .expect_problem(401, "malformed_signature");
    }
    // The signature is checked before the JSON is read.
    app.send(signed(
        &app,
        b"{not json",
        "not-the-secret-of-any-source",
        t,
    ))
    .await
    .expect_problem(401, "invalid_signature");
    // Only the integration role posts events.
    let header = signature(&raw, CRM_SECRET, t);
    app.send(post_as(
        &app,
        &admin_token(),
        "application/json",
        &raw,
        Some(&header),
    ))
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(app.count("crm_events").await, 0);
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_timestamp_more_than_five_minutes_from_the_services_clock_is_stale() {
    let app = spawn_app().await;
    let body = event(
        "evt-1",
        "account.upserted",
        &at(&app, 0),
        account_data("C-1", "Acme"),
    );
    let raw = serde_json::to_vec(&body).unwrap();
    let t = now(&app);
    for stale in [t - 301, t + 301] {
        let reply = app
            .send(signed(&app, &raw, CRM_SECRET, stale))
            .await
            .expect_problem(401, "stale_signature");
        assert!(reply.body["detail"].as_str().unwrap().contains("5 minutes"));
    }
    // The window is the service's clock's, not the machine's.
    app.clock.advance(Duration::minutes(10));
    app.send(signed(&app, &raw, CRM_SECRET, t))
        .await
        .expect_problem(401, "stale_signature");
    assert_eq!(app.count("crm_events").await, 0);
    app.send(signed(&app, &raw, CRM_SECRET, t + 600 - 300))
        .await
        .expect(201);
}

#[tokio::test]
async fn a_replayed_request_answers_its_first_result_without_a_second_effect() {
    let app = spawn_app().await;
    let body = event(
        "evt-1",
        "account.upserted",
        &at(&app, 0),
        account_data("C-1", "Acme"),
    );
    let raw = serde_json::to_vec(&body).unwrap();
    let t = now(&app);
    let first = app
        .send(signed(&app, &raw, CRM_SECRET, t))
        .await
        .expect(201);
    app.clock.advance(Duration::minutes(1));
    let again = app
        .send(signed(&app, &raw, CRM_SECRET, t))
        .await
        .expect(200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.count("crm_events").await, 1);
    assert_eq!(app.count("accounts").await, 1);
    assert_eq!(
        app.count("audit_events WHERE action = 'account.created'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_repeated_event_id_with_another_body_answers_the_first_result() {
    let app = spawn_app().await;
    let first = processed(
        &app,
        &event(
            "evt-1",
            "account.upserted",
            &at(&app, -5),
            account_data("C-1", "Acme"),
        ),
    )
    .await;
    let other = event(
        "evt-1",
        "account.upserted",
        &at(&app, -1),
        account_data("C-1", "Renamed Corp"),
    );
    let again = post_event(&app, &other).await.expect(200);
    assert_eq!(again.body, first);
    assert_eq!(account_column(&app, "C-1", "legal_name").await, "Acme");
    assert_eq!(account_column(&app, "C-1", "version").await, "1");
    assert_eq!(app.count("crm_events").await, 1);
    assert_eq!(
        app.value("SELECT convert_from(raw_body, 'UTF8') LIKE '%Renamed%' FROM crm_events")
            .await,
        "false",
        "the first body stays stored"
    );
}

#[tokio::test]
async fn an_unknown_type_is_stored_failed() {
    let app = spawn_app().await;
    let reply = post_event(
        &app,
        &event(
            "evt-9",
            "invoice.disputed",
            &at(&app, 0),
            json!({"crm_id": "X-1"}),
        ),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["status"], "failed");
    assert_eq!(reply.body["failure_code"], "unknown_type");
    assert!(reply.body["failure_reason"]
        .as_str()
        .unwrap()
        .contains("invoice.disputed"));
    assert!(reply.body["result"].is_null());
    assert_eq!(
        app.count(
            "crm_events WHERE id = 'evt-9' AND status = 'failed' AND failure_code = 'unknown_type' \
             AND type = 'invoice.disputed' AND failure_reason IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(app.count("audit_events").await, 0);
}

#[tokio::test]
async fn an_envelope_that_is_not_json_or_misses_a_field_is_refused_and_not_stored() {
    let app = spawn_app().await;
    let t = now(&app);
    app.send(signed(&app, b"{\"id\": ", CRM_SECRET, t))
        .await
        .expect_problem(400, "malformed_json");
    let occurred_at = at(&app, 0);
    for (body, field) in [
        (
            json!({"type": "account.upserted", "occurred_at": occurred_at}),
            "id",
        ),
        (json!({"id": "e", "occurred_at": occurred_at}), "type"),
        (
            json!({"id": "e", "type": "account.upserted"}),
            "occurred_at",
        ),
        (
            json!({"id": "e", "type": "account.upserted", "occurred_at": "yesterday"}),
            "occurred_at",
        ),
        (
            json!({"id": "e", "type": "account.upserted", "occurred_at": occurred_at, "data": []}),
            "data",
        ),
        (
            json!({"id": "e f", "type": "account.upserted", "occurred_at": occurred_at}),
            "id",
        ),
    ] {
        let raw = serde_json::to_vec(&body).unwrap();
        let reply = app
            .send(signed(&app, &raw, CRM_SECRET, t))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{body}");
    }
    let raw = serde_json::to_vec(&event("e", "account.upserted", &occurred_at, json!({}))).unwrap();
    let header = signature(&raw, CRM_SECRET, t);
    app.send(post_as(
        &app,
        &integration(),
        "text/plain",
        &raw,
        Some(&header),
    ))
    .await
    .expect_problem(415, "unsupported_media_type");
    assert_eq!(app.count("crm_events").await, 0);
}

#[tokio::test]
async fn an_older_upsert_arriving_after_a_newer_one_is_ignored() {
    let app = spawn_app().await;
    let newer = event(
        "evt-2",
        "account.upserted",
        &at(&app, -1),
        account_data("C-1", "Acme Holdings"),
    );
    let older_at = at(&app, -10);
    let older = event(
        "evt-1",
        "account.upserted",
        &older_at,
        json!({"crm_id": "C-1", "legal_name": "Acme (old name)", "payment_terms_days": 10}),
    );
    processed(&app, &newer).await;
    let reply = post_event(&app, &older).await.expect(201);
    assert_eq!(reply.body["status"], "ignored", "{}", reply.body);
    assert_eq!(reply.body["subject"], "account:C-1");
    assert!(reply.body["failure_code"].is_null());
    let newer_at = OffsetDateTime::parse(newer["occurred_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let answered = OffsetDateTime::parse(
        reply.body["result"]["later_event_occurred_at"]
            .as_str()
            .unwrap(),
        &Rfc3339,
    )
    .unwrap();
    assert_eq!(answered, newer_at);
    assert_eq!(
        account_column(&app, "C-1", "legal_name").await,
        "Acme Holdings"
    );
    assert_eq!(
        account_column(&app, "C-1", "payment_terms_days").await,
        "45"
    );
    assert_eq!(account_column(&app, "C-1", "version").await, "1");
    assert_eq!(
        app.count("crm_events WHERE id = 'evt-1' AND status = 'ignored'")
            .await,
        1
    );
    // A later change applies, only the fields it names.
    let later = event(
        "evt-3",
        "account.upserted",
        &at(&app, 0),
        json!({"crm_id": "C-1", "legal_name": "Acme Group", "tax_rate": null}),
    );
    assert_eq!(processed(&app, &later).await["result"]["created"], false);
    assert_eq!(
        account_column(&app, "C-1", "legal_name").await,
        "Acme Group"
    );
    assert_eq!(account_column(&app, "C-1", "tax_rate").await, "");
    assert_eq!(
        account_column(&app, "C-1", "payment_terms_days").await,
        "45"
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'account.updated' AND actor_role = 'integration'")
            .await,
        1
    );
}

/// A revenue code, for charges.
async fn revenue(app: &TestApp) -> String {
    app.financial_code("4100-LEASE", "revenue").await
}

fn signed_contract(crm_id: &str, account_crm_id: &str, code: &str) -> Value {
    json!({
        "crm_id": crm_id, "account_crm_id": account_crm_id, "kind": "lease",
        "start_date": d("2026-12-01"), "end_date": d("2029-11-30"), "anchor_day": 1,
        "charges": [{"description": "Base lease charge", "amount": "250.00", "financial_code_id": code}]
    })
}

#[tokio::test]
async fn an_event_for_an_unknown_account_fails_and_succeeds_when_retried_after_the_fix() {
    let app = spawn_app().await;
    let code = revenue(&app).await;
    let signing = event(
        "evt-k1",
        "contract.signed",
        &at(&app, -1),
        signed_contract("K-1", "C-1", &code),
    );
    let failed = post_event(&app, &signing).await.expect(201);
    assert_eq!(failed.body["status"], "failed");
    assert_eq!(failed.body["failure_code"], "unknown_account");
    assert!(failed.body["failure_reason"]
        .as_str()
        .unwrap()
        .contains("C-1"));
    assert_eq!(app.count("contracts").await, 0);
    let listed = app
        .get(&format!("{EVENTS}?status=failed"), &admin_token())
        .await
        .expect(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["data"][0]["id"], "evt-k1");
    let retry = format!("{}/retry", event_path("evt-k1"));
    app.post(&retry, &billing(), &Value::Null)
        .await
        .expect_problem(403, "forbidden");
    // Retried before the fix: still failed, one more attempt.
    let again = app
        .post(&retry, &admin_token(), &Value::Null)
        .await
        .expect(200);
    assert_eq!(again.body["status"], "failed");
    assert_eq!(again.body["attempts"], 2);

    processed(
        &app,
        &event(
            "evt-c1",
            "account.upserted",
            &at(&app, -5),
            account_data("C-1", "Acme"),
        ),
    )
    .await;
    let fixed = app
        .post(&retry, &integration(), &Value::Null)
        .await
        .expect(200);
    assert_eq!(fixed.body["status"], "processed", "{}", fixed.body);
    assert_eq!(fixed.body["attempts"], 3);
    assert!(fixed.body["failure_code"].is_null());
    let contract_id = fixed.body["result"]["contract_id"]
        .as_str()
        .unwrap()
        .to_string();
    let contract = app
        .get(&format!("/v1/contracts/{contract_id}"), &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(contract["status"], "active");
    assert_eq!(contract["account_id"], fixed.body["result"]["account_id"]);
    assert_eq!(contract["charges"][0]["amount"], "250.00");
    assert_eq!(contract["external_crm_id"], "K-1");
    assert_eq!(
        app.value(&format!(
            "SELECT external_crm_id FROM contracts WHERE id = '{contract_id}'"
        ))
        .await,
        "K-1"
    );
    let found = app
        .get("/v1/contracts?external_crm_id=K-1", &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["id"], contract_id.as_str());
    assert_eq!(
        app.count(
            "crm_events WHERE id = 'evt-k1' AND status = 'processed' AND attempts = 3 \
             AND failure_code IS NULL AND failure_reason IS NULL"
        )
        .await,
        1
    );
    app.post(&retry, &integration(), &Value::Null)
        .await
        .expect_problem(409, "event_not_failed");
    app.post(
        &format!("{}/retry", event_path("evt-404")),
        &integration(),
        &Value::Null,
    )
    .await
    .expect_problem(404, "not_found");
    let still_failed = app
        .get(&format!("{EVENTS}?status=failed"), &admin_token())
        .await
        .expect(200);
    assert_eq!(still_failed.body["data"], json!([]));
}

#[tokio::test]
async fn a_refusal_midway_rolls_the_whole_effect_back() {
    let app = spawn_app().await;
    processed(
        &app,
        &event(
            "evt-c1",
            "account.upserted",
            &at(&app, -5),
            account_data("C-1", "Acme"),
        ),
    )
    .await;
    // Created as a draft, then refused on activation: neither stays.
    let nothing = json!({"crm_id": "K-1", "account_crm_id": "C-1", "kind": "service",
                         "start_date": d("2026-12-01")});
    let reply = post_event(
        &app,
        &event("evt-k1", "contract.signed", &at(&app, 0), nothing),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["status"], "failed");
    assert_eq!(reply.body["failure_code"], "nothing_to_bill");
    assert_eq!(app.count("contracts").await, 0);
    assert_eq!(
        app.count("audit_events WHERE entity_type = 'contract'")
            .await,
        0
    );
    // Data the type does not take, named inside `data`.
    let code = revenue(&app).await;
    let mut wrong = signed_contract("K-2", "C-1", &code);
    wrong["charges"][0]["amount"] = json!("250.001");
    wrong["colour"] = json!("blue");
    let reply = post_event(
        &app,
        &event("evt-k2", "contract.signed", &at(&app, 0), wrong),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["failure_code"], "validation_failed");
    assert!(
        reply.body["failure_reason"]
            .as_str()
            .unwrap()
            .contains("data.colour"),
        "{}",
        reply.body
    );
    assert_eq!(app.count("contracts").await, 0);
}

#[tokio::test]
async fn the_second_secret_of_a_rotation_is_accepted_and_recorded() {
    let app = spawn_app().await;
    let body = event(
        "evt-1",
        "account.upserted",
        &at(&app, 0),
        account_data("C-1", "Acme"),
    );
    let raw = serde_json::to_vec(&body).unwrap();
    let reply = app
        .send(signed(&app, &raw, CRM_NEXT_SECRET, now(&app)))
        .await
        .expect(201);
    assert_eq!(reply.body["signature_secret"], 1);
    assert_eq!(reply.body["source"], CRM_SOURCE);
    assert_eq!(app.count("crm_events WHERE signature_secret = 1").await, 1);
}

/// An account and an active contract of it, both from CRM events; the contract's id.
async fn signed_lease(app: &TestApp, code: &str) -> String {
    processed(
        app,
        &event(
            "evt-c1",
            "account.upserted",
            &at(app, -30),
            account_data("C-1", "Acme"),
        ),
    )
    .await;
    let signed = processed(
        app,
        &event(
            "evt-k1",
            "contract.signed",
            &at(app, -20),
            signed_contract("K-1", "C-1", code),
        ),
    )
    .await;
    signed["result"]["contract_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn upgrades_renewals_and_ownership_changes_are_amendments() {
    let app = spawn_app().await;
    let code = revenue(&app).await;
    let contract = signed_lease(&app, &code).await;
    let upgrade = json!({"crm_id": "K-1", "effective_date": d("2027-01-01"),
        "note": "Colour upgrade",
        "charges": [{"description": "Colour unit", "amount": "40.00", "financial_code_id": code}]});
    let upgraded = processed(
        &app,
        &event("evt-k2", "contract.upgraded", &at(&app, -10), upgrade),
    )
    .await;
    let amendment = upgraded["result"]["amendment_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(upgraded["result"]["contract_id"], contract);
    assert_eq!(
        app.count(&format!(
            "contract_amendments WHERE id = '{amendment}' AND contract_id = '{contract}' \
             AND kind = 'upgrade' AND needs_review AND note = 'Colour upgrade' \
             AND effective_date = '{}'",
            d("2027-01-01")
        ))
        .await,
        1,
        "the upgrade's first invoice is flagged for review"
    );
    assert_eq!(
        app.count(&format!(
            "contract_charges WHERE contract_id = '{contract}' AND amendment_id = '{amendment}' \
             AND amount = 40.00"
        ))
        .await,
        1
    );
    let renewal = json!({"crm_id": "K-1", "effective_date": d("2029-12-01"),
                         "end_date": d("2031-11-30")});
    processed(
        &app,
        &event("evt-k3", "contract.renewed", &at(&app, -9), renewal),
    )
    .await;
    assert_eq!(
        app.value(&format!(
            "SELECT end_date FROM contracts WHERE id = '{contract}'"
        ))
        .await,
        d("2031-11-30")
    );
    processed(
        &app,
        &event(
            "evt-c2",
            "account.upserted",
            &at(&app, -8),
            account_data("C-2", "Acme West"),
        ),
    )
    .await;
    let moved =
        json!({"crm_id": "K-1", "account_crm_id": "C-2", "effective_date": d("2027-02-01")});
    processed(
        &app,
        &event("evt-k4", "contract.ownership_changed", &at(&app, -7), moved),
    )
    .await;
    let owner = account_column(&app, "C-2", "id").await;
    assert_eq!(
        app.value(&format!(
            "SELECT account_id FROM contracts WHERE id = '{contract}'"
        ))
        .await,
        owner
    );
    assert_eq!(
        app.count(&format!(
            "contract_amendments WHERE contract_id = '{contract}' AND kind IN ('upgrade', 'renewal', 'ownership_change')"
        ))
        .await,
        3
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'contract.amended' AND actor_role = 'integration'")
            .await,
        3
    );
    // An amendment the contract's rules refuse fails, and changes nothing.
    let early = json!({"crm_id": "K-1", "effective_date": d("2020-01-01"),
        "charges": [{"description": "Too early", "amount": "1.00", "financial_code_id": code}]});
    let refused = post_event(
        &app,
        &event("evt-k5", "contract.upgraded", &at(&app, -6), early),
    )
    .await
    .expect(201);
    assert_eq!(refused.body["failure_code"], "validation_failed");
    assert!(refused.body["failure_reason"]
        .as_str()
        .unwrap()
        .contains("data.effective_date"));
    // An event about a contract the CRM never signed here fails.
    let unknown = json!({"crm_id": "K-9", "effective_date": d("2027-01-01")});
    let reply = post_event(
        &app,
        &event("evt-k9", "contract.terminated", &at(&app, 0), unknown),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["failure_code"], "unknown_contract");
}

#[tokio::test]
async fn a_termination_settles_the_contract_and_orders_the_pickup_of_its_equipment() {
    let app = spawn_app().await;
    let code = revenue(&app).await;
    let contract = signed_lease(&app, &code).await;
    app.post(
        &format!("/v1/contracts/{contract}/equipment"),
        &billing(),
        &json!({"serial_number": "XR7-1", "make": "Ricoh", "model": "IM C3000",
                "installed_on": d("2026-12-01")}),
    )
    .await
    .expect(201);
    let ended =
        json!({"crm_id": "K-1", "effective_date": d("2027-03-31"), "note": "Customer left"});
    let reply = processed(
        &app,
        &event("evt-k2", "contract.terminated", &at(&app, 0), ended),
    )
    .await;
    let order = reply["result"]["service_order_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.value(&format!(
            "SELECT status FROM contracts WHERE id = '{contract}'"
        ))
        .await,
        "terminated"
    );
    assert_eq!(
        app.value(&format!(
            "SELECT terminated_on FROM contracts WHERE id = '{contract}'"
        ))
        .await,
        d("2027-03-31")
    );
    assert_eq!(
        app.count(&format!(
            "service_orders WHERE id = '{order}' AND kind = 'equipment_pickup' AND status = 'pending' \
             AND source = 'automatic' AND contract_id = '{contract}' \
             AND equipment->0->>'serial_number' = 'XR7-1'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("equipment WHERE serial_number = 'XR7-1' AND pickup_status = 'pending'")
            .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action IN ('contract.amended', 'contract.settled', 'service_order.created')")
            .await,
        3
    );
    // Terminated again: the contract's rules refuse it, nothing more is ordered.
    let again = json!({"crm_id": "K-1", "effective_date": d("2027-03-31")});
    let reply = post_event(
        &app,
        &event("evt-k3", "contract.terminated", &at(&app, 1), again),
    )
    .await
    .expect(201);
    assert_eq!(reply.body["status"], "failed", "{}", reply.body);
    assert_eq!(app.count("service_orders").await, 1);
}

#[tokio::test]
async fn concurrent_posts_of_one_event_make_one_row_and_one_effect() {
    let app = spawn_app().await;
    let body = event(
        "evt-1",
        "account.upserted",
        &at(&app, 0),
        account_data("C-1", "Acme"),
    );
    let raw = serde_json::to_vec(&body).unwrap();
    let t = now(&app);
    let replies =
        futures_util::future::join_all((0..8).map(|_| app.send(signed(&app, &raw, CRM_SECRET, t))))
            .await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one first answer");
    for reply in &replies {
        assert!(matches!(reply.status, 200 | 201), "{}", reply.body);
        assert_eq!(reply.body, created[0].body);
    }
    assert_eq!(app.count("crm_events").await, 1);
    assert_eq!(app.count("accounts").await, 1);
    assert_eq!(
        app.count("audit_events WHERE action = 'account.created'")
            .await,
        1
    );
}

#[tokio::test]
async fn concurrent_events_about_one_record_apply_in_the_order_they_occurred() {
    let app = spawn_app().await;
    processed(
        &app,
        &event(
            "evt-0",
            "account.upserted",
            &at(&app, -60),
            account_data("C-1", "Acme"),
        ),
    )
    .await;
    // Ten renames racing, each occurring a minute after the last: whatever the arrival
    // order, the latest name wins and no event is lost.
    let bodies: Vec<Vec<u8>> = (1..=10)
        .map(|i| {
            serde_json::to_vec(&event(
                &format!("evt-{i}"),
                "account.upserted",
                &at(&app, -50 + i),
                json!({"crm_id": "C-1", "legal_name": format!("Acme {i}")}),
            ))
            .unwrap()
        })
        .rev()
        .collect();
    let t = now(&app);
    let replies = futures_util::future::join_all(
        bodies
            .iter()
            .map(|raw| app.send(signed(&app, raw, CRM_SECRET, t))),
    )
    .await;
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert!(matches!(
            reply.body["status"].as_str(),
            Some("processed" | "ignored")
        ));
    }
    assert_eq!(account_column(&app, "C-1", "legal_name").await, "Acme 10");
    assert_eq!(app.count("crm_events").await, 11);
}
