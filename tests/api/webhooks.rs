//! Webhooks: endpoints, and the outbox delivered to a real receiving server on 127.0.0.1.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use diesel_async::AsyncConnection;
use receivables::auth::Role;
use receivables::integrations::webhooks::settings::WebhookSettings;
use receivables::outbox::{self, EventType};
use receivables::{signature, Config};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

/// Deliveries on, `http:` and 127.0.0.1 allowed (the receiver), quick polls and timeouts.
fn delivering(config: &mut Config) {
    config.webhooks = WebhookSettings {
        deliver: true,
        allow_http: true,
        allowed_networks: vec!["127.0.0.1/32".parse().unwrap()],
        poll_ms: 20,
        connect_timeout_ms: 1_000,
        timeout_ms: 1_000,
        ..WebhookSettings::default()
    };
}

/// What the receiver answers a request with (the next in line; 200 when none is left).
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// Answers 200 after this long: longer than the service's timeout, it is a timeout.
    Slow(Duration),
    Redirect,
}

#[derive(Clone, Debug)]
struct Received {
    signature: Option<String>,
    event_id: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<Answer>>,
}

/// An HTTP server on 127.0.0.1 that records what it receives.
struct Receiver {
    url: String,
    inbox: Arc<Inbox>,
    handle: ServerHandle,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox = Arc::new(Inbox::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let shared = web::Data::from(inbox.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            inbox,
            handle,
        }
    }

    fn answer(&self, answers: &[Answer]) {
        self.inbox.answers.lock().unwrap().extend(answers);
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }
}

async fn receive(inbox: web::Data<Inbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    inbox.received.lock().unwrap().push(Received {
        signature: header("receivables-signature"),
        event_id: header("receivables-event-id"),
        body: body.to_vec(),
    });
    let answer = inbox.answers.lock().unwrap().pop_front();
    match answer {
        None => HttpResponse::Ok().body("thanks"),
        Some(Answer::Status(code)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .body(format!("answered {code}"))
        }
        Some(Answer::Slow(wait)) => {
            tokio::time::sleep(wait).await;
            HttpResponse::Ok().finish()
        }
        Some(Answer::Redirect) => HttpResponse::Found()
            .insert_header(("Location", "http://127.0.0.1:9/elsewhere"))
            .finish(),
    }
}

/// Registers an endpoint through the API; returns its id and secret.
async fn endpoint(app: &TestApp, url: &str, types: Value) -> (String, String) {
    let created = app
        .post(
            "/v1/webhook-endpoints",
            &admin_token(),
            &json!({"url": url, "event_types": types, "description": "test receiver"}),
        )
        .await
        .expect(201);
    (
        id(&created.body),
        created.body["secret"].as_str().unwrap().to_string(),
    )
}

/// Writes an event into the outbox as a service would, in a transaction of its own.
async fn emit(app: &TestApp, event: EventType, resource: Uuid, data: Value) -> Uuid {
    let mut conn = app.pool.get().await.expect("connection");
    outbox::emit(&mut conn, app.clock.now(), event, resource, None, &data)
        .await
        .expect("emit")
}

/// Waits until `done` holds (polling the database), up to ten seconds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn delivered(app: &TestApp, n: i64) {
    until(&format!("{n} deliveries"), async || {
        app.count("webhook_deliveries WHERE status = 'delivered'")
            .await
            == n
    })
    .await;
}

