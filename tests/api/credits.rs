//! Credit memos and adjustments over HTTP: drafts, issue within the issuer's approval limit or
//! approval above it, rejection, refusals, applications, refunds and voids, the document;
//! late fees, small-balance and bad-debt write-offs, and recoveries of written-off invoices by
//! later payments (and their undoing when the payment is returned).

use receivables::auth::{self, Role};
use serde_json::{json, Value};
use time::{Date, Duration};

use crate::helpers::*;

fn manager() -> String {
    token(Role::CollectionsManager)
}

/// A second billing user: same role, another subject.
fn other_billing() -> String {
    auth::mint(&jwt_settings(), "billing-user-2", Role::Billing, None, 600).unwrap()
}

fn number(v: &Value) -> String {
    v["number"].as_str().unwrap().to_string()
}

/// An account with a revenue code to bill it under and a credit code to credit it under.
struct Books {
    account: String,
    code: String,
    credit: String,
}

async fn books(app: &TestApp) -> Books {
    Books {
        account: id(&app.create_account(json!({})).await),
        code: app.financial_code("4000", "revenue").await,
        credit: app.financial_code("4800", "credit").await,
    }
}

/// Another account billed and credited under the same codes.
async fn other_books(app: &TestApp, b: &Books) -> Books {
    Books {
        account: id(&app.create_account(json!({})).await),
        code: b.code.clone(),
        credit: b.credit.clone(),
    }
}

/// Issues an untaxed invoice of `amount` due 30 days after `invoice_date`.
async fn invoice(app: &TestApp, b: &Books, amount: &str, invoice_date: Date) -> Value {
    app.issued_invoice(&b.account, &b.code, amount, invoice_date)
        .await
}

async fn pay(app: &TestApp, b: &Books, extra: Value) -> Reply {
    let mut body = json!({"account_id": b.account, "amount": "100.00", "currency": "USD",
        "method": "check", "reference": "10442", "received_date": today().to_string()});
    merge(&mut body, extra);
    app.post("/v1/payments", &billing(), &body).await
}

async fn get_invoice(app: &TestApp, invoice: &Value) -> Value {
    app.get(&format!("/v1/invoices/{}", id(invoice)), &billing())
        .await
        .expect(200)
        .body
}

async fn get_account(app: &TestApp, account: &str) -> Value {
    app.get(&format!("/v1/accounts/{account}"), &billing())
        .await
        .expect(200)
        .body
}

async fn get_memo(app: &TestApp, memo: &Value) -> Value {
    app.get(&format!("/v1/credit-memos/{}", id(memo)), &billing())
        .await
        .expect(200)
        .body
}

/// A credit memo draft request of the account, as `token`; `extra` replaces fields (with
/// `lines` and no `amount`, the default single amount is left out).
async fn draft_as(app: &TestApp, b: &Books, token: &str, extra: Value) -> Reply {
    let mut body = json!({"account_id": b.account, "reason": "billing_error",
        "financial_code_id": b.credit, "amount": "120.00",
        "description": "Colour overage billed twice in October"});
    if extra.get("lines").is_some() && extra.get("amount").is_none() {
        let fields = body.as_object_mut().unwrap();
        fields.remove("amount");
        fields.remove("description");
    }
    merge(&mut body, extra);
    app.post("/v1/credit-memos", token, &body).await
}

/// A credit memo draft made by billing.
async fn draft(app: &TestApp, b: &Books, extra: Value) -> Value {
    draft_as(app, b, &billing(), extra).await.expect(201).body
}

async fn issue(app: &TestApp, memo: &Value, token: &str) -> Reply {
    app.post(
        &format!("/v1/credit-memos/{}/issue", id(memo)),
        token,
        &Value::Null,
    )
    .await
}

/// A memo drafted and issued by billing (within billing's limit), answered 200.
async fn issued(app: &TestApp, b: &Books, extra: Value) -> Value {
    let memo = draft(app, b, extra).await;
    issue(app, &memo, &billing()).await.expect(200).body
}

async fn adjust(app: &TestApp, token: &str, body: Value) -> Reply {
    app.post("/v1/adjustments", token, &body).await
}

/// Whether one of the per-field errors of a problem names `field` with `code`.
fn has_error(reply: &Reply, field: &str, code: &str) -> bool {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .any(|e| e["field"] == field && e["code"] == code)
        })
        .unwrap_or(false)
}

/// A document's status, content type and bytes.
async fn document(app: &TestApp, memo: &str, format: &str) -> (u16, String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(&format!("/v1/credit-memos/{memo}/document?format={format}")))
        .bearer_auth(billing())
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

fn is_memo_number(n: &str) -> bool {
    let parts: Vec<&str> = n.split('-').collect();
    parts.len() == 3
        && parts[0] == "CM"
        && parts[1].len() == 4
        && parts[1].chars().all(|c| c.is_ascii_digit())
        && parts[2].len() == 6
        && parts[2].chars().all(|c| c.is_ascii_digit())
}

