//! What clients receive, as reviewed snapshots: a small book built through the API, and the
//! JSON of each resource's main answer compared with `tests/api/snapshots/*.snap`. A change to
//! a response shows up as a diff of those files in review (README, "The two commands", on
//! rewriting them). With `CI` set, insta fails on a difference and writes nothing.
//!
//! What varies between runs is redacted before comparing: ids (named by what they are, so the
//! links between resources stay visible), request ids, timestamps (the clock ticks in real
//! time), page cursors, and the years of dates and document numbers, taken back to the test
//! calendar so that the run with `TEST_CLOCK_SHIFT_YEARS` compares with the same files; SLA
//! dates, counted in business days, are redacted too. Versions, numbers, amounts and the other
//! dates are kept.

use insta::internals::{Content, ContentPath};
use receivables::auth::Role;
use serde_json::{json, Map, Value};
use time::Duration;

use crate::helpers::*;

/// Ids the book created, with the names they are shown under.
#[derive(Default)]
struct Names(Vec<(String, String)>);

impl Names {
    fn name(&mut self, id: &str, what: &str) {
        self.0.push((id.to_string(), format!("[{what}]")));
    }

    /// `value` as compared: ids by name (`[uuid]` when the book did not name it),
    /// timestamps as `[timestamp]`, dates and numbers in the test calendar.
    fn redact(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact_text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.redact(v)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| match (k.as_str(), v) {
                        // Each request's own id, for support: a UUID of no resource.
                        ("request_id", Value::String(_)) => (k.clone(), json!("[request_id]")),
                        _ => (k.clone(), self.redact(v)),
                    })
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }

    fn redact_text(&self, text: &str) -> String {
        if is_timestamp(text) {
            return "[timestamp]".into();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((at, uuid)) = find_uuid(rest) {
            out.push_str(&rest[..at]);
            let name = self
                .0
                .iter()
                .find(|(id, _)| id.eq_ignore_ascii_case(uuid))
                .map_or("[uuid]", |(_, name)| name.as_str());
            out.push_str(name);
            rest = &rest[at + uuid.len()..];
        }
        out.push_str(rest);
        unshift(&out)
    }
}

