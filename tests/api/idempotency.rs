//! `Idempotency-Key`: replays return the first response, a changed body is refused, and
//! concurrent duplicates have exactly one effect.

use receivables::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_replay_returns_the_first_response_without_a_second_effect() {
    let app = spawn_app().await;
    let body = account_body("Acme");
    let first = app
        .post_with_key("/v1/accounts", &admin_token(), "key-1", &body)
        .await
        .expect(201);
    let again = app
        .post_with_key("/v1/accounts", &admin_token(), "key-1", &body)
        .await
        .expect(201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(app.count("accounts").await, 1);
    assert_eq!(app.count("audit_events").await, 1);
    assert_eq!(
        app.count("idempotency_keys WHERE key = 'key-1' AND response_status = 201")
            .await,
        1
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_or_path_is_refused() {
    let app = spawn_app().await;
    app.post_with_key(
        "/v1/accounts",
        &admin_token(),
        "key-1",
        &account_body("Acme"),
    )
    .await
    .expect(201);
    app.post_with_key(
        "/v1/accounts",
        &admin_token(),
        "key-1",
        &account_body("Globex"),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    app.post_with_key(
        "/v1/partners",
        &admin_token(),
        "key-1",
        &json!({"code": "P", "name": "P"}),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    assert_eq!(app.count("accounts").await, 1);
    assert_eq!(app.count("partners").await, 0);
}

#[tokio::test]
async fn keys_belong_to_their_caller_and_failed_requests_keep_them_free() {
    let app = spawn_app().await;
    let body = account_body("Acme");
    app.post_with_key("/v1/accounts", &token(Role::Admin), "shared", &body)
        .await
        .expect(201);
    app.post_with_key("/v1/accounts", &token(Role::Billing), "shared", &body)
        .await
        .expect(201);
    assert_eq!(app.count("accounts").await, 2);

    let mut bad = account_body("Bad");
    merge(&mut bad, json!({"partner_id": uuid::Uuid::now_v7()}));
    app.post_with_key("/v1/accounts", &admin_token(), "retry-me", &bad)
        .await
        .expect(422);
    assert_eq!(
        app.count("idempotency_keys WHERE key = 'retry-me'").await,
        0
    );
    app.post_with_key(
        "/v1/accounts",
        &admin_token(),
        "retry-me",
        &account_body("Fixed"),
    )
    .await
    .expect(201);

    let reply = app
        .send(
            app.client
                .post(app.url("/v1/accounts"))
                .bearer_auth(admin_token())
                .header("Idempotency-Key", "")
                .json(&body),
        )
        .await;
    reply.expect_problem(400, "invalid_idempotency_key");
}

#[tokio::test]
async fn twenty_concurrent_duplicates_create_one_account() {
    let app = spawn_app().await;
    let body = account_body("Acme");
    let token = admin_token();
    let requests = (0..20).map(|_| app.post_with_key("/v1/accounts", &token, "burst-1", &body));
    let replies = futures_util::future::join_all(requests).await;
    let first = &replies[0].body;
    for reply in &replies {
        assert_eq!(reply.status, 201, "body: {}", reply.body);
        assert_eq!(&reply.body, first, "every duplicate sees the one account");
    }
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.header("idempotent-replayed").is_none())
            .count(),
        1
    );
    assert_eq!(app.count("accounts").await, 1);
    assert_eq!(
        app.count("audit_events WHERE action = 'account.created'")
            .await,
        1
    );
    assert_eq!(
        app.value("SELECT last_value FROM account_numbers").await,
        "1",
        "the replays took no number"
    );
}

#[tokio::test]
async fn concurrent_creations_get_distinct_gapless_numbers() {
    let app = spawn_app().await;
    let token = admin_token();
    let bodies: Vec<_> = (0..20)
        .map(|i| account_body(&format!("Customer {i}")))
        .collect();
    let replies =
        futures_util::future::join_all(bodies.iter().map(|b| app.post("/v1/accounts", &token, b)))
            .await;
    let mut numbers: Vec<String> = replies
        .into_iter()
        .map(|r| r.expect(201).body["number"].as_str().unwrap().to_string())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=20).map(|n| format!("ACC-{n:06}")).collect();
    assert_eq!(numbers, expected);
}

/// Actions honour `Idempotency-Key` as creations do: issuing or voiding an invoice twice
/// with one key has one effect and answers the first response again.
#[tokio::test]
async fn actions_replay_their_first_answer() {
    let app = spawn_app().await;
    let account = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let billing = token(Role::Billing);
    let draft = app
        .post(
            "/v1/invoices",
            &billing,
            &json!({"account_id": account, "lines": [
                {"description": "Toner", "quantity": "1", "unit_price": "100.00", "financial_code_id": code}]}),
        )
        .await
        .expect(201)
        .body;
    let issue = format!("/v1/invoices/{}/issue", id(&draft));
    let first = app
        .post_with_key(&issue, &billing, "issue-1", &json!({}))
        .await
        .expect(200);
    assert!(first.header("etag").is_some());
    let again = app
        .post_with_key(&issue, &billing, "issue-1", &json!({}))
        .await
        .expect(200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    // Without the key, the second issue is refused: it is not a draft any more.
    app.post(&issue, &billing, &json!({}))
        .await
        .expect_problem(409, "invoice_not_draft");
    let void = format!("/v1/invoices/{}/void", id(&draft));
    // The key of the issue is not the void's.
    app.post_with_key(
        &void,
        &billing,
        "issue-1",
        &json!({"reason": "Wrong account"}),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    let void_body = json!({"reason": "Wrong account"});
    let void_once = || app.post_with_key(&void, &billing, "void-1", &void_body);
    let voided = void_once().await.expect(200);
    let replay = void_once().await.expect(200);
    assert_eq!(replay.body, voided.body);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(voided.body["status"], "void");
    let invoice = id(&draft);
    for action in ["invoice.issued", "invoice.voided"] {
        assert_eq!(
            app.count(&format!(
                "audit_events WHERE action = '{action}' AND entity_id = '{invoice}'"
            ))
            .await,
            1
        );
    }
    assert_eq!(
        app.count(&format!("ledger_entries WHERE invoice_id = '{invoice}'"))
            .await,
        2
    );
    assert_books_balance(&app).await;
}

/// The same for a note on a dispute and for closing an account: one effect per key, the
/// first answer again on a retry.
#[tokio::test]
async fn notes_and_closings_happen_once_per_key() {
    let app = spawn_app().await;
    let account = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let invoice = app.issued_invoice(&account, &code, "300.00", today()).await;
    let dispute = app.open_dispute_on(&invoice, "50.00").await;
    let notes = format!("/v1/disputes/{}/notes", id(&dispute));
    let note = json!({"text": "Called the AP desk"});
    let billing = token(Role::Billing);
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(
            app.post_with_key(&notes, &billing, "note-1", &note)
                .await
                .expect(201),
        );
    }
    assert_eq!(answers[1].body, answers[0].body);
    assert_eq!(answers[1].header("idempotent-replayed"), Some("true"));
    assert_eq!(app.count("dispute_notes").await, 1);

    let closable = id(&app.create_account(json!({})).await);
    let close = format!("/v1/accounts/{closable}/close");
    let reason = json!({"reason": "Customer moved away"});
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(
            app.post_with_key(&close, &admin_token(), "close-1", &reason)
                .await
                .expect(200),
        );
    }
    assert_eq!(answers[0].body["status"], "closed");
    assert_eq!(answers[1].body, answers[0].body);
    assert_eq!(answers[1].header("etag"), answers[0].header("etag"));
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'account.closed' AND entity_id = '{closable}'"
        ))
        .await,
        1
    );
}

