//! The same work in SQL: a `bench/sql/*.sql` script run by `pgbench` against the same
//! database, prepared statements, for the ceiling an API over PostgreSQL can approach.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What pgbench measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Transactions per second, without the initial connection time.
    pub tps: f64,
    pub latency_ms: f64,
    pub transactions: u64,
    pub failed: u64,
}

/// Reads pgbench's summary.
pub fn parse(output: &str) -> Option<Figures> {
    let number_after = |prefix: &str| {
        output.lines().find_map(|l| {
            l.trim()
                .strip_prefix(prefix)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
    };
    Some(Figures {
        tps: number_after("tps = ")?,
        latency_ms: number_after("latency average = ").unwrap_or(0.0),
        transactions: number_after("number of transactions actually processed: ")? as u64,
        failed: number_after("number of failed transactions: ").unwrap_or(0.0) as u64,
    })
}

/// Runs `script` with `clients` connections and 2 threads for `duration`.
pub fn run(
    database_url: &str,
    script: &Path,
    clients: usize,
    duration: Duration,
    variables: &[(&str, String)],
) -> Result<Figures, String> {
    let mut command = Command::new("pgbench");
    command
        .arg("-n")
        .args(["-M", "prepared"])
        .args(["-c", &clients.to_string()])
        .args(["-j", &clients.min(2).to_string()])
        .args(["-T", &duration.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(script);
    for (name, value) in variables {
        command.args(["-D", &format!("{name}={value}")]);
    }
    let out = command
        .arg(database_url)
        .output()
        .map_err(|e| format!("cannot run pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "pgbench {}: {}{}",
            script.display(),
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse(&text).ok_or_else(|| format!("pgbench printed no summary: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_summary_of_pgbench_15() {
        let out = "transaction type: bench/sql/get_invoice.sql
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 20 s
number of transactions actually processed: 123456
number of failed transactions: 0 (0.000%)
latency average = 1.296 ms
initial connection time = 12.345 ms
tps = 6172.800000 (without initial connection time)
";
        let f = parse(out).unwrap();
        assert_eq!(f.transactions, 123456);
        assert_eq!(f.failed, 0);
        assert_eq!(f.latency_ms, 1.296);
        assert_eq!(f.tps, 6172.8);
    }
}
