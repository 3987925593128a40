//! Runs one scenario: `concurrency` callers, each on its own kept-alive connection, sending
//! requests back to back for a while; every latency is kept, so percentiles are exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use receivables::seed::random::Rng;

use crate::http::Connection;

/// One request of a scenario, and the status that counts as success.
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<String>,
    pub body: Option<Vec<u8>>,
    pub expect: u16,
}

/// Makes the `n`th request of a caller.
pub type MakeRequest = Arc<dyn Fn(&mut Rng, u64) -> Request + Send + Sync>;

/// What a scenario measured.
#[derive(Debug, Default)]
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Microseconds, sorted.
    pub latencies: Vec<u32>,
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency below which `p` percent of the requests finished, in milliseconds.
    pub fn percentile_ms(&self, p: u32) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = (self.latencies.len() * p as usize).div_ceil(100).max(1) - 1;
        self.latencies[rank.min(self.latencies.len() - 1)] as f64 / 1000.0
    }

    pub fn mean_ms(&self) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.iter().map(|l| *l as f64).sum::<f64>() / self.latencies.len() as f64 / 1000.0
    }
}

/// Sends requests from `concurrency` callers for `duration` (at least `min_requests` in all):
/// back to back, or, with `rate`, that many per second in all, each on its schedule, its
/// latency counted from when it was due (so that a slow answer delays and counts against
/// the ones behind it, as it would for real callers).
pub async fn run(
    addr: &str,
    concurrency: usize,
    duration: Duration,
    min_requests: u64,
    seed: u64,
    rate: Option<f64>,
    make: MakeRequest,
) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let per_caller = min_requests.div_ceil(concurrency as u64);
    let callers: Vec<_> = (0..concurrency)
        .map(|c| {
            let (addr, stop, make) = (addr.to_string(), stop.clone(), make.clone());
            tokio::spawn(async move {
                let mut rng = Rng::new(seed, c as u64);
                let mut out = Outcome::default();
                let mut conn: Option<Connection> = None;
                let mut n = 0u64;
                let interval = rate.map(|r| Duration::from_secs_f64(concurrency as f64 / r));
                let offset = interval.map_or(Duration::ZERO, |i| {
                    i.mul_f64(rng.below(1000) as f64 / 1000.0)
                });
                while n < per_caller || !stop.load(Ordering::Relaxed) {
                    let request = make(&mut rng, n);
                    let t = match interval {
                        Some(i) => {
                            let due = started + offset + i * n as u32;
                            tokio::time::sleep_until(due.into()).await;
                            due
                        }
                        None => Instant::now(),
                    };
                    n += 1;
                    if conn.is_none() {
                        match Connection::open(&addr).await {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                out.errors += 1;
                                out.first_error.get_or_insert(format!("connect: {e}"));
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        }
                    }
                    let c = conn.as_mut().expect("connected");
                    let result = c
                        .send(
                            request.method,
                            &request.path,
                            &request.headers,
                            request.body.as_deref(),
                        )
                        .await;
                    let took = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    out.requests += 1;
                    out.latencies.push(took);
                    match result {
                        Ok(r) if r.status == request.expect => {}
                        Ok(r) => {
                            out.errors += 1;
                            out.first_error.get_or_insert_with(|| {
                                format!(
                                    "{} {} answered {}: {}",
                                    request.method,
                                    request.path,
                                    r.status,
                                    String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
                                )
                            });
                        }
                        Err(e) => {
                            out.errors += 1;
                            out.first_error
                                .get_or_insert(format!("{} {}: {e}", request.method, request.path));
                            conn = None;
                        }
                    }
                }
                out
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Outcome::default();
    for caller in callers {
        let out = caller.await.expect("a caller");
        all.requests += out.requests;
        all.errors += out.errors;
        all.latencies.extend(out.latencies);
        if all.first_error.is_none() {
            all.first_error = out.first_error;
        }
    }
    all.elapsed = started.elapsed();
    all.latencies.sort_unstable();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_taken_from_the_sorted_latencies() {
        let out = Outcome {
            latencies: (1..=100).map(|ms| ms * 1000).collect(),
            ..Outcome::default()
        };
        assert_eq!(out.percentile_ms(50), 50.0);
        assert_eq!(out.percentile_ms(99), 99.0);
        assert_eq!(out.percentile_ms(100), 100.0);
        assert_eq!(out.mean_ms(), 50.5);
    }
}
