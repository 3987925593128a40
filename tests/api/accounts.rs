//! Accounts and their contacts: a billing specialist's story from opening to closing.

use receivables::auth::Role;
use serde_json::json;

use crate::helpers::*;

fn id(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_account_is_created_with_the_next_number_and_read_back() {
    let app = spawn_app().await;
    let partner = app.create_partner("NW-OFFICE").await;
    let reply = app
        .post(
            "/v1/accounts",
            &token(Role::Billing),
            &json!({
                "legal_name": "Acme Manufacturing Inc.",
                "currency": "USD",
                "payment_terms_days": 45,
                "tax_rate": "8.25",
                "partner_id": partner["id"],
                "autopay_enabled": true,
                "autopay_method": "ach",
                "external_crm_id": "CRM-77",
                "billing_address": {"line1": "100 Main St", "city": "Springfield", "country": "US"},
                "presentment": {"channel": "portal", "po_number_required": true, "po_number": "PO-7781",
                                 "reference_fields": [{"name": "Cost center", "value": "CC-1", "required": true}],
                                 "invoice_grouping": "per_contract"}
            }),
        )
        .await
        .expect(201);
    let account = reply.body;
    assert_eq!(account["number"], "ACC-000001");
    assert_eq!(account["tax_rate"], "8.2500");
    assert_eq!(account["status"], "active");
    assert_eq!(account["collections_status"], "none");
    assert_eq!(account["credit_status"], "good");
    assert_eq!(
        account["presentment"]["reference_fields"][0]["value"],
        "CC-1"
    );
    assert_eq!(account["version"], 1);
    assert_eq!(app.count(&format!("accounts WHERE id = '{}' AND number = 'ACC-000001' AND payment_terms_days = 45 AND partner_id IS NOT NULL", id(&account))).await, 1);

    let second = app.create_account(json!({})).await;
    assert_eq!(second["number"], "ACC-000002");

    let fetched = app
        .get(
            &format!("/v1/accounts/{}", id(&account)),
            &token(Role::Viewer),
        )
        .await
        .expect(200);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(fetched.body["legal_name"], "Acme Manufacturing Inc.");
    assert_eq!(fetched.body["presentment"]["channel"], "portal");
    app.get(
        &format!("/v1/accounts/{}", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");
}

#[tokio::test]
async fn given_numbers_are_kept_and_generated_ones_skip_them() {
    let app = spawn_app().await;
    let given = app.create_account(json!({"number": "ACC-000001"})).await;
    assert_eq!(given["number"], "ACC-000001");
    let generated = app.create_account(json!({})).await;
    assert_eq!(generated["number"], "ACC-000002");
    let reply = app
        .post("/v1/accounts", &admin_token(), &{
            let mut b = account_body("Dup");
            merge(&mut b, json!({"number": "ACC-000001"}));
            b
        })
        .await
        .expect_problem(409, "duplicate_number");
    assert_eq!(reply.error_field(), "number");
    let reply = app
        .post("/v1/accounts", &admin_token(), &{
            let mut b = account_body("Bad");
            merge(&mut b, json!({"number": "acc 1"}));
            b
        })
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "number");
    assert_eq!(app.count("accounts").await, 2);
}

#[tokio::test]
async fn money_with_too_many_decimals_and_unknown_partners_are_refused() {
    let app = spawn_app().await;
    let mut body = account_body("Acme");
    merge(&mut body, json!({"credit_limit": "1000.005"}));
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "credit_limit");
    assert_eq!(reply.body["errors"][0]["code"], "too_many_decimals");

    let mut body = account_body("Acme");
    merge(&mut body, json!({"partner_id": uuid::Uuid::now_v7()}));
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "partner_id");

    let mut body = account_body("Acme");
    merge(&mut body, json!({"tax_exempt": true}));
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "tax_exemption_number");
    assert_eq!(app.count("accounts").await, 0);
    assert_eq!(
        app.value("SELECT is_called FROM account_numbers").await,
        "false",
        "no number was used up"
    );
}