/// An RFC 3339 instant (`2026-11-25T12:00:00.123456Z`): the time of day varies by run.
fn is_timestamp(text: &str) -> bool {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

/// The first UUID-shaped part of `text` (8-4-4-4-12 hex digits) and where it starts.
fn find_uuid(text: &str) -> Option<(usize, &str)> {
    let bytes = text.as_bytes();
    let groups = [8, 4, 4, 4, 12];
    (0..bytes.len().saturating_sub(35)).find_map(|start| {
        let mut i = start;
        for (n, len) in groups.iter().enumerate() {
            if n > 0 {
                if bytes.get(i) != Some(&b'-') {
                    return None;
                }
                i += 1;
            }
            let group = bytes.get(i..i + len)?;
            if !group.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            i += len;
        }
        let alone = |b: Option<&u8>| !b.is_some_and(|b| b.is_ascii_alphanumeric());
        (alone(start.checked_sub(1).and_then(|k| bytes.get(k))) && alone(bytes.get(i)))
            .then(|| (start, &text[start..i]))
    })
}

/// `text` with the years of its dates and numbers taken back by `TEST_CLOCK_SHIFT_YEARS`:
/// the inverse of the helpers' `sh` (same rule for what a year is), so that
/// `INV-2031-000001` and `2031-10-01` of the shifted run read as in the test calendar.
fn unshift(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if run == 0 {
            let c = text[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let digits = &text[i..i + run];
        let before = i.checked_sub(1).map(|k| bytes[k]);
        let after = bytes.get(i + run).copied();
        let alone = !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric());
        let starts_date =
            after == Some(b'-') && bytes.get(i + run + 1).is_some_and(|b| b.is_ascii_digit());
        let ends_date = i >= 4
            && before == Some(b' ')
            && bytes[i - 4..i - 1].iter().all(|b| b.is_ascii_alphabetic());
        match digits.parse::<i32>() {
            Ok(year) if run == 4 && alone && (starts_date || ends_date) => {
                let base = year - shift_years();
                if (2000..2100).contains(&base) {
                    out.push_str(&base.to_string());
                } else {
                    out.push_str(digits);
                }
            }
            _ => out.push_str(digits),
        }
        i += run;
    }
    out
}

/// Compares `value` (redacted) with the snapshot `name`; `request` describes what answered
/// it, in the snapshot's header.
fn check(names: &Names, name: &str, request: &str, value: &Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(names.redact_text(request));
    // Opaque page cursors encode ids and positions: present or absent is what clients see.
    settings.add_redaction(".next_cursor", insta::dynamic_redaction(cursor));
    // Counted in business days: the weekday a date falls on differs from one test calendar
    // to the other (the disputes tests check the count).
    settings.add_redaction(".**.sla_due_date", "[business days from opened_on]");
    let value = names.redact(value);
    settings.bind(|| insta::assert_json_snapshot!(name, value));
}

fn cursor(value: Content, _: ContentPath) -> Content {
    match value.as_str() {
        Some(_) => "[cursor]".into(),
        None => value,
    }
}

/// A GET's answer, which must be 200.
async fn read(app: &TestApp, path: &str) -> Value {
    app.get(path, &admin_token()).await.expect(200).body
}

/// The book: a partner, two financial codes, an account with a contact, an active monthly
/// lease billed once (October, in advance, taxed), a dispute of 50.00 on that invoice, a
/// payment of 100.00 against it (short: a deduction), a credit memo of 20.00 on it, a promise
/// for 60.00 of what is past due, and a task.
struct Book {
    names: Names,
    account: String,
    contract: String,
    invoice: String,
    payment: String,
    credit_memo: String,
    dispute: String,
    promise: String,
    partner: String,
    revenue: String,
    task: String,
}

async fn book(app: &TestApp) -> Book {
    let mut names = Names::default();
    let partner = id(&app
        .post(
            "/v1/partners",
            &admin_token(),
            &json!({"code": "NW-OFFICE", "name": "Northwest Office Systems",
                "contact_email": "ar@nw.example"}),
        )
        .await
        .expect(201)
        .body);
    names.name(&partner, "partner");
    let revenue = app.financial_code("4100-LEASE", "revenue").await;
    names.name(&revenue, "financial_code:4100-LEASE");
    let credit = app.financial_code("4800", "credit").await;
    names.name(&credit, "financial_code:4800");

    let account = id(&app.create_account(json!({"partner_id": partner})).await);
    names.name(&account, "account");
    let contact = id(&app
        .post(
            &format!("/v1/accounts/{account}/contacts"),
            &billing(),
            &json!({"name": "Dana Smith", "email": "ap@acme.example",
                "phone": "+1 555 010 2000", "role": "accounts_payable"}),
        )
        .await
        .expect(201)
        .body);
    names.name(&contact, "contact");

    let contract = app
        .active_contract(json!({
            "account_id": account,
            "kind": "lease",
            "start_date": d("2026-10-01"),
            "end_date": d("2027-09-30"),
            "billing_frequency": "monthly",
            "anchor_day": 1,
            "billing_timing": "advance",
            "description": "Copier lease",
            "external_reference": "CRM-C-1",
            "charges": [{"description": "Base lease charge", "amount": "250.00",
                "financial_code_id": revenue, "taxable": true}]
        }))
        .await;
    names.name(&contract, "contract");
    let run = app
        .billing_run(json!({"as_of": d("2026-10-01"), "contract_id": contract, "mode": "issue"}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    names.name(&id(&run), "billing_run");
    let invoices = read(app, &format!("/v1/invoices?billing_run_id={}", id(&run))).await;
    let invoice = id(&invoices["data"][0]);
    names.name(&invoice, "invoice");

    let dispute = id(&app
        .post(
            "/v1/disputes",
            &billing(),
            &json!({"invoice_id": invoice, "amount": "50.00", "reason": "pricing",
                "description": "The rate is not the contract's",
                "contact": {"name": "Dana Smith", "email": "ap@acme.example"}}),
        )
        .await
        .expect(201)
        .body);
    names.name(&dispute, "dispute");

    let payment = id(&app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": account, "amount": "100.00", "currency": "USD",
                "method": "check", "reference": "10442", "received_date": today().to_string(),
                "remittance": [{"invoice_id": invoice, "amount": "100.00"}]}),
        )
        .await
        .expect(201)
        .body);
    names.name(&payment, "payment");

    let draft = app
        .post(
            "/v1/credit-memos",
            &billing(),
            &json!({"account_id": account, "reason": "billing_error",
                "financial_code_id": credit, "amount": "20.00",
                "description": "Toner billed twice in October",
                "targets": [{"invoice_id": invoice, "amount": "20.00"}],
                "memo": "Per ticket 4471"}),
        )
        .await
        .expect(201)
        .body;
    let credit_memo = id(&draft);
    names.name(&credit_memo, "credit_memo");
    app.post(
        &format!("/v1/credit-memos/{credit_memo}/issue"),
        &billing(),
        &Value::Null,
    )
    .await
    .expect(200);

    let promise = id(&app
        .post(
            "/v1/collections/promises",
            &token(Role::Collections),
            &json!({"account_id": account, "instalments": [
                {"amount": "30.00", "due_date": today().to_string()},
                {"amount": "30.00", "due_date": (today() + Duration::days(14)).to_string()}]}),
        )
        .await
        .expect(201)
        .body);
    names.name(&promise, "promise");

    let task = id(&app
        .post(
            "/v1/tasks",
            &token(Role::Collections),
            &json!({"type": "call_customer", "subject_type": "account", "subject_id": account,
                "account_id": account, "title": "Call about the October invoice",
                "description": "Ask for a payment date.",
                "due_date": d("2026-12-05"), "priority": "high", "assignee": "jane.doe"}),
        )
        .await
        .expect(201)
        .body);
    names.name(&task, "task");

    assert_books_balance(app).await;
    Book {
        names,
        account,
        contract,
        invoice,
        payment,
        credit_memo,
        dispute,
        promise,
        partner,
        revenue,
        task,
    }
}

