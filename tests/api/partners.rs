//! Partners (dealers): registered by admins, read by internal roles.

use receivables::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn partners_are_created_listed_read_and_updated() {
    let app = spawn_app().await;
    let created = app
        .post("/v1/partners", &admin_token(), &json!({"code": "NW-OFFICE", "name": "Northwest Office Systems", "contact_email": "ar@nw.example"}))
        .await
        .expect(201)
        .body;
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().unwrap();
    app.post(
        "/v1/partners",
        &admin_token(),
        &json!({"code": "NW-OFFICE", "name": "Again"}),
    )
    .await
    .expect_problem(409, "duplicate_code");
    let reply = app
        .post(
            "/v1/partners",
            &admin_token(),
            &json!({"code": "nw office", "name": "", "contact_email": "x"}),
        )
        .await
        .expect(422);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["code", "name", "contact_email"]);
    app.post(
        "/v1/partners",
        &token(Role::Billing),
        &json!({"code": "B", "name": "B"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.create_partner("SECOND").await;

    let list = app
        .get("/v1/partners", &token(Role::Billing))
        .await
        .expect(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
    let reply = app
        .get(&format!("/v1/partners/{id}"), &token(Role::Viewer))
        .await
        .expect(200);
    assert_eq!(reply.body["name"], "Northwest Office Systems");
    app.get(
        &format!("/v1/partners/{id}"),
        &partner_token(id.parse().unwrap()),
    )
    .await
    .expect_problem(403, "forbidden");

    let reply = app
        .patch(
            &format!("/v1/partners/{id}"),
            &admin_token(),
            &json!({"status": "inactive", "contact_email": null, "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "inactive");
    assert!(reply.body["contact_email"].is_null());
    app.patch(
        &format!("/v1/partners/{id}"),
        &admin_token(),
        &json!({"name": "Stale", "version": 1}),
    )
    .await
    .expect_problem(409, "version_conflict");
    // A patch naming no field changes nothing: 422, and the version stays.
    let empty = app
        .patch(
            &format!("/v1/partners/{id}"),
            &admin_token(),
            &json!({"version": 2}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(empty.error_field(), "body");
    assert_eq!(empty.body["errors"][0]["code"], "empty");
    let inactive = app
        .get("/v1/partners?status=inactive", &admin_token())
        .await
        .expect(200);
    assert_eq!(inactive.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.count(&format!(
            "partners WHERE id = '{id}' AND status = 'inactive' AND version = 2"
        ))
        .await,
        1
    );
    app.get(
        &format!("/v1/partners/{}", uuid::Uuid::now_v7()),
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");
}
