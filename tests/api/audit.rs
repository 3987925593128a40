//! The audit log: one entry per write, in the same transaction, and nothing can change it.

use receivables::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_write_leaves_exactly_one_audit_entry() {
    let app = spawn_app().await;
    let partner = app.create_partner("P1").await;
    assert_eq!(app.count("audit_events").await, 1);
    let account = app
        .create_account(json!({"partner_id": partner["id"]}))
        .await;
    assert_eq!(app.count("audit_events").await, 2);
    let account_id = account["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/accounts/{account_id}"),
        &admin_token(),
        &json!({"legal_name": "Renamed", "version": 1}),
    )
    .await
    .expect(200);
    assert_eq!(app.count("audit_events").await, 3);
    let code = app
        .post(
            "/v1/financial-codes",
            &admin_token(),
            &json!({"code": "4100", "name": "Lease revenue", "kind": "revenue"}),
        )
        .await
        .expect(201)
        .body;
    app.post(
        &format!(
            "/v1/financial-codes/{}/deactivate",
            code["id"].as_str().unwrap()
        ),
        &admin_token(),
        &json!({}),
    )
    .await
    .expect(200);
    assert_eq!(app.count("audit_events").await, 5);
    // Reads and refused writes add nothing.
    app.get(&format!("/v1/accounts/{account_id}"), &admin_token())
        .await
        .expect(200);
    app.patch(
        &format!("/v1/accounts/{account_id}"),
        &admin_token(),
        &json!({"legal_name": "", "version": 2}),
    )
    .await
    .expect(422);
    assert_eq!(app.count("audit_events").await, 5);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_type = 'account' AND entity_id = '{account_id}' AND action = 'account.updated' \
             AND actor = 'admin-user' AND actor_role = 'admin' AND before->>'legal_name' = 'Acme Manufacturing Inc.' \
             AND after->>'legal_name' = 'Renamed' AND request_id IS NOT NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_audit_entries() {
    let app = spawn_app().await;
    app.create_account(json!({})).await;
    let err = app
        .execute("UPDATE audit_events SET actor = 'someone else'")
        .await
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = app.execute("DELETE FROM audit_events").await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = app.execute("TRUNCATE audit_events").await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(
        app.count("audit_events WHERE actor = 'admin-user'").await,
        1
    );
}

#[tokio::test]
async fn the_audit_log_filters_by_entity() {
    let app = spawn_app().await;
    let a = app.create_account(json!({})).await;
    let b = app.create_account(json!({"legal_name": "Other"})).await;
    let a_id = a["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/accounts/{a_id}"),
        &admin_token(),
        &json!({"legal_name": "A2", "version": 1}),
    )
    .await
    .expect(200);

    let reply = app
        .get(
            &format!("/v1/audit-events?entity_type=account&entity_id={a_id}"),
            &token(Role::Viewer),
        )
        .await
        .expect(200);
    let actions: Vec<&str> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["account.updated", "account.created"]);
    let reply = app
        .get(
            &format!("/v1/audit-events?entity_id={}", b["id"].as_str().unwrap()),
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["data"].as_array().unwrap().len(), 1);
    let reply = app
        .get(
            "/v1/audit-events?action=account.created&limit=1",
            &admin_token(),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["has_more"], true);
    app.get("/v1/audit-events?entity_id=nope", &admin_token())
        .await
        .expect_problem(400, "invalid_query");
}
