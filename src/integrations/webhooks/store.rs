//! SQL of webhook endpoints and their deliveries.

use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Integer, Interval, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::model::{AttemptRow, DeliveryFilter, DeliveryRow, DeliveryStatus, EndpointRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::outbox::EventType;
use crate::schema::outbox_events::dsl as o;
use crate::schema::webhook_attempts::dsl as a;
use crate::schema::webhook_deliveries::dsl as d;
use crate::schema::webhook_endpoints::dsl as w;

pub async fn insert(conn: &mut Conn, row: &EndpointRow) -> Result<EndpointRow, ApiError> {
    Ok(diesel::insert_into(w::webhook_endpoints)
        .values(row)
        .returning(EndpointRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<EndpointRow, ApiError> {
    w::webhook_endpoints
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("webhook endpoint"))
}

pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<EndpointRow, ApiError> {
    w::webhook_endpoints
        .find(id)
        .select(EndpointRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("webhook endpoint"))
}

pub async fn update(conn: &mut Conn, row: &EndpointRow) -> Result<EndpointRow, ApiError> {
    Ok(diesel::update(w::webhook_endpoints.find(row.id))
        .set(row)
        .returning(EndpointRow::as_returning())
        .get_result(conn)
        .await?)
}

/// Removes an endpoint with its deliveries and their log (the events stay in the outbox).
pub async fn delete(conn: &mut Conn, id: Uuid) -> Result<(), ApiError> {
    diesel::delete(w::webhook_endpoints.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list(
    conn: &mut Conn,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<EndpointRow>, ApiError> {
    let mut query = w::webhook_endpoints
        .select(EndpointRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(w::id.gt(after));
    }
    Ok(query.order(w::id.asc()).limit(limit + 1).load(conn).await?)
}

/// A page of an endpoint's deliveries, newest first (`after`: the `seq` of the last one
/// of the page before), each with its event's type and its attempts: three statements
/// whatever the page's size.
pub async fn deliveries(
    conn: &mut Conn,
    endpoint_id: Uuid,
    filter: &DeliveryFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<(DeliveryRow, EventType, Vec<AttemptRow>)>, ApiError> {
    let mut query = d::webhook_deliveries
        .inner_join(o::outbox_events.on(o::id.eq(d::event_id)))
        .filter(d::endpoint_id.eq(endpoint_id))
        .select((DeliveryRow::as_select(), o::type_))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(d::status.eq(status));
    }
    if let Some(event_type) = filter.event_type {
        query = query.filter(o::type_.eq(event_type.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(d::seq.lt(after));
    }
    let rows: Vec<(DeliveryRow, EventType)> = query
        .order(d::seq.desc())
        .limit(limit + 1)
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|(r, _)| r.id).collect();
    let mut attempts: Vec<AttemptRow> = a::webhook_attempts
        .filter(a::delivery_id.eq_any(&ids))
        .order((a::delivery_id, a::attempted_at))
        .select(AttemptRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(row, event_type)| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                attempts.drain(..).partition(|x| x.delivery_id == row.id);
            attempts = rest;
            (row, event_type, mine)
        })
        .collect())
}

/// One delivery of an endpoint, locked.
pub async fn lock_delivery(
    conn: &mut Conn,
    endpoint_id: Uuid,
    id: Uuid,
) -> Result<DeliveryRow, ApiError> {
    d::webhook_deliveries
        .filter(d::id.eq(id).and(d::endpoint_id.eq(endpoint_id)))
        .select(DeliveryRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("webhook delivery"))
}

/// Puts a delivery back in line, due at `now`.
pub async fn requeue(conn: &mut Conn, id: Uuid, now: OffsetDateTime) -> Result<(), ApiError> {
    diesel::update(d::webhook_deliveries.find(id))
        .set((
            d::status.eq(DeliveryStatus::Pending),
            d::next_attempt_at.eq(now),
            d::lease_until.eq(None::<OffsetDateTime>),
            d::failed_at.eq(None::<OffsetDateTime>),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A delivery claimed by a worker, with what sending it takes.
#[derive(Debug, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub endpoint_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub event_id: Uuid,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: OffsetDateTime,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: OffsetDateTime,
    /// The event's `data`, as JSON text.
    #[diesel(sql_type = Text)]
    pub data: String,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub previous_secret: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

/// Claims up to `limit` deliveries due at `now` for `lease` (counting the attempt), skipping
/// those another worker holds, those of disabled endpoints, and those behind an earlier
/// pending delivery of the same resource to the same endpoint: events of one resource reach
/// an endpoint in the order they happened.
pub async fn claim(
    conn: &mut Conn,
    now: OffsetDateTime,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Claimed>, ApiError> {
    Ok(diesel::sql_query(
        "WITH due AS (
             SELECT d.id FROM webhook_deliveries d
             JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1
               AND (d.lease_until IS NULL OR d.lease_until <= $1)
               AND NOT EXISTS (
                   SELECT 1 FROM webhook_deliveries p
                   WHERE p.endpoint_id = d.endpoint_id AND p.resource_id = d.resource_id
                     AND p.status = 'pending' AND p.seq < d.seq)
             ORDER BY d.next_attempt_at, d.seq
             LIMIT $3
             FOR UPDATE OF d SKIP LOCKED),
         claimed AS (
             UPDATE webhook_deliveries d
             SET lease_until = $1 + $2, attempts = d.attempts + 1
             FROM due WHERE d.id = due.id
             RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.created_at)
         SELECT c.id, c.endpoint_id, c.event_id, c.attempts, c.created_at,
                ev.type AS event_type, ev.occurred_at, ev.data::text AS data,
                e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
         FROM claimed c
         JOIN outbox_events ev ON ev.id = c.event_id
         JOIN webhook_endpoints e ON e.id = c.endpoint_id",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Interval, _>(diesel::data_types::PgInterval::from_microseconds(
        lease.whole_microseconds() as i64,
    ))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// What one attempt came to.
pub struct Outcome {
    pub attempt: AttemptRow,
    pub endpoint_id: Uuid,
    pub status: DeliveryStatus,
    /// For a pending delivery: when it is tried again.
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Records a batch of attempts and what they make of their deliveries, set-based.
pub async fn record(
    conn: &mut Conn,
    outcomes: &[Outcome],
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let attempts: Vec<&AttemptRow> = outcomes.iter().map(|o| &o.attempt).collect();
    diesel::insert_into(a::webhook_attempts)
        .values(attempts)
        .execute(conn)
        .await?;
    let ids: Vec<Uuid> = outcomes.iter().map(|o| o.attempt.delivery_id).collect();
    let statuses: Vec<&str> = outcomes.iter().map(|o| o.status.as_str()).collect();
    let next: Vec<Option<OffsetDateTime>> = outcomes.iter().map(|o| o.next_attempt_at).collect();
    let errors: Vec<Option<String>> = outcomes
        .iter()
        .map(|o| {
            o.attempt.error.clone().or_else(|| {
                o.attempt
                    .status_code
                    .filter(|c| !(200..300).contains(c))
                    .map(|c| format!("HTTP {c}"))
            })
        })
        .collect();
    diesel::sql_query(
        "UPDATE webhook_deliveries d
         SET status = r.status, lease_until = NULL, last_error = r.error,
             next_attempt_at = COALESCE(r.next_attempt_at, d.next_attempt_at),
             delivered_at = CASE WHEN r.status = 'delivered' THEN $5 END,
             failed_at = CASE WHEN r.status = 'failed' THEN $5 END
         FROM unnest($1, $2, $3, $4) AS r(id, status, next_attempt_at, error)
         WHERE d.id = r.id",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Text>, _>(&statuses)
    .bind::<Array<Nullable<Timestamptz>>, _>(&next)
    .bind::<Array<Nullable<Text>>, _>(&errors)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes which endpoints answered and which failed: a success ends an endpoint's failing
/// streak, a failure starts one. Returns the enabled endpoints among `failed` whose streak
/// began at or before `disable_before`, locked: they are to be disabled.
pub async fn note_health(
    conn: &mut Conn,
    ok: &[Uuid],
    failed: &[Uuid],
    now: OffsetDateTime,
    disable_before: OffsetDateTime,
) -> Result<Vec<EndpointRow>, ApiError> {
    if !failed.is_empty() {
        diesel::update(
            w::webhook_endpoints.filter(w::id.eq_any(failed).and(w::failing_since.is_null())),
        )
        .set(w::failing_since.eq(now))
        .execute(conn)
        .await?;
    }
    if !ok.is_empty() {
        diesel::update(
            w::webhook_endpoints.filter(w::id.eq_any(ok).and(w::failing_since.is_not_null())),
        )
        .set(w::failing_since.eq(None::<OffsetDateTime>))
        .execute(conn)
        .await?;
    }
    if failed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(w::webhook_endpoints
        .filter(
            w::id
                .eq_any(failed)
                .and(w::enabled)
                .and(w::failing_since.le(disable_before)),
        )
        .select(EndpointRow::as_select())
        .order(w::id)
        .for_update()
        .load(conn)
        .await?)
}
