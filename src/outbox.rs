//! The transactional outbox: what the service tells other systems. A service writes an event
//! with [`emit`] inside the transaction of the change that causes it, so an event exists if
//! and only if its change committed. The same statement fans the event out to the webhook
//! endpoints subscribed to it at that moment; `integrations::webhooks` delivers them.

use diesel::sql_types::{Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::ApiError;

crate::text_enum! {
    /// The events the service sends (README, "Webhooks", has one example of each).
    EventType {
        InvoiceIssued => "invoice.issued",
        InvoiceVoided => "invoice.voided",
        InvoicePaid => "invoice.paid",
        PaymentReceived => "payment.received",
        PaymentApplied => "payment.applied",
        PaymentReturned => "payment.returned",
        CreditMemoIssued => "credit_memo.issued",
        DisputeOpened => "dispute.opened",
        DisputeResolved => "dispute.resolved",
        NoticeCreated => "notice.created",
        ServiceOrderCreated => "service_order.created",
        ServiceOrderCancelled => "service_order.cancelled",
        PromiseBroken => "promise.broken",
        AccountCollectionsStatusChanged => "account.collections_status_changed",
        CreditHoldPlaced => "credit_hold.placed",
        CreditHoldReleased => "credit_hold.released",
        ReportReady => "report.ready",
    }
}

impl EventType {
    /// The kind of resource the event carries (its `data`).
    pub fn resource_type(self) -> &'static str {
        match self {
            EventType::InvoiceIssued | EventType::InvoiceVoided | EventType::InvoicePaid => {
                "invoice"
            }
            EventType::PaymentReceived | EventType::PaymentApplied | EventType::PaymentReturned => {
                "payment"
            }
            EventType::CreditMemoIssued => "credit_memo",
            EventType::DisputeOpened | EventType::DisputeResolved => "dispute",
            EventType::NoticeCreated => "notice",
            EventType::ServiceOrderCreated | EventType::ServiceOrderCancelled => "service_order",
            EventType::PromiseBroken => "promise",
            EventType::AccountCollectionsStatusChanged => "account",
            EventType::CreditHoldPlaced | EventType::CreditHoldReleased => "credit_hold",
            EventType::ReportReady => "report_run",
        }
    }
}

/// Writes one event about `resource_id` (of `account_id`) carrying `data`, the resource as
/// the API returns it, and one pending delivery for each endpoint subscribed to its type (a
/// disabled endpoint's wait until it is enabled again: it loses nothing). Returns the
/// event's id, which receivers deduplicate by.
pub async fn emit(
    conn: &mut Conn,
    now: OffsetDateTime,
    event: EventType,
    resource_id: Uuid,
    account_id: Option<Uuid>,
    data: &impl Serialize,
) -> Result<Uuid, ApiError> {
    let event = Event::new(event, resource_id, account_id, data)?;
    let ids = write(conn, now, std::slice::from_ref(&event)).await?;
    Ok(ids[0])
}

/// Writes one event as [`emit`] does, but delivered to the `endpoints` named, whatever their
/// subscriptions, and to no other (none: the event is recorded and goes nowhere). A scheduled
/// report goes to the recipients its schedule names.
pub async fn emit_to(
    conn: &mut Conn,
    now: OffsetDateTime,
    event: EventType,
    resource_id: Uuid,
    data: &impl Serialize,
    endpoints: &[Uuid],
) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    diesel::sql_query(
        "WITH event AS (
             INSERT INTO outbox_events
                 (id, type, resource_type, resource_id, account_id, occurred_at, data)
             VALUES ($1, $2, $3, $4, NULL, $5, $6)
             RETURNING id, seq, resource_id)
         INSERT INTO webhook_deliveries
             (id, event_id, endpoint_id, seq, resource_id, status, next_attempt_at, created_at)
         SELECT gen_random_uuid(), event.id, e.id, event.seq, event.resource_id, 'pending', $5, $5
         FROM event
         JOIN webhook_endpoints e ON e.id = ANY ($7)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(event.as_str())
    .bind::<Text, _>(event.resource_type())
    .bind::<SqlUuid, _>(resource_id)
    .bind::<Timestamptz, _>(now)
    .bind::<Jsonb, _>(serde_json::to_value(data)?)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(endpoints)
    .execute(conn)
    .await?;
    Ok(id)
}

/// One event of a batch for [`emit_many`].
#[derive(Debug, Clone)]
pub struct Event {
    pub event: EventType,
    pub resource_id: Uuid,
    pub account_id: Option<Uuid>,
    /// The resource as the API returns it.
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(
        event: EventType,
        resource_id: Uuid,
        account_id: Option<Uuid>,
        data: &impl Serialize,
    ) -> Result<Event, ApiError> {
        Ok(Event {
            event,
            resource_id,
            account_id,
            data: serde_json::to_value(data)?,
        })
    }
}

/// Writes many events at `now` and their deliveries in one statement, in the order given (a
/// billing run's chunk of invoices): what [`emit`] does for one, set-wise.
pub async fn emit_many(
    conn: &mut Conn,
    now: OffsetDateTime,
    events: &[Event],
) -> Result<(), ApiError> {
    write(conn, now, events).await.map(drop)
}

/// The one statement of [`emit`] and [`emit_many`]; returns the events' ids in order.
async fn write(
    conn: &mut Conn,
    now: OffsetDateTime,
    events: &[Event],
) -> Result<Vec<Uuid>, ApiError> {
    use diesel::sql_types::Array;
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let resource_types: Vec<&str> = events.iter().map(|e| e.event.resource_type()).collect();
    let resources: Vec<Uuid> = events.iter().map(|e| e.resource_id).collect();
    let accounts: Vec<Option<Uuid>> = events.iter().map(|e| e.account_id).collect();
    let data: Vec<&serde_json::Value> = events.iter().map(|e| &e.data).collect();
    diesel::sql_query(
        "WITH event AS (
             INSERT INTO outbox_events
                 (id, type, resource_type, resource_id, account_id, occurred_at, data)
             SELECT u.id, u.type, u.resource_type, u.resource_id, u.account_id, $6, u.data
             FROM unnest($1, $2, $3, $4, $5, $7) WITH ORDINALITY
                  AS u(id, type, resource_type, resource_id, account_id, data, n)
             ORDER BY u.n
             RETURNING id, seq, type, resource_id)
         INSERT INTO webhook_deliveries
             (id, event_id, endpoint_id, seq, resource_id, status, next_attempt_at, created_at)
         SELECT gen_random_uuid(), event.id, e.id, event.seq, event.resource_id, 'pending', $6, $6
         FROM event
         JOIN webhook_endpoints e
           ON cardinality(e.event_types) = 0 OR event.type = ANY (e.event_types)",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Text>, _>(&types)
    .bind::<Array<Text>, _>(&resource_types)
    .bind::<Array<SqlUuid>, _>(&resources)
    .bind::<Array<Nullable<SqlUuid>>, _>(&accounts)
    .bind::<Timestamptz, _>(now)
    .bind::<Array<Jsonb>, _>(&data)
    .execute(conn)
    .await?;
    Ok(ids)
}
