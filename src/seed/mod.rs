//! `receivables seed`: fills an empty database with years of realistic, internally consistent
//! data — partners, accounts, contracts with metered equipment and readings, invoices from
//! monthly billing runs and one-off charges, payments applied in full, in part or left
//! unapplied, deductions, disputes and credit memos — for benchmarks and demonstrations.
//!
//! The history is simulated in memory through the service's own rules ([`history`]), then
//! written in one transaction: the keys, indexes and foreign keys of the tables it fills are
//! dropped, every table is loaded with a binary `COPY` ([`copy`]), and they are made again
//! (indexes built by sorting, each foreign key checked over all rows at once: far less work
//! than keeping them up to date row by row). A failure leaves the database as it was.
//! Then the books are checked: the ledger must reconcile with every document.

pub mod copy;
pub mod history;
pub mod random;

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use copy::CopySource;
pub use history::{Options, Settings};

/// What a seed run wrote and how long each step took.
#[derive(Debug)]
pub struct Summary {
    /// Rows written per table, in writing order.
    pub rows: Vec<(&'static str, u64)>,
    pub invoices: usize,
    pub steps: Vec<(&'static str, Duration)>,
    /// Reconciliation checks that found a difference (none when the data is consistent).
    pub problems: Vec<String>,
}

impl Summary {
    pub fn total(&self) -> Duration {
        self.steps.iter().map(|(_, d)| *d).sum()
    }

    /// Invoices per second over the whole run (simulation, writing, indexes and checks).
    pub fn invoices_per_second(&self) -> u64 {
        let ms = self.total().as_millis().max(1) as u64;
        self.invoices as u64 * 1000 / ms
    }
}

/// A progress bar on standard error: redrawn in place on a terminal, a line every few
/// seconds otherwise.
pub struct Progress {
    label: Mutex<String>,
    done: AtomicU64,
    total: AtomicU64,
    stop: AtomicBool,
    tty: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            label: Mutex::new(String::new()),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn stage(&self, label: &str, total: u64) {
        *self.label.lock().expect("label") = label.to_string();
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    pub fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }

    fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed).max(1);
        let filled = (done.min(total) * 30 / total) as usize;
        format!(
            "[{}{}] {:>3}% {}",
            "#".repeat(filled),
            "-".repeat(30 - filled),
            done.min(total) * 100 / total,
            self.label
                .lock()
                .expect("label")
                .replace("{done}", &done.to_string())
        )
    }

    /// Draws until [`Progress::finish`].
    pub fn run(&self) {
        let mut last = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if self.tty {
                eprint!("\r\x1b[2K{}", self.line());
                let _ = std::io::stderr().flush();
            } else if last.elapsed() >= Duration::from_secs(5) {
                eprintln!("{}", self.line());
                last = Instant::now();
            }
        }
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }

    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::error!("seed connection: {e}");
        }
    });
    Ok(client)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

async fn execute(client: &tokio_postgres::Client, sql: &str) -> Result<(), String> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| format!("{}: {sql}", copy::describe(&e)))
}

/// Refuses a database that already holds business data: seeding fills an empty one.
async fn check_empty(client: &tokio_postgres::Client) -> Result<(), String> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM partners) + (SELECT count(*) FROM accounts)
                  + (SELECT count(*) FROM financial_codes) + (SELECT count(*) FROM invoices)",
            &[],
        )
        .await
        .map_err(|e| format!("is the database migrated? {}", copy::describe(&e)))?;
    let n: i64 = row.get(0);
    if n > 0 {
        return Err(format!(
            "the database already holds {n} partners, accounts, financial codes or invoices; \
             seed fills an empty, migrated database"
        ));
    }
    Ok(())
}

/// Every table a seed run fills, as parts taken out of the simulated history (moved, not
/// copied), in an order that reads well in the summary.
fn tables(outputs: &mut [history::Output]) -> Vec<Box<dyn CopySource>> {
    macro_rules! take {
        ($($field:ident),+ $(,)?) => {
            vec![$(Box::new(
                outputs.iter_mut().map(|o| std::mem::take(&mut o.$field)).collect::<Vec<_>>(),
            ) as Box<dyn CopySource>),+]
        };
    }
    take!(
        partners,
        codes,
        runs,
        accounts,
        contacts,
        contracts,
        charges,
        equipment,
        meters,
        plans,
        readings,
        invoices,
        lines,
        billed_periods,
        meter_periods,
        billing_errors,
        ledger,
        payments,
        applications,
        refunds,
        deductions,
        disputes,
        memos,
        memo_lines,
        memo_targets,
        memo_applications,
        adjustments,
    )
}

