//! The chart of financial codes: created, renamed, deactivated, never deleted.

use receivables::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn codes_are_created_listed_renamed_and_deactivated() {
    let app = spawn_app().await;
    let lease = app
        .post(
            "/v1/financial-codes",
            &token(Role::Billing),
            &json!({"code": "4100-LEASE", "name": "Lease revenue", "kind": "revenue"}),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(lease["active"], true);
    app.post(
        "/v1/financial-codes",
        &admin_token(),
        &json!({"code": "2200-TAX", "name": "Sales tax", "kind": "tax"}),
    )
    .await
    .expect(201);
    app.post(
        "/v1/financial-codes",
        &admin_token(),
        &json!({"code": "4100-LEASE", "name": "Dup", "kind": "revenue"}),
    )
    .await
    .expect_problem(409, "duplicate_code");
    let reply = app
        .post(
            "/v1/financial-codes",
            &admin_token(),
            &json!({"code": "X", "name": "X", "kind": "bonus"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "kind");

    let id = lease["id"].as_str().unwrap();
    let path = format!("/v1/financial-codes/{id}");
    let reply = app
        .patch(
            &path,
            &admin_token(),
            &json!({"name": "Lease revenue - equipment", "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["name"], "Lease revenue - equipment");
    let reply = app
        .patch(&path, &admin_token(), &json!({"kind": "fee", "version": 2}))
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "kind", "the kind of a code is fixed");

    let reply = app
        .post(&format!("{path}/deactivate"), &admin_token(), &json!({}))
        .await
        .expect(200);
    assert_eq!(reply.body["active"], false);
    app.post(&format!("{path}/deactivate"), &admin_token(), &json!({}))
        .await
        .expect_problem(409, "no_change");
    let active = app
        .get("/v1/financial-codes?active=true", &token(Role::Viewer))
        .await
        .expect(200);
    let codes: Vec<&str> = active.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["2200-TAX"]);
    let revenue = app
        .get("/v1/financial-codes?kind=revenue", &admin_token())
        .await
        .expect(200);
    assert_eq!(revenue.body["data"].as_array().unwrap().len(), 1);
    let reply = app
        .post(&format!("{path}/activate"), &admin_token(), &json!({}))
        .await
        .expect(200);
    assert_eq!(reply.body["active"], true);
    assert_eq!(reply.body["version"], 4);
    app.get(&path, &admin_token()).await.expect(200);
}

#[tokio::test]
async fn codes_are_never_deleted() {
    let app = spawn_app().await;
    let code = app
        .post(
            "/v1/financial-codes",
            &admin_token(),
            &json!({"code": "9000", "name": "Write-off", "kind": "write_off"}),
        )
        .await
        .expect(201)
        .body;
    app.delete(
        &format!("/v1/financial-codes/{}", code["id"].as_str().unwrap()),
        &admin_token(),
    )
    .await
    .expect_problem(405, "method_not_allowed");
    let err = app
        .execute("DELETE FROM financial_codes")
        .await
        .unwrap_err();
    assert!(err.contains("never deleted"), "{err}");
    assert_eq!(app.count("financial_codes").await, 1);
}

/// A patch naming no field changes nothing: 422, and the version stays.
#[tokio::test]
async fn a_code_patch_naming_no_field_is_refused() {
    let app = spawn_app().await;
    let code = app
        .post(
            "/v1/financial-codes",
            &admin_token(),
            &json!({"code": "4100-LEASE", "name": "Lease revenue", "kind": "revenue"}),
        )
        .await
        .expect(201)
        .body;
    let path = format!("/v1/financial-codes/{}", code["id"].as_str().unwrap());
    app.refuses_empty_patches(&path, &admin_token()).await;
    let read = app.get(&path, &admin_token()).await.expect(200);
    assert_eq!(read.body["version"], 1, "the version did not change");
    assert_eq!(
        app.count("audit_events WHERE action = 'financial_code.updated'")
            .await,
        0
    );
}