#[tokio::test]
async fn the_main_answers_of_each_resource_are_as_reviewed() {
    let app = spawn_app().await;
    let b = book(&app).await;
    let reads = [
        ("account", format!("/v1/accounts/{}", b.account)),
        ("contract", format!("/v1/contracts/{}", b.contract)),
        ("invoice", format!("/v1/invoices/{}", b.invoice)),
        ("payment", format!("/v1/payments/{}", b.payment)),
        ("credit_memo", format!("/v1/credit-memos/{}", b.credit_memo)),
        ("dispute", format!("/v1/disputes/{}", b.dispute)),
        (
            "collections_profile",
            format!("/v1/collections/accounts/{}", b.account),
        ),
        ("promise", format!("/v1/collections/promises/{}", b.promise)),
        ("partner", format!("/v1/partners/{}", b.partner)),
        (
            "financial_code",
            format!("/v1/financial-codes/{}", b.revenue),
        ),
        ("task", format!("/v1/tasks/{}", b.task)),
        (
            "invoice_list",
            format!("/v1/invoices?account_id={}", b.account),
        ),
        // The first of two pages: with its cursor to the next.
        (
            "financial_code_list_page",
            "/v1/financial-codes?limit=1".into(),
        ),
    ];
    for (name, path) in reads {
        let body = read(&app, &path).await;
        check(&b.names, name, &format!("GET {path}"), &body);
    }
}

#[tokio::test]
async fn a_refusal_is_answered_as_reviewed() {
    let app = spawn_app().await;
    let b = book(&app).await;
    let path = format!("/v1/payments/{}/applications", b.payment);
    let reply = app
        .post(
            &path,
            &billing(),
            &json!({"invoice_id": b.invoice, "amount": "1.001"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    let answer = json!({
        "status": reply.status,
        "content_type": reply.header("content-type"),
        "body": reply.body,
    });
    check(&b.names, "problem", &format!("POST {path}"), &answer);
}
