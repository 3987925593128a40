//! Webhook endpoints as their commands change them, each in the caller's transaction.

use uuid::Uuid;

use super::model::{
    AttemptRow, DeliveryRow, DeliveryStatus, DeliveryView, EndpointPatch, EndpointRow,
    EndpointView, EndpointWithSecret, NewEndpoint,
};
use super::rules;
use super::settings::WebhookSettings;
use super::store;
use crate::audit::{self, Audited};
use crate::auth::{Principal, Role};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;
use crate::outbox::EventType;
use crate::tasks::{self, Priority, SubjectType, TaskRow};

impl Audited for EndpointView {
    const ENTITY: &'static str = "webhook_endpoint";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

fn type_names(types: &[EventType]) -> Vec<Option<String>> {
    types.iter().map(|t| Some(t.as_str().to_string())).collect()
}

/// Registers an endpoint with a new secret; the answer is the only time the secret is shown
/// (the audit log records the endpoint without it).
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: NewEndpoint,
    settings: &WebhookSettings,
) -> Result<EndpointWithSecret, ApiError> {
    rules::check_endpoint(
        &new.url,
        &new.event_types,
        new.description.as_deref(),
        settings,
    )
    .finish()?;
    let row = EndpointRow {
        id: Uuid::now_v7(),
        url: new.url,
        event_types: type_names(&new.event_types),
        description: new.description,
        enabled: new.enabled.unwrap_or(true),
        secret: rules::new_secret(),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        disabled_reason: None,
        version: 1,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let row = store::insert(conn, &row).await?;
    let endpoint = EndpointView::from(&row);
    audit::changed(conn, ctx, "webhook_endpoint.created", None, Some(&endpoint)).await?;
    Ok(EndpointWithSecret {
        endpoint,
        secret: row.secret,
    })
}

/// Changes an endpoint at the version the caller expects. Enabling it again clears why it
/// was disabled and its failing streak, so its pending deliveries go out.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: EndpointPatch,
    expected: Expected,
    settings: &WebhookSettings,
) -> Result<Written<EndpointView>, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    let mut next = current.clone();
    if let Some(url) = patch.url {
        next.url = url;
    }
    if let Some(types) = &patch.event_types {
        next.event_types = type_names(types);
    }
    if let Some(description) = patch.description {
        next.description = description;
    }
    if let Some(enabled) = patch.enabled {
        if enabled && !current.enabled {
            next.disabled_reason = None;
            next.failing_since = None;
        }
        next.enabled = enabled;
    }
    let types: Vec<EventType> = EndpointView::from(&next).event_types;
    rules::check_endpoint(&next.url, &types, next.description.as_deref(), settings).finish()?;
    next.version = current.version + 1;
    next.updated_at = ctx.now;
    let after = EndpointView::from(&store::update(conn, &next).await?);
    Ok(Written::changed(
        "webhook_endpoint.updated",
        EndpointView::from(&current),
        after,
    ))
}

/// Removes an endpoint, its pending deliveries and their log.
pub async fn delete(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    expected: Expected,
) -> Result<(), ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    store::delete(conn, id).await?;
    let before = EndpointView::from(&current);
    audit::changed(conn, ctx, "webhook_endpoint.deleted", Some(&before), None).await
}

/// Gives an endpoint a new secret. The one it replaces still signs deliveries, beside the
/// new one, for 24 hours, so the receiver can switch without losing any.
pub async fn rotate_secret(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    expected: Expected,
) -> Result<EndpointWithSecret, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    let next = EndpointRow {
        secret: rules::new_secret(),
        previous_secret: Some(current.secret.clone()),
        previous_secret_expires_at: Some(ctx.now + rules::ROTATION_OVERLAP),
        version: current.version + 1,
        updated_at: ctx.now,
        ..current.clone()
    };
    let row = store::update(conn, &next).await?;
    let endpoint = EndpointView::from(&row);
    audit::changed(
        conn,
        ctx,
        "webhook_endpoint.secret_rotated",
        Some(&EndpointView::from(&current)),
        Some(&endpoint),
    )
    .await?;
    Ok(EndpointWithSecret {
        endpoint,
        secret: row.secret,
    })
}

