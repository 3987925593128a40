//! `receivables-bench`: measures the service under load against a seeded database, and the
//! same work done by `pgbench` directly in SQL on the same machine, side by side.
//!
//! For each run it copies the seeded database (so every run starts from the same data),
//! starts the service on the copy, and for each scenario and concurrency reports requests/s,
//! latency percentiles, errors, the service's CPU and peak memory and PostgreSQL's CPU; then
//! it runs `bench/sql/<scenario>.sql` with pgbench and prints the ratio of the two.
//! `bench/run` builds, seeds and calls it; see `bench/README.md`.

mod bank;
mod http;
mod load;
mod pgbench;
mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use load::{MakeRequest, Outcome, Request};

/// The password the service's role gets for the benchmarks' local cluster.
const SERVICE_PASSWORD: &str = "receivables-bench";
use server::Server;

#[derive(Parser)]
#[command(
    name = "receivables-bench",
    about = "Load the service and compare it with pgbench"
)]
struct Args {
    /// The PostgreSQL server, without a database name.
    #[arg(
        long,
        env = "BENCH_SERVER_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    server_url: String,
    /// The seeded database; it is copied for the run and left as it is.
    #[arg(long)]
    template: String,
    /// The service's binary (a release build).
    #[arg(long, default_value = "target/release/receivables")]
    binary: String,
    /// Scenarios: get, list, pay, aging, aging-past (as of 30 days ago), crm, billing, webhooks, bank-file, and the reports
    /// (aging-summary, aging-detail, aging-detail-xlsx, past-due, kpis, cash-receipts).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "get,list,pay,aging,aging-past,crm,billing,webhooks,bank-file,aging-summary,aging-detail,aging-detail-xlsx,past-due,kpis,cash-receipts"
    )]
    scenarios: Vec<String>,
    /// Transactions in the bank-file scenario's BAI2 file.
    #[arg(long, default_value_t = 100_000)]
    bank_transactions: usize,
    /// Concurrent callers of the get, list and pay scenarios.
    #[arg(long, value_delimiter = ',', default_value = "8,64")]
    concurrency: Vec<usize>,
    /// Also measure `get` with the largest number of callers paced at this share (percent)
    /// of the rate it reached back to back: latency below saturation. 0: no paced run.
    #[arg(long, default_value_t = 50)]
    paced: u32,
    /// Concurrent callers of the aging scenario and of the reports.
    #[arg(long, default_value_t = 1)]
    aging_concurrency: usize,
    /// Seconds each measurement lasts (API and pgbench alike).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds of warm-up before each API measurement (not counted).
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Where the pgbench scripts are.
    #[arg(long, default_value = "bench/sql")]
    sql: PathBuf,
    #[arg(long, default_value_t = 18080)]
    port: u16,
    /// Where the service's log goes.
    #[arg(long, default_value = "target/bench-server.log")]
    log: PathBuf,
    /// Replace the results section of this Markdown file with this run's table.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Fail when any request or transaction failed (the smoke run).
    #[arg(long)]
    strict: bool,
    /// Keep the copy the run worked on (`<template>_run`), to look into it afterwards.
    #[arg(long)]
    keep: bool,
}

/// One line of the results.
struct Line {
    scenario: String,
    /// The pgbench script that does the same work, if any.
    script: Option<String>,
    concurrency: usize,
    api: String,
    p50: f64,
    p95: f64,
    p99: f64,
    errors: u64,
    cpu: f64,
    pg_cpu: f64,
    rss: f64,
    /// The API's figure and pgbench's, in the same unit, and which is better when higher.
    api_figure: f64,
    sql_figure: Option<f64>,
    /// PostgreSQL's CPU while pgbench ran.
    sql_pg_cpu: f64,
    /// pgbench's figure for the least SQL that returns the same result
    /// (`bench/sql/least/<script>.sql`), where one is written.
    least_figure: Option<f64>,
    higher_is_better: bool,
    target: &'static str,
}

impl Line {
    fn ratio(&self) -> Option<f64> {
        let sql = self.sql_figure?;
        (sql > 0.0).then(|| self.api_figure / sql)
    }

    fn least_ratio(&self) -> Option<f64> {
        let least = self.least_figure?;
        (least > 0.0).then(|| self.api_figure / least)
    }

