//! Tasks: created by people (and by billing), filtered into worklists, assigned, completed,
//! cancelled and reopened under optimistic concurrency, every change audited.

use receivables::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

fn task_body(account_id: &str) -> Value {
    json!({
        "type": "call_customer",
        "subject_type": "account",
        "subject_id": account_id,
        "account_id": account_id,
        "title": "Call about the overdue March invoice",
        "description": "Ask for a payment date.",
        "due_date": d("2026-12-05"),
        "priority": "high",
        "assignee": "jane.doe"
    })
}

async fn create_task(app: &TestApp, body: &Value) -> Value {
    app.post("/v1/tasks", &token(Role::Billing), body)
        .await
        .expect(201)
        .body
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_task_is_created_for_the_caller_and_audited() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let account_id = account["id"].as_str().unwrap();
    let reply = app
        .post(
            "/v1/tasks",
            &token(Role::Collections),
            &task_body(account_id),
        )
        .await
        .expect(201);
    let task = &reply.body;
    let id = task["id"].as_str().unwrap();
    assert_eq!(task["type"], "call_customer");
    assert_eq!(task["subject_type"], "account");
    assert_eq!(task["subject_id"], account_id);
    assert_eq!(task["account_id"], account_id);
    assert_eq!(task["due_date"], d("2026-12-05"));
    assert_eq!(task["priority"], "high");
    assert_eq!(task["assignee"], "jane.doe");
    assert_eq!(task["status"], "open");
    assert_eq!(task["created_by"], "collections-user");
    assert_eq!(task["version"], 1);
    assert_eq!(task["completed_at"], Value::Null);
    assert_eq!(
        Uuid::parse_str(id).unwrap().get_version_num(),
        7,
        "ids are UUIDv7"
    );

    assert_eq!(
        app.count(&sh(&format!(
            "tasks WHERE id = '{id}' AND type = 'call_customer' AND subject_type = 'account' \
             AND subject_id = '{account_id}' AND account_id = '{account_id}' AND status = 'open' \
             AND priority = 'high' AND assignee = 'jane.doe' AND due_date = '2026-12-05' \
             AND created_by = 'collections-user' AND version = 1 AND completed_at IS NULL"
        )))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'task.created' AND entity_type = 'task' \
             AND entity_id = '{id}' AND account_id = '{account_id}' AND actor = 'collections-user' \
             AND before IS NULL AND after->>'title' = 'Call about the overdue March invoice'"
        ))
        .await,
        1
    );

    let fetched = app
        .get(&format!("/v1/tasks/{id}"), &token(Role::Viewer))
        .await
        .expect(200);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
    assert_eq!(&fetched.body, task);
}

#[tokio::test]
async fn priority_defaults_to_normal_and_the_account_is_optional() {
    let app = spawn_app().await;
    let contract_id = Uuid::now_v7();
    let task = create_task(
        &app,
        &json!({
            "type": "first_invoice_review",
            "subject_type": "contract",
            "subject_id": contract_id,
            "title": "Review the first invoice after the upgrade",
            "due_date": d("2026-12-01")
        }),
    )
    .await;
    assert_eq!(task["priority"], "normal");
    assert_eq!(task["account_id"], Value::Null);
    assert_eq!(task["assignee"], Value::Null);
    assert_eq!(task["description"], Value::Null);
    assert_eq!(
        app.count(&format!(
            "tasks WHERE subject_id = '{contract_id}' AND priority = 'normal' AND account_id IS NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn invalid_tasks_are_refused_naming_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let account_id = account["id"].as_str().unwrap();
    let audit_before = app.count("audit_events").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"type": "Call Customer"}), "type"),
        (json!({"type": "1st_call"}), "type"),
        (json!({"type": format!("a{}", "b".repeat(64))}), "type"),
        (json!({"subject_type": "customer"}), "subject_type"),
        (json!({"subject_id": "not-a-uuid"}), "subject_id"),
        (json!({"account_id": Uuid::now_v7()}), "account_id"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"description": ""}), "description"),
        (json!({"due_date": "05/12/2026"}), "due_date"),
        (json!({"due_date": "2026-02-30"}), "due_date"),
        (json!({"priority": "asap"}), "priority"),
        (json!({"assignee": ""}), "assignee"),
        (json!({"status": "done"}), "status"),
    ];
    for (change, field) in cases {
        let mut body = task_body(account_id);
        merge(&mut body, change.clone());
        let reply = app
            .post("/v1/tasks", &token(Role::Billing), &body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field, "{change}: {}", reply.body);
    }
    let mut body = task_body(account_id);
    body.as_object_mut().unwrap().remove("title");
    let reply = app
        .post("/v1/tasks", &token(Role::Billing), &body)
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "title");
    assert_eq!(reply.body["errors"][0]["code"], "required");
    let reply = app
        .post("/v1/tasks", &token(Role::Billing), &json!({"type": "call"}))
        .await
        .expect(422);
    assert_eq!(reply.body["errors"][0]["code"], "required");

    assert_eq!(app.count("tasks").await, 0);
    assert_eq!(app.count("audit_events").await, audit_before);
}