/// What loading `tables` in bulk needs out of the way, as the statements that drop it and,
/// in the order they must run, those that make it again: the keys and unique constraints of
/// the tables, their other indexes, and every foreign key from or to them. This is the order
/// `pg_restore` uses: data first, then indexes built by sorting, then references checked
/// over whole tables.
async fn removable(
    client: &tokio_postgres::Client,
    tables: &[String],
) -> Result<(Vec<String>, Vec<String>), String> {
    let rows = client
        .query(
            "SELECT 1 AS step, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
                    format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
                           pg_get_constraintdef(oid)), 3 AS make
               FROM pg_constraint
              WHERE contype = 'f'
                AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))
             UNION ALL
             SELECT 2, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
                    format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
                           pg_get_constraintdef(oid)), 1
               FROM pg_constraint
              WHERE contype IN ('p', 'u') AND conrelid::regclass::text = ANY($1)
             UNION ALL
             SELECT 3, format('DROP INDEX %s', i.indexrelid::regclass),
                    pg_get_indexdef(i.indexrelid), 2
               FROM pg_index i
              WHERE i.indrelid::regclass::text = ANY($1)
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
              ORDER BY 1, 2",
            &[&tables],
        )
        .await
        .map_err(|e| copy::describe(&e))?;
    let drop = rows.iter().map(|r| r.get::<_, String>(1)).collect();
    let mut make: Vec<(i32, String)> = rows
        .iter()
        .map(|r| (r.get::<_, i32>(3), r.get::<_, String>(2)))
        .collect();
    make.sort();
    Ok((drop, make.into_iter().map(|(_, sql)| sql).collect()))
}

/// The counters of the document numbers, and an audit entry for the load.
async fn number_and_audit(
    client: &tokio_postgres::Client,
    reference: &history::Output,
    summary: &serde_json::Value,
) -> Result<(), String> {
    let fail = |e: tokio_postgres::Error| copy::describe(&e);
    for (series, last) in &reference.series {
        client
            .execute(
                "INSERT INTO number_series (series, next_value) VALUES ($1, $2)
                 ON CONFLICT (series) DO UPDATE SET next_value = EXCLUDED.next_value",
                &[series, &(last + 1)],
            )
            .await
            .map_err(fail)?;
    }
    if reference.last_payment_number > 0 {
        let sql = format!(
            "SELECT setval('payment_numbers', {})",
            reference.last_payment_number
        );
        client.batch_execute(&sql).await.map_err(fail)?;
    }
    if reference.last_account_number > 0 {
        let sql = format!(
            "SELECT setval('account_numbers', {})",
            reference.last_account_number
        );
        client.batch_execute(&sql).await.map_err(fail)?;
    }
    if reference.last_dispute_number > 0 {
        let sql = format!(
            "SELECT setval('dispute_numbers', {})",
            reference.last_dispute_number
        );
        client.batch_execute(&sql).await.map_err(fail)?;
    }
    client
        .execute(
            "INSERT INTO audit_events (actor, actor_role, action, entity_type, entity_id, after)
             VALUES ('seed', 'system', 'database.seeded', 'database', $1::text::uuid, $2::text::jsonb)",
            &[&uuid::Uuid::now_v7().to_string(), &summary.to_string()],
        )
        .await
        .map_err(fail)?;
    Ok(())
}

/// Set-wise checks that the written books reconcile: every invoice's balance with its parts
/// and its ledger entries, every payment's and memo's amounts with their applications, every
/// account's balance with its open invoices less unapplied cash and credits.
pub const CHECKS: &[(&str, &str)] = &[
    ("invoice balance vs parts", "SELECT count(*) FROM invoices WHERE status NOT IN ('draft', 'void') AND balance_due <> total - amount_paid - amount_credited - amount_written_off"),
    ("invoice balance vs ledger", "SELECT count(*) FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount) AS s FROM ledger_entries WHERE invoice_id IS NOT NULL GROUP BY invoice_id) l ON l.invoice_id = i.id WHERE i.balance_due <> COALESCE(l.s, 0)"),
    ("invoice paid vs applications", "SELECT count(*) FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount) AS s FROM payment_applications WHERE reversed_at IS NULL GROUP BY invoice_id) a ON a.invoice_id = i.id WHERE i.amount_paid <> COALESCE(a.s, 0)"),
    ("payment applied vs applications", "SELECT count(*) FROM payments p LEFT JOIN (SELECT payment_id, sum(amount) AS s FROM payment_applications WHERE reversed_at IS NULL GROUP BY payment_id) a ON a.payment_id = p.id WHERE p.amount_applied <> COALESCE(a.s, 0)"),
    ("memo applied vs applications", "SELECT count(*) FROM credit_memos m LEFT JOIN (SELECT credit_memo_id, sum(amount) AS s FROM credit_applications GROUP BY credit_memo_id) a ON a.credit_memo_id = m.id WHERE m.amount_applied <> COALESCE(a.s, 0)"),
    ("open deduction beyond what is short", "SELECT count(*) FROM deductions d JOIN invoices i ON i.id = d.invoice_id WHERE d.status = 'open' AND (i.status <> 'open' OR d.amount > i.balance_due - i.disputed_amount)"),
    ("disputed amount vs active disputes", "SELECT count(*) FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount + tax_amount) AS s FROM disputes WHERE status IN ('open', 'under_review') GROUP BY invoice_id) x ON x.invoice_id = i.id WHERE i.disputed_amount <> COALESCE(x.s, 0)"),
    ("account balance vs open invoices, cash and credits", "SELECT count(*) FROM accounts a
        LEFT JOIN (SELECT account_id, sum(amount) AS s FROM ledger_entries GROUP BY account_id) l ON l.account_id = a.id
        LEFT JOIN (SELECT account_id, sum(balance_due) AS s FROM invoices WHERE status = 'open' GROUP BY account_id) i ON i.account_id = a.id
        LEFT JOIN (SELECT account_id, sum(amount - amount_applied - amount_refunded) AS s FROM payments WHERE status <> 'returned' GROUP BY account_id) p ON p.account_id = a.id
        LEFT JOIN (SELECT account_id, sum(total - amount_applied - amount_refunded) AS s FROM credit_memos WHERE status = 'issued' GROUP BY account_id) m ON m.account_id = a.id
        WHERE COALESCE(l.s, 0) <> COALESCE(i.s, 0) - COALESCE(p.s, 0) - COALESCE(m.s, 0)"),
];

async fn verify(client: &tokio_postgres::Client) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    for (what, sql) in CHECKS {
        let n: i64 = client
            .query_one(*sql, &[])
            .await
            .map_err(|e| format!("{what}: {}", copy::describe(&e)))?
            .get(0);
        if n > 0 {
            problems.push(format!("{what}: {n} rows"));
        }
    }
    Ok(problems)
}