/// Retiring a code, applying the assignment rules and running dunning by hand honour the key
/// too; duplicates sent at the same time wait for the first and answer what it answered.
#[tokio::test]
async fn code_switches_rule_applications_and_dunning_runs_happen_once_per_key() {
    let app = spawn_app().await;
    let code = app.financial_code("4000", "revenue").await;
    let admin = admin_token();
    let deactivate = format!("/v1/financial-codes/{code}/deactivate");
    let first = app
        .post_with_key(&deactivate, &admin, "retire-1", &json!({}))
        .await
        .expect(200);
    let again = app
        .post_with_key(&deactivate, &admin, "retire-1", &json!({}))
        .await
        .expect(200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(first.body["active"], false);
    app.post(&deactivate, &admin, &json!({}))
        .await
        .expect_problem(409, "no_change");
    app.post_with_key(
        &format!("/v1/financial-codes/{code}/activate"),
        &admin,
        "retire-1",
        &json!({}),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    assert_eq!(
        app.count("audit_events WHERE action = 'financial_code.deactivated'")
            .await,
        1
    );

    let manager = token(Role::CollectionsManager);
    let revenue = app.financial_code("4100", "revenue").await;
    let account = id(&app.create_account(json!({})).await);
    app.issued_invoice(
        &account,
        &revenue,
        "700.00",
        today() - time::Duration::days(40),
    )
    .await;
    app.post(
        "/v1/collections/assignment-rules",
        &manager,
        &json!({"position": 1, "collector": "collector-1"}),
    )
    .await
    .expect(201);
    let (apply, empty) = ("/v1/collections/assignment-rules/apply", json!({}));
    let (a, b) = tokio::join!(
        app.post_with_key(apply, &manager, "apply-1", &empty),
        app.post_with_key(apply, &manager, "apply-1", &empty),
    );
    let (a, b) = (a.expect(200), b.expect(200));
    assert_eq!(a.body, b.body);
    assert_eq!(a.body["changes"].as_array().unwrap().len(), 1, "{}", a.body);
    assert_eq!(
        app.count("audit_events WHERE action = 'collection_portfolios.reassigned'")
            .await,
        1
    );

    app.post(
        "/v1/collections/dunning-policies",
        &manager,
        &json!({"name": "Standard", "is_default": true, "steps": [
            {"days_past_due": 5, "action": "reminder_email",
             "template": {"subject": "{{invoice.number}} is overdue",
                          "text": "{{amount}} {{currency}} is {{days_past_due}} days late."}}]}),
    )
    .await
    .expect(201);
    let run = json!({"as_of": today().to_string()});
    let runs = "/v1/collections/dunning-runs";
    let (a, b) = tokio::join!(
        app.post_with_key(runs, &manager, "dun-1", &run),
        app.post_with_key(runs, &manager, "dun-1", &run),
    );
    let (a, b) = (a.expect(201), b.expect(201));
    assert_eq!(a.body["id"], b.body["id"]);
    let replayed = [&a, &b]
        .iter()
        .filter(|r| r.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 1);
    assert_eq!(app.count("dunning_runs").await, 1);
    // Once the run is over, a retry answers it finished, as the first request did.
    let retry = app
        .post_with_key(runs, &manager, "dun-1", &run)
        .await
        .expect(201);
    assert_eq!(retry.body["status"], "completed");
    assert_eq!(retry.body["notices"], 1, "{}", retry.body);
    assert_eq!(app.count("dunning_runs").await, 1);
    app.post_with_key(
        runs,
        &manager,
        "dun-1",
        &json!({"as_of": (today() - time::Duration::days(1)).to_string()}),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
}