#[tokio::test]
async fn an_endpoint_is_registered_with_a_secret_shown_once_and_managed_by_admins() {
    let app = spawn_app().await;
    let admin = admin_token();
    let created = app
        .post(
            "/v1/webhook-endpoints",
            &admin,
            &json!({"url": "https://hooks.example.com/receivables",
                    "event_types": ["notice.created", "service_order.created"],
                    "description": "Letters"}),
        )
        .await
        .expect(201);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 70);
    assert_eq!(created.body["enabled"], true);
    assert_eq!(
        created.body["event_types"],
        json!(["notice.created", "service_order.created"])
    );
    let endpoint = id(&created.body);
    let path = format!("/v1/webhook-endpoints/{endpoint}");
    let read = app.get(&path, &admin).await.expect(200);
    assert!(
        read.body.get("secret").is_none(),
        "the secret is not shown again"
    );
    assert_eq!(read.header("etag"), Some("\"1\""));
    assert_eq!(
        app.value(&format!(
            "SELECT secret FROM webhook_endpoints WHERE id = '{endpoint}'"
        ))
        .await,
        secret
    );
    // The audit log has the endpoint, never its secret.
    let audited = app
        .value(&format!(
            "SELECT after::text FROM audit_events WHERE entity_id = '{endpoint}'"
        ))
        .await;
    assert!(audited.contains("hooks.example.com") && !audited.contains(&secret));

    // Only administrators manage endpoints.
    for role in [Role::Billing, Role::Integration, Role::Viewer] {
        app.get("/v1/webhook-endpoints", &token(role))
            .await
            .expect_problem(403, "forbidden");
    }

    let changed = app
        .patch(
            &path,
            &admin,
            &json!({"event_types": [], "description": null, "version": 1}),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["event_types"], json!([]));
    assert_eq!(changed.body["description"], Value::Null);
    assert_eq!(changed.body["version"], 2);
    app.refuses_empty_patches(&path, &admin).await;

    let rotated = app
        .post(&format!("{path}/rotate-secret"), &admin, &json!({}))
        .await
        .expect(200);
    let new_secret = rotated.body["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(
        app.value(&format!(
            "SELECT previous_secret FROM webhook_endpoints WHERE id = '{endpoint}'"
        ))
        .await,
        secret
    );
    assert!(rotated.body["previous_secret_expires_at"].is_string());

    let list = app.get("/v1/webhook-endpoints", &admin).await.expect(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

    let gone = app.delete(&path, &admin).await;
    assert_eq!(gone.status, 204);
    app.get(&path, &admin)
        .await
        .expect_problem(404, "not_found");
    assert_eq!(app.count("webhook_endpoints").await, 0);
    assert_eq!(
        app.count(&format!(
            "audit_events WHERE entity_id = '{endpoint}' AND action = 'webhook_endpoint.deleted'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn endpoint_urls_and_types_are_checked_and_nothing_is_stored_when_refused() {
    let app = spawn_app().await;
    let admin = admin_token();
    let cases = [
        (
            json!({"url": "http://hooks.example.com/"}),
            "url",
            "insecure",
        ),
        (json!({"url": "hooks.example.com"}), "url", "invalid"),
        (json!({"url": "ftp://hooks.example.com/"}), "url", "invalid"),
        (
            json!({"url": "https://user:pw@hooks.example.com/"}),
            "url",
            "invalid",
        ),
        (
            json!({"url": "https://127.0.0.1/"}),
            "url",
            "forbidden_address",
        ),
        (
            json!({"url": "https://10.1.2.3/"}),
            "url",
            "forbidden_address",
        ),
        (
            json!({"url": "https://169.254.169.254/latest/meta-data"}),
            "url",
            "forbidden_address",
        ),
        (
            json!({"url": "https://[::1]:8443/"}),
            "url",
            "forbidden_address",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["invoice.paid", "invoice.paid"]}),
            "event_types[1]",
            "duplicate",
        ),
    ];
    for (body, field, code) in cases {
        let refused = app
            .post("/v1/webhook-endpoints", &admin, &body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused.error_field(), field, "{body}");
        assert_eq!(refused.body["errors"][0]["code"], code, "{body}");
    }
    let unknown = app
        .post(
            "/v1/webhook-endpoints",
            &admin,
            &json!({"url": "https://hooks.example.com/", "event_types": ["invoice.eaten"]}),
        )
        .await;
    assert!(
        unknown.status == 400 || unknown.status == 422,
        "{}",
        unknown.body
    );
    assert!(unknown.body.to_string().contains("event_types"));
    assert_eq!(app.count("webhook_endpoints").await, 0);
}

#[tokio::test]
async fn a_delivery_is_signed_carries_the_event_and_is_logged() {
    let app = spawn_app_with(delivering).await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = endpoint(&app, &receiver.url, json!([])).await;
    let resource = Uuid::now_v7();
    let data = json!({"id": resource, "number": "INV-000001", "total": "120.00"});
    let event = emit(&app, EventType::InvoiceIssued, resource, data.clone()).await;
    delivered(&app, 1).await;

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    // The receiver verifies the signature over the raw body, as README "Webhooks" shows.
    let verified = signature::verify(
        got.signature.as_deref(),
        &got.body,
        &[secret.as_bytes()],
        app.clock.now().unix_timestamp(),
    );
    assert!(verified.is_ok(), "{:?}", got.signature);
    assert!(signature::verify(
        got.signature.as_deref(),
        &got.body,
        &[b"whsec_wrong"],
        app.clock.now().unix_timestamp()
    )
    .is_err());
    let body = got.json();
    assert_eq!(body["id"], event.to_string());
    assert_eq!(got.event_id.as_deref(), Some(event.to_string().as_str()));
    assert_eq!(body["type"], "invoice.issued");
    assert_eq!(body["data"], data);
    assert!(body["occurred_at"].is_string());

    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            &admin_token(),
        )
        .await
        .expect(200);
    let delivery = &log.body["data"][0];
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["event_id"], event.to_string());
    assert_eq!(delivery["event_type"], "invoice.issued");
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["log"][0]["status_code"], 200);
    assert_eq!(delivery["log"][0]["response_body"], "thanks");
    assert!(delivery["log"][0]["latency_ms"].as_i64().unwrap() >= 0);
}