#[tokio::test]
async fn credit_fields_need_a_credit_role() {
    let app = spawn_app().await;
    let mut body = account_body("Acme");
    merge(&mut body, json!({"credit_limit": "25000.00"}));
    app.post("/v1/accounts", &token(Role::Billing), &body)
        .await
        .expect_problem(403, "forbidden");
    let account = app.create_account(json!({})).await;
    let path = format!("/v1/accounts/{}", id(&account));
    app.patch(
        &path,
        &token(Role::Billing),
        &json!({"credit_limit": "5000", "version": 1}),
    )
    .await
    .expect_problem(403, "forbidden");
    let reply = app
        .patch(
            &path,
            &token(Role::Credit),
            &json!({"credit_limit": "5000", "credit_status": "watch", "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["credit_limit"], "5000.00");
    assert_eq!(reply.body["credit_status"], "watch");
    app.patch(
        &path,
        &token(Role::Credit),
        &json!({"legal_name": "X", "version": 2}),
    )
    .await
    .expect_problem(403, "forbidden");
    let reply = app
        .patch(
            &path,
            &token(Role::Collections),
            &json!({"collections_status": "promised", "version": 2}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["collections_status"], "promised");
    assert_eq!(
        app.count("accounts WHERE credit_limit = 5000 AND collections_status = 'promised'")
            .await,
        1
    );
    // Approving terms is credit's job: a credit analyst changes payment terms, and the change
    // is audited; collections cannot, nor can credit touch the rest of the profile with them.
    app.patch(
        &path,
        &token(Role::Collections),
        &json!({"payment_terms_days": 45, "version": 3}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.patch(
        &path,
        &token(Role::Credit),
        &json!({"payment_terms_days": 45, "legal_name": "Y", "version": 3}),
    )
    .await
    .expect_problem(403, "forbidden");
    let reply = app
        .patch(
            &path,
            &token(Role::Credit),
            &json!({"payment_terms_days": 45, "version": 3}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["payment_terms_days"], 45);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_id = '{}' AND action = 'account.updated' \
             AND actor_role = 'credit' AND after->>'payment_terms_days' = '45'",
            id(&account)
        ))
        .await,
        1
    );
    // Billing still sets terms when it sets up the account's profile.
    app.patch(
        &path,
        &billing(),
        &json!({"payment_terms_days": 30, "version": 4}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn updates_need_the_current_version() {
    let app = spawn_app().await;
    let account = app
        .create_account(json!({"external_crm_id": "CRM-1"}))
        .await;
    let path = format!("/v1/accounts/{}", id(&account));

    app.patch(&path, &admin_token(), &json!({"payment_terms_days": 60}))
        .await
        .expect_problem(428, "precondition_required");

    let reply = app
        .patch(
            &path,
            &admin_token(),
            &json!({"payment_terms_days": 60, "external_crm_id": null, "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.body["payment_terms_days"], 60);
    assert!(reply.body["external_crm_id"].is_null());
    assert_eq!(
        reply.body["legal_name"], account["legal_name"],
        "fields not named stay"
    );
    assert_eq!(reply.header("etag"), Some("\"2\""));

    // A second writer still holding version 1 loses.
    let reply = app
        .patch(
            &path,
            &admin_token(),
            &json!({"payment_terms_days": 10, "version": 1}),
        )
        .await;
    let reply = reply.expect_problem(409, "version_conflict");
    assert_eq!(reply.error_field(), "version");
    let reply = app
        .send(
            app.client
                .patch(app.url(&path))
                .bearer_auth(admin_token())
                .header("If-Match", "\"1\"")
                .json(&json!({"payment_terms_days": 10})),
        )
        .await;
    reply.expect_problem(412, "precondition_failed");
    app.send(
        app.client
            .patch(app.url(&path))
            .bearer_auth(admin_token())
            .header("If-Match", "\"2\"")
            .json(&json!({"payment_terms_days": 15})),
    )
    .await
    .expect(200);
    assert_eq!(
        app.count(&format!(
            "accounts WHERE id = '{}' AND payment_terms_days = 15 AND version = 3",
            id(&account)
        ))
        .await,
        1
    );

    let reply = app
        .patch(
            &path,
            &admin_token(),
            &json!({"payment_terms_days": -1, "version": 3}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "payment_terms_days");
    app.patch(&path, &admin_token(), &json!({"version": 3}))
        .await
        .expect(422);
    assert_eq!(
        app.count("audit_events WHERE action = 'account.updated'")
            .await,
        2,
        "failed updates write nothing"
    );
}

#[tokio::test]
async fn lists_filter_by_status_partner_and_text() {
    let app = spawn_app().await;
    let partner = app.create_partner("P1").await;
    let acme = app
        .create_account(json!({"legal_name": "Acme 100% Steel", "partner_id": partner["id"]}))
        .await;
    let globex = app
        .create_account(json!({"legal_name": "Globex Corporation"}))
        .await;
    app.post(
        &format!("/v1/accounts/{}/close", id(&globex)),
        &admin_token(),
        &json!({"reason": "moved away"}),
    )
    .await
    .expect(200);

    let names = |reply: Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["legal_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(
            app.get("/v1/accounts?q=globex", &admin_token())
                .await
                .expect(200)
        ),
        ["Globex Corporation"]
    );
    assert_eq!(
        names(
            app.get("/v1/accounts?q=ACC-000001", &admin_token())
                .await
                .expect(200)
        ),
        ["Acme 100% Steel"]
    );
    assert_eq!(
        names(
            app.get("/v1/accounts?q=100%25", &admin_token())
                .await
                .expect(200)
        ),
        ["Acme 100% Steel"]
    );
    assert!(
        names(
            app.get("/v1/accounts?q=0%25S", &admin_token())
                .await
                .expect(200)
        )
        .is_empty(),
        "% is literal"
    );
    assert_eq!(
        names(
            app.get("/v1/accounts?status=closed", &admin_token())
                .await
                .expect(200)
        ),
        ["Globex Corporation"]
    );
    assert_eq!(
        names(
            app.get(
                &format!("/v1/accounts?partner_id={}", id(&partner)),
                &admin_token()
            )
            .await
            .expect(200)
        ),
        ["Acme 100% Steel"]
    );
    assert_eq!(
        names(
            app.get(
                "/v1/accounts?collections_status=none&status=active",
                &admin_token()
            )
            .await
            .expect(200)
        ),
        ["Acme 100% Steel"]
    );
    let _ = acme;
}

#[tokio::test]
async fn a_closed_account_stays_closed_and_unchangeable() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let path = format!("/v1/accounts/{}", id(&account));
    app.post(
        &format!("{path}/close"),
        &admin_token(),
        &json!({"reason": ""}),
    )
    .await
    .expect(422);
    app.post(
        &format!("{path}/close"),
        &token(Role::Viewer),
        &json!({"reason": "x"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let reply = app
        .post(
            &format!("{path}/close"),
            &token(Role::Billing),
            &json!({"reason": "Customer left", "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "closed");
    assert!(reply.body["closed_at"].is_string());
    app.post(
        &format!("{path}/close"),
        &admin_token(),
        &json!({"reason": "again"}),
    )
    .await
    .expect_problem(409, "account_closed");
    app.patch(
        &path,
        &admin_token(),
        &json!({"legal_name": "New", "version": 2}),
    )
    .await
    .expect_problem(409, "account_closed");
    app.post(
        &format!("{path}/contacts"),
        &admin_token(),
        &json!({"name": "A", "email": "a@b.example", "role": "billing"}),
    )
    .await
    .expect_problem(409, "account_closed");
    assert_eq!(
        app.count(&format!(
            "accounts WHERE id = '{}' AND status = 'closed' AND closed_at IS NOT NULL",
            id(&account)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(
            "audit_events WHERE action = 'account.closed' AND after->>'reason' = 'Customer left'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn contacts_are_added_changed_and_removed_under_their_account() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let other = app.create_account(json!({"legal_name": "Other"})).await;
    let base = format!("/v1/accounts/{}/contacts", id(&account));

    let reply = app
        .post(
            &base,
            &token(Role::Billing),
            &json!({"name": "Dana Smith", "role": "accounts_payable"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "email");
    let reply = app
        .post(
            &base,
            &admin_token(),
            &json!({"name": "Dana", "email": "not-an-email", "role": "billing"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "email");
    let reply = app
        .post(
            &base,
            &admin_token(),
            &json!({"name": "Dana", "email": "d@acme.example", "role": "boss"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "role");

    let contact = app
        .post(&base, &token(Role::Billing), &json!({"name": "Dana Smith", "email": "ap@acme.example", "phone": "+1 555 010 2000", "role": "accounts_payable"}))
        .await
        .expect(201)
        .body;
    assert_eq!(contact["account_id"], account["id"]);
    let list = app.get(&base, &token(Role::Viewer)).await.expect(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

    let path = format!("{base}/{}", id(&contact));
    let reply = app
        .patch(&path, &admin_token(), &json!({"phone": null, "version": 1}))
        .await
        .expect(200);
    assert!(reply.body["phone"].is_null());
    assert_eq!(reply.body["version"], 2);
    let reply = app
        .patch(&path, &admin_token(), &json!({"email": null, "version": 2}))
        .await
        .expect(422);
    assert_eq!(
        reply.error_field(),
        "email",
        "a contact keeps a way to reach it"
    );
    app.patch(&path, &admin_token(), &json!({"name": "X", "version": 1}))
        .await
        .expect_problem(409, "version_conflict");

    // The contact is not reachable through another account.
    let foreign = format!("/v1/accounts/{}/contacts/{}", id(&other), id(&contact));
    app.patch(
        &foreign,
        &admin_token(),
        &json!({"name": "X", "version": 2}),
    )
    .await
    .expect_problem(404, "not_found");
    app.delete(&foreign, &admin_token())
        .await
        .expect_problem(404, "not_found");

    app.delete(&path, &token(Role::Viewer))
        .await
        .expect_problem(403, "forbidden");
    app.delete(&path, &admin_token()).await.expect(204);
    app.delete(&path, &admin_token())
        .await
        .expect_problem(404, "not_found");
    assert_eq!(app.count("contacts").await, 0);
    let audited = format!(
        "audit_events WHERE entity_type = 'contact' AND entity_id = '{}' AND account_id = '{}'",
        id(&contact),
        id(&account)
    );
    assert_eq!(app.count(&audited).await, 3, "created, updated, deleted");
}

/// A contact that notes of calls name stays on record with them: deleting it is refused.
#[tokio::test]
async fn a_contact_named_by_notes_is_not_deleted() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let base = format!("/v1/accounts/{}/contacts", id(&account));
    let contact = app
        .post(
            &base,
            &admin_token(),
            &json!({"name": "Dana Smith", "email": "ap@acme.example", "role": "accounts_payable"}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/v1/accounts/{}/notes", id(&account)),
        &admin_token(),
        &json!({"channel": "call", "direction": "outbound", "outcome": "promised",
                "contact_id": contact["id"], "text": "Dana will pay on Friday"}),
    )
    .await
    .expect(201);
    app.delete(&format!("{base}/{}", id(&contact)), &admin_token())
        .await
        .expect_problem(409, "contact_in_use");
    assert_eq!(app.count("contacts").await, 1);
    assert_eq!(
        app.count(&format!(
            "account_notes WHERE contact_id = '{}'",
            id(&contact)
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'contact.deleted'")
            .await,
        0
    );
}

/// A note that names a contact while the contact is being deleted: one of the two wins, the
/// other is refused with its 4xx (the note: the contact is unknown; the deletion: the contact
/// is in use), and a stored note always names a contact that exists.
#[tokio::test]
async fn a_note_and_the_deletion_of_its_contact_race_without_a_500() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let base = format!("/v1/accounts/{}/contacts", id(&account));
    let notes = format!("/v1/accounts/{}/notes", id(&account));
    let admin = admin_token();
    let mut outcomes = std::collections::BTreeSet::new();
    for i in 0..20 {
        let contact = app
            .post(
                &base,
                &admin_token(),
                &json!({"name": format!("Dana {i}"), "email": "ap@acme.example", "role": "billing"}),
            )
            .await
            .expect(201)
            .body;
        let note = json!({"channel": "call", "direction": "outbound", "outcome": "promised",
                          "contact_id": contact["id"], "text": "Dana will pay on Friday"});
        let delete = format!("{base}/{}", id(&contact));
        let (noted, deleted) =
            tokio::join!(app.post(&notes, &admin, &note), app.delete(&delete, &admin));
        let pair = (noted.status, deleted.status);
        assert!(
            matches!(pair, (201, 409) | (422, 204)),
            "note {} / deletion {}: {} {}",
            noted.status,
            deleted.status,
            noted.body,
            deleted.body
        );
        outcomes.insert(pair);
    }
    assert_eq!(
        app.count(
            "account_notes n WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = n.contact_id)"
        )
        .await,
        0
    );
    assert!(!outcomes.is_empty());
}

#[tokio::test]
async fn the_history_lists_every_change_to_the_account_newest_first() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let path = format!("/v1/accounts/{}", id(&account));
    app.patch(
        &path,
        &token(Role::Billing),
        &json!({"legal_name": "Acme Holdings", "version": 1}),
    )
    .await
    .expect(200);
    app.post(
        &format!("{path}/contacts"),
        &admin_token(),
        &json!({"name": "Dana", "email": "d@acme.example", "role": "billing"}),
    )
    .await
    .expect(201);
    let other = app.create_account(json!({"legal_name": "Unrelated"})).await;
    let _ = other;

    let history = app
        .get(&format!("{path}/history"), &token(Role::Viewer))
        .await
        .expect(200);
    let entries = history.body["data"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["contact.created", "account.updated", "account.created"]
    );
    let update = &entries[1];
    assert_eq!(update["actor"], "billing-user");
    assert_eq!(update["actor_role"], "billing");
    assert_eq!(update["before"]["legal_name"], "Acme Manufacturing Inc.");
    assert_eq!(update["after"]["legal_name"], "Acme Holdings");
    assert!(entries[2]["before"].is_null());

    let page = app
        .get(&format!("{path}/history?limit=1"), &admin_token())
        .await
        .expect(200);
    assert_eq!(page.body["data"][0]["action"], "contact.created");
    let next = app
        .get(
            &format!(
                "{path}/history?limit=1&cursor={}",
                page.body["next_cursor"].as_str().unwrap()
            ),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(next.body["data"][0]["action"], "account.updated");
    app.get(
        &format!("/v1/accounts/{}/history", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");
}

/// A contact patch naming no field changes nothing: 422, and the version stays.
#[tokio::test]
async fn a_contact_patch_naming_no_field_is_refused() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let base = format!("/v1/accounts/{}/contacts", id(&account));
    let contact = app
        .post(
            &base,
            &admin_token(),
            &json!({"name": "Dana Smith", "email": "ap@acme.example", "role": "billing"}),
        )
        .await
        .expect(201)
        .body;
    let path = format!("{base}/{}", id(&contact));
    app.refuses_empty_patches(&path, &admin_token()).await;
    let list = app.get(&base, &admin_token()).await.expect(200);
    assert_eq!(
        list.body["data"][0]["version"], 1,
        "the version did not change"
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'contact.updated'")
            .await,
        0
    );
}