fn sequence_of(n: &str) -> u32 {
    n.rsplit('-').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_billing_user_issues_a_targeted_memo_that_credits_the_invoice_at_once() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "500.00", today() - Duration::days(5)).await;
    let memo = draft(
        &app,
        &b,
        json!({"targets": [{"invoice_id": id(&inv), "amount": "120.00"}], "memo": "Per ticket 4471"}),
    )
    .await;
    assert_eq!(memo["status"], "draft");
    assert_eq!(memo["number"], Value::Null);
    assert_eq!(memo["total"], "120.00");
    assert_eq!(memo["unapplied"], "0.00");
    assert_eq!(
        memo["lines"][0]["description"],
        "Colour overage billed twice in October"
    );
    assert_eq!(memo["targets"][0]["amount"], "120.00");
    // A draft moves nothing.
    assert_eq!(get_invoice(&app, &inv).await["balance_due"], "500.00");
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE document_id = '{}'",
            id(&memo)
        ))
        .await,
        0
    );

    let done = issue(&app, &memo, &billing()).await.expect(200).body;
    assert_eq!(done["status"], "issued");
    let first = number(&done);
    assert!(is_memo_number(&first), "{first}");
    assert!(first.starts_with(&format!("CM-{}-", today().year())));
    assert_eq!(done["credit_date"], today().to_string());
    assert_eq!(done["submitted_by"], "billing-user");
    assert_eq!(done["approved_by"], Value::Null);
    assert_eq!(done["applied"], "120.00");
    assert_eq!(done["unapplied"], "0.00");
    assert_eq!(done["applications"].as_array().unwrap().len(), 1);
    assert_eq!(done["applications"][0]["invoice_id"], inv["id"]);
    assert_eq!(done["applications"][0]["invoice_number"], inv["number"]);
    assert_eq!(done["applications"][0]["credit_memo_number"], json!(first));
    assert_eq!(done["applications"][0]["amount"], "120.00");
    assert_eq!(get_memo(&app, &memo).await, done);

    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["balance_due"], "380.00");
    assert_eq!(now["amount_credited"], "120.00");
    assert_eq!(now["status"], "open");
    let memo_id = id(&memo);
    for (kind, invoice_id, amount) in [
        ("credit_issued", "IS NULL".to_string(), "-120"),
        ("credit_applied", "IS NULL".to_string(), "120"),
        ("credit_applied", format!("= '{}'", id(&inv)), "-120"),
    ] {
        assert_eq!(
            app.count(&format!(
                "ledger_entries WHERE document_type = 'credit_memo' AND document_id = '{memo_id}' AND kind = '{kind}' AND invoice_id {invoice_id} AND amount = {amount}"
            ))
            .await,
            1,
            "{kind} {invoice_id}"
        );
    }
    assert_eq!(
        app.count(&format!("ledger_entries WHERE document_id = '{memo_id}'"))
            .await,
        3
    );
    assert_eq!(
        app.count(&format!(
            "credit_applications WHERE credit_memo_id = '{memo_id}' AND invoice_id = '{}' AND amount = 120",
            id(&inv)
        ))
        .await,
        1
    );
    for action in ["credit_memo.created", "credit_memo.submitted"] {
        assert_eq!(
            app.count(&format!(
                "audit_events WHERE action = '{action}' AND entity_type = 'credit_memo' AND entity_id = '{memo_id}' AND actor = 'billing-user' AND account_id = '{}'",
                b.account
            ))
            .await,
            1,
            "{action}"
        );
    }
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["balance"]["balance"], "380.00");
    assert_eq!(account["balance"]["unapplied_credits"], "0.00");

    // The next memo takes the next number.
    let second = issued(&app, &b, json!({"amount": "10.00", "reason": "goodwill"})).await;
    let second = number(&second);
    assert!(is_memo_number(&second), "{second}");
    assert_eq!(sequence_of(&second), sequence_of(&first) + 1);
    assert_eq!(&second[..8], &first[..8]);
    // A memo is issued once.
    issue(&app, &done, &billing())
        .await
        .expect_problem(409, "invalid_status_transition");

    let listed = app
        .get(
            &format!("/v1/credit-memos?account_id={}&status=issued", b.account),
            &token(Role::Viewer),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let goodwill = app
        .get(
            &format!(
                "/v1/credit-memos?reason=goodwill&financial_code_id={}",
                b.credit
            ),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(goodwill["data"].as_array().unwrap().len(), 1);
    assert_eq!(goodwill["data"][0]["number"], json!(second));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn above_the_issuers_limit_a_memo_waits_for_someone_else_to_approve_or_reject_it() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "1000.00", today() - Duration::days(3)).await;
    let memo = draft(
        &app,
        &b,
        json!({"amount": "600.00", "targets": [{"invoice_id": id(&inv), "amount": "600.00"}]}),
    )
    .await;
    // Approving a draft is refused: it was never submitted.
    app.post(
        &format!("/v1/credit-memos/{}/approve", id(&memo)),
        &manager(),
        &json!({}),
    )
    .await
    .expect_problem(409, "invalid_status_transition");

    let pending = issue(&app, &memo, &billing()).await.expect(200).body;
    assert_eq!(pending["status"], "pending_approval");
    assert_eq!(pending["number"], Value::Null);
    assert_eq!(pending["submitted_by"], "billing-user");
    assert_eq!(pending["unapplied"], "0.00");
    assert_eq!(pending["applications"], json!([]));
    let memo_id = id(&memo);
    assert_eq!(
        app.count(&format!("ledger_entries WHERE document_id = '{memo_id}'"))
            .await,
        0
    );
    assert_eq!(get_invoice(&app, &inv).await["balance_due"], "1000.00");
    let waiting = app
        .get("/v1/credit-memos?status=pending_approval", &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(waiting["data"][0]["id"], memo["id"]);

    let approve = format!("/v1/credit-memos/{memo_id}/approve");
    // Not by whoever submitted it.
    app.post(&approve, &billing(), &json!({"note": "fine by me"}))
        .await
        .expect_problem(403, "forbidden");
    // Not by another billing user either: 600.00 is above their 500.00 limit.
    app.post(&approve, &other_billing(), &json!({}))
        .await
        .expect_problem(403, "forbidden");
    // Collections may not approve at all.
    app.post(&approve, &token(Role::Collections), &json!({}))
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(get_memo(&app, &memo).await["status"], "pending_approval");

    let approved = app
        .post(
            &approve,
            &manager(),
            &json!({"note": "Checked against the meter log"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(approved["status"], "issued");
    assert!(is_memo_number(&number(&approved)));
    assert_eq!(approved["approved_by"], "collections_manager-user");
    assert_eq!(approved["approval_note"], "Checked against the meter log");
    assert_eq!(approved["submitted_by"], "billing-user");
    assert_eq!(approved["applied"], "600.00");
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["balance_due"], "400.00");
    assert_eq!(now["amount_credited"], "600.00");
    assert_eq!(
        app.count(&format!("ledger_entries WHERE document_id = '{memo_id}'"))
            .await,
        3
    );
    assert_eq!(
        app.count(&format!(
            "credit_memos WHERE id = '{memo_id}' AND approved_by = 'collections_manager-user' AND approved_at IS NOT NULL AND issued_at IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'credit_memo.approved' AND entity_id = '{memo_id}' AND actor = 'collections_manager-user'"
        ))
        .await,
        1
    );
    app.post(&approve, &manager(), &json!({}))
        .await
        .expect_problem(409, "invalid_status_transition");

    // The reject path.
    let second = draft(&app, &b, json!({"amount": "700.00"})).await;
    assert_eq!(
        issue(&app, &second, &billing()).await.expect(200).body["status"],
        "pending_approval"
    );
    let reject = format!("/v1/credit-memos/{}/reject", id(&second));
    let reply = app
        .post(&reject, &manager(), &json!({}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "note");
    assert_eq!(reply.body["errors"][0]["code"], "required");
    app.post(&reject, &billing(), &json!({"note": "my own"}))
        .await
        .expect_problem(403, "forbidden");
    let rejected = app
        .post(
            &reject,
            &manager(),
            &json!({"note": "Goodwill over policy"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["number"], Value::Null);
    assert_eq!(rejected["rejected_by"], "collections_manager-user");
    assert_eq!(rejected["rejection_note"], "Goodwill over policy");
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE document_id = '{}'",
            id(&second)
        ))
        .await,
        0
    );
    app.post(
        &format!("/v1/credit-memos/{}/approve", id(&second)),
        &manager(),
        &Value::Null,
    )
    .await
    .expect_problem(409, "invalid_status_transition");

    // A collections manager's own limit is unlimited: issued at once.
    let big = draft_as(&app, &b, &manager(), json!({"amount": "5000.00"}))
        .await
        .expect(201)
        .body;
    assert_eq!(
        issue(&app, &big, &manager()).await.expect(200).body["status"],
        "issued"
    );
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["balance"]["unapplied_credits"], "5000.00");
    assert_eq!(account["balance"]["balance"], "-4600.00");
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn bad_memos_and_bad_applications_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "100.00", today() - Duration::days(2)).await;
    let revenue = b.code.clone();
    let retired = app.financial_code("4899", "credit").await;
    app.post(
        &format!("/v1/financial-codes/{retired}/deactivate"),
        &admin_token(),
        &json!({}),
    )
    .await
    .expect(200);
    let target = |amount: &str| json!([{"invoice_id": id(&inv), "amount": amount}]);
    let cases = [
        (
            json!({"financial_code_id": revenue}),
            "financial_code_id",
            "wrong_kind",
        ),
        (
            json!({"financial_code_id": retired}),
            "financial_code_id",
            "inactive",
        ),
        (
            json!({"amount": "150.00", "targets": target("100.01")}),
            "targets[0].amount",
            "exceeds_balance",
        ),
        (
            json!({"amount": "50.00", "targets": target("60.00")}),
            "targets",
            "exceeds_total",
        ),
        (
            json!({"lines": [{"description": "Overage", "amount": "10.00"}], "amount": "10.00"}),
            "lines",
            "one_of",
        ),
        (json!({"amount": "10.001"}), "amount", "too_many_decimals"),
        (json!({"amount": "0.00"}), "amount", "out_of_range"),
    ];
    for (extra, field, code) in cases {
        let reply = draft_as(&app, &b, &billing(), extra.clone())
            .await
            .expect_problem(422, "validation_failed");
        assert!(has_error(&reply, field, code), "{extra}: {}", reply.body);
    }
    draft_as(&app, &b, &token(Role::Viewer), json!({}))
        .await
        .expect_problem(403, "forbidden");
    draft_as(&app, &b, &token(Role::Collections), json!({}))
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(app.count("credit_memos").await, 0);

    // Applications: an issued memo of 30.00 left on account.
    let memo = issued(&app, &b, json!({"amount": "30.00"})).await;
    assert_eq!(memo["unapplied"], "30.00");
    let other = other_books(&app, &b).await;
    let foreign = invoice(&app, &other, "50.00", today()).await;
    let paid = invoice(&app, &b, "20.00", today()).await;
    pay(
        &app,
        &b,
        json!({"amount": "20.00", "remittance": [{"invoice_id": id(&paid), "amount": "20.00"}]}),
    )
    .await
    .expect(201);
    assert_eq!(get_invoice(&app, &paid).await["status"], "paid");
    let path = format!("/v1/credit-memos/{}/applications", id(&memo));
    let refused = [
        (
            json!({"invoice_id": id(&inv), "amount": "30.01"}),
            "amount",
            "exceeds_unapplied",
        ),
        (
            json!({"invoice_id": id(&foreign), "amount": "1.00"}),
            "invoice_id",
            "other_account",
        ),
        (
            json!({"invoice_id": id(&paid), "amount": "1.00"}),
            "invoice_id",
            "not_open",
        ),
        (
            json!({"invoice_id": b.account, "amount": "1.00"}),
            "invoice_id",
            "unknown",
        ),
    ];
    for (body, field, code) in refused {
        let reply = app
            .post(&path, &billing(), &body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{body}");
        assert_eq!(reply.body["errors"][0]["code"], code, "{body}");
    }
    app.post(
        &path,
        &token(Role::Viewer),
        &json!({"invoice_id": id(&inv), "amount": "1.00"}),
    )
    .await
    .expect_problem(403, "forbidden");
    // A draft is not applied.
    let unissued = draft(&app, &b, json!({"amount": "5.00"})).await;
    app.post(
        &format!("/v1/credit-memos/{}/applications", id(&unissued)),
        &billing(),
        &json!({"invoice_id": id(&inv), "amount": "1.00"}),
    )
    .await
    .expect_problem(409, "credit_memo_not_issued");
    assert_eq!(app.count("credit_applications").await, 0);
    assert_eq!(get_memo(&app, &memo).await["unapplied"], "30.00");
    for inv in [&inv, &foreign] {
        let now = get_invoice(&app, inv).await;
        assert_eq!(now["amount_credited"], "0.00");
    }
    assert_eq!(get_invoice(&app, &inv).await["balance_due"], "100.00");
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn credit_left_on_account_is_applied_refunded_and_voided_only_while_untouched() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "500.00", today() - Duration::days(10)).await;
    let memo = issued(
        &app,
        &b,
        json!({"amount": "200.00", "reason": "service_issue"}),
    )
    .await;
    assert_eq!(memo["status"], "issued");
    assert_eq!(memo["unapplied"], "200.00");
    assert_eq!(memo["applications"], json!([]));
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["balance"]["unapplied_credits"], "200.00");
    assert_eq!(account["balance"]["open_balance"], "500.00");
    assert_eq!(account["balance"]["balance"], "300.00");
    // Nothing was applied to the invoice.
    assert_eq!(get_invoice(&app, &inv).await["balance_due"], "500.00");

    let applied = app
        .post(
            &format!("/v1/credit-memos/{}/applications", id(&memo)),
            &billing(),
            &json!({"invoice_id": id(&inv), "amount": "50.00"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(applied["applied"], "50.00");
    assert_eq!(applied["unapplied"], "150.00");
    assert_eq!(applied["applications"][0]["amount"], "50.00");
    assert_eq!(
        applied["applications"][0]["applied_on"],
        today().to_string()
    );
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["balance_due"], "450.00");
    assert_eq!(now["amount_credited"], "50.00");

    let refunds = format!("/v1/credit-memos/{}/refunds", id(&memo));
    app.post(
        &refunds,
        &token(Role::Collections),
        &json!({"amount": "30.00", "method": "check"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let too_much = app
        .post(
            &refunds,
            &billing(),
            &json!({"amount": "150.01", "method": "check"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(too_much.body["errors"][0]["code"], "exceeds_unapplied");
    let refunded = app
        .post(
            &refunds,
            &billing(),
            &json!({"amount": "30.00", "method": "ach", "reference": "ACH-991"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(refunded["refunded"], "30.00");
    assert_eq!(refunded["unapplied"], "120.00");
    assert_eq!(refunded["refunds"][0]["method"], "ach");
    assert_eq!(refunded["refunds"][0]["reference"], "ACH-991");
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE kind = 'refund' AND document_type = 'credit_memo' AND document_id = '{}' AND invoice_id IS NULL AND amount = 30",
            id(&memo)
        ))
        .await,
        1
    );
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["balance"]["unapplied_credits"], "120.00");
    assert_eq!(account["balance"]["balance"], "330.00");

    // Part of it is applied and refunded: it can no longer be voided.
    app.post(
        &format!("/v1/credit-memos/{}/void", id(&memo)),
        &billing(),
        &json!({"reason": "issued in error"}),
    )
    .await
    .expect_problem(409, "credit_memo_not_voidable");
    assert_eq!(get_memo(&app, &memo).await["status"], "issued");

    // An untouched memo is voided and its credit comes off the account.
    let fresh = issued(&app, &b, json!({"amount": "75.00"})).await;
    assert_eq!(
        get_account(&app, &b.account).await["balance"]["unapplied_credits"],
        "195.00"
    );
    let void = format!("/v1/credit-memos/{}/void", id(&fresh));
    app.post(&void, &billing(), &json!({"reason": " "}))
        .await
        .expect_problem(422, "validation_failed");
    let voided = app
        .post(&void, &billing(), &json!({"reason": "Issued twice"}))
        .await
        .expect(200)
        .body;
    assert_eq!(voided["status"], "void");
    assert_eq!(voided["number"], fresh["number"]);
    assert_eq!(voided["void_reason"], "Issued twice");
    assert_eq!(voided["unapplied"], "0.00");
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE kind = 'credit_reversal' AND document_id = '{}' AND invoice_id IS NULL AND amount = 75",
            id(&fresh)
        ))
        .await,
        1
    );
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["balance"]["unapplied_credits"], "120.00");
    assert_eq!(account["balance"]["balance"], "330.00");
    app.post(&void, &billing(), &json!({"reason": "again"}))
        .await
        .expect_problem(409, "credit_memo_not_voidable");
    // A void memo is neither applied nor refunded.
    app.post(
        &format!("/v1/credit-memos/{}/applications", id(&fresh)),
        &billing(),
        &json!({"invoice_id": id(&inv), "amount": "1.00"}),
    )
    .await
    .expect_problem(409, "credit_memo_not_issued");
    app.post(
        &format!("/v1/credit-memos/{}/refunds", id(&fresh)),
        &billing(),
        &json!({"amount": "1.00", "method": "check"}),
    )
    .await
    .expect_problem(409, "credit_memo_not_issued");
    assert_eq!(
        app.count("audit_events WHERE action IN ('credit_memo.applied', 'credit_memo.refunded', 'credit_memo.voided')")
            .await,
        3
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn the_memo_document_reads_in_html_and_pdf() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let inv = invoice(&app, &b, "300.00", today()).await;
    let memo = issued(
        &app,
        &b,
        json!({"lines": [{"description": "Colour overage billed twice", "amount": "80.00"},
                          {"description": "Late delivery goodwill", "amount": "20.00"}],
               "targets": [{"invoice_id": id(&inv), "amount": "60.00"}]}),
    )
    .await;
    assert_eq!(memo["total"], "100.00");
    assert_eq!(memo["lines"].as_array().unwrap().len(), 2);
    let (status, kind, html) = document(&app, &id(&memo), "html").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains(&number(&memo)), "the memo number");
    assert!(html.contains("Credits"));
    assert!(html.contains("Colour overage billed twice"));
    assert!(html.contains(inv["number"].as_str().unwrap()), "applied to");
    let (status, kind, pdf) = document(&app, &id(&memo), "pdf").await;
    assert_eq!(status, 200);
    assert_eq!(kind, "application/pdf");
    assert!(pdf.starts_with(b"%PDF"));
    // A draft has a document too, stamped as such.
    let unissued = draft(&app, &b, json!({})).await;
    let (status, _, html) = document(&app, &id(&unissued), "html").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(html).unwrap().contains("DRAFT"));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn late_fees_are_billed_on_a_new_invoice_by_amount_or_percentage_of_past_due() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let fee = app.financial_code("4900", "fee").await;
    let late = |account: &str, extra: Value| {
        let mut body = json!({"kind": "late_fee", "account_id": account,
            "financial_code_id": fee, "reason": "Late payment"});
        merge(&mut body, extra);
        body
    };
    let made = adjust(
        &app,
        &billing(),
        late(&b.account, json!({"amount": "35.00"})),
    )
    .await
    .expect(201)
    .body;
    let adjustments = made["adjustments"].as_array().unwrap();
    assert_eq!(adjustments.len(), 1);
    let adjustment = &adjustments[0];
    assert_eq!(adjustment["kind"], "late_fee");
    assert_eq!(adjustment["amount"], "35.00");
    assert_eq!(adjustment["currency"], "USD");
    assert_eq!(adjustment["account_id"], json!(b.account));
    assert_eq!(adjustment["financial_code_id"], json!(fee));
    assert_eq!(adjustment["reason"], "Late payment");
    assert_eq!(adjustment["created_by"], "billing-user");
    let fee_invoice = app
        .get(
            &format!(
                "/v1/invoices/{}",
                adjustment["invoice_id"].as_str().unwrap()
            ),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(fee_invoice["status"], "open");
    assert_eq!(fee_invoice["total"], "35.00");
    assert_eq!(fee_invoice["tax_total"], "0.00");
    assert_eq!(fee_invoice["balance_due"], "35.00");
    assert_eq!(fee_invoice["account_id"], json!(b.account));
    assert_eq!(fee_invoice["lines"][0]["financial_code_id"], json!(fee));
    assert!(fee_invoice["number"].as_str().is_some());
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE kind = 'invoice_issued' AND invoice_id = '{}' AND amount = 35",
            id(&fee_invoice)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'adjustment.created' AND entity_id = '{}'",
            id(adjustment)
        ))
        .await,
        1
    );

    // 1.5 % of 1,234.50 past due is 18.5175: billed 18.52.
    let overdue = other_books(&app, &b).await;
    let old = invoice(&app, &overdue, "1234.50", today() - Duration::days(40)).await;
    assert_eq!(
        old["due_date"],
        (today() - Duration::days(10)).to_string(),
        "30-day terms: due ten days ago"
    );
    let made = adjust(
        &app,
        &token(Role::Collections),
        late(&overdue.account, json!({"percentage": "1.5"})),
    )
    .await
    .expect(201)
    .body;
    let adjustment = &made["adjustments"][0];
    assert_eq!(adjustment["kind"], "late_fee");
    assert_eq!(adjustment["amount"], "18.52");
    let fee_invoice = app
        .get(
            &format!(
                "/v1/invoices/{}",
                adjustment["invoice_id"].as_str().unwrap()
            ),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(fee_invoice["total"], "18.52");
    assert_eq!(fee_invoice["status"], "open");
    assert!(fee_invoice["lines"][0]["description"]
        .as_str()
        .unwrap()
        .contains("1.5%"));
    assert_eq!(
        get_account(&app, &overdue.account).await["balance"]["balance"],
        "1253.02"
    );

    // Nothing past due: nothing to take a percentage of.
    let current = other_books(&app, &b).await;
    invoice(&app, &current, "900.00", today()).await;
    let invoices_before = app.count("invoices").await;
    let reply = adjust(
        &app,
        &billing(),
        late(&current.account, json!({"percentage": "1.5"})),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert!(
        has_error(&reply, "percentage", "nothing_past_due"),
        "{}",
        reply.body
    );
    // A fee is billed under a fee code, by whom may write adjustments.
    let reply = adjust(
        &app,
        &billing(),
        late(
            &b.account,
            json!({"amount": "35.00", "financial_code_id": b.code}),
        ),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert!(has_error(&reply, "financial_code_id", "wrong_kind"));
    let reply = adjust(
        &app,
        &billing(),
        late(&b.account, json!({"amount": "35.00", "percentage": "1.5"})),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert!(has_error(&reply, "amount", "one_of"));
    adjust(
        &app,
        &token(Role::Viewer),
        late(&b.account, json!({"amount": "35.00"})),
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(app.count("invoices").await, invoices_before);
    assert_eq!(
        get_account(&app, &current.account).await["balance"]["balance"],
        "900.00"
    );
    assert_books_balance(&app).await;
}

/// The late fee's adjustment is stored beside its fee invoice: read back, listed, audited.
#[tokio::test]
async fn a_late_fee_is_stored_as_an_adjustment_of_its_fee_invoice() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let fee = app.financial_code("4900", "fee").await;
    let made = adjust(
        &app,
        &billing(),
        json!({"kind": "late_fee", "account_id": b.account, "amount": "35.00",
            "financial_code_id": fee, "reason": "Late payment"}),
    )
    .await
    .expect(201)
    .body;
    let adjustment = &made["adjustments"][0];
    let fee_invoice = adjustment["invoice_id"].as_str().unwrap();
    assert_eq!(
        app.count(&format!(
            "adjustments WHERE id = '{}' AND kind = 'late_fee' AND invoice_id = '{fee_invoice}' AND amount = 35 AND financial_code_id = '{fee}'",
            id(adjustment)
        ))
        .await,
        1
    );
    assert_eq!(
        app.get(
            &format!("/v1/adjustments/{}", id(adjustment)),
            &token(Role::Viewer)
        )
        .await
        .expect(200)
        .body,
        *adjustment
    );
    let listed = app
        .get(
            &format!("/v1/adjustments?kind=late_fee&account_id={}", b.account),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["invoice_id"], json!(fee_invoice));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_small_balance_is_written_off_within_tolerance() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let write_off = app.financial_code("6900", "write_off").await;
    let inv = invoice(&app, &b, "100.00", today() - Duration::days(10)).await;
    let body = |amount: &str| {
        json!({"kind": "small_balance_write_off", "invoice_id": id(&inv), "amount": amount,
            "financial_code_id": write_off, "reason": "Rounding on remittance"})
    };
    // 100.00 is far above the tolerance; a small balance is only written off whole.
    adjust(&app, &billing(), body("5.01"))
        .await
        .expect_problem(409, "above_tolerance");
    pay(
        &app,
        &b,
        json!({"amount": "96.00", "remittance": [{"invoice_id": id(&inv), "amount": "96.00"}]}),
    )
    .await
    .expect(201);
    let partial = adjust(&app, &billing(), body("3.00"))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(partial.body["errors"][0]["code"], "leaves_balance");
    let made = adjust(&app, &token(Role::Collections), body("4.00"))
        .await
        .expect(201)
        .body;
    let adjustment = &made["adjustments"][0];
    assert_eq!(adjustment["kind"], "small_balance_write_off");
    assert_eq!(adjustment["amount"], "4.00");
    assert_eq!(adjustment["invoice_id"], inv["id"]);
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["balance_due"], "0.00");
    assert_eq!(now["amount_written_off"], "4.00");
    assert_eq!(now["status"], "paid");
    assert_eq!(
        app.count(&format!(
            "ledger_entries WHERE kind = 'write_off' AND document_type = 'adjustment' AND document_id = '{}' AND invoice_id = '{}' AND amount = -4",
            id(adjustment),
            id(&inv)
        ))
        .await,
        1
    );
    adjust(&app, &billing(), body("1.00"))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(app.count("adjustments").await, 1);
    // The deduction the short payment left was settled by the write-off.
    assert_eq!(app.count("deductions WHERE status = 'open'").await, 0);
    assert_eq!(
        get_account(&app, &b.account).await["balance"]["balance"],
        "0.00"
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn bad_debt_is_written_off_by_a_manager_and_never_while_disputed() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let write_off = app.financial_code("6900", "write_off").await;
    let first = invoice(&app, &b, "200.00", today() - Duration::days(120)).await;
    let second = invoice(&app, &b, "300.00", today() - Duration::days(90)).await;
    let body = json!({"kind": "bad_debt_write_off", "account_id": b.account,
        "financial_code_id": write_off, "reason": "Customer in liquidation"});
    adjust(&app, &token(Role::Collections), body.clone())
        .await
        .expect_problem(403, "forbidden");
    adjust(&app, &billing(), body.clone())
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(app.count("adjustments").await, 0);

    let made = adjust(&app, &manager(), body).await.expect(201).body;
    let adjustments = made["adjustments"].as_array().unwrap();
    assert_eq!(adjustments.len(), 2);
    let mut amounts: Vec<(String, String)> = adjustments
        .iter()
        .map(|a| {
            assert_eq!(a["kind"], "bad_debt_write_off");
            assert_eq!(a["financial_code_id"], json!(write_off));
            (
                a["invoice_id"].as_str().unwrap().to_string(),
                a["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    amounts.sort();
    let mut expected = vec![
        (id(&first), "200.00".to_string()),
        (id(&second), "300.00".to_string()),
    ];
    expected.sort();
    assert_eq!(amounts, expected);
    for (inv, written_off) in [(&first, "200.00"), (&second, "300.00")] {
        let now = get_invoice(&app, inv).await;
        assert_eq!(now["status"], "uncollectible");
        assert_eq!(now["balance_due"], "0.00");
        assert_eq!(now["amount_written_off"], written_off);
    }
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["collections_status"], "written_off");
    assert_eq!(account["balance"]["balance"], "0.00");
    assert_eq!(account["balance"]["open_invoices"], 0);
    assert_eq!(
        app.count(&format!(
            "adjustments WHERE kind = 'bad_debt_write_off' AND account_id = '{}'",
            b.account
        ))
        .await,
        2
    );
    assert_eq!(
        app.count("ledger_entries WHERE kind = 'write_off' AND document_type = 'adjustment'")
            .await,
        2
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'account.written_off' AND entity_id = '{}'",
            b.account
        ))
        .await,
        1
    );
    let listed = app
        .get("/v1/adjustments?kind=bad_debt_write_off", &billing())
        .await
        .expect(200)
        .body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    // A disputed invoice is not written off.
    let disputed_books = other_books(&app, &b).await;
    let disputed = invoice(
        &app,
        &disputed_books,
        "150.00",
        today() - Duration::days(60),
    )
    .await;
    app.open_dispute_on(&disputed, "50.00").await;
    adjust(
        &app,
        &manager(),
        json!({"kind": "bad_debt_write_off", "invoice_id": id(&disputed),
            "financial_code_id": write_off, "reason": "Uncollectible"}),
    )
    .await
    .expect_problem(409, "invoice_disputed");
    adjust(
        &app,
        &manager(),
        json!({"kind": "bad_debt_write_off", "account_id": disputed_books.account,
            "financial_code_id": write_off, "reason": "Uncollectible"}),
    )
    .await
    .expect_problem(409, "invoice_disputed");
    let now = get_invoice(&app, &disputed).await;
    assert_eq!(now["status"], "open");
    assert_eq!(now["balance_due"], "150.00");
    assert_eq!(
        get_account(&app, &disputed_books.account).await["collections_status"],
        "none"
    );
    assert_eq!(app.count("adjustments").await, 2);
    assert_books_balance(&app).await;
}

/// Bad debt is what is past due: an account's write-off leaves its invoices not yet due open
/// (and the account out of `written_off`), and an invoice not yet due is written off only when
/// the manager says so, with a reason.
#[tokio::test]
async fn bad_debt_takes_only_past_due_invoices_unless_told_otherwise_with_a_reason() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let write_off = app.financial_code("6900", "write_off").await;
    // Due 30 days after their dates: 30 days late, and due in 20 days.
    let late = invoice(&app, &b, "400.00", today() - Duration::days(60)).await;
    let current = invoice(&app, &b, "250.00", today() - Duration::days(10)).await;
    let body = |extra: Value| {
        let mut body = json!({"kind": "bad_debt_write_off", "financial_code_id": write_off,
            "reason": "Customer in liquidation"});
        merge(&mut body, extra);
        body
    };
    let made = adjust(&app, &manager(), body(json!({"account_id": b.account})))
        .await
        .expect(201)
        .body;
    let adjustments = made["adjustments"].as_array().unwrap();
    assert_eq!(adjustments.len(), 1);
    assert_eq!(adjustments[0]["invoice_id"], json!(id(&late)));
    assert_eq!(adjustments[0]["amount"], "400.00");
    assert_eq!(get_invoice(&app, &late).await["status"], "uncollectible");
    let still = get_invoice(&app, &current).await;
    assert_eq!(still["status"], "open");
    assert_eq!(still["balance_due"], "250.00");
    let account = get_account(&app, &b.account).await;
    assert_ne!(account["collections_status"], "written_off");
    assert_eq!(account["balance"]["open_balance"], "250.00");

    // Nothing past due is left: the account's write-off says how to go further.
    adjust(&app, &manager(), body(json!({"account_id": b.account})))
        .await
        .expect_problem(409, "nothing_to_write_off");
    // The invoice not yet due: refused, then refused without a reason, then done with one.
    let refused = adjust(&app, &manager(), body(json!({"invoice_id": id(&current)})))
        .await
        .expect_problem(422, "validation_failed");
    assert!(has_error(&refused, "invoice_id", "not_past_due"));
    let refused = adjust(
        &app,
        &manager(),
        body(json!({"invoice_id": id(&current), "include_not_yet_due": true})),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert!(has_error(&refused, "not_yet_due_reason", "required"));
    let refused = adjust(
        &app,
        &manager(),
        json!({"kind": "small_balance_write_off", "invoice_id": id(&current),
            "financial_code_id": write_off, "reason": "x", "include_not_yet_due": true}),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert!(has_error(&refused, "include_not_yet_due", "not_allowed"));
    assert_eq!(app.count("adjustments").await, 1);
    assert_eq!(get_invoice(&app, &current).await["balance_due"], "250.00");

    let made = adjust(
        &app,
        &manager(),
        body(json!({"account_id": b.account, "include_not_yet_due": true,
            "not_yet_due_reason": "Court order: the whole debt is unrecoverable"})),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(made["adjustments"][0]["invoice_id"], json!(id(&current)));
    assert_eq!(
        made["adjustments"][0]["reason"],
        "Customer in liquidation (not yet due: Court order: the whole debt is unrecoverable)"
    );
    assert_eq!(get_invoice(&app, &current).await["status"], "uncollectible");
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["collections_status"], "written_off");
    assert_eq!(account["balance"]["balance"], "0.00");
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'account.written_off' AND entity_id = '{}'",
            b.account
        ))
        .await,
        1
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_payment_on_a_written_off_invoice_is_a_recovery_undone_by_its_return() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let write_off = app.financial_code("6900", "write_off").await;
    let inv = invoice(&app, &b, "300.00", today() - Duration::days(100)).await;
    adjust(
        &app,
        &manager(),
        json!({"kind": "bad_debt_write_off", "invoice_id": id(&inv),
            "financial_code_id": write_off, "reason": "Skipped town"}),
    )
    .await
    .expect(201);
    assert_eq!(get_invoice(&app, &inv).await["status"], "uncollectible");

    let payment = pay(
        &app,
        &b,
        json!({"amount": "100.00", "application_mode": "none"}),
    )
    .await
    .expect(201)
    .body;
    let applied = app
        .post(
            &format!("/v1/payments/{}/applications", id(&payment)),
            &billing(),
            &json!({"invoice_id": id(&inv), "amount": "100.00"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(applied["applied"], "100.00");
    assert_eq!(applied["status"], "applied");
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["status"], "uncollectible");
    assert_eq!(now["amount_written_off"], "200.00");
    assert_eq!(now["amount_paid"], "100.00");
    assert_eq!(now["balance_due"], "0.00");
    let recovery = format!(
        "adjustments WHERE kind = 'recovery' AND invoice_id = '{}' AND payment_id = '{}' AND amount = 100 AND financial_code_id = '{write_off}'",
        id(&inv),
        id(&payment)
    );
    assert_eq!(app.count(&recovery).await, 1);
    let recoveries = app
        .get(
            &format!("/v1/adjustments?kind=recovery&invoice_id={}", id(&inv)),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(recoveries["data"][0]["payment_id"], payment["id"]);
    assert_eq!(recoveries["data"][0]["amount"], "100.00");
    assert_books_balance(&app).await;

    // No more than is still written off.
    let more = pay(
        &app,
        &b,
        json!({"amount": "500.00", "application_mode": "none"}),
    )
    .await
    .expect(201)
    .body;
    let reply = app
        .post(
            &format!("/v1/payments/{}/applications", id(&more)),
            &billing(),
            &json!({"invoice_id": id(&inv), "amount": "200.01"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "amount");
    assert_eq!(reply.body["errors"][0]["code"], "exceeds_written_off");
    assert_eq!(
        get_invoice(&app, &inv).await["amount_written_off"],
        "200.00"
    );

    // The payment bounces: what it recovered is written off again.
    let returned = app
        .post(
            &format!("/v1/payments/{}/return", id(&payment)),
            &billing(),
            &json!({"reason": "nsf"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(returned["status"], "returned");
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["status"], "uncollectible");
    assert_eq!(now["amount_written_off"], "300.00");
    assert_eq!(now["amount_paid"], "0.00");
    assert_eq!(now["balance_due"], "0.00");
    assert_eq!(
        app.count(&format!(
            "adjustments WHERE kind = 'bad_debt_write_off' AND invoice_id = '{}' AND payment_id = '{}' AND amount = 100",
            id(&inv),
            id(&payment)
        ))
        .await,
        1
    );
    let account = get_account(&app, &b.account).await;
    assert_eq!(account["balance"]["unapplied_cash"], "500.00");
    assert_eq!(account["balance"]["balance"], "-500.00");
    assert_books_balance(&app).await;
}

/// Unapplying a recovery writes the amount off again; unapplying a payment applied before
/// the write-off is refused, since it would raise a written-off balance.
#[tokio::test]
async fn only_recoveries_are_unapplied_from_a_written_off_invoice() {
    let app = spawn_app().await;
    let b = books(&app).await;
    let write_off = app.financial_code("6900", "write_off").await;
    let inv = invoice(&app, &b, "1000.00", today() - Duration::days(150)).await;
    let early = pay(
        &app,
        &b,
        json!({"amount": "400.00", "application_mode": "none"}),
    )
    .await
    .expect(201)
    .body;
    let applied = app
        .post(
            &format!("/v1/payments/{}/applications", id(&early)),
            &billing(),
            &json!({"invoice_id": id(&inv), "amount": "400.00"}),
        )
        .await
        .expect(201)
        .body;
    adjust(
        &app,
        &manager(),
        json!({"kind": "bad_debt_write_off", "invoice_id": id(&inv),
            "financial_code_id": write_off, "reason": "Gone"}),
    )
    .await
    .expect(201);
    app.post(
        &format!(
            "/v1/payments/{}/applications/{}/reverse",
            id(&early),
            id(&applied["applications"][0])
        ),
        &billing(),
        &json!({"reason": "wrong invoice"}),
    )
    .await
    .expect_problem(409, "invoice_uncollectible");
    let late = pay(
        &app,
        &b,
        json!({"amount": "100.00", "application_mode": "none"}),
    )
    .await
    .expect(201)
    .body;
    let recovered = app
        .post(
            &format!("/v1/payments/{}/applications", id(&late)),
            &billing(),
            &json!({"invoice_id": id(&inv), "amount": "100.00"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(
        get_invoice(&app, &inv).await["amount_written_off"],
        "500.00"
    );
    app.post(
        &format!(
            "/v1/payments/{}/applications/{}/reverse",
            id(&late),
            id(&recovered["applications"][0])
        ),
        &billing(),
        &json!({"reason": "applied in error"}),
    )
    .await
    .expect(200);
    let now = get_invoice(&app, &inv).await;
    assert_eq!(now["status"], "uncollectible");
    assert_eq!(now["amount_written_off"], "600.00");
    assert_eq!(now["amount_paid"], "400.00");
    assert_eq!(now["balance_due"], "0.00");
    assert_eq!(
        app.count("audit_events WHERE action = 'adjustment.created'")
            .await,
        3
    );
    assert_books_balance(&app).await;
}

/// Issues an 8.25 %-taxed invoice with the given lines `(description, amount, taxable)`.
async fn taxed_invoice(app: &TestApp, b: &Books, lines: &[(&str, &str, bool)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(description, amount, taxable)| {
            json!({"description": description, "quantity": "1", "unit_price": amount,
                   "financial_code_id": b.code, "taxable": taxable})
        })
        .collect();
    let draft = app
        .post(
            "/v1/invoices",
            &billing(),
            &json!({"account_id": b.account, "lines": lines}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/invoices/{}/issue", id(&draft)),
        &billing(),
        &json!({"invoice_date": (today() - Duration::days(5)).to_string()}),
    )
    .await
    .expect(200)
    .body
}

fn line_id(invoice: &Value, n: usize) -> String {
    invoice["lines"][n]["id"].as_str().unwrap().to_string()
}

/// A credit of a taxable invoice line credits the tax on it by the invoice's rule (tax on
/// the invoice's taxable total, rounded once): the tax credited is the invoice's tax on what
/// was left taxable less its tax on what is left, so the taxes credited add up to the
/// invoice's tax exactly. The memo and its document show net, tax and total.
#[tokio::test]
async fn a_credit_of_a_taxable_line_credits_its_tax_by_the_invoices_rule() {
    let app = spawn_app().await;
    let b = Books {
        account: id(&app.create_account(json!({"tax_rate": "8.25"})).await),
        code: app.financial_code("4000", "revenue").await,
        credit: app.financial_code("4800", "credit").await,
    };
    // Taxable 150.00: tax 12.375 → 12.38; total 192.38.
    let inv = taxed_invoice(
        &app,
        &b,
        &[
            ("Toner", "100.00", true),
            ("Staples", "50.00", true),
            ("Delivery", "30.00", false),
        ],
    )
    .await;
    assert_eq!(inv["tax_total"], "12.38");
    assert_eq!(inv["total"], "192.38");
    let line = |n: usize, amount: &str| {
        json!({"description": format!("Credit of line {}", n + 1), "amount": amount,
               "invoice_line_id": line_id(&inv, n)})
    };
    // Refusals: more than the line, the line of another account's invoice, a target by hand
    // of an invoice its lines already credit.
    let other = other_books(&app, &b).await;
    let foreign = taxed_invoice(&app, &other, &[("Toner", "10.00", true)]).await;
    for (lines, targets, field, code) in [
        (
            json!([line(0, "100.01")]),
            json!([]),
            "lines[0].amount",
            "exceeds_line",
        ),
        (
            json!([{"description": "x", "amount": "1.00", "invoice_line_id": line_id(&foreign, 0)}]),
            json!([]),
            "lines[0].invoice_line_id",
            "other_account",
        ),
        (
            json!([line(0, "10.00")]),
            json!([{"invoice_id": id(&inv), "amount": "1.00"}]),
            "targets[0].invoice_id",
            "implied_by_lines",
        ),
    ] {
        let refused = draft_as(
            &app,
            &b,
            &billing(),
            json!({"lines": lines, "targets": targets}),
        )
        .await
        .expect_problem(422, "validation_failed");
        assert!(has_error(&refused, field, code), "{}", refused.body);
    }
    assert_eq!(app.count("credit_memos").await, 0);

    // The whole 100.00 line: 12.38 − tax(50.00) 4.13 = 8.25 of tax.
    let memo = draft(&app, &b, json!({"lines": [line(0, "100.00")]})).await;
    assert_eq!(memo["lines"][0]["amount"], "100.00");
    assert_eq!(memo["lines"][0]["tax_amount"], "8.25");
    assert_eq!(memo["lines"][0]["total"], "108.25");
    assert_eq!(memo["lines"][0]["invoice_line_id"], json!(line_id(&inv, 0)));
    assert_eq!(memo["subtotal"], "100.00");
    assert_eq!(memo["tax_total"], "8.25");
    assert_eq!(memo["total"], "108.25");
    assert_eq!(memo["targets"][0]["amount"], "108.25");
    let issued = issue(&app, &memo, &billing()).await.expect(200).body;
    assert_eq!(issued["applied"], "108.25");
    let after = get_invoice(&app, &inv).await;
    assert_eq!(after["amount_credited"], "108.25");
    assert_eq!(after["balance_due"], "84.13");
    // What is left is the other lines and the tax on the taxable one: 50.00 + 4.13 + 30.00.
    assert_eq!(
        app.value(&format!(
            "SELECT credited_taxable FROM invoices WHERE id = '{}'",
            id(&inv)
        ))
        .await,
        "100.00"
    );
    // The untaxed line credits no tax; the rest of the taxable line takes the rest of the tax.
    let second = draft(
        &app,
        &b,
        json!({"lines": [line(2, "30.00"), line(1, "50.00")]}),
    )
    .await;
    let taxes: Vec<&str> = second["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tax_amount"].as_str().unwrap())
        .collect();
    assert_eq!(taxes, ["0.00", "4.13"]);
    assert_eq!(second["total"], "84.13");
    issue(&app, &second, &billing()).await.expect(200);
    let after = get_invoice(&app, &inv).await;
    assert_eq!(after["balance_due"], "0.00");
    assert_eq!(after["status"], "paid");
    assert_eq!(
        app.value(&format!(
            "SELECT sum(l.tax_amount) FROM credit_memo_lines l WHERE l.invoice_id = '{}'",
            id(&inv)
        ))
        .await,
        "12.38"
    );
    // The document shows net, tax and total.
    let (status, _, html) = document(&app, &id(&memo), "html").await;
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("Net 100.00, tax 8.25, total 108.25"),
        "{html}"
    );
    assert!(html.contains("Tax"));
    assert_books_balance(&app).await;
}

/// A dispute of a taxable line is of its net amount, and the tax on it is held with it; found
/// valid for the whole line, its credit memo credits the line and its tax, and what the
/// invoice still owes is the other line with its own tax.
#[tokio::test]
async fn a_valid_dispute_of_a_whole_taxable_line_leaves_that_line_no_tax() {
    let app = spawn_app().await;
    let b = Books {
        account: id(&app.create_account(json!({"tax_rate": "8.25"})).await),
        code: app.financial_code("4000", "revenue").await,
        credit: app.financial_code("4800", "credit").await,
    };
    // Taxable 300.00: tax 24.75; total 324.75.
    let inv = taxed_invoice(
        &app,
        &b,
        &[("Service visit", "200.00", true), ("Parts", "100.00", true)],
    )
    .await;
    let refused = app
        .post(
            "/v1/disputes",
            &billing(),
            &json!({"invoice_id": id(&inv), "invoice_line_id": line_id(&inv, 0),
                    "amount": "200.01", "reason": "service_not_rendered", "description": "No visit"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.error_field(), "amount");
    let dispute = app
        .post(
            "/v1/disputes",
            &billing(),
            &json!({"invoice_id": id(&inv), "invoice_line_id": line_id(&inv, 0),
                    "amount": "200.00", "reason": "service_not_rendered", "description": "No visit"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(dispute["amount"], "200.00");
    // The tax on it (24.75 − tax(100.00) 8.25 = 16.50) is held too: not dunned.
    assert_eq!(get_invoice(&app, &inv).await["disputed_amount"], "216.50");
    let resolved = app
        .post(
            &format!("/v1/disputes/{}/resolve", id(&dispute)),
            &manager(),
            &json!({"outcome": "valid", "root_cause": "billing_error", "note": "Confirmed",
                    "approved_amount": "200.00", "financial_code_id": b.credit}),
        )
        .await
        .expect(200)
        .body;
    let memo = app
        .get(
            &format!(
                "/v1/credit-memos/{}",
                resolved["credit_memo_id"].as_str().unwrap()
            ),
            &billing(),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(memo["status"], "issued");
    assert_eq!(memo["lines"][0]["amount"], "200.00");
    assert_eq!(memo["lines"][0]["tax_amount"], "16.50");
    assert_eq!(memo["total"], "216.50");
    let after = get_invoice(&app, &inv).await;
    assert_eq!(after["disputed_amount"], "0.00");
    // Left: the 100.00 line and its 8.25 of tax; the disputed line's tax is gone.
    assert_eq!(after["balance_due"], "108.25");
    assert_books_balance(&app).await;
}

/// Voiding an issued credit of a line gives the invoice's taxable amount back, so a later
/// credit of the same line takes the tax again.
#[tokio::test]
async fn voiding_a_line_credit_gives_its_taxable_amount_back() {
    let app = spawn_app().await;
    let b = Books {
        account: id(&app.create_account(json!({"tax_rate": "8.25"})).await),
        code: app.financial_code("4000", "revenue").await,
        credit: app.financial_code("4800", "credit").await,
    };
    let inv = taxed_invoice(&app, &b, &[("Toner", "100.00", true)]).await;
    // Paid in full: the credit stays on account, untouched, and can be voided.
    pay(&app, &b, json!({"amount": "108.25"})).await.expect(201);
    let line = json!([{"description": "Wrong toner", "amount": "40.00",
                       "invoice_line_id": line_id(&inv, 0)}]);
    let memo = issued(&app, &b, json!({"lines": line.clone()})).await;
    assert_eq!(memo["tax_total"], "3.30");
    assert_eq!(memo["unapplied"], "43.30");
    app.post(
        &format!("/v1/credit-memos/{}/void", id(&memo)),
        &billing(),
        &json!({"reason": "raised in error"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.value(&format!(
            "SELECT credited_taxable FROM invoices WHERE id = '{}'",
            id(&inv)
        ))
        .await,
        "0"
    );
    let again = issued(&app, &b, json!({"lines": line})).await;
    assert_eq!(again["tax_total"], "3.30");
    assert_books_balance(&app).await;
}