#[tokio::test]
async fn only_subscribed_types_reach_an_endpoint_and_a_rotation_signs_with_both_secrets() {
    let app = spawn_app_with(delivering).await;
    let receiver = Receiver::start().await;
    let (endpoint, old_secret) = endpoint(&app, &receiver.url, json!(["promise.broken"])).await;
    emit(&app, EventType::InvoiceIssued, Uuid::now_v7(), json!({})).await;
    assert_eq!(app.count("webhook_deliveries").await, 0);
    let rotated = app
        .post(
            &format!("/v1/webhook-endpoints/{endpoint}/rotate-secret"),
            &admin_token(),
            &json!({}),
        )
        .await
        .expect(200);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_string();
    emit(&app, EventType::PromiseBroken, Uuid::now_v7(), json!({})).await;
    delivered(&app, 1).await;
    let got = &receiver.received()[0];
    let now = app.clock.now().unix_timestamp();
    for secret in [&old_secret, &new_secret] {
        assert!(signature::verify(
            got.signature.as_deref(),
            &got.body,
            &[secret.as_bytes()],
            now
        )
        .is_ok());
    }
    // A day later the old secret signs no more.
    app.clock.advance(time::Duration::hours(25));
    emit(&app, EventType::PromiseBroken, Uuid::now_v7(), json!({})).await;
    delivered(&app, 2).await;
    let got = &receiver.received()[1];
    let now = app.clock.now().unix_timestamp();
    assert!(signature::verify(
        got.signature.as_deref(),
        &got.body,
        &[new_secret.as_bytes()],
        now
    )
    .is_ok());
    assert!(signature::verify(
        got.signature.as_deref(),
        &got.body,
        &[old_secret.as_bytes()],
        now
    )
    .is_err());
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_backoff_after_a_500_a_timeout_and_a_redirect() {
    let app = spawn_app_with(delivering).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[
        Answer::Status(500),
        Answer::Slow(Duration::from_millis(1_500)),
        Answer::Redirect,
    ]);
    let (endpoint, _) = endpoint(&app, &receiver.url, json!([])).await;
    let event = emit(
        &app,
        EventType::PaymentReceived,
        Uuid::now_v7(),
        json!({"n": 1}),
    )
    .await;
    let attempts = async |n: i64| {
        until(&format!("{n} attempts"), async || {
            app.count("webhook_attempts").await == n
                && app
                    .count("webhook_deliveries WHERE lease_until IS NULL")
                    .await
                    == 1
        })
        .await;
    };
    attempts(1).await;
    // The retry waits (5 to 10 s after the first failure, on the service's clock).
    let next = app
        .value(
            "SELECT extract(epoch FROM next_attempt_at - created_at)::int FROM webhook_deliveries",
        )
        .await;
    let wait: i64 = next.parse().unwrap();
    assert!((5..=11).contains(&wait), "first retry after {wait} s");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.count("webhook_attempts").await,
        1,
        "no retry before its time"
    );
    for n in 2..=4 {
        app.clock.advance(time::Duration::minutes(10));
        attempts(n).await;
    }
    assert_eq!(
        app.count("webhook_deliveries WHERE status = 'delivered'")
            .await,
        1
    );

    let log = app
        .get(
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
            &admin_token(),
        )
        .await
        .expect(200);
    let delivery = &log.body["data"][0];
    assert_eq!(delivery["attempts"], 4);
    let log = delivery["log"].as_array().unwrap();
    assert_eq!(log[0]["status_code"], 500);
    assert_eq!(log[0]["response_body"], "answered 500");
    assert_eq!(log[1]["status_code"], Value::Null);
    assert!(
        log[1]["error"].as_str().unwrap().contains("timed out"),
        "{}",
        log[1]["error"]
    );
    assert_eq!(log[2]["status_code"], 302, "redirects are not followed");
    assert_eq!(log[3]["status_code"], 200);
    // Every attempt carried the same event id: a receiver deduplicating by it acts once.
    let received = receiver.received();
    assert_eq!(received.len(), 4);
    assert!(received
        .iter()
        .all(|r| r.event_id.as_deref() == Some(event.to_string().as_str())));
    let effects: std::collections::HashSet<_> =
        received.iter().map(|r| r.json()["id"].clone()).collect();
    assert_eq!(effects.len(), 1);
}

