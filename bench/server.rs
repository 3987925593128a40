//! The service under load, as a process of its own: started from the release binary with a
//! signing key made for the run, watched through `/proc` (CPU time, peak resident memory),
//! and stopped with SIGTERM like any deployment would.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The secret the crm scenario signs its events with.
pub const CRM_SECRET: &str = "bench-crm-signing-secret";

pub struct Server {
    child: Child,
    pub addr: String,
    binary: String,
    env: Vec<(String, String)>,
}

/// Clock ticks per second of `/proc` CPU times.
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// User and system CPU time of a process, in seconds, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    cpu_of_stat(&stat) as f64 / ticks_per_second() as f64
}

/// utime + stime (fields 14 and 15) of a stat line; the command name may hold spaces.
fn cpu_of_stat(stat: &str) -> u64 {
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let fields: Vec<&str> = after.split(' ').collect();
    let field = |k: usize| {
        fields
            .get(k)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// CPU ticks of every PostgreSQL process (the server and its backends), by pid.
fn postgres_ticks() -> HashMap<u32, u64> {
    let mut ticks = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = fs::read_to_string(entry.path().join("stat")) {
                if stat.contains("(postgres)") {
                    ticks.insert(pid, cpu_of_stat(&stat));
                }
            }
        }
    }
    ticks
}

/// PostgreSQL's CPU time over a measurement. Backends come and go (pgbench's leave when it
/// ends), so their times are sampled while they live, every 50 ms.
pub struct PostgresCpu {
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
}

impl PostgresCpu {
    pub fn start() -> PostgresCpu {
        let stop = Arc::new(AtomicBool::new(false));
        let baseline = postgres_ticks();
        let flag = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut latest = baseline.clone();
            loop {
                latest.extend(postgres_ticks());
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            latest
                .iter()
                .map(|(pid, t)| t.saturating_sub(baseline.get(pid).copied().unwrap_or(0)))
                .sum()
        });
        PostgresCpu { stop, sampler }
    }

    /// CPU seconds used since [`PostgresCpu::start`].
    pub fn stop(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().unwrap_or(0) as f64 / ticks_per_second() as f64
    }
}

/// Peak resident memory of a process in MiB (`VmHWM`).
pub fn peak_rss_mib(pid: u32) -> f64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

impl Server {
    /// Starts the service on `port` against `database_url` and waits until it is ready.
    pub fn start(
        binary: &str,
        database_url: &str,
        port: u16,
        log: &Path,
    ) -> Result<Server, String> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
        let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let env = vec![
            ("DATABASE_URL".to_string(), database_url.to_string()),
            ("BIND_ADDRESS".into(), format!("127.0.0.1:{port}")),
            ("JWT_HS256_SECRET".into(), secret),
            // Scheduled dunning would run during the measurements; it is measured apart.
            ("DUNNING_INTERVAL_MINUTES".into(), "0".into()),
            // The webhooks scenario delivers to a receiver of its own on 127.0.0.1.
            ("WEBHOOK_ALLOW_HTTP".into(), "true".into()),
            ("WEBHOOK_ALLOWED_NETWORKS".into(), "127.0.0.1/32".into()),
            // The crm scenario signs its events as the CRM source `bench`.
            ("CRM_SIGNING_SECRETS".into(), format!("bench:{CRM_SECRET}")),
        ];
        let log_file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(binary)
            .args(["serve", "--no-migrate"])
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let mut server = Server {
            child,
            addr: format!("127.0.0.1:{port}"),
            binary: binary.to_string(),
            env,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the service exited at start: {status}"));
            }
            if let Ok(mut s) = std::net::TcpStream::connect(&self.addr) {
                use std::io::{Read, Write};
                let _ =
                    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("the service was not ready within 60 s".into())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A token for `role`, minted by the service's own command with the run's key.
    pub fn token(&self, role: &str) -> Result<String, String> {
        let out = Command::new(&self.binary)
            .args(["token", "--role", role, "--sub", "bench", "--ttl", "86400"])
            .envs(self.env.iter().cloned())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Forgets the peak resident memory so far, so that the next reading is a scenario's own.
    pub fn reset_peak(&self) {
        let _ = fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    pub fn stop(mut self) {
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces() {
        let stat = "42 (my server) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0";
        assert_eq!(cpu_of_stat(stat), 325);
    }
}