/// Seeds the database at `url` (migrated, empty): simulates the history, writes it in one
/// transaction, and checks that it reconciles.
pub fn run(
    url: &str,
    options: &Options,
    settings: &Settings,
    progress: &Progress,
) -> Result<Summary, String> {
    let rt = runtime()?;
    let client = rt.block_on(connect(url))?;
    rt.block_on(check_empty(&client))?;
    let mut steps = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, steps: &mut Vec<(&'static str, Duration)>| {
        steps.push((name, clock.elapsed()));
        clock = Instant::now();
    };

    let report = |day: u64, days: u64, invoices: u64| {
        progress.total.store(days, Ordering::Relaxed);
        progress.set(day);
        *progress.label.lock().expect("label") =
            format!("simulating day {day} of {days}: {invoices} invoices");
    };
    let mut outputs = history::simulate(options, settings, &report);
    let invoices = outputs.iter().map(|o| o.invoices.len()).sum();
    lap("simulate", &mut steps);

    let sources = tables(&mut outputs);
    let reference = outputs.swap_remove(0);
    drop(outputs);
    let names: Vec<String> = sources.iter().map(|s| s.table().to_string()).collect();
    let total: u64 = sources.iter().map(|s| s.len() as u64).sum();
    let written = rt.block_on(async {
        let tx = &client;
        execute(
            tx,
            "BEGIN; SET LOCAL maintenance_work_mem = '512MB'; SET LOCAL synchronous_commit = off",
        )
        .await?;
        let (drop, make) = removable(tx, &names).await?;
        for sql in &drop {
            execute(tx, sql).await?;
        }
        progress.stage("writing {done} rows", total);
        let done = AtomicU64::new(0);
        let sent = |rows: u64| progress.set(done.fetch_add(rows, Ordering::Relaxed) + rows);
        let mut rows = Vec::new();
        for source in sources {
            rows.push((
                source.table(),
                copy::copy(tx, source.as_ref(), &sent).await?,
            ));
        }
        lap("copy", &mut steps);
        progress.stage(
            "making indexes and foreign keys again: {done} done",
            make.len() as u64,
        );
        for (k, sql) in make.iter().enumerate() {
            execute(tx, sql).await?;
            progress.set(k as u64 + 1);
        }
        lap("index and check references", &mut steps);
        let summary = serde_json::json!({
            "options": {
                "accounts": options.accounts, "contracts": options.contracts,
                "invoices": options.invoices, "payments": options.payments,
                "months": options.months, "seed": options.seed,
                "as_of": options.as_of.to_string(),
            },
            "rows": rows.iter().map(|(t, n)| (t.to_string(), *n))
                .collect::<std::collections::BTreeMap<_, _>>(),
        });
        number_and_audit(tx, &reference, &summary).await?;
        execute(tx, "COMMIT").await?;
        Ok::<_, String>(rows)
    });
    let rows = match written {
        Ok(rows) => rows,
        Err(e) => {
            let _ = rt.block_on(execute(&client, "ROLLBACK"));
            return Err(e);
        }
    };
    lap("commit", &mut steps);
    progress.stage("analyzing and checking the books", 1);
    rt.block_on(execute(&client, "ANALYZE"))?;
    let problems = rt.block_on(verify(&client))?;
    lap("analyze and check", &mut steps);
    Ok(Summary {
        rows,
        invoices,
        steps,
        problems,
    })
}