    fn markdown(&self) -> String {
        let least = match self.least_figure {
            Some(v) if self.higher_is_better => format!("{v:.0} tps"),
            Some(v) => format!("{v:.1} ms"),
            None => "—".into(),
        };
        let least_ratio = self.least_ratio().map_or("—".into(), |r| format!("{r:.2}"));
        let sql = match self.sql_figure {
            Some(v) if self.higher_is_better => {
                format!("{v:.0} tps (PostgreSQL {:.0}%)", self.sql_pg_cpu)
            }
            Some(v) => format!("{v:.1} ms (PostgreSQL {:.0}%)", self.sql_pg_cpu),
            None => "—".into(),
        };
        let ratio = self.ratio().map_or("—".into(), |r| format!("{r:.2}"));
        format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.0}% | {:.0}% | {:.0} | {} | {} | {} | {} | {} |",
            self.scenario,
            self.concurrency,
            self.api,
            self.p50,
            self.p95,
            self.p99,
            self.errors,
            self.cpu,
            self.pg_cpu,
            self.rss,
            sql,
            ratio,
            least,
            least_ratio,
            self.target
        )
    }
}

const HEADER: &str = "| scenario | callers | API | p50 ms | p95 ms | p99 ms | errors | service CPU | PostgreSQL CPU | service peak RSS MiB | pgbench, the service's statements | API / pgbench | pgbench, the least SQL | API / least SQL | target |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|";

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    tokio::spawn(connection);
    Ok(client)
}

async fn sql(client: &tokio_postgres::Client, statement: &str) -> Result<(), String> {
    client
        .batch_execute(statement)
        .await
        .map_err(|e| format!("{}: {statement}", receivables::seed::copy::describe(&e)))
}

/// The ids the scenarios pick from, kept in the copy as tables pgbench reads too: a sample
/// of invoices, every active account, and the accounts that have an open invoice of 1,000
/// or more (so that each payment of 50.00 finds an invoice to pay).
struct Ids {
    invoices: Vec<String>,
    accounts: Vec<String>,
    pay_accounts: Vec<String>,
}

async fn prepare_ids(client: &tokio_postgres::Client) -> Result<Ids, String> {
    sql(
        client,
        "CREATE TABLE bench_invoices AS
             SELECT row_number() OVER () AS n, id FROM
               (SELECT id FROM invoices WHERE status <> 'draft' ORDER BY md5(id::text) LIMIT 20000) x;
         ALTER TABLE bench_invoices ADD PRIMARY KEY (n);
         CREATE TABLE bench_accounts AS
             SELECT row_number() OVER () AS n, id FROM
               (SELECT id FROM accounts WHERE status = 'active' ORDER BY md5(id::text)) x;
         ALTER TABLE bench_accounts ADD PRIMARY KEY (n);
         CREATE TABLE bench_pay_accounts AS
             SELECT row_number() OVER () AS n, id FROM
               (SELECT a.id FROM accounts a
                 WHERE a.status = 'active'
                   AND EXISTS (SELECT 1 FROM invoices i
                                WHERE i.account_id = a.id AND i.status = 'open'
                                  AND i.balance_due - i.disputed_amount >= 1000)
                 ORDER BY md5(a.id::text)) x;
         ALTER TABLE bench_pay_accounts ADD PRIMARY KEY (n);
         ANALYZE bench_invoices; ANALYZE bench_accounts; ANALYZE bench_pay_accounts;",
    )
    .await?;
    let ids = |table: &'static str| async move {
        client
            .query(&format!("SELECT id::text FROM {table} ORDER BY n"), &[])
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.to_string())
    };
    Ok(Ids {
        invoices: ids("bench_invoices").await?,
        accounts: ids("bench_accounts").await?,
        pay_accounts: ids("bench_pay_accounts").await?,
    })
}

fn request(
    token: &str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    expect: u16,
) -> Request {
    let mut headers = vec![format!("Authorization: Bearer {token}")];
    if method == "POST" {
        headers.push(format!("Idempotency-Key: bench-{}", uuid::Uuid::new_v4()));
    }
    Request {
        method,
        path,
        headers,
        body: body.map(|b| b.to_string().into_bytes()),
        expect,
    }
}

