//! The API conventions every resource shares: problem documents for bad input, request ids,
//! pagination, 404 and 405.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_a_400_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let reply = app
        .send(
            app.client
                .post(app.url("/v1/accounts"))
                .bearer_auth(admin_token())
                .header("content-type", "application/json")
                .body("{\"legal_name\": "),
        )
        .await;
    reply.expect_problem(400, "malformed_json");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app().await;
    let reply = app
        .send(
            app.client
                .post(app.url("/v1/accounts"))
                .bearer_auth(admin_token())
                .header("content-type", "text/plain")
                .body("legal_name=Acme"),
        )
        .await;
    reply.expect_problem(415, "unsupported_media_type");
    let reply = app
        .send(
            app.client
                .post(app.url("/v1/accounts"))
                .bearer_auth(admin_token())
                .body("{}"),
        )
        .await;
    reply.expect_problem(415, "unsupported_media_type");
}

#[tokio::test]
async fn unknown_fields_wrong_types_and_missing_fields_are_named() {
    let app = spawn_app().await;
    let mut body = account_body("Acme");
    merge(&mut body, json!({"colour": "blue"}));
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "colour");
    assert_eq!(reply.body["errors"][0]["code"], "unknown_field");

    let mut body = account_body("Acme");
    merge(
        &mut body,
        json!({"billing_address": {"line1": "1", "city": "X", "country": "US", "zip": "1"}}),
    );
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "billing_address.zip");

    let mut body = account_body("Acme");
    merge(&mut body, json!({"payment_terms_days": "thirty"}));
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "payment_terms_days");
    assert_eq!(reply.body["errors"][0]["code"], "invalid_type");

    let reply = app
        .post(
            "/v1/accounts",
            &admin_token(),
            &json!({"legal_name": "Acme"}),
        )
        .await
        .expect(422);
    assert_eq!(reply.body["errors"][0]["code"], "required");

    // Money is a string: a JSON number is refused, not rounded.
    let mut body = account_body("Acme");
    merge(&mut body, json!({"credit_limit": 1000.5}));
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect(422);
    assert_eq!(reply.error_field(), "credit_limit");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn out_of_range_values_list_every_offending_field() {
    let app = spawn_app().await;
    let mut body = account_body("Acme");
    merge(
        &mut body,
        json!({"payment_terms_days": 1000, "currency": "XXX", "tax_rate": "101", "billing_address": {"line1": "", "city": "X", "country": "USA"}}),
    );
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "currency",
            "payment_terms_days",
            "tax_rate",
            "billing_address.line1",
            "billing_address.country"
        ]
    );
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn nul_characters_are_refused_before_they_reach_the_database() {
    let app = spawn_app().await;
    let mut body = account_body("Acme\u{0}Corp");
    merge(&mut body, json!({}));
    let reply = app
        .post("/v1/accounts", &admin_token(), &body)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "body");
    let reply = app
        .get("/v1/accounts?q=a%00b", &admin_token())
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(reply.error_field(), "q");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = spawn_app().await;
    let mut body = account_body("Acme");
    merge(&mut body, json!({"legal_name": "x".repeat(70 * 1024)}));
    app.post("/v1/accounts", &admin_token(), &body)
        .await
        .expect_problem(413, "payload_too_large");
    assert_eq!(app.count("accounts").await, 0);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_problems() {
    let app = spawn_app().await;
    app.get("/v1/nothing-here", &admin_token())
        .await
        .expect_problem(404, "not_found");
    let reply = app
        .delete("/v1/accounts", &admin_token())
        .await
        .expect_problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET, POST"));
    let reply = app
        .send(
            app.client
                .put(app.url("/v1/accounts/0193b1f4-6c1e-7c52-9d1a-3f2b8e0c4a11"))
                .bearer_auth(admin_token()),
        )
        .await
        .expect_problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET, PATCH"));
    // An action's own path is not an id that fails to parse, whatever routes share its shape.
    let reply = app
        .delete("/v1/collections/assignment-rules/apply", &admin_token())
        .await
        .expect_problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
    // A real id there is still the rule's.
    app.delete(
        "/v1/collections/assignment-rules/0193b1f4-6c1e-7c52-9d1a-3f2b8e0c4a11",
        &admin_token(),
    )
    .await
    .expect_problem(404, "not_found");
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_a_400() {
    let app = spawn_app().await;
    app.get("/v1/accounts/not-a-uuid", &admin_token())
        .await
        .expect_problem(400, "invalid_path_parameter");
}

#[tokio::test]
async fn request_ids_are_taken_or_made_and_echoed() {
    let app = spawn_app().await;
    let reply = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("X-Request-Id", "trace-abc.123"),
        )
        .await
        .expect(200);
    assert_eq!(reply.header("x-request-id"), Some("trace-abc.123"));
    let reply = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("X-Request-Id", "bad id with spaces"),
        )
        .await;
    let made = reply.header("x-request-id").unwrap();
    assert_ne!(made, "bad id with spaces");
    assert!(uuid::Uuid::parse_str(made).is_ok());
    // Problems carry it too, and audit entries record it.
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/nothing"))
                .header("X-Request-Id", "req-404"),
        )
        .await
        .expect(404);
    assert_eq!(reply.body["request_id"], "req-404");
    app.send(
        app.client
            .post(app.url("/v1/accounts"))
            .bearer_auth(admin_token())
            .header("X-Request-Id", "req-create-1")
            .json(&account_body("Acme")),
    )
    .await
    .expect(201);
    assert_eq!(
        app.count("audit_events WHERE request_id = 'req-create-1'")
            .await,
        1
    );
}

