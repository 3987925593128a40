//! `spawn_app()`: each test gets its own database (cloned from a migrated template), its own
//! server on a free port, and a client. The database is dropped when the test ends.

use std::path::Path;

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use receivables::auth::{self, Role};
use receivables::clock::Clock;
use receivables::config::JwtSettings;
use receivables::db::{self, DbPool};
use receivables::Application;
use receivables::Config;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const ISSUER: &str = "receivables-test";
pub const AUDIENCE: &str = "receivables-api";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

/// The settings the test server verifies with: an HS256 secret and an RS256 and EdDSA key.
pub fn jwt_settings() -> JwtSettings {
    JwtSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        hs256_secret: Some(("hs-test".into(), SECRET.as_bytes().to_vec())),
        public_keys: vec![
            (
                "rsa-test".into(),
                "RS256".into(),
                fixture("rs256-public.pem"),
            ),
            (
                "ed-test".into(),
                "EdDSA".into(),
                fixture("ed25519-public.pem"),
            ),
        ],
        signing_key: None,
    }
}

pub fn private_key(name: &str) -> String {
    fixture(name)
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The password the tests give the service's role (`receivables_service`).
const SERVICE_PASSWORD: &str = "receivables-service-test";

/// The test database server's URL as the service's role, which owns no table: the service
/// under test connects so, as in production (README, "Database roles").
fn service_server_url() -> String {
    let server = server_url();
    let host = server.rsplit_once('@').map_or(server.as_str(), |(_, h)| h);
    let host = host.strip_prefix("postgres://").unwrap_or(host);
    format!(
        "postgres://{}:{SERVICE_PASSWORD}@{host}",
        receivables::local_pg::SERVICE_ROLE
    )
}

/// The URL of a test database for the service's role.
pub fn service_url(db_name: &str) -> String {
    format!("{}/{db_name}", service_server_url())
}

fn admin_url() -> String {
    format!("{}/postgres", server_url())
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .expect("connect to the test PostgreSQL (set TEST_DATABASE_URL)")
}

/// Name of the template database for the current migrations (content hash).
fn template_name() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(
            file.strip_prefix(&dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(std::fs::read(&file).expect("migration file"));
    }
    let digest = hasher.finalize();
    format!(
        "receivables_tmpl_{}",
        digest[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("migrations dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub async fn exec(conn: &mut AsyncPgConnection, sql: &str) -> Result<usize, diesel::result::Error> {
    diesel::sql_query(sql).execute(conn).await
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let row: N = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
    ))
    .get_result(conn)
    .await
    .expect("query pg_database");
    row.n > 0
}

/// Retries statements that fail while a just-closed session is still leaving the template.
async fn exec_retrying(conn: &mut AsyncPgConnection, sql: &str) {
    for attempt in 0.. {
        match exec(conn, sql).await {
            Ok(_) => return,
            Err(e)
                if attempt < 50 && e.to_string().contains("is being accessed by other users") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

/// Creates the migrated template once per migration set, safely across test processes.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = admin().await;
            exec(&mut conn, "SELECT pg_advisory_lock(724201)")
                .await
                .expect("lock");
            tokio::task::spawn_blocking(|| {
                receivables::local_pg::ensure_service_role(&admin_url(), SERVICE_PASSWORD)
            })
            .await
            .expect("role task")
            .expect("the service's role");
            if !database_exists(&mut conn, &name).await {
                let building = format!("{name}_build");
                exec(
                    &mut conn,
                    &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
                )
                .await
                .expect("drop");
                exec(&mut conn, &format!("CREATE DATABASE {building}"))
                    .await
                    .expect("create template");
                let url = format!("{}/{building}", server_url());
                tokio::task::spawn_blocking(move || db::run_migrations(&url))
                    .await
                    .expect("migration task")
                    .expect("migrations apply");
                exec_retrying(
                    &mut conn,
                    &format!("ALTER DATABASE {building} RENAME TO {name}"),
                )
                .await;
            }
            exec(&mut conn, "SELECT pg_advisory_unlock(724201)")
                .await
                .expect("unlock");
            name
        })
        .await
}

pub struct TestApp {
    /// The service's clock: it starts at [`epoch`] and a test may move it.
    pub clock: Clock,
    pub address: String,
    pub client: reqwest::Client,
    pub db_name: String,
    /// A pool as the owner of the tables, for the tests' own queries and fixtures; the
    /// service connects as `receivables_service`.
    pub pool: DbPool,
    handle: receivables::Handles,
}

/// The financial code the returned-payment fee is billed under in tests (create it first).
pub const RETURNED_FEE_CODE: &str = "4950";

/// The holidays of the test configuration: Christmas of the test year and the second and
/// third days from today, so that every SLA computed in a test crosses configured holidays.
pub fn test_holidays() -> Vec<time::Date> {
    vec![
        date("2026-12-25"),
        today() + time::Duration::days(2),
        today() + time::Duration::days(3),
    ]
}

/// The CRM source of the test configuration and its two secrets (a rotation in progress).
pub const CRM_SOURCE: &str = "test-crm";
pub const CRM_SECRET: &str = "crm-test-secret-0123456789abcdef";
pub const CRM_NEXT_SECRET: &str = "crm-next-secret-fedcba9876543210";

pub fn test_config(db_url: &str) -> Config {
    Config {
        database_url: Some(db_url.to_string()),
        migration_database_url: None,
        database_read_url: None,
        bind: "127.0.0.1:0".parse().unwrap(),
        metrics_address: None,
        pool_size: 10,
        json_limit: 64 * 1024,
        jwt: jwt_settings(),
        dev_mode: false,
        run_migrations: false,
        workers: Some(1),
        pg_dir: "var/pg".into(),
        idempotency_ttl_hours: 24,
        billing: Default::default(),
        collections: receivables::collections::settings::CollectionsSettings {
            dunning_interval_minutes: 0,
            ..Default::default()
        },
        // Tests run scheduled reports on demand (tests/api/report_schedules.rs).
        reports: receivables::reports::settings::ReportSettings {
            schedule_interval_minutes: 0,
        },
        bank_files: Default::default(),
        // Tests that hold accounts automatically set their own days (tests/api/credit.rs).
        credit_management: receivables::credit::settings::CreditManagementSettings {
            hold_days_past_due: 0,
            ..Default::default()
        },
        credits: receivables::credit_memos::settings::CreditSettings {
            holidays: test_holidays(),
            ..Default::default()
        },
        payments: receivables::payments::settings::PaymentSettings {
            small_balance_tolerance: "5.00".parse().unwrap(),
            returned_payment_fee: Some(("25.00".parse().unwrap(), RETURNED_FEE_CODE.into())),
        },
        seller: receivables::invoices::settings::Seller {
            name: "Northwind Office Equipment LLC".into(),
            address: vec!["1 Commerce Way".into(), "Springfield, IL 62701".into()],
            tax_id: Some("36-0000000".into()),
            remit_to: vec!["Lockbox 4410".into(), "Chicago, IL 60680".into()],
            payment_instructions: vec!["ACH: routing 000000000, account 000000000".into()],
        },
        // Tests that deliver webhooks turn the worker on (tests/api/webhooks.rs).
        webhooks: receivables::integrations::webhooks::settings::WebhookSettings {
            deliver: false,
            ..Default::default()
        },
        crm: receivables::integrations::crm::settings::CrmSettings::single(
            CRM_SOURCE,
            &[CRM_SECRET, CRM_NEXT_SECRET],
        ),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A test app whose configuration `configure` changes first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let template = template().await;
    let db_name = format!("receivables_test_{}", Uuid::new_v4().simple());
    let mut conn = admin().await;
    exec_retrying(
        &mut conn,
        &format!("CREATE DATABASE {db_name} TEMPLATE {template}"),
    )
    .await;
    let db_url = service_url(&db_name);
    let mut config = test_config(&db_url);
    configure(&mut config);
    let service_pool = db::pool(&db_url, config.pool_size).expect("pool");
    let pool = db::pool(&format!("{}/{db_name}", server_url()), 4).expect("pool");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let clock = Clock::starting_at(epoch());
    let app = Application::build(config, service_pool, listener, clock.clone()).expect("build app");
    let handle = app.handle();
    let port = app.port;
    tokio::spawn(app.server);
    TestApp {
        clock,
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        db_name,
        pool,
        handle,
    }
}

/// Another instance of the service on a test app's database, with its own workers; it stops
/// when dropped.
pub struct Instance {
    handle: receivables::Handles,
}

impl Drop for Instance {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl TestApp {
    /// Starts another instance of the service on this app's database, configured as a test
    /// app and then by `configure`, sharing this app's clock.
    pub fn another_instance(&self, configure: impl FnOnce(&mut Config)) -> Instance {
        let db_url = service_url(&self.db_name);
        let mut config = test_config(&db_url);
        configure(&mut config);
        let service_pool = db::pool(&db_url, config.pool_size).expect("pool");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let app = Application::build(config, service_pool, listener, self.clock.clone())
            .expect("build app");
        let handle = app.handle();
        tokio::spawn(app.server);
        Instance { handle }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        drop_database_now(self.db_name.clone());
    }
}

/// Drops a database from a `Drop` impl, on a thread of its own: the test's runtime is the
/// one being dropped from.
fn drop_database_now(name: String) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = exec(&mut admin().await, &sql).await;
        });
    })
    .join()
    .expect("drop the database");
}