/// A signed CRM event: every other one opens a new account, the others update one of the
/// seeded accounts (whose CRM ids are `CRM-00000001`, ...).
fn crm_event(token: &str, rng: &mut receivables::seed::random::Rng, accounts: usize) -> Request {
    let now = time::OffsetDateTime::now_utc();
    let occurred_at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let id = uuid::Uuid::new_v4();
    let data = if rng.chance(500) {
        json!({"crm_id": format!("NEW-{id}"), "legal_name": format!("Bench Customer {id}"),
               "currency": "USD", "payment_terms_days": 30,
               "billing_address": {"line1": "1 Bench Way", "city": "Springfield",
                                   "region": "IL", "postal_code": "62701", "country": "US"}})
    } else {
        let n = 1 + rng.below(accounts.max(1) as u64);
        json!({"crm_id": format!("CRM-{n:08}"), "payment_terms_days": 30 + rng.below(3) * 15})
    };
    let body = json!({"id": format!("bench-{id}"), "type": "account.upserted",
                      "occurred_at": occurred_at, "data": data})
    .to_string()
    .into_bytes();
    let signature = receivables::signature::header(
        [server::CRM_SECRET.as_bytes()],
        now.unix_timestamp(),
        &body,
    );
    Request {
        method: "POST",
        path: "/v1/integrations/crm/events".into(),
        headers: vec![
            format!("Authorization: Bearer {token}"),
            format!("{}: {signature}", receivables::signature::HEADER),
        ],
        body: Some(body),
        expect: 201,
    }
}

/// The request a scenario sends.
fn scenario(name: &str, ids: &Arc<Ids>, token: &str) -> Option<MakeRequest> {
    let (ids, token) = (ids.clone(), token.to_string());
    let today = time::OffsetDateTime::now_utc().date().to_string();
    Some(match name {
        "get" => Arc::new(move |rng, _| {
            let id = rng.pick(&ids.invoices);
            request(&token, "GET", format!("/v1/invoices/{id}"), None, 200)
        }),
        "list" => Arc::new(move |rng, _| {
            let account = rng.pick(&ids.accounts);
            request(
                &token,
                "GET",
                format!("/v1/invoices?account_id={account}&limit=50"),
                None,
                200,
            )
        }),
        "pay" => Arc::new(move |rng, _| {
            let account = rng.pick(&ids.pay_accounts);
            let body = json!({"account_id": account, "amount": "50.00", "currency": "USD",
                              "method": "ach", "received_date": today, "application_mode": "auto"});
            request(&token, "POST", "/v1/payments".into(), Some(body), 201)
        }),
        "aging" => {
            Arc::new(move |_, _| request(&token, "GET", "/v1/collections/aging".into(), None, 200))
        }
        "aging-past" => {
            let as_of = time::OffsetDateTime::now_utc().date() - time::Duration::days(PAST_DAYS);
            let path = format!("/v1/collections/aging?as_of={as_of}");
            Arc::new(move |_, _| request(&token, "GET", path.clone(), None, 200))
        }
        report if per_report(report) => {
            let path = REPORTS
                .iter()
                .find(|(n, _)| *n == report)
                .map(|(_, p)| p.to_string())?;
            Arc::new(move |_, _| request(&token, "GET", path.clone(), None, 200))
        }
        "crm" => Arc::new(move |rng, _| crm_event(&token, rng, ids.accounts.len())),
        _ => return None,
    })
}

/// The reports measured, each by the time one takes as of today over the whole book, and the
/// request that asks for it.
const REPORTS: [(&str, &str); 6] = [
    ("aging-summary", "/v1/reports/aging-summary"),
    ("aging-detail", "/v1/reports/aging-detail?format=csv"),
    ("aging-detail-xlsx", "/v1/reports/aging-detail?format=xlsx"),
    ("past-due", "/v1/reports/past-due"),
    ("kpis", "/v1/reports/kpis"),
    ("cash-receipts", "/v1/reports/cash-receipts"),
];

/// How far back the `aging-past` scenario's date is (its scripts say `CURRENT_DATE - 30`).
const PAST_DAYS: i64 = 30;

/// Whether a scenario is measured as time per report (one caller) rather than requests/s.
fn per_report(name: &str) -> bool {
    name == "aging" || name == "aging-past" || REPORTS.iter().any(|(n, _)| *n == name)
}

/// The SQL yardstick's script of a scenario (`bench/sql/<script>.sql`): the workbook is the
/// same statement as the CSV.
fn script_of(name: &str) -> &str {
    name.strip_suffix("-xlsx").unwrap_or(name)
}