#[tokio::test]
async fn lists_page_with_a_cursor_in_a_stable_order() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_account(json!({"legal_name": format!("Customer {i}")}))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/accounts?limit=2&cursor={c}"),
            None => "/v1/accounts?limit=2".to_string(),
        };
        let page = app.get(&path, &admin_token()).await.expect(200);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(
            data.iter()
                .map(|a| a["legal_name"].as_str().unwrap().to_string()),
        );
        if !page.body["has_more"].as_bool().unwrap() {
            assert!(page.body["next_cursor"].is_null());
            break;
        }
        cursor = page.body["next_cursor"].as_str().map(str::to_string);
    }
    let expected: Vec<String> = (0..5).map(|i| format!("Customer {i}")).collect();
    assert_eq!(seen, expected);

    let reply = app
        .get("/v1/accounts?limit=201", &admin_token())
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(reply.error_field(), "limit");
    let reply = app
        .get("/v1/accounts?limit=abc", &admin_token())
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(reply.error_field(), "limit");
    let reply = app
        .get("/v1/accounts?cursor=garbage!", &admin_token())
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(reply.error_field(), "cursor");
    let reply = app
        .get("/v1/accounts?status=sleeping", &admin_token())
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(reply.error_field(), "status");
}

/// The statements Diesel would prepare at every execution (UPDATEs, upserts) stay prepared
/// on their connection where the store wraps them in `db::Cached`, one statement per text.
#[tokio::test]
async fn cached_writes_stay_prepared_once_per_connection() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use receivables::schema::number_series::dsl as ns;

    let app = spawn_app().await;
    let mut conn = app.pool.get().await.expect("connection");
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    async fn prepared(conn: &mut receivables::db::Conn, like: &str) -> i64 {
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE $1",
        )
        .bind::<diesel::sql_types::Text, _>(like)
        .get_result::<N>(conn)
        .await
        .expect("prepared statements")
        .n
    }

    assert_eq!(
        receivables::db::next_numbers(&mut conn, "TEST-2026", 3)
            .await
            .expect("numbers"),
        1
    );
    assert_eq!(
        receivables::db::next_numbers(&mut conn, "TEST-2026", 1)
            .await
            .expect("numbers"),
        4
    );
    assert_eq!(
        prepared(&mut conn, "INSERT INTO \"number_series\"%").await,
        1
    );

    let update = || {
        diesel::update(ns::number_series.filter(ns::series.eq("TEST-2026")))
            .set(ns::next_value.eq(ns::next_value + 1))
    };
    update().execute(&mut conn).await.expect("update");
    assert_eq!(prepared(&mut conn, "UPDATE \"number_series\"%").await, 0);
    for _ in 0..3 {
        receivables::db::Cached(update())
            .execute(&mut conn)
            .await
            .expect("cached update");
    }
    assert_eq!(prepared(&mut conn, "UPDATE \"number_series\"%").await, 1);
    assert_eq!(
        app.value("SELECT next_value FROM number_series WHERE series = 'TEST-2026'")
            .await,
        "9"
    );
}

/// Money is a plain decimal string: what `Decimal` would also read (exponents, underscores,
/// a leading `+`, a bare `.5` or `5.`) is refused with 422 naming the field, and nothing is
/// stored.
#[tokio::test]
async fn money_strings_are_plain_decimals_only() {
    let app = spawn_app().await;
    for bad in ["1e3", "1_000", "+5", ".5", "5.", "1E3"] {
        let mut body = account_body("Plain Decimals Ltd");
        merge(&mut body, json!({"credit_limit": bad}));
        let reply = app
            .post("/v1/accounts", &admin_token(), &body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), "credit_limit", "{bad}");
    }
    assert_eq!(app.count("accounts").await, 0);
    let account = id(&app.create_account(json!({"credit_limit": "1000.50"})).await);
    let reply = app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": account, "amount": "1e3", "currency": "USD",
                    "method": "check", "received_date": today().to_string()}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "amount");
    assert_eq!(app.count("payments").await, 0);
    let reply = app
        .get("/v1/invoices?min_total=1e3", &admin_token())
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "min_total");
    let stored = app
        .get(&format!("/v1/accounts/{account}"), &admin_token())
        .await
        .expect(200)
        .body;
    assert_eq!(stored["credit_limit"], "1000.50");
}