/// A token for `role`, signed with the test HS256 key.
pub fn token(role: Role) -> String {
    auth::mint(
        &jwt_settings(),
        &format!("{}-user", role.as_str()),
        role,
        None,
        600,
    )
    .unwrap()
}

pub fn partner_token(partner: Uuid) -> String {
    auth::mint(
        &jwt_settings(),
        "portal-user",
        Role::Partner,
        Some(partner),
        600,
    )
    .unwrap()
}

pub fn admin_token() -> String {
    token(Role::Admin)
}

/// A response with its status, headers and JSON body (Null when the body is not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `field` of the first per-field error of a problem document.
    pub fn error_field(&self) -> &str {
        self.body["errors"][0]["field"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts a problem document with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Reply {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "problems are application/problem+json"
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(self.body["type"], format!("urn:receivables:problem:{code}"));
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request; every error answer is checked against the OpenAPI document: its status
    /// is one the operation documents, and its problem `code` one the operation lists.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let request = request.build().expect("a well-formed request");
        let (method, path) = (request.method().clone(), request.url().path().to_string());
        let response = reqwest::Client::execute(&self.client, request)
            .await
            .expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 400 {
            documented_problem(method.as_str(), &path, status, &body);
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn post_with_key(&self, path: &str, token: &str, key: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(body),
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .patch(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.send(self.client.delete(self.url(path)).bearer_auth(token))
            .await
    }

    /// The URL of the test's own database, as the owner of its tables.
    pub fn db_url(&self) -> String {
        format!("{}/{}", server_url(), self.db_name)
    }

    /// Takes the database away from under the running service.
    pub async fn drop_database(&self) {
        let mut conn = admin().await;
        exec(
            &mut conn,
            &format!("DROP DATABASE {} WITH (FORCE)", self.db_name),
        )
        .await
        .expect("drop database");
    }

    /// A second server on the test's database and clock, its configuration changed by
    /// `change`: its address, its handle, and its metrics port if it has one of its own.
    pub fn serve_again(
        &self,
        change: impl FnOnce(&mut Config),
    ) -> (String, receivables::Handles, Option<u16>) {
        let url = service_url(&self.db_name);
        let mut config = test_config(&url);
        change(&mut config);
        let pool = db::pool(&url, 2).expect("pool");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let built = Application::build(config, pool, listener, self.clock.clone()).expect("build");
        let handle = built.handle();
        let address = format!("http://127.0.0.1:{}", built.port);
        let metrics = built.metrics_port;
        tokio::spawn(built.server);
        (address, handle, metrics)
    }

    /// Terminates every connection to the test's database, as a restart of PostgreSQL would.
    pub async fn terminate_connections(&self) {
        let mut conn = admin().await;
        exec(
            &mut conn,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.db_name
            ),
        )
        .await
        .expect("terminate connections");
    }

    /// Terminates the connections of the test's database that wait on a lock.
    pub async fn terminate_waiting(&self) {
        let mut conn = admin().await;
        exec(
            &mut conn,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND wait_event_type = 'Lock'",
                self.db_name
            ),
        )
        .await
        .expect("terminate connections");
    }

    /// Sends `path` two PATCHes that name no field to change (`{"version": 1}`, then `{}`)
    /// and checks that each is refused: 422 `validation_failed`, field `body`, code `empty`.
    /// The caller checks that the resource did not change.
    pub async fn refuses_empty_patches(&self, path: &str, token: &str) {
        for body in [json!({"version": 1}), json!({})] {
            let empty = self
                .patch(path, token, &body)
                .await
                .expect_problem(422, "validation_failed");
            assert_eq!(empty.error_field(), "body", "{body}");
            assert_eq!(empty.body["errors"][0]["code"], "empty", "{body}");
        }
    }

    /// `SELECT count(*) FROM <from_where>` on the test's database.
    pub async fn count(&self, from_where: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().await.expect("connection");
        let row: N = diesel::sql_query(format!("SELECT count(*) AS n FROM {from_where}"))
            .get_result(&mut conn)
            .await
            .expect("count query");
        row.n
    }

    /// The value of a one-row, one-column query, as text (`""` for NULL).
    pub async fn value(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct V {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            v: Option<String>,
        }
        let mut conn = self.pool.get().await.expect("connection");
        let row: V = diesel::sql_query(format!("SELECT ({sql})::text AS v"))
            .get_result(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.v.unwrap_or_default()
    }

    /// Runs a statement on the test's database and returns the error text, if any.
    pub async fn execute(&self, sql: &str) -> Result<usize, String> {
        let mut conn = self.pool.get().await.expect("connection");
        exec(&mut conn, sql).await.map_err(|e| e.to_string())
    }

    /// Creates an account through the API and returns its JSON.
    pub async fn create_account(&self, extra: Value) -> Value {
        let mut body = account_body("Acme Manufacturing Inc.");
        merge(&mut body, extra);
        self.post("/v1/accounts", &admin_token(), &body)
            .await
            .expect(201)
            .body
    }

    /// Creates a contract through the API (as billing) and activates it; returns its id.
    pub async fn active_contract(&self, body: Value) -> String {
        let billing = token(Role::Billing);
        let id = self
            .post("/v1/contracts", &billing, &body)
            .await
            .expect(201)
            .body["id"]
            .as_str()
            .expect("a contract id")
            .to_string();
        self.post(
            &format!("/v1/contracts/{id}/activate"),
            &billing,
            &Value::Null,
        )
        .await
        .expect(200);
        id
    }

    /// Starts a billing run and waits until it has finished; returns the finished run.
    pub async fn billing_run(&self, body: Value) -> Value {
        let started = self
            .post("/v1/billing-runs", &token(Role::Billing), &body)
            .await
            .expect(202);
        let id = started.body["id"].as_str().expect("a run id").to_string();
        assert_eq!(
            started.header("location"),
            Some(format!("/v1/billing-runs/{id}").as_str())
        );
        self.wait_for_run(&id).await
    }

    /// Polls a billing run until it has completed or failed.
    pub async fn wait_for_run(&self, id: &str) -> Value {
        for _ in 0..300 {
            let body = self
                .get(&format!("/v1/billing-runs/{id}"), &token(Role::Billing))
                .await
                .expect(200)
                .body;
            if body["status"] == "completed" || body["status"] == "failed" {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("billing run {id} did not finish");
    }

    pub async fn create_partner(&self, code: &str) -> Value {
        self.post(
            "/v1/partners",
            &admin_token(),
            &json!({"code": code, "name": format!("Partner {code}")}),
        )
        .await
        .expect(201)
        .body
    }
}

pub fn account_body(name: &str) -> Value {
    json!({
        "legal_name": name,
        "currency": "USD",
        "payment_terms_days": 30,
        "tax_rate": "8.25",
        "billing_address": {"line1": "100 Main St", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"}
    })
}

pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        for (k, v) in extra {
            base.insert(k, v);
        }
    }
}

pub fn billing() -> String {
    token(Role::Billing)
}

/// The `id` of a JSON object.
pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// The instant every test's clock starts at: 25 November 2026, noon UTC, moved by
/// `TEST_CLOCK_SHIFT_YEARS` whole years (default 0; `scripts/test` runs the suite a second
/// time five years ahead). Nothing in the service may depend on the real date: a date that
/// leaks from the system clock instead of the service's clock shows up in the shifted run.
pub fn epoch() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-25 12:00 UTC)
        .replace_date(shift_date(time::macros::date!(2026 - 11 - 25)))
}

/// Whole years the test clock is moved by (`TEST_CLOCK_SHIFT_YEARS`, default 0).
pub fn shift_years() -> i32 {
    static SHIFT: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *SHIFT.get_or_init(|| {
        std::env::var("TEST_CLOCK_SHIFT_YEARS")
            .ok()
            .map(|v| {
                v.trim()
                    .parse()
                    .expect("TEST_CLOCK_SHIFT_YEARS is a whole number")
            })
            .unwrap_or(0)
    })
}

fn shift_date(d: time::Date) -> time::Date {
    let year = d.year() + shift_years();
    let day = d.day().min(time::util::days_in_month(d.month(), year));
    time::Date::from_calendar_date(year, d.month(), day).expect("a valid date")
}

/// Today on a test's clock (as long as the test does not move it).
pub fn today() -> time::Date {
    epoch().date()
}

/// A date of the test calendar: tests are written as of [`epoch`] (25 November 2026), and
/// their dates move with the clock, by whole years.
pub fn date(iso: &str) -> time::Date {
    let d = time::Date::parse(iso, &time::format_description::well_known::Iso8601::DATE)
        .unwrap_or_else(|e| panic!("{iso}: {e}"));
    shift_date(d)
}

/// [`date`] as the text the API reads and writes.
pub fn d(iso: &str) -> String {
    date(iso).to_string()
}

/// A year of the test calendar.
pub fn y(year: i32) -> i32 {
    year + shift_years()
}

/// `text` with the years of its dates moved with the clock: for SQL, URLs, CSV rows,
/// descriptions and document numbers that quote dates. A year is a run of exactly four digits
/// from 2000 to 2099 with no letter or digit beside it that starts a date or a number
/// (`2025-10-01`, `INV-2026-000001`) or ends one (`16 Oct 2025`); not a group of a UUID.
pub fn sh(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if run == 0 {
            let c = text[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let digits = &text[i..i + run];
        let before = i.checked_sub(1).map(|k| bytes[k]);
        let after = bytes.get(i + run).copied();
        let in_uuid = before == Some(b'-')
            && i >= 2
            && bytes[i - 2].is_ascii_hexdigit()
            && after == Some(b'-');
        let alone = !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric());
        let starts_date =
            after == Some(b'-') && bytes.get(i + run + 1).is_some_and(|b| b.is_ascii_digit());
        let ends_date = i >= 4
            && before == Some(b' ')
            && bytes[i - 4..i - 1].iter().all(|b| b.is_ascii_alphabetic());
        let alone = alone && (starts_date || ends_date);
        match digits.parse::<i32>() {
            Ok(year) if run == 4 && alone && !in_uuid && (2000..2100).contains(&year) => {
                out.push_str(&y(year).to_string())
            }
            _ => out.push_str(digits),
        }
        i += run;
    }
    out
}

impl TestApp {
    /// Creates an active financial code (as admin) and returns its id.
    pub async fn financial_code(&self, code: &str, kind: &str) -> String {
        id(&self
            .post(
                "/v1/financial-codes",
                &admin_token(),
                &json!({"code": code, "name": code, "kind": kind}),
            )
            .await
            .expect(201)
            .body)
    }

    /// Records a check of `amount` received on `received` that pays that much of the invoice
    /// (as billing) and returns the payment.
    pub async fn pay_invoice(
        &self,
        account: &str,
        invoice: &Value,
        amount: &str,
        received: time::Date,
    ) -> Value {
        self.post(
            "/v1/payments",
            &billing(),
            &json!({"account_id": account, "amount": amount, "currency": "USD",
                "method": "check", "received_date": received.to_string(),
                "remittance": [{"invoice_id": id(invoice), "amount": amount}]}),
        )
        .await
        .expect(201)
        .body
    }

    /// Opens a dispute of `amount` on the invoice (as billing) and returns it.
    pub async fn open_dispute_on(&self, invoice: &Value, amount: &str) -> Value {
        self.post(
            "/v1/disputes",
            &billing(),
            &json!({"invoice_id": id(invoice), "amount": amount, "reason": "pricing",
                "description": "The rate is not the contract's"}),
        )
        .await
        .expect(201)
        .body
    }

    /// Issues an untaxed one-line invoice of `amount` on the account, dated `invoice_date`
    /// (due after the account's terms).
    pub async fn issued_invoice(
        &self,
        account: &str,
        code: &str,
        amount: &str,
        invoice_date: time::Date,
    ) -> Value {
        let draft = self
            .post(
                "/v1/invoices",
                &billing(),
                &json!({"account_id": account, "lines": [{"description": "Service", "quantity": "1",
                    "unit_price": amount, "financial_code_id": code, "taxable": false}]}),
            )
            .await
            .expect(201)
            .body;
        self.post(
            &format!("/v1/invoices/{}/issue", id(&draft)),
            &billing(),
            &json!({"invoice_date": invoice_date.to_string()}),
        )
        .await
        .expect(200)
        .body
    }
}

/// The books of payments.rs, extended to credits and adjustments: every invoice's balance is
/// its total less what was paid, credited and written off, and equals its ledger; what was
/// credited and written off equals the credit applications and adjustments; every memo's
/// applied and refunded amounts are its applications and refunds; unapplied credit equals the
/// account-level credit entries; and the account balance is the open invoices' balances less
/// unapplied cash and unapplied credits.
pub async fn assert_books_balance(app: &TestApp) {
    let unapplied_cash = "COALESCE((SELECT -sum(amount) FROM ledger_entries l WHERE l.account_id = a.id AND l.invoice_id IS NULL AND l.document_type = 'payment'), 0)";
    let unapplied_credits = "COALESCE((SELECT -sum(amount) FROM ledger_entries l WHERE l.account_id = a.id AND l.invoice_id IS NULL AND l.document_type = 'credit_memo'), 0)";
    let account_balance = format!(
        "accounts a WHERE COALESCE((SELECT sum(amount) FROM ledger_entries l WHERE l.account_id = a.id), 0) <> COALESCE((SELECT sum(balance_due) FROM invoices i WHERE i.account_id = a.id AND i.status = 'open'), 0) - {unapplied_cash} - {unapplied_credits}"
    );
    let credits_vs_memos = format!(
        "accounts a WHERE COALESCE((SELECT sum(total - amount_applied - amount_refunded) FROM credit_memos m WHERE m.account_id = a.id AND m.status = 'issued'), 0) <> {unapplied_credits}"
    );
    let cash_vs_payments = format!(
        "accounts a WHERE COALESCE((SELECT sum(amount - amount_applied - amount_refunded) FROM payments p WHERE p.account_id = a.id AND p.status <> 'returned'), 0) <> {unapplied_cash}"
    );
    let broken = [
        ("invoice balance vs parts", "invoices WHERE status NOT IN ('draft', 'void') AND balance_due <> total - amount_paid - amount_credited - amount_written_off".to_string()),
        ("invoice balance vs ledger", "invoices i WHERE i.balance_due <> COALESCE((SELECT sum(amount) FROM ledger_entries l WHERE l.invoice_id = i.id), 0)".into()),
        ("invoice paid vs applications", "invoices i WHERE i.amount_paid <> COALESCE((SELECT sum(amount) FROM payment_applications a WHERE a.invoice_id = i.id AND a.reversed_at IS NULL), 0)".into()),
        ("invoice credited vs credit applications", "invoices i WHERE i.amount_credited <> COALESCE((SELECT sum(amount) FROM credit_applications c WHERE c.invoice_id = i.id), 0)".into()),
        ("invoice written off vs adjustments", "invoices i WHERE i.amount_written_off <> COALESCE((SELECT sum(CASE WHEN kind = 'recovery' THEN -amount ELSE amount END) FROM adjustments d WHERE d.invoice_id = i.id AND d.kind IN ('small_balance_write_off', 'bad_debt_write_off', 'recovery')), 0)".into()),
        ("payment applied vs applications", "payments p WHERE p.amount_applied <> COALESCE((SELECT sum(amount) FROM payment_applications a WHERE a.payment_id = p.id AND a.reversed_at IS NULL), 0)".into()),
        ("payment refunded vs refunds", "payments p WHERE p.amount_refunded <> COALESCE((SELECT sum(amount) FROM payment_refunds r WHERE r.payment_id = p.id), 0)".into()),
        ("payment overused", "payments WHERE amount_applied + amount_refunded > amount".into()),
        ("memo applied vs credit applications", "credit_memos m WHERE m.amount_applied <> COALESCE((SELECT sum(amount) FROM credit_applications c WHERE c.credit_memo_id = m.id), 0)".into()),
        ("memo refunded vs credit refunds", "credit_memos m WHERE m.amount_refunded <> COALESCE((SELECT sum(amount) FROM credit_refunds r WHERE r.credit_memo_id = m.id), 0)".into()),
        ("memo total vs lines", "credit_memos m WHERE m.total <> (SELECT sum(amount + tax_amount) FROM credit_memo_lines l WHERE l.credit_memo_id = m.id)".into()),
        ("memo tax vs lines", "credit_memos m WHERE m.tax_total <> (SELECT sum(tax_amount) FROM credit_memo_lines l WHERE l.credit_memo_id = m.id)".into()),
        ("invoice taxable credited vs issued memo lines", "invoices i WHERE i.credited_taxable <> COALESCE((SELECT sum(l.amount) FROM credit_memo_lines l JOIN credit_memos m ON m.id = l.credit_memo_id WHERE l.invoice_id = i.id AND l.taxable AND m.status = 'issued'), 0)".into()),
        ("invoice tax credited beyond its tax", "invoices i WHERE i.status NOT IN ('draft', 'void') AND i.tax_total < COALESCE((SELECT sum(l.tax_amount) FROM credit_memo_lines l JOIN credit_memos m ON m.id = l.credit_memo_id WHERE l.invoice_id = i.id AND m.status = 'issued'), 0)".into()),
        ("memo overused", "credit_memos WHERE amount_applied + amount_refunded > total".into()),
        ("unissued memo with entries", "credit_memos m WHERE m.issued_at IS NULL AND EXISTS (SELECT 1 FROM ledger_entries l WHERE l.document_id = m.id)".into()),
        ("account-level entry of another document", "ledger_entries WHERE invoice_id IS NULL AND document_type NOT IN ('payment', 'credit_memo')".into()),
        ("unapplied cash vs payments", cash_vs_payments),
        ("unapplied credits vs memos", credits_vs_memos),
        ("account balance vs open invoices, cash and credits", account_balance),
        ("negative balance", "invoices WHERE balance_due < 0".into()),
        ("paid with balance", "invoices WHERE status = 'paid' AND balance_due <> 0".into()),
        ("open without balance", "invoices WHERE status = 'open' AND balance_due = 0".into()),
        ("uncollectible with balance", "invoices WHERE status = 'uncollectible' AND balance_due <> 0".into()),
        ("invoice written off vs ledger", "invoices i WHERE i.amount_written_off <> COALESCE((SELECT -sum(amount) FROM ledger_entries l WHERE l.invoice_id = i.id AND l.document_type = 'adjustment'), 0)".into()),
        ("open deduction beyond what is short", "deductions d JOIN invoices i ON i.id = d.invoice_id WHERE d.status = 'open' AND (i.status <> 'open' OR d.amount > i.balance_due - i.disputed_amount)".into()),
        ("disputed amount vs active disputes and credits awaiting approval", "invoices i WHERE i.disputed_amount <> COALESCE((SELECT sum(amount + tax_amount) FROM disputes d WHERE d.invoice_id = i.id AND d.status IN ('open', 'under_review')), 0) + COALESCE((SELECT sum(t.amount) FROM disputes d JOIN credit_memos m ON m.id = d.credit_memo_id JOIN credit_memo_targets t ON t.credit_memo_id = m.id AND t.invoice_id = i.id WHERE d.invoice_id = i.id AND m.status = 'pending_approval'), 0)".into()),
    ];
    for (what, from_where) in broken {
        assert_eq!(app.count(&from_where).await, 0, "{what}");
    }
}

/// An empty database (no migrations), dropped with the value.
pub struct EmptyDatabase {
    pub url: String,
    name: String,
}

pub async fn empty_database() -> EmptyDatabase {
    let name = format!("receivables_empty_{}", Uuid::new_v4().simple());
    let mut conn = admin().await;
    exec(&mut conn, &format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    EmptyDatabase {
        url: format!("{}/{name}", server_url()),
        name,
    }
}

impl Drop for EmptyDatabase {
    fn drop(&mut self) {
        drop_database_now(self.name.clone());
    }
}

/// Panics unless the OpenAPI document lists this error answer for the operation that `method`
/// and `path` name (paths the document does not have, and 405s, are the router's own).
#[track_caller]
fn documented_problem(method: &str, path: &str, status: u16, body: &Value) {
    static SPEC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(receivables::openapi_spec);
    let segments: Vec<&str> = path.split('/').collect();
    let fits = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
    };
    // A literal path wins over a template it also fits (`/assignment-rules/apply`).
    let item = spec.paths.paths.get(path).or_else(|| {
        spec.paths
            .paths
            .iter()
            .find(|(template, _)| fits(template))
            .map(|(_, item)| item)
    });
    let op = item.and_then(|item| match method {
        "GET" | "HEAD" => item.get.as_ref(),
        "POST" => item.post.as_ref(),
        "PUT" => item.put.as_ref(),
        "PATCH" => item.patch.as_ref(),
        "DELETE" => item.delete.as_ref(),
        _ => None,
    });
    let Some(op) = op else { return };
    if status == 405 {
        return;
    }
    let id = op.operation_id.as_deref().unwrap_or_default();
    let listed = receivables::openapi::problem_codes(op);
    let Some((_, codes)) = listed.iter().find(|(s, _)| *s == status.to_string()) else {
        panic!("{method} {path} ({id}) answered {status}, which its OpenAPI operation does not list; body: {body}");
    };
    if let Some(code) = body["code"].as_str() {
        assert!(
            codes.contains(&code),
            "{method} {path} ({id}) answered {status} `{code}`, which its OpenAPI description does not list ({codes:?})"
        );
    }
}