/// Measures one scenario at one concurrency, with the service's CPU and peak memory.
async fn measure(
    server: &Server,
    args: &Args,
    name: &str,
    concurrency: usize,
    rate: Option<f64>,
    make: MakeRequest,
) -> (Outcome, f64, f64, f64) {
    let min = if per_report(name) { 3 } else { 0 };
    if args.warmup > 0 {
        load::run(
            &server.addr,
            concurrency,
            Duration::from_secs(args.warmup),
            min.min(1),
            1,
            rate,
            make.clone(),
        )
        .await;
    }
    server.reset_peak();
    let (cpu, pg) = (
        server::cpu_seconds(server.pid()),
        server::PostgresCpu::start(),
    );
    let outcome = load::run(
        &server.addr,
        concurrency,
        Duration::from_secs(args.duration),
        min,
        2,
        rate,
        make,
    )
    .await;
    let wall = outcome.elapsed.as_secs_f64().max(1e-9);
    let cpu = (server::cpu_seconds(server.pid()) - cpu) / wall * 100.0;
    let pg = pg.stop() / wall * 100.0;
    (outcome, cpu, pg, server::peak_rss_mib(server.pid()))
}

/// Runs a billing run over every contract and reports contracts per second.
async fn billing(server: &Server, token: &str) -> Result<(Line, u64), String> {
    let mut conn = http::Connection::open(&server.addr)
        .await
        .map_err(|e| e.to_string())?;
    let auth = vec![format!("Authorization: Bearer {token}")];
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let body = json!({"as_of": today, "mode": "issue"}).to_string();
    server.reset_peak();
    let (cpu, pg) = (
        server::cpu_seconds(server.pid()),
        server::PostgresCpu::start(),
    );
    let started = Instant::now();
    let answer = conn
        .send("POST", "/v1/billing-runs", &auth, Some(body.as_bytes()))
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 202 {
        return Err(format!(
            "billing run: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    let run: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
    let path = format!(
        "/v1/billing-runs/{}",
        run["id"].as_str().unwrap_or_default()
    );
    let run = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = conn
            .send("GET", &path, &auth, None)
            .await
            .map_err(|e| e.to_string())?;
        let run: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        if run["status"] == "completed" || run["status"] == "failed" {
            break run;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            return Err("the billing run did not finish within an hour".into());
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let progress = &run["progress"];
    let contracts = progress["contracts_done"].as_u64().unwrap_or(0);
    let errors = progress["errors"].as_u64().unwrap_or(0) + u64::from(run["status"] != "completed");
    let per_second = contracts as f64 / wall.max(1e-9);
    let line = Line {
        scenario: "billing run".into(),
        script: None,
        concurrency: 1,
        api: format!(
            "{per_second:.0} contracts/s ({contracts} in {wall:.1} s, {} invoices)",
            progress["invoices_created"]
        ),
        p50: wall * 1000.0,
        p95: wall * 1000.0,
        p99: wall * 1000.0,
        errors,
        cpu: (server::cpu_seconds(server.pid()) - cpu) / wall * 100.0,
        pg_cpu: pg.stop() / wall * 100.0,
        rss: server::peak_rss_mib(server.pid()),
        api_figure: per_second,
        sql_figure: None,
        sql_pg_cpu: 0.0,
        least_figure: None,
        higher_is_better: true,
        target: "≥ 5,000 contracts/s",
    };
    Ok((line, errors))
}

/// Writes `events` events into the outbox (about 1.5 KB each, over 2,000 resources) for an
/// endpoint on a receiver in this process, and reports how fast the service's worker
/// delivers them all.
async fn webhooks(
    server: &Server,
    token: &str,
    db: &tokio_postgres::Client,
    events: u64,
) -> Result<(Line, u64), String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let received = Arc::new(AtomicU64::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let counter = actix_web::web::Data::from(received.clone());
    let receiver = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(counter.clone())
            .default_service(actix_web::web::to(
                |n: actix_web::web::Data<AtomicU64>, _body: actix_web::web::Bytes| async move {
                    n.fetch_add(1, Ordering::Relaxed);
                    actix_web::HttpResponse::Ok().finish()
                },
            ))
    })
    .workers(1)
    .listen(listener)
    .map_err(|e| e.to_string())?
    .run();
    let stop = receiver.handle();
    tokio::spawn(receiver);

    let mut conn = http::Connection::open(&server.addr)
        .await
        .map_err(|e| e.to_string())?;
    let auth = vec![format!("Authorization: Bearer {token}")];
    let body = json!({"url": format!("http://127.0.0.1:{port}/hooks"),
                      "event_types": ["payment.applied"], "description": "bench receiver"})
    .to_string();
    let answer = conn
        .send(
            "POST",
            "/v1/webhook-endpoints",
            &auth,
            Some(body.as_bytes()),
        )
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 201 {
        return Err(format!(
            "webhook endpoint: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    // What `outbox::emit` writes, for many events at once.
    sql(
        db,
        &format!(
            "WITH event AS (
                 INSERT INTO outbox_events
                     (id, type, resource_type, resource_id, occurred_at, data)
                 SELECT gen_random_uuid(), 'payment.applied', 'payment',
                        ('00000000-0000-4000-8000-' || lpad(to_hex(g % 2000), 12, '0'))::uuid,
                        now(), jsonb_build_object('n', g, 'amount', '50.00', 'memo', repeat('x', 1400))
                 FROM generate_series(1, {events}) g
                 ORDER BY g
                 RETURNING id, seq, resource_id)
             INSERT INTO webhook_deliveries
                 (id, event_id, endpoint_id, seq, resource_id, status, next_attempt_at, created_at)
             SELECT gen_random_uuid(), event.id, e.id, event.seq, event.resource_id, 'pending',
                    now(), now()
             FROM event CROSS JOIN webhook_endpoints e"
        ),
    )
    .await?;
    server.reset_peak();
    let (cpu, pg) = (
        server::cpu_seconds(server.pid()),
        server::PostgresCpu::start(),
    );
    let started = Instant::now();
    let delivered = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let row = db
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'delivered'),
                        count(*) FILTER (WHERE status <> 'delivered')
                 FROM webhook_deliveries",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let (done, left): (i64, i64) = (row.get(0), row.get(1));
        if left == 0 {
            break done as u64;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("{left} deliveries left after 10 minutes"));
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let per_second = delivered as f64 / wall.max(1e-9);
    let sent = received.load(Ordering::Relaxed);
    stop.stop(true).await;
    let line = Line {
        scenario: "webhooks delivered".into(),
        script: None,
        concurrency: 1,
        api: format!("{per_second:.0} deliveries/s ({delivered} in {wall:.1} s, {sent} received)"),
        p50: wall * 1000.0,
        p95: wall * 1000.0,
        p99: wall * 1000.0,
        errors: sent.saturating_sub(delivered) + events.saturating_sub(delivered),
        cpu: (server::cpu_seconds(server.pid()) - cpu) / wall * 100.0,
        pg_cpu: pg.stop() / wall * 100.0,
        rss: server::peak_rss_mib(server.pid()),
        api_figure: per_second,
        sql_figure: None,
        sql_pg_cpu: 0.0,
        least_figure: None,
        higher_is_better: true,
        target: "≥ 2,000 deliveries/s",
    };
    Ok((line, events.saturating_sub(delivered)))
}

fn target(name: &str) -> &'static str {
    match name {
        "get" => "≥ 0.6 × least SQL; p99 < 10 ms at half",
        "list" => "≥ 0.3 × pgbench",
        "pay" => "≥ 0.6 × pgbench",
        "aging" => "≤ 1.5 × least SQL",
        "aging-past" => "≤ 2 × least SQL",
        report if per_report(report) => "≤ 1.5 × SQL time",
        "crm" => "≥ 1,000 events/s",
        _ => "",
    }
}

async fn bench(args: &Args) -> Result<(Vec<Line>, u64), String> {
    let work = format!("{}_run", args.template);
    let admin = connect(&format!("{}/postgres", args.server_url)).await?;
    sql(
        &admin,
        &format!("DROP DATABASE IF EXISTS {work} WITH (FORCE)"),
    )
    .await?;
    let copying = Instant::now();
    sql(
        &admin,
        &format!("CREATE DATABASE {work} TEMPLATE {}", args.template),
    )
    .await?;
    eprintln!(
        "copied {} in {:.1} s",
        args.template,
        copying.elapsed().as_secs_f64()
    );
    let work_url = format!("{}/{work}", args.server_url);
    let db = connect(&work_url).await?;
    let ids = Arc::new(prepare_ids(&db).await?);
    if ids.invoices.is_empty() || ids.pay_accounts.is_empty() {
        return Err(format!(
            "{} holds no invoices or no account with an open invoice of 1,000 or more to pay",
            args.template
        ));
    }
    // The service connects as its own role, which owns no table, as in production.
    let admin_url = format!("{}/postgres", args.server_url);
    tokio::task::spawn_blocking(move || {
        receivables::local_pg::ensure_service_role(&admin_url, SERVICE_PASSWORD)
    })
    .await
    .map_err(|e| e.to_string())??;
    let host = args.server_url.rsplit_once('@').map_or(
        args.server_url.trim_start_matches("postgres://"),
        |(_, host)| host,
    );
    let service_url = format!(
        "postgres://{}:{SERVICE_PASSWORD}@{host}/{work}",
        receivables::local_pg::SERVICE_ROLE
    );
    let server = Server::start(&args.binary, &service_url, args.port, &args.log)?;
    let token = server.token("billing")?;
    let integration = server.token("integration")?;
    let mut lines = Vec::new();
    let mut failures = 0;
    for name in &args.scenarios {
        if name == "billing" || name == "webhooks" || name == "bank-file" {
            continue;
        }
        let caller = if name == "crm" { &integration } else { &token };
        let Some(make) = scenario(name, &ids, caller) else {
            return Err(format!(
                "unknown scenario {name}: get, list, pay, aging, aging-past, crm, billing, webhooks, bank-file or a report"
            ));
        };
        let levels = if per_report(name) {
            vec![args.aging_concurrency]
        } else {
            args.concurrency.clone()
        };
        let most = levels.iter().copied().max().unwrap_or(1);
        let mut runs: Vec<(usize, bool)> = levels.iter().map(|c| (*c, false)).collect();
        if name == "get" && args.paced > 0 {
            runs.push((most, true));
        }
        let mut back_to_back = 0.0;
        for (c, paced) in runs {
            let rate = paced.then(|| back_to_back * args.paced as f64 / 100.0);
            eprintln!(
                "{name}: {c} callers, {} s{}",
                args.duration,
                rate.map_or(String::new(), |r| format!(", paced at {r:.0} requests/s"))
            );
            let (out, cpu, pg, rss) = measure(&server, args, name, c, rate, make.clone()).await;
            if let Some(e) = &out.first_error {
                eprintln!("  first error: {e}");
            }
            failures += out.errors;
            eprintln!(
                "  {} requests, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, {} errors, service CPU {cpu:.0}%, PostgreSQL CPU {pg:.0}%",
                out.requests,
                out.per_second(),
                out.percentile_ms(50),
                out.percentile_ms(99),
                out.errors
            );
            if !paced && c == most {
                back_to_back = out.per_second();
            }
            let aging = per_report(name);
            lines.push(Line {
                scenario: match rate {
                    Some(r) => format!("{name}, paced at {r:.0}/s ({}% of the above)", args.paced),
                    None => name.clone(),
                },
                // The SQL yardstick, where the work has one (`bench/sql/<name>.sql`).
                script: (!paced && args.sql.join(format!("{}.sql", script_of(name))).exists())
                    .then(|| script_of(name).to_string()),
                concurrency: c,
                api: if aging {
                    format!(
                        "{:.1} ms per report ({} reports)",
                        out.mean_ms(),
                        out.requests
                    )
                } else {
                    format!("{:.0} req/s", out.per_second())
                },
                p50: out.percentile_ms(50),
                p95: out.percentile_ms(95),
                p99: out.percentile_ms(99),
                errors: out.errors,
                cpu,
                pg_cpu: pg,
                rss,
                api_figure: if aging {
                    out.mean_ms()
                } else {
                    out.per_second()
                },
                sql_figure: None,
                sql_pg_cpu: 0.0,
                least_figure: None,
                higher_is_better: !aging,
                target: if paced { "p99 < 10 ms" } else { target(name) },
            });
        }
    }
    if args.scenarios.iter().any(|s| s == "webhooks") {
        let events = std::env::var("BENCH_WEBHOOK_EVENTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000 * args.duration.max(1));
        eprintln!("webhooks: {events} outbox events delivered to a receiver on 127.0.0.1");
        let admin = server.token("admin")?;
        let (line, errors) = webhooks(&server, &admin, &db, events).await?;
        failures += errors;
        lines.push(line);
    }
    if args.scenarios.iter().any(|s| s == "bank-file") {
        eprintln!(
            "bank file: a BAI2 file of {} transactions",
            args.bank_transactions
        );
        let (line, errors) = bank::import(&server, &token, &db, args.bank_transactions).await?;
        failures += errors;
        lines.push(line);
    }
    if args.scenarios.iter().any(|s| s == "billing") {
        eprintln!("billing run over every contract");
        let (line, errors) = billing(&server, &token).await?;
        failures += errors;
        lines.push(line);
    }
    server.stop();
    // The same work in SQL.
    let variables = [
        ("invoices", ids.invoices.len().to_string()),
        ("accounts", ids.accounts.len().to_string()),
        ("pay_accounts", ids.pay_accounts.len().to_string()),
    ];
    for line in lines.iter_mut() {
        let Some(script) = &line.script else {
            continue;
        };
        let script = args.sql.join(format!("{script}.sql"));
        eprintln!(
            "pgbench {}: {} clients, {} s",
            script.display(),
            line.concurrency,
            args.duration
        );
        let (pg, started) = (server::PostgresCpu::start(), Instant::now());
        let figures = match pgbench::run(
            &work_url,
            &script,
            line.concurrency,
            Duration::from_secs(args.duration),
            &variables,
        ) {
            Ok(figures) => figures,
            Err(e) => {
                eprintln!("  {e}");
                failures += 1;
                continue;
            }
        };
        eprintln!(
            "  {} transactions, {:.0} tps, {:.2} ms average",
            figures.transactions, figures.tps, figures.latency_ms
        );
        failures += figures.failed;
        line.sql_pg_cpu = pg.stop() / started.elapsed().as_secs_f64() * 100.0;
        line.sql_figure = Some(if line.higher_is_better {
            figures.tps
        } else {
            figures.latency_ms
        });
        // The least SQL returning the same result, where it is not the service's statements.
        let least = args
            .sql
            .join("least")
            .join(script.file_name().unwrap_or_default());
        if least.exists() {
            eprintln!("pgbench {}: {} clients", least.display(), line.concurrency);
            match pgbench::run(
                &work_url,
                &least,
                line.concurrency,
                Duration::from_secs(args.duration),
                &variables,
            ) {
                Ok(f) => {
                    eprintln!("  {:.0} tps, {:.2} ms average", f.tps, f.latency_ms);
                    failures += f.failed;
                    line.least_figure = Some(if line.higher_is_better {
                        f.tps
                    } else {
                        f.latency_ms
                    });
                }
                Err(e) => {
                    eprintln!("  {e}");
                    failures += 1;
                }
            }
        }
    }
    drop(db);
    if args.keep {
        eprintln!("kept {work}");
    } else {
        sql(
            &admin,
            &format!("DROP DATABASE IF EXISTS {work} WITH (FORCE)"),
        )
        .await?;
    }
    Ok((lines, failures))
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024 / 1024);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {memory} GiB")
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".into(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
}

/// Replaces what lies between the results markers of a Markdown file.
fn record(path: &PathBuf, table: &str) -> Result<(), String> {
    const BEGIN: &str = "<!-- results:begin -->";
    const END: &str = "<!-- results:end -->";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!("{} has no results markers", path.display()));
    };
    let updated = format!("{}{BEGIN}\n{table}\n{}", &text[..b], &text[e..]);
    std::fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(bench(&args)) {
        Ok((lines, failures)) => {
            let mut table = format!(
                "{} · commit {} · {} · {} s per measurement\n\n{HEADER}\n",
                time::OffsetDateTime::now_utc().date(),
                commit(),
                machine(),
                args.duration
            );
            for l in &lines {
                table.push_str(&l.markdown());
                table.push('\n');
            }
            println!("{table}");
            if let Some(path) = &args.record {
                if let Err(e) = record(path, &table) {
                    eprintln!("receivables-bench: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
            if args.strict && failures > 0 {
                eprintln!("receivables-bench: {failures} requests or transactions failed");
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("receivables-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_compares_the_api_with_pgbench() {
        let line = Line {
            scenario: "get".into(),
            script: Some("get".into()),
            concurrency: 8,
            api: "3000 req/s".into(),
            p50: 2.0,
            p95: 4.0,
            p99: 6.0,
            errors: 0,
            cpu: 80.0,
            pg_cpu: 60.0,
            rss: 40.0,
            api_figure: 3000.0,
            sql_figure: Some(10000.0),
            sql_pg_cpu: 150.0,
            least_figure: None,
            higher_is_better: true,
            target: "≥ 0.25 × pgbench",
        };
        assert_eq!(line.ratio(), Some(0.3));
        assert!(line
            .markdown()
            .contains("| 10000 tps (PostgreSQL 150%) | 0.30 |"));
    }
}