/// Text is what it looks like: control and invisible formatting characters are refused with
/// the field named, a name needs something visible, and text is stored NFC.
#[tokio::test]
async fn text_is_what_it_looks_like() {
    let app = spawn_app().await;
    let refused = [
        // A right-to-left override makes "Acme Corp" of "Acme \u{202E}proC".
        (json!({"legal_name": "Acme \u{202E}proC"}), "legal_name"),
        (json!({"legal_name": "Ac\u{200B}me"}), "legal_name"),
        (json!({"legal_name": "Acme\u{0007}"}), "legal_name"),
        (
            json!({"billing_address": {"line1": "100 Main\u{2066} St", "city": "Springfield",
                    "region": "IL", "postal_code": "62701", "country": "US"}}),
            "billing_address.line1",
        ),
        (
            json!({"external_crm_id": "\u{FEFF}CRM-1"}),
            "external_crm_id",
        ),
    ];
    for (extra, field) in refused {
        let mut body = account_body("Acme");
        merge(&mut body, extra);
        let reply = app
            .post("/v1/accounts", &admin_token(), &body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.error_field(), field);
        assert_eq!(reply.body["errors"][0]["code"], "invalid_character");
    }
    // Drawn as nothing: a Hangul filler is no name.
    let reply = app
        .post("/v1/accounts", &admin_token(), &account_body("\u{3164}"))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.error_field(), "legal_name");
    assert_eq!(app.count("accounts").await, 0);
    // "Café" typed with a combining accent is stored composed.
    let account = app
        .post(
            "/v1/accounts",
            &admin_token(),
            &account_body("Cafe\u{0301} Lumie\u{0300}re"),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(account["legal_name"], "Caf\u{00E9} Lumi\u{00E8}re");
    assert_eq!(
        app.count("accounts WHERE legal_name = 'Caf\u{00E9} Lumi\u{00E8}re'")
            .await,
        1
    );
}

/// A body is an object: an array of the fields' values is refused (serde alone would read it
/// as the struct), and an update must name something to change.
#[tokio::test]
async fn a_body_is_an_object_and_an_update_names_a_change() {
    let app = spawn_app().await;
    let manager = token(receivables::auth::Role::CollectionsManager);
    let refused = app
        .post(
            "/v1/collections/dunning-runs",
            &manager,
            &json!([null, null]),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["errors"][0]["field"], "body");
    assert_eq!(refused.body["errors"][0]["code"], "invalid_type");
    assert_eq!(app.count("dunning_runs").await, 0);
    let account = id(&app.create_account(json!({})).await);
    let refused = app
        .patch(
            &format!("/v1/collections/accounts/{account}"),
            &manager,
            &json!({}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused.body["errors"][0]["code"], "empty");
    assert_eq!(
        app.count("audit_events WHERE action = 'collection_profile.updated'")
            .await,
        0
    );
}

/// `If-Match` holds a quoted entity tag (`"3"` or `W/"3"`) or `*`; a bare number is no ETag,
/// and an empty header carries no precondition.
#[tokio::test]
async fn if_match_takes_quoted_entity_tags_only() {
    let app = spawn_app().await;
    let account = app.create_account(json!({})).await;
    let path = app.url(&format!("/v1/accounts/{}", id(&account)));
    let rename = |tag: &'static str| {
        app.client
            .patch(&path)
            .bearer_auth(admin_token())
            .header("If-Match", tag)
            .json(&json!({"legal_name": "Renamed Inc."}))
    };
    app.send(rename("1"))
        .await
        .expect_problem(400, "invalid_if_match");
    app.send(rename("\"1"))
        .await
        .expect_problem(400, "invalid_if_match");
    app.send(rename(""))
        .await
        .expect_problem(428, "precondition_required");
    assert_eq!(
        app.value(&format!(
            "SELECT legal_name FROM accounts WHERE id = '{}'",
            id(&account)
        ))
        .await,
        "Acme Manufacturing Inc."
    );
    let renamed = app.send(rename("W/\"1\"")).await.expect(200);
    assert_eq!(renamed.body["legal_name"], "Renamed Inc.");
}
