//! Webhook endpoints, deliveries and attempts: rows, views and request bodies.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::outbox::EventType;
use crate::validate::double_option;

crate::text_enum! {
    /// Where a delivery stands: waiting for its next attempt, received by the endpoint (a 2xx
    /// answer), or given up after the retry window.
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::webhook_endpoints, treat_none_as_null = true)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<Option<String>>,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    pub failing_since: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An endpoint that receives the service's events. Its signing secret is shown only when it
/// is created or rotated.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    #[schema(example = "https://hooks.example.com/receivables")]
    pub url: String,
    /// The event types sent to it; empty: every type.
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why the service disabled it (it kept failing), until it is enabled again.
    pub disabled_reason: Option<String>,
    /// Since when its deliveries have been failing; `null` after a delivered one.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<OffsetDateTime>,
    /// Until when deliveries are also signed with the secret before the last rotation.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&EndpointRow> for EndpointView {
    fn from(r: &EndpointRow) -> Self {
        EndpointView {
            id: r.id,
            url: r.url.clone(),
            event_types: r
                .event_types
                .iter()
                .filter_map(|t| t.as_deref()?.parse().ok())
                .collect(),
            description: r.description.clone(),
            enabled: r.enabled,
            disabled_reason: r.disabled_reason.clone(),
            failing_since: r.failing_since,
            previous_secret_expires_at: r.previous_secret_expires_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An endpoint with its signing secret: the answer to its creation and to a rotation, the
/// only times the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// Verifies `Receivables-Signature` (README, "Webhooks"). Keep it: it is not shown again.
    #[schema(example = "whsec_4f9c0d3b6a1e8f2c7d5b9a0e3c6f1d8b2a7e4c9f0b3d6a1e8c5f2b9d4a7e0c3f")]
    pub secret: String,
}

/// A new webhook endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/receivables", "event_types": ["notice.created", "service_order.created"], "description": "Letter and email sender"}))]
pub struct NewEndpoint {
    /// `https:` (`http:` only where the configuration allows it), without credentials.
    #[schema(max_length = 2000)]
    pub url: String,
    /// The event types to send; omitted or empty: every type.
    #[serde(default)]
    pub event_types: Vec<EventType>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint. Enabling a disabled endpoint resumes its pending deliveries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": true, "version": 2}))]
pub struct EndpointPatch {
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    /// Empty: every type.
    pub event_types: Option<Vec<EventType>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 500, value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl EndpointPatch {
    pub fn names_nothing(&self) -> bool {
        self.url.is_none()
            && self.event_types.is_none()
            && self.description.is_none()
            && self.enabled.is_none()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::webhook_deliveries)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub seq: i64,
    pub resource_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub lease_until: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::webhook_attempts)]
pub struct AttemptRow {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempted_at: OffsetDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// One attempt to send a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    #[serde(with = "time::serde::rfc3339")]
    pub attempted_at: OffsetDateTime,
    /// The endpoint's HTTP status; `null` when no answer came (refused address, timeout,
    /// connection error: see `error`).
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    /// The first 1 KiB of the endpoint's answer.
    pub response_body: Option<String>,
}

impl From<AttemptRow> for AttemptView {
    fn from(r: AttemptRow) -> Self {
        AttemptView {
            attempted_at: r.attempted_at,
            status_code: r.status_code,
            latency_ms: r.latency_ms,
            error: r.error,
            response_body: r.response_body,
        }
    }
}

/// One event sent to one endpoint, with its log of attempts (oldest first).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The event's id: the same in every delivery and retry of it (receivers deduplicate by it).
    pub event_id: Uuid,
    pub event_type: EventType,
    pub resource_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When a pending delivery is next tried.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failed_at: Option<OffsetDateTime>,
    pub log: Vec<AttemptView>,
}

/// Filters of an endpoint's deliveries.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
}
