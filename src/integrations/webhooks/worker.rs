//! The delivery worker: every instance runs one. Workers coordinate only through PostgreSQL:
//! each claims due deliveries with `FOR UPDATE SKIP LOCKED` and a lease, sends them, and
//! records the outcome. A delivery is sent at least once (a worker that dies mid-batch
//! leaves its lease to expire and another sends it again, with the same event id).

use std::time::{Duration, Instant};

use diesel_async::AsyncConnection;
use futures_util::future::join_all;
use reqwest::header::CONTENT_TYPE;
use uuid::Uuid;

use super::client;
use super::model::{AttemptRow, DeliveryStatus};
use super::rules;
use super::service;
use super::settings::WebhookSettings;
use super::store::{self, Claimed, Outcome};
use crate::clock::Clock;
use crate::db::DbPool;
use crate::error::ApiError;
use crate::signature;

/// Batches in flight at once on each instance, each claimed and recorded on its own
/// connection: one lane's database round trips overlap another's requests.
const LANES: usize = 2;

/// Starts this instance's worker (unless the configuration turns delivery off).
pub fn spawn(pool: DbPool, settings: WebhookSettings, clock: Clock) {
    if !settings.deliver {
        return;
    }
    let client = match client::build(&settings) {
        Ok(client) => client,
        Err(e) => return log::error!("webhook deliveries are off: {e}"),
    };
    for _ in 0..LANES {
        let (pool, client, settings, clock) = (
            pool.clone(),
            client.clone(),
            settings.clone(),
            clock.clone(),
        );
        tokio::spawn(async move {
            let idle = Duration::from_millis(settings.poll_ms);
            // A lane rests only when a round found nothing due: a short batch does not mean
            // the outbox is empty, as a resource's next event waits for its previous one.
            loop {
                match round(&pool, &client, &settings, &clock).await {
                    Ok(sent) if sent > 0 => continue,
                    Ok(_) => {}
                    Err(e) => log::warn!("webhook deliveries: {e}"),
                }
                tokio::time::sleep(idle).await;
            }
        });
    }
}

/// Claims one batch of due deliveries, sends them all at once, and records what came of
/// them; returns how many were sent.
pub async fn round(
    pool: &DbPool,
    client: &reqwest::Client,
    settings: &WebhookSettings,
    clock: &Clock,
) -> Result<usize, ApiError> {
    let mut conn = crate::db::conn(pool).await?;
    let lease = time::Duration::milliseconds(2 * settings.timeout_ms as i64 + 5_000);
    let claimed = store::claim(&mut conn, clock.now(), lease, settings.batch).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let outcomes = join_all(claimed.iter().map(|c| send(client, c, clock, settings))).await;
    let now = clock.now();
    conn.transaction(async |conn| {
        store::record(conn, &outcomes, now).await?;
        let delivered = |o: &&Outcome| o.status == DeliveryStatus::Delivered;
        let ok: Vec<Uuid> = outcomes
            .iter()
            .filter(delivered)
            .map(|o| o.endpoint_id)
            .collect();
        let failed: Vec<Uuid> = outcomes
            .iter()
            .filter(|o| !delivered(o))
            .map(|o| o.endpoint_id)
            .collect();
        let failing = store::note_health(
            conn,
            &ok,
            &failed,
            now,
            now - time::Duration::hours(settings.retry_hours),
        )
        .await?;
        for endpoint in failing {
            service::disable(conn, endpoint, settings.retry_hours, now).await?;
        }
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(outcomes.len())
}

/// Sends one delivery and says what came of it.
async fn send(
    client: &reqwest::Client,
    c: &Claimed,
    clock: &Clock,
    settings: &WebhookSettings,
) -> Outcome {
    let window = time::Duration::hours(settings.retry_hours);
    let at = clock.now();
    let body = body(c);
    let secrets = rules::signing_secrets(
        &c.secret,
        c.previous_secret.as_deref(),
        c.previous_secret_expires_at,
        at,
    );
    let started = Instant::now();
    let answer = match refuse_literal(&c.url, settings) {
        Some(reason) => Err(reason),
        None => {
            let request = client
                .post(&c.url)
                .header(CONTENT_TYPE, "application/json")
                .header(
                    signature::HEADER,
                    signature::header(secrets, at.unix_timestamp(), body.as_bytes()),
                )
                .header("Receivables-Event-Id", c.event_id.to_string())
                .header("Receivables-Event-Type", c.event_type.as_str())
                .body(body);
            match request.send().await {
                Ok(response) => Ok((response.status().as_u16(), read_kept(response).await)),
                Err(e) => Err(client::describe(&e)),
            }
        }
    };
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (status_code, response_body, error) = match answer {
        Ok((code, kept)) => (Some(i32::from(code)), Some(kept), None),
        Err(error) => (None, None, Some(error)),
    };
    let delivered = status_code.is_some_and(|code| (200..300).contains(&code));
    let (status, next_attempt_at) = if delivered {
        (DeliveryStatus::Delivered, None)
    } else {
        match rules::next_attempt(c.attempts, at, c.created_at, window, jitter()) {
            Some(next) => (DeliveryStatus::Pending, Some(next)),
            None => (DeliveryStatus::Failed, None),
        }
    };
    Outcome {
        attempt: AttemptRow {
            id: Uuid::now_v7(),
            delivery_id: c.id,
            attempted_at: at,
            status_code,
            latency_ms,
            error,
            response_body,
        },
        endpoint_id: c.endpoint_id,
        status,
        next_attempt_at,
    }
}

/// The body every endpoint receives: the event's id (the same on every retry), type,
/// instant and the resource as the API returns it.
fn body(c: &Claimed) -> String {
    let occurred_at = c
        .occurred_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!(
        r#"{{"id":"{}","type":"{}","occurred_at":"{}","data":{}}}"#,
        c.event_id, c.event_type, occurred_at, c.data
    )
}

/// A URL whose host is written as an address is checked here: the resolver only sees names.
fn refuse_literal(url: &str, settings: &WebhookSettings) -> Option<String> {
    let host = reqwest::Url::parse(url).ok()?.host_str()?.to_string();
    rules::refuse_address(rules::literal_address(&host)?, &settings.allowed_networks)
}

/// The first kilobyte of an answer, reading no more of it.
async fn read_kept(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() <= rules::KEPT_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    rules::kept_response(&kept)
}

/// A number in 0..1 from the system's random source, for the retry jitter.
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
