//! Health, readiness, metrics and the offline docs page.

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
