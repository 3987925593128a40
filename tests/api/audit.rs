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

/// The service's own credentials cannot get round the triggers: its role owns no table, so it
/// can neither disable a trigger nor switch them off for its session, and it was never
/// granted UPDATE or DELETE on the append-only tables.
#[tokio::test]
async fn the_services_role_cannot_remove_or_change_audit_and_ledger_rows() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let app = spawn_app().await;
    let account = id(&app.create_account(json!({})).await);
    let code = app.financial_code("4000", "revenue").await;
    let invoice = app.issued_invoice(&account, &code, "100.00", today()).await;
    let audit_rows = app.count("audit_events").await;
    let ledger_rows = app.count("ledger_entries").await;
    assert!(ledger_rows > 0);

    let mut service = AsyncPgConnection::establish(&service_url(&app.db_name))
        .await
        .expect("connect as the service's role");
    let refused = [
        (
            "SET session_replication_role = replica",
            "permission denied",
        ),
        (
            "DELETE FROM audit_events",
            "permission denied for table audit_events",
        ),
        (
            "UPDATE audit_events SET actor = 'someone else'",
            "permission denied",
        ),
        ("TRUNCATE audit_events", "permission denied"),
        (
            "ALTER TABLE audit_events DISABLE TRIGGER ALL",
            "must be owner",
        ),
        (
            "DELETE FROM ledger_entries",
            "permission denied for table ledger_entries",
        ),
        ("UPDATE ledger_entries SET amount = 0", "permission denied"),
        (
            "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only",
            "must be owner",
        ),
        ("DELETE FROM financial_codes", "permission denied"),
        ("DROP TABLE invoices", "must be owner"),
        (
            "CREATE TABLE scratch (n int)",
            "permission denied for schema public",
        ),
        (
            "DELETE FROM __diesel_schema_migrations",
            "permission denied",
        ),
    ];
    for (sql, reason) in refused {
        let err = exec(&mut service, sql).await.expect_err(sql).to_string();
        assert!(err.contains(reason), "{sql}: {err}");
    }
    assert_eq!(app.count("audit_events").await, audit_rows);
    assert_eq!(app.count("ledger_entries").await, ledger_rows);
    assert_eq!(
        app.value(&format!(
            "SELECT status FROM invoices WHERE id = '{}'",
            id(&invoice)
        ))
        .await,
        "open"
    );

    // The role reads and adds rows in every table, the tables later migrations make included.
    let missing = app
        .value(
            "SELECT string_agg(c.relname, ', ') FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
             AND c.relname <> '__diesel_schema_migrations' \
             AND NOT (has_table_privilege('receivables_service', c.oid, 'SELECT') \
                  AND has_table_privilege('receivables_service', c.oid, 'INSERT'))",
        )
        .await;
    assert_eq!(missing, "", "tables the service cannot read or write");
    let owned = app
        .value("SELECT count(*) FROM pg_tables WHERE tableowner = 'receivables_service'")
        .await;
    assert_eq!(owned, "0");

    let service_pool = receivables::db::pool(&service_url(&app.db_name), 1).expect("pool");
    assert_eq!(
        receivables::db::excess_privileges(&service_pool).await,
        Ok(None)
    );
    assert_eq!(
        receivables::db::excess_privileges(&app.pool).await,
        Ok(Some("postgres is a superuser".into()))
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
