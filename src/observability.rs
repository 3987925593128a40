//! Request ids, access logs and Prometheus metrics: one middleware around every request.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The request id of a request, as stored by the middleware.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Logger whose every line carries the request id of the task that wrote it.
pub fn init_logging() {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    builder.format(|buf, record| {
        let ts = buf.timestamp_millis();
        let rid = current_request_id().unwrap_or_else(|| "-".into());
        writeln!(
            buf,
            "{ts} {:<5} {} request_id={rid} {}",
            record.level(),
            record.target(),
            record.args()
        )
    });
    let _ = builder.try_init();
}

/// Takes the caller's `X-Request-Id` (or makes one), runs the request with it in scope,
/// echoes it, writes the access-log line and records the metrics.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let path = req.path().to_string();

    let result = REQUEST_ID.scope(id.clone(), next.call(req)).await;
    let mut res = match result {
        Ok(res) => res,
        Err(err) => {
            // An error a middleware raised: render it here so the id and metrics still apply.
            let res = err.error_response();
            return Err(actix_web::error::InternalError::from_response(err, res).into());
        }
    };
    res.headers_mut().insert(
        HeaderName::from_static(REQUEST_ID_HEADER),
        HeaderValue::from_str(&id).expect("request ids are ASCII"),
    );
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let elapsed = started.elapsed();
    REQUEST_ID.sync_scope(id, || {
        log::info!(
            "{method} {path} {status} {:.1}ms route={route}",
            elapsed.as_secs_f64() * 1000.0
        )
    });
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, elapsed.as_secs_f64());
    }
    Ok(res)
}

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counters and latency histograms, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics lock");
        let h = latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn render(&self, pool: deadpool::Status) -> String {
        let mut out = String::new();
        out.push_str("# HELP http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((method, route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            out.push_str(&format!(
                "http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}\n",
                escape(route)
            ));
        }
        out.push_str("# HELP http_request_duration_seconds Request latency by method and route.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route), h) in self.latency.lock().expect("metrics lock").iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (i, bound) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}\n",
                    h.counts[i]
                ));
            }
            out.push_str(&format!(
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!(
                "http_request_duration_seconds_sum{{{labels}}} {}\n",
                h.sum
            ));
            out.push_str(&format!(
                "http_request_duration_seconds_count{{{labels}}} {}\n",
                h.count
            ));
        }
        let in_use = pool.size.saturating_sub(pool.available);
        out.push_str("# HELP db_pool_connections Database pool connections by state.\n");
        out.push_str("# TYPE db_pool_connections gauge\n");
        out.push_str(&format!(
            "db_pool_connections{{state=\"in_use\"}} {in_use}\n"
        ));
        out.push_str(&format!(
            "db_pool_connections{{state=\"idle\"}} {}\n",
            pool.available
        ));
        out.push_str("# HELP db_pool_max_connections Configured pool size.\n");
        out.push_str("# TYPE db_pool_max_connections gauge\n");
        out.push_str(&format!("db_pool_max_connections {}\n", pool.max_size));
        out.push_str("# HELP db_pool_waiting Requests waiting for a connection.\n");
        out.push_str("# TYPE db_pool_waiting gauge\n");
        out.push_str(&format!("db_pool_waiting {}\n", pool.waiting));
        out
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_callers_are_checked() {
        assert!(acceptable("abc-123_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable("has space"));
        assert!(!acceptable(&"a".repeat(129)));
    }

    #[test]
    fn histogram_counts_each_bucket_cumulatively() {
        let m = Metrics::default();
        m.observe("GET", "/v1/accounts", 200, 0.004);
        m.observe("GET", "/v1/accounts", 404, 0.3);
        let text = m.render(deadpool::Status {
            max_size: 4,
            size: 2,
            available: 1,
            waiting: 0,
        });
        assert!(text.contains(
            "http_requests_total{method=\"GET\",route=\"/v1/accounts\",status=\"200\"} 1"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.5\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("db_pool_connections{state=\"in_use\"} 1"));
    }
}
