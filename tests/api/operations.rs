//! Health, readiness, metrics and the offline docs page.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let reply = app
        .send(app.client.get(app.url("/healthz")))
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "ok");
    let reply = app
        .send(app.client.get(app.url("/readyz")))
        .await
        .expect(200);
    assert_eq!(reply.body["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.drop_database().await;
    let reply = app.send(app.client.get(app.url("/readyz"))).await;
    reply.expect_problem(503, "service_unavailable");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    app.get("/v1/accounts", &admin_token()).await.expect(200);
    app.send(app.client.get(app.url("/v1/accounts")))
        .await
        .expect(401);
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "http_requests_total{method=\"GET\",route=\"/v1/accounts\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "http_requests_total{method=\"GET\",route=\"/v1/accounts\",status=\"401\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/accounts\",le=\"+Inf\"} 2"
    ));
    assert!(text.contains("db_pool_connections{state=\"idle\"}"));
    assert!(text.contains("db_pool_max_connections 10"));
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let reply = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 308);
    let page = client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("cdn") && !html.contains("unpkg"),
        "nothing loads from the internet"
    );
    let init = client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/v1/openapi.json"), "{init}");
    let bundle = client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status().as_u16(), 200);
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let db = empty_database().await;
    let runs = (0..3).map(|_| {
        let url = db.url.clone();
        tokio::task::spawn_blocking(move || receivables::db::run_migrations(&url))
    });
    let results = futures_util::future::join_all(runs).await;
    let applied: Vec<Vec<String>> = results
        .into_iter()
        .map(|r| r.unwrap().expect("migrations apply"))
        .collect();
    assert_eq!(
        applied.iter().filter(|a| !a.is_empty()).count(),
        1,
        "one instance applies, the others find nothing pending"
    );
}

/// A database restart cuts the service's connections, some in the middle of a request: what
/// a caller sees is 503 with `Retry-After`, never 500, and once the pool has new connections
/// every request succeeds.
#[tokio::test]
async fn lost_database_connections_are_503_with_retry_after() {
    let app = spawn_app().await;
    let token = admin_token();
    let account = app.create_account(json!({})).await;
    // A request waits on a row lock held elsewhere; its connection is cut while it waits.
    let mut holder = app.pool.get().await.expect("connection");
    exec(&mut holder, "BEGIN").await.unwrap();
    exec(
        &mut holder,
        &format!(
            "SELECT 1 FROM accounts WHERE id = '{}' FOR UPDATE",
            id(&account)
        ),
    )
    .await
    .unwrap();
    let path = format!("/v1/accounts/{}", id(&account));
    let rename = json!({"legal_name": "Renamed Ltd", "version": account["version"]});
    let patch = app.patch(&path, &token, &rename);
    let cut = async {
        for _ in 0..200 {
            let waiting = app
                .count(&format!(
                    "pg_stat_activity WHERE datname = '{}' AND wait_event_type = 'Lock'",
                    app.db_name
                ))
                .await;
            if waiting > 0 {
                app.terminate_waiting().await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the request never waited on the lock");
    };
    let (reply, ()) = tokio::join!(patch, cut);
    exec(&mut holder, "ROLLBACK").await.unwrap();
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.body["code"], "service_unavailable");
    assert!(reply.header("retry-after").is_some());
    // Nothing was changed by the cut request.
    assert_eq!(
        app.count("accounts WHERE legal_name = 'Renamed Ltd'").await,
        0
    );

    // Then every connection goes at once.
    app.terminate_connections().await;
    for i in 0..12 {
        let reply = if i % 2 == 0 {
            app.get("/v1/accounts", &token).await
        } else {
            app.post(
                "/v1/accounts",
                &token,
                &account_body(&format!("Restart {i}")),
            )
            .await
        };
        match reply.status {
            200 | 201 => {}
            503 => assert!(reply.header("retry-after").is_some(), "{}", reply.body),
            other => panic!("request {i} answered {other}: {}", reply.body),
        }
    }
    app.get("/v1/accounts", &token).await.expect(200);
}

/// With `METRICS_ADDRESS`, `/metrics` is served there alone and not on the API's port.
#[tokio::test]
async fn metrics_can_have_an_address_of_their_own() {
    let app = spawn_app().await;
    let (address, handle, metrics) =
        app.serve_again(|c| c.metrics_address = Some("127.0.0.1:0".parse().unwrap()));
    let metrics = format!("http://127.0.0.1:{}", metrics.expect("a metrics port"));
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let api_reply = get(format!("{address}/metrics")).await;
    assert_eq!(api_reply.status(), 404);
    assert_eq!(get(format!("{address}/healthz")).await.status(), 200);
    let reply = get(format!("{metrics}/metrics")).await;
    assert_eq!(reply.status(), 200);
    let text = reply.text().await.unwrap();
    assert!(text.contains("db_pool_max_connections 2"), "{text}");
    assert!(
        text.contains("http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"),
        "{text}"
    );
    assert_eq!(get(format!("{metrics}/v1/accounts")).await.status(), 404);
    assert_eq!(get(format!("{metrics}/healthz")).await.status(), 404);
    handle.stop(false).await;
    // Stopping the service stops its metrics server too (a fresh client: no kept-alive
    // connection to reuse).
    assert!(reqwest::Client::new()
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .is_err());
}