#[tokio::test]
async fn roles_without_the_permission_are_refused() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let body = task_body(account["id"].as_str().unwrap());
    let partner = partner_token(Uuid::now_v7());
    for refused in [
        token(Role::Viewer),
        partner.clone(),
        token(Role::Integration),
    ] {
        app.post("/v1/tasks", &refused, &body)
            .await
            .expect_problem(403, "forbidden");
    }
    assert_eq!(app.count("tasks").await, 0);
    let task = create_task(&app, &body).await;
    let path = format!("/v1/tasks/{}", task["id"].as_str().unwrap());
    for refused in [partner, token(Role::Integration)] {
        app.get("/v1/tasks", &refused)
            .await
            .expect_problem(403, "forbidden");
        app.get(&path, &refused)
            .await
            .expect_problem(403, "forbidden");
    }
    app.patch(
        &path,
        &token(Role::Viewer),
        &json!({"status": "done", "version": 1}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.send(app.client.get(app.url("/v1/tasks")))
        .await
        .expect_problem(401, "missing_token");
    assert_eq!(
        app.count(&format!(
            "tasks WHERE id = '{}' AND status = 'open' AND version = 1",
            task["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    // The roles that work tasks may read and write them.
    for role in [Role::Admin, Role::CollectionsManager, Role::Credit] {
        app.post("/v1/tasks", &token(role), &body).await.expect(201);
    }
    app.get("/v1/tasks", &token(Role::Viewer)).await.expect(200);
}

#[tokio::test]
async fn unknown_tasks_are_404() {
    let app = spawn_app().await;
    let path = format!("/v1/tasks/{}", Uuid::now_v7());
    app.get(&path, &admin_token())
        .await
        .expect_problem(404, "not_found");
    app.patch(
        &path,
        &admin_token(),
        &json!({"status": "done", "version": 1}),
    )
    .await
    .expect_problem(404, "not_found");
    app.get("/v1/tasks/not-a-uuid", &admin_token())
        .await
        .expect_problem(400, "invalid_path_parameter");
    assert_eq!(app.count("audit_events").await, 0);
}

#[tokio::test]
async fn a_task_is_worked_completed_and_reopened() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let account_id = account["id"].as_str().unwrap();
    let task = create_task(&app, &task_body(account_id)).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/v1/tasks/{id}");
    let writer = token(Role::Collections);

    let reply = app
        .patch(
            &path,
            &writer,
            &json!({"status": "in_progress", "assignee": "sam.lee", "priority": "urgent",
                    "due_date": d("2026-12-10"), "title": "Call Acme", "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.body["status"], "in_progress");
    assert_eq!(reply.body["assignee"], "sam.lee");
    assert_eq!(reply.body["priority"], "urgent");
    assert_eq!(reply.body["due_date"], d("2026-12-10"));
    assert_eq!(reply.body["title"], "Call Acme");
    assert_eq!(reply.body["description"], "Ask for a payment date.");
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.body["created_by"], "billing-user");

    // Done stamps completed_at.
    let reply = app
        .send(
            app.client
                .patch(app.url(&path))
                .bearer_auth(&writer)
                .header("If-Match", "\"2\"")
                .json(&json!({"status": "done"})),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "done");
    assert!(reply.body["completed_at"].is_string());
    assert_eq!(
        app.count(&format!(
            "tasks WHERE id = '{id}' AND status = 'done' AND completed_at IS NOT NULL AND version = 3"
        ))
        .await,
        1
    );

    // A closed task can only be reopened.
    for status in ["in_progress", "cancelled"] {
        let reply = app
            .patch(&path, &writer, &json!({"status": status, "version": 3}))
            .await
            .expect_problem(409, "invalid_status_transition");
        assert_eq!(reply.error_field(), "status");
    }
    let reply = app
        .patch(
            &path,
            &writer,
            &json!({"status": "open", "assignee": null, "description": null, "version": 3}),
        )
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "open");
    assert_eq!(reply.body["completed_at"], Value::Null);
    assert_eq!(reply.body["assignee"], Value::Null);
    assert_eq!(reply.body["description"], Value::Null);
    assert_eq!(
        app.count(&format!(
            "tasks WHERE id = '{id}' AND status = 'open' AND completed_at IS NULL \
             AND assignee IS NULL AND description IS NULL AND version = 4"
        ))
        .await,
        1
    );

    // Cancelled, then reopened too.
    app.patch(
        &path,
        &writer,
        &json!({"status": "cancelled", "version": 4}),
    )
    .await
    .expect(200);
    app.patch(&path, &writer, &json!({"status": "done", "version": 5}))
        .await
        .expect_problem(409, "invalid_status_transition");
    let reply = app
        .patch(&path, &writer, &json!({"status": "open", "version": 5}))
        .await
        .expect(200);
    assert_eq!(reply.body["version"], 6);

    // Every accepted change is one audit entry, with what it was and what it became.
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'task.updated' AND entity_id = '{id}' AND account_id = '{account_id}'"
        ))
        .await,
        5
    );
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE action = 'task.updated' AND entity_id = '{id}' \
             AND actor = 'collections-user' AND before->>'status' = 'in_progress' \
             AND after->>'status' = 'done' AND after->>'completed_at' IS NOT NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn stale_or_missing_versions_and_bad_changes_are_refused() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let task = create_task(&app, &task_body(account["id"].as_str().unwrap())).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/v1/tasks/{id}");
    app.patch(
        &path,
        &admin_token(),
        &json!({"priority": "low", "version": 1}),
    )
    .await
    .expect(200);

    app.send(
        app.client
            .patch(app.url(&path))
            .bearer_auth(admin_token())
            .header("If-Match", "\"1\"")
            .json(&json!({"priority": "urgent"})),
    )
    .await
    .expect_problem(412, "precondition_failed");
    let reply = app
        .patch(
            &path,
            &admin_token(),
            &json!({"priority": "urgent", "version": 1}),
        )
        .await
        .expect_problem(409, "version_conflict");
    assert_eq!(reply.error_field(), "version");
    app.patch(&path, &admin_token(), &json!({"priority": "urgent"}))
        .await
        .expect_problem(428, "precondition_required");
    let reply = app
        .patch(&path, &admin_token(), &json!({"version": 2}))
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "body");
    for (change, field) in [
        (json!({"title": ""}), "title"),
        (json!({"status": "closed"}), "status"),
        (json!({"due_date": "tomorrow"}), "due_date"),
        (json!({"type": "other_type"}), "type"),
        (json!({"account_id": Uuid::now_v7()}), "account_id"),
    ] {
        let mut body = change.clone();
        merge(&mut body, json!({"version": 2}));
        let reply = app.patch(&path, &admin_token(), &body).await.expect(422);
        assert_eq!(reply.error_field(), field, "{change}");
    }
    assert_eq!(
        app.count(&format!(
            "tasks WHERE id = '{id}' AND priority = 'low' AND version = 2 AND type = 'call_customer'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!("audit_events WHERE entity_id = '{id}'"))
            .await,
        2
    );
}

#[tokio::test]
async fn lists_filter_and_paginate_in_creation_order() {
    let app = spawn_app().await;
    let acme = app.create_account(json!({})).await;
    let acme_id = acme["id"].as_str().unwrap();
    let globex = app
        .create_account(json!({"legal_name": "Globex Corporation"}))
        .await;
    let globex_id = globex["id"].as_str().unwrap();
    let contract_id = Uuid::now_v7().to_string();

    let review = create_task(
        &app,
        &json!({"type": "first_invoice_review", "subject_type": "contract", "subject_id": contract_id,
                "account_id": acme_id, "title": "Review", "due_date": d("2026-12-01")}),
    )
    .await;
    let call = create_task(&app, &task_body(acme_id)).await;
    let mut globex_body = task_body(globex_id);
    merge(
        &mut globex_body,
        json!({"assignee": "sam.lee", "priority": "low", "due_date": d("2027-01-15")}),
    );
    let globex_call = create_task(&app, &globex_body).await;
    let id = |t: &Value| t["id"].as_str().unwrap().to_string();
    app.patch(
        &format!("/v1/tasks/{}", id(&call)),
        &admin_token(),
        &json!({"status": "done", "version": 1}),
    )
    .await
    .expect(200);

    let viewer = token(Role::Viewer);
    let all = app.get("/v1/tasks", &viewer).await.expect(200);
    assert_eq!(ids(&all), [id(&review), id(&call), id(&globex_call)]);
    assert_eq!(all.body["has_more"], false);
    assert_eq!(all.body["next_cursor"], Value::Null);

    let cases: Vec<(String, Vec<String>)> = vec![
        (
            "type=call_customer".into(),
            vec![id(&call), id(&globex_call)],
        ),
        ("type=first_invoice_review".into(), vec![id(&review)]),
        ("status=done".into(), vec![id(&call)]),
        ("status=open".into(), vec![id(&review), id(&globex_call)]),
        ("assignee=sam.lee".into(), vec![id(&globex_call)]),
        (format!("subject_id={contract_id}"), vec![id(&review)]),
        (
            format!("account_id={acme_id}"),
            vec![id(&review), id(&call)],
        ),
        (sh("due_before=2026-12-05"), vec![id(&review)]),
        (sh("due_before=2026-12-06"), vec![id(&review), id(&call)]),
        ("priority=low".into(), vec![id(&globex_call)]),
        ("priority=urgent".into(), vec![]),
        (
            format!("account_id={acme_id}&status=open&type=first_invoice_review"),
            vec![id(&review)],
        ),
    ];
    for (query, expected) in cases {
        let reply = app
            .get(&format!("/v1/tasks?{query}"), &viewer)
            .await
            .expect(200);
        assert_eq!(ids(&reply), expected, "{query}");
    }

    // Page by page, nothing skipped or repeated.
    let first = app.get("/v1/tasks?limit=2", &viewer).await.expect(200);
    assert_eq!(ids(&first), [id(&review), id(&call)]);
    assert_eq!(first.body["has_more"], true);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/v1/tasks?limit=2&cursor={cursor}"), &viewer)
        .await
        .expect(200);
    assert_eq!(ids(&second), [id(&globex_call)]);
    assert_eq!(second.body["has_more"], false);

    for (query, field) in [
        ("status=closed", "status"),
        ("priority=asap", "priority"),
        ("due_before=soon", "due_before"),
        ("account_id=42", "account_id"),
        ("limit=500", "limit"),
        ("cursor=!!", "cursor"),
    ] {
        let reply = app
            .get(&format!("/v1/tasks?{query}"), &viewer)
            .await
            .expect_problem(400, "invalid_query");
        assert_eq!(reply.error_field(), field, "{query}");
    }
}

#[tokio::test]
async fn creating_a_task_honours_the_idempotency_key() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let body = task_body(account["id"].as_str().unwrap());
    let writer = token(Role::Billing);
    let first = app
        .post_with_key("/v1/tasks", &writer, "task-1", &body)
        .await
        .expect(201);
    let again = app
        .post_with_key("/v1/tasks", &writer, "task-1", &body)
        .await
        .expect(201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let mut other = body.clone();
    merge(&mut other, json!({"title": "Another task"}));
    app.post_with_key("/v1/tasks", &writer, "task-1", &other)
        .await
        .expect_problem(422, "idempotency_key_reused");
    assert_eq!(app.count("tasks").await, 1);
    assert_eq!(
        app.count("audit_events WHERE action = 'task.created'")
            .await,
        1
    );
}