#[tokio::test]
async fn events_of_one_resource_arrive_in_order_while_other_resources_go_on() {
    let app = spawn_app_with(delivering).await;
    let receiver = Receiver::start().await;
    // The first event of resource A fails once: A's later events wait behind it.
    receiver.answer(&[Answer::Status(503)]);
    endpoint(&app, &receiver.url, json!([])).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut conn = app.pool.get().await.unwrap();
    let now = app.clock.now();
    for n in 1..=3 {
        outbox::emit(
            &mut conn,
            now,
            EventType::InvoiceIssued,
            a,
            None,
            &json!({"a": n}),
        )
        .await
        .unwrap();
    }
    drop(conn);
    until("A's first attempt", async || {
        app.count("webhook_attempts").await >= 1
    })
    .await;
    for n in 1..=2 {
        emit(&app, EventType::InvoiceIssued, b, json!({"b": n})).await;
    }
    until("B's events", async || {
        receiver
            .received()
            .iter()
            .filter(|r| r.json()["data"]["b"].is_number())
            .count()
            == 2
    })
    .await;
    assert_eq!(
        receiver
            .received()
            .iter()
            .filter(|r| r.json()["data"]["a"].is_number())
            .count(),
        1,
        "A's later events wait for its first"
    );
    app.clock.advance(time::Duration::minutes(1));
    delivered(&app, 5).await;
    let order = |key: &str| -> Vec<i64> {
        let mut seen = Vec::new();
        for r in receiver.received() {
            let n = &r.json()["data"][key];
            if let Some(n) = n.as_i64() {
                if seen.last() != Some(&n) {
                    seen.push(n);
                }
            }
        }
        seen
    };
    assert_eq!(order("a"), [1, 2, 3]);
    assert_eq!(order("b"), [1, 2]);
}

#[tokio::test]
async fn nothing_is_delivered_for_a_transaction_that_rolls_back() {
    let app = spawn_app_with(delivering).await;
    let receiver = Receiver::start().await;
    endpoint(&app, &receiver.url, json!([])).await;
    let mut conn = app.pool.get().await.unwrap();
    let now = app.clock.now();
    let rolled_back: Result<(), diesel::result::Error> = conn
        .transaction(async |conn| {
            outbox::emit(
                conn,
                now,
                EventType::DisputeOpened,
                Uuid::now_v7(),
                None,
                &json!({}),
            )
            .await
            .unwrap();
            diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1/0"), conn).await?;
            Ok(())
        })
        .await;
    assert!(rolled_back.is_err());
    drop(conn);
    let committed = emit(&app, EventType::DisputeResolved, Uuid::now_v7(), json!({})).await;
    delivered(&app, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["id"], committed.to_string());
    assert_eq!(app.count("outbox_events").await, 1);
}