/// Sends a delivery again: a failed one (after the receiver is fixed) or a delivered one
/// (the receiver lost it); it goes out at the next poll, with the same event id.
pub async fn resend(
    conn: &mut Conn,
    ctx: &Ctx,
    endpoint_id: Uuid,
    delivery_id: Uuid,
) -> Result<DeliveryView, ApiError> {
    store::lock(conn, endpoint_id).await?;
    let delivery = store::lock_delivery(conn, endpoint_id, delivery_id).await?;
    if delivery.status == DeliveryStatus::Pending {
        return Err(ApiError::conflict(
            "delivery_pending",
            "The delivery is still pending: it is sent at its next attempt.",
        ));
    }
    let before = view(conn, &delivery).await?;
    store::requeue(conn, delivery_id, ctx.now).await?;
    let after = view(conn, &delivery).await?;
    audit::changed(
        conn,
        ctx,
        "webhook_delivery.resent",
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

impl Audited for DeliveryView {
    const ENTITY: &'static str = "webhook_delivery";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// One delivery as the API shows it, read again.
async fn view(conn: &mut Conn, delivery: &DeliveryRow) -> Result<DeliveryView, ApiError> {
    let filter = Default::default();
    let page = store::deliveries(
        conn,
        delivery.endpoint_id,
        &filter,
        Some(delivery.seq + 1),
        1,
    )
    .await?;
    page.into_iter()
        .find(|(row, _, _)| row.id == delivery.id)
        .map(delivery_view)
        .ok_or(ApiError::NotFound("webhook delivery"))
}

/// A delivery as the API shows it.
pub fn delivery_view(
    (row, event_type, attempts): (DeliveryRow, EventType, Vec<AttemptRow>),
) -> DeliveryView {
    DeliveryView {
        id: row.id,
        endpoint_id: row.endpoint_id,
        event_id: row.event_id,
        event_type,
        resource_id: row.resource_id,
        status: row.status,
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
        failed_at: row.failed_at,
        log: attempts.into_iter().map(Into::into).collect(),
    }
}

/// Disables an endpoint that failed every delivery for the whole retry window (`current`,
/// locked), and opens a task for an administrator. Its pending deliveries wait: enabling it
/// again sends them.
pub async fn disable(
    conn: &mut Conn,
    current: EndpointRow,
    retry_hours: i64,
    now: time::OffsetDateTime,
) -> Result<(), ApiError> {
    let ctx = Ctx {
        principal: Principal {
            subject: "system:webhooks".into(),
            role: Role::Admin,
            partner_id: None,
        },
        request_id: None,
        now,
    };
    let reason = format!("every delivery failed for {retry_hours} hours");
    let next = EndpointRow {
        enabled: false,
        disabled_reason: Some(reason.clone()),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    };
    let after = EndpointView::from(&store::update(conn, &next).await?);
    let before = EndpointView::from(&current);
    audit::changed(
        conn,
        &ctx,
        "webhook_endpoint.disabled",
        Some(&before),
        Some(&after),
    )
    .await?;
    let mut task = TaskRow::new(
        "webhook_endpoint_disabled",
        SubjectType::WebhookEndpoint,
        after.id,
        None,
        format!("Webhook endpoint disabled: {}", after.url),
        now.date(),
        Priority::High,
        "system:webhooks",
        now,
    );
    task.description = Some(format!(
        "The service disabled this endpoint: {reason}. Fix the receiver, then enable the \
         endpoint again (PATCH /v1/webhook-endpoints/{} with enabled: true): its pending \
         deliveries go out, and failed ones can be re-sent.",
        after.id
    ));
    tasks::store::insert(conn, &task).await?;
    Ok(())
}
