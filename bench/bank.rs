//! The bank-file scenario: a BAI2 file of many transactions made from the seeded book, as a
//! bank would send a busy day, imported in one request; transactions per second end to end,
//! the share matched automatically, and the service's memory.
//!
//! The file's credits pay distinct open invoices of the seed, in four kinds a cash
//! application team sees: 40% lockbox items whose customer reference is the invoice number
//! typed without dashes (rule 2), 25% ACH credits carrying an RMR remittance of the invoice
//! (rule 1), 20% wires naming only the account number (rule 3: the amount finds the invoice),
//! 15% wires from payers nobody knows (rule 4: the suspense queue).

use std::fmt::Write as _;
use std::time::Instant;

use serde_json::Value;

use crate::server::{self, Server};
use crate::Line;

/// The invoices the file pays: number, balance in cents, account number.
async fn invoices(
    db: &tokio_postgres::Client,
    n: usize,
) -> Result<Vec<(String, i64, String)>, String> {
    let rows = db
        .query(
            "SELECT i.number, (i.balance_due * 100)::bigint, a.number
               FROM invoices i JOIN accounts a ON a.id = i.account_id
              WHERE i.status = 'open' AND i.disputed_amount = 0 AND i.balance_due > 0
                AND i.currency = 'USD' AND a.currency = 'USD'
              ORDER BY md5(i.id::text) LIMIT $1",
            &[&(n as i64)],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The file: one account, one group, `n` detail records (fewer when the seed has fewer
/// open invoices), its trailers' totals and counts computed.
fn bai2(paid: &[(String, i64, String)], n: usize, today: time::Date) -> String {
    let ymd = format!(
        "{:02}{:02}{:02}",
        today.year() % 100,
        u8::from(today.month()),
        today.day()
    );
    let mut details = String::new();
    let (mut total, mut records) = (0i64, 0usize);
    for (k, (number, cents, account)) in paid.iter().take(n).enumerate() {
        let (line, extra) = match k % 20 {
            0..=7 => (
                format!(
                    "16,115,{cents},0,LBX{k:07},{},LOCKBOX ITEM/",
                    number.replace('-', "")
                ),
                None,
            ),
            8..=12 => (
                format!("16,165,{cents},0,ACH{k:07},,ORIG CO NAME:PAYER {k} ENTRY DESCR:PAYMENT/"),
                Some(format!(
                    "88,RMR*IV*{number}*PI*{}.{:02}\\",
                    cents / 100,
                    cents % 100
                )),
            ),
            13..=16 => (
                format!("16,195,{cents},0,FW{k:07},,PAYMENT FOR {account}/"),
                None,
            ),
            _ => (
                format!("16,195,{},0,FWU{k:07},,WIRE FROM SOMEONE {k}/", cents + 1),
                None,
            ),
        };
        total += line
            .split(',')
            .nth(2)
            .and_then(|a| a.parse::<i64>().ok())
            .unwrap_or(0);
        records += 1 + usize::from(extra.is_some());
        details.push_str(&line);
        details.push('\n');
        if let Some(extra) = extra {
            details.push_str(&extra);
            details.push('\n');
        }
    }
    let mut out = String::with_capacity(details.len() + 512);
    let _ = writeln!(out, "01,BENCHBANK,RECEIVABLES,{ymd},0600,B{ymd},80,1,2/");
    let _ = writeln!(out, "02,RECEIVABLES,026009593,1,{ymd},2400,USD,2/");
    out.push_str("03,9999999999,USD,010,+0,,/\n");
    out.push_str(&details);
    let account_records = records + 2;
    let _ = writeln!(out, "49,+{total},{account_records}/");
    let _ = writeln!(out, "98,+{total},1,{}/", account_records + 2);
    let _ = writeln!(out, "99,+{total},1,{}/", account_records + 4);
    out
}

/// Imports a file of `n` transactions and reports transactions/s end to end.
pub async fn import(
    server: &Server,
    token: &str,
    db: &tokio_postgres::Client,
    n: usize,
) -> Result<(Line, u64), String> {
    let paid = invoices(db, n).await?;
    let file = bai2(&paid, n, time::OffsetDateTime::now_utc().date());
    let count = n.min(paid.len());
    let mut conn = crate::http::Connection::open(&server.addr)
        .await
        .map_err(|e| e.to_string())?;
    let headers = vec![
        format!("Authorization: Bearer {token}"),
        "Content-Type: application/x-bai2".to_string(),
    ];
    server.reset_peak();
    let (cpu, pg) = (
        server::cpu_seconds(server.pid()),
        server::PostgresCpu::start(),
    );
    let started = Instant::now();
    let answer = conn
        .send_raw("POST", "/v1/bank-files", &headers, file.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let wall = started.elapsed().as_secs_f64();
    let report: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
    let errors = u64::from(answer.status != 201);
    if errors > 0 {
        eprintln!("bank file: {} {report}", answer.status);
    }
    let r = &report["report"];
    let per_second = count as f64 / wall.max(1e-9);
    let line = Line {
        scenario: "bank file (BAI2)".into(),
        script: None,
        concurrency: 1,
        api: format!(
            "{per_second:.0} transactions/s ({count} in {wall:.1} s; matched {} = {} of credits, suggested {}, unidentified {}; {:.1} MiB)",
            r["matched"],
            r["matched_share"].as_str().unwrap_or("?"),
            r["suggested"],
            r["unidentified"],
            file.len() as f64 / 1_048_576.0
        ),
        p50: wall * 1000.0,
        p95: wall * 1000.0,
        p99: wall * 1000.0,
        errors,
        cpu: (server::cpu_seconds(server.pid()) - cpu) / wall.max(1e-9) * 100.0,
        pg_cpu: pg.stop() / wall.max(1e-9) * 100.0,
        rss: server::peak_rss_mib(server.pid()),
        api_figure: per_second,
        sql_figure: None,
        sql_pg_cpu: 0.0,
        least_figure: None,
        higher_is_better: true,
        target: "≥ 5,000 transactions/s",
    };
    Ok((line, errors))
}