#[tokio::test]
async fn two_instances_deliver_each_event_once() {
    let app = spawn_app_with(delivering).await;
    let second = app.another_instance(delivering);
    let receiver = Receiver::start().await;
    endpoint(&app, &receiver.url, json!([])).await;
    let resources: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    let mut conn = app.pool.get().await.unwrap();
    let now = app.clock.now();
    for n in 0..300 {
        let resource = resources[n % resources.len()];
        outbox::emit(
            &mut conn,
            now,
            EventType::PaymentApplied,
            resource,
            None,
            &json!({"n": n}),
        )
        .await
        .unwrap();
    }
    drop(conn);
    delivered(&app, 300).await;
    let received = receiver.received();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for r in &received {
        *per_event.entry(r.event_id.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(per_event.len(), 300);
    assert!(
        per_event.values().all(|n| *n == 1),
        "an event was delivered twice"
    );
    drop(second);
    // Each resource's events arrived in order.
    for resource in &resources {
        let ns: Vec<i64> = received
            .iter()
            .map(|r| r.json())
            .filter(|b| {
                b["data"]["n"].as_i64().unwrap() as usize % resources.len()
                    == resources.iter().position(|x| x == resource).unwrap()
            })
            .map(|b| b["data"]["n"].as_i64().unwrap())
            .collect();
        assert!(ns.windows(2).all(|w| w[0] < w[1]), "{ns:?}");
    }
}

#[tokio::test]
async fn names_and_addresses_webhooks_may_not_reach_are_refused_at_delivery() {
    // Loopback is not allowed here: the receiver listens on it, and must hear nothing.
    let app = spawn_app_with(|config| {
        delivering(config);
        config.webhooks.allowed_networks.clear();
    })
    .await;
    let receiver = Receiver::start().await;
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    endpoint(&app, &format!("http://localhost:{port}/hooks"), json!([])).await;
    emit(&app, EventType::NoticeCreated, Uuid::now_v7(), json!({})).await;
    until("the refused attempt", async || {
        app.count("webhook_attempts").await == 1
    })
    .await;
    let error = app.value("SELECT error FROM webhook_attempts").await;
    assert!(error.contains("loopback"), "{error}");
    assert_eq!(
        app.value("SELECT status FROM webhook_deliveries").await,
        "pending"
    );
    assert!(receiver.received().is_empty());
    // A literal address refused at registration is refused at delivery too, should the
    // configuration have changed since.
    app.execute(&format!(
        "UPDATE webhook_endpoints SET url = 'http://127.0.0.1:{port}/hooks'"
    ))
    .await
    .unwrap();
    app.clock.advance(time::Duration::minutes(5));
    until("the second refused attempt", async || {
        app.count("webhook_attempts").await == 2
    })
    .await;
    let error = app
        .value("SELECT error FROM webhook_attempts ORDER BY attempted_at DESC LIMIT 1")
        .await;
    assert!(error.contains("127.0.0.1 is a loopback address"), "{error}");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_window_is_disabled_with_a_task_and_can_be_resent() {
    let app = spawn_app_with(delivering).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[Answer::Status(500), Answer::Status(500)]);
    let (endpoint, _) = endpoint(&app, &receiver.url, json!([])).await;
    emit(
        &app,
        EventType::ServiceOrderCreated,
        Uuid::now_v7(),
        json!({}),
    )
    .await;
    until("the first attempt", async || {
        app.count("webhook_attempts").await == 1
    })
    .await;
    // Three days and more later the next attempt fails too: the delivery is given up and the
    // endpoint disabled, with a task for an administrator.
    app.clock.advance(time::Duration::hours(73));
    until("the delivery to fail", async || {
        app.count("webhook_deliveries WHERE status = 'failed'")
            .await
            == 1
    })
    .await;
    let path = format!("/v1/webhook-endpoints/{endpoint}");
    let read = app.get(&path, &admin_token()).await.expect(200);
    assert_eq!(read.body["enabled"], false);
    assert!(read.body["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("72 hours"));
    assert_eq!(
        app.count(&format!(
            "tasks WHERE type = 'webhook_endpoint_disabled' AND subject_type = 'webhook_endpoint' \
             AND subject_id = '{endpoint}' AND status = 'open'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'webhook_endpoint.disabled'")
            .await,
        1
    );
    // Events go on being recorded for it, but are not sent while it is disabled.
    emit(
        &app,
        EventType::ServiceOrderCancelled,
        Uuid::now_v7(),
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 2);

    // The receiver is fixed: enabling the endpoint sends what waited, and the failed one is
    // re-sent on request.
    let enabled = app
        .patch(
            &path,
            &admin_token(),
            &json!({"enabled": true, "version": read.body["version"]}),
        )
        .await
        .expect(200);
    assert_eq!(enabled.body["disabled_reason"], Value::Null);
    delivered(&app, 1).await;
    let failed = app
        .get(&format!("{path}/deliveries?status=failed"), &admin_token())
        .await
        .expect(200);
    let delivery = id(&failed.body["data"][0]);
    let resent = app
        .post(
            &format!("{path}/deliveries/{delivery}/resend"),
            &admin_token(),
            &json!({}),
        )
        .await
        .expect(200);
    assert_eq!(resent.body["status"], "pending");
    delivered(&app, 2).await;
    app.post(
        &format!("{path}/deliveries/{}/resend", Uuid::now_v7()),
        &admin_token(),
        &json!({}),
    )
    .await
    .expect_problem(404, "not_found");
}

#[tokio::test]
async fn what_the_api_does_reaches_a_subscriber_as_the_api_shows_it_and_refusals_send_nothing() {
    let app = spawn_app_with(delivering).await;
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(
        &app,
        &receiver.url,
        json!([
            "invoice.issued",
            "invoice.paid",
            "payment.received",
            "payment.applied"
        ]),
    )
    .await;
    let code = app.financial_code("4000", "revenue").await;
    let account = id(&app
        .create_account(json!({"legal_name": "Acme Manufacturing"}))
        .await);
    let invoice = app.issued_invoice(&account, &code, "120.00", today()).await;
    let invoice_id = id(&invoice);
    delivered(&app, 1).await;
    let issued = receiver.received()[0].json();
    assert_eq!(issued["type"], "invoice.issued");
    assert_eq!(
        issued["data"], invoice,
        "the invoice as the issue request answered it"
    );

    // Issuing it again is refused: nothing is written, nothing is sent.
    app.post(
        &format!("/v1/invoices/{invoice_id}/issue"),
        &billing(),
        &json!({"invoice_date": today().to_string()}),
    )
    .await
    .expect_problem(409, "invoice_not_draft");

    let payment = app
        .post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": account, "amount": "120.00", "currency": "USD",
                    "method": "check", "received_date": today().to_string()}),
        )
        .await
        .expect(201)
        .body;
    delivered(&app, 4).await;
    let received = receiver.received();
    assert_eq!(received.len(), 4);
    let now = app.clock.now().unix_timestamp();
    assert!(received.iter().all(|r| signature::verify(
        r.signature.as_deref(),
        &r.body,
        &[secret.as_bytes()],
        now
    )
    .is_ok()));
    let of = |kind: &str| -> Vec<Value> {
        received
            .iter()
            .map(Received::json)
            .filter(|b| b["type"] == kind)
            .collect()
    };
    assert_eq!(of("invoice.issued").len(), 1);
    assert_eq!(of("payment.received")[0]["data"]["id"], payment["id"]);
    assert_eq!(of("payment.applied")[0]["data"]["id"], payment["id"]);
    let paid = &of("invoice.paid")[0];
    assert_eq!(paid["data"]["id"], invoice["id"]);
    assert_eq!(paid["data"]["status"], "paid");
    let now_shown = app
        .get(&format!("/v1/invoices/{invoice_id}"), &admin_token())
        .await
        .expect(200)
        .body;
    assert_eq!(paid["data"], now_shown);
    // The invoice's two events arrived in the order they happened.
    let invoice_events: Vec<Value> = received
        .iter()
        .map(Received::json)
        .filter(|b| b["data"]["id"] == invoice["id"])
        .map(|b| b["type"].clone())
        .collect();
    assert_eq!(
        invoice_events,
        [json!("invoice.issued"), json!("invoice.paid")]
    );
}
