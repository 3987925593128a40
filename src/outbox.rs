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
        }
    }
}

/// Writes one event about `resource_id` (of `account_id`) carrying `data`, the resource as
/// the API returns it, and one pending delivery for each enabled endpoint subscribed to its
/// type. Returns the event's id, which receivers deduplicate by.
pub async fn emit(
    conn: &mut Conn,
    now: OffsetDateTime,
    event: EventType,
    resource_id: Uuid,
    account_id: Option<Uuid>,
    data: &impl Serialize,
) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    let data = serde_json::to_value(data)?;
    diesel::sql_query(
        "WITH event AS (
             INSERT INTO outbox_events
                 (id, type, resource_type, resource_id, account_id, occurred_at, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, seq)
         INSERT INTO webhook_deliveries
             (id, event_id, endpoint_id, seq, resource_id, status, next_attempt_at, created_at)
         SELECT gen_random_uuid(), event.id, e.id, event.seq, $4, 'pending', $6, $6
         FROM event
         JOIN webhook_endpoints e
           ON e.enabled AND (cardinality(e.event_types) = 0 OR $2 = ANY (e.event_types))",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(event.as_str())
    .bind::<Text, _>(event.resource_type())
    .bind::<SqlUuid, _>(resource_id)
    .bind::<Nullable<SqlUuid>, _>(account_id)
    .bind::<Timestamptz, _>(now)
    .bind::<Jsonb, _>(data)
    .execute(conn)
    .await?;
    Ok(id)
}
