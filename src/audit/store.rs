//! SQL of the audit log.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

use super::model::{AuditFilter, AuditRow};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::audit_events::dsl as a;

/// A change to record.
struct Change<'a, T: Serialize> {
    /// `<entity>.<verb>`, e.g. `account.updated`.
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub account_id: Option<Uuid>,
    pub before: Option<&'a T>,
    pub after: Option<&'a T>,
}

/// Writes an audit entry with the caller and request id; call inside the change's transaction.
async fn record<T: Serialize>(
    conn: &mut Conn,
    ctx: &Ctx,
    change: Change<'_, T>,
) -> Result<(), ApiError> {
    let before = change.before.map(serde_json::to_value).transpose()?;
    let after = change.after.map(serde_json::to_value).transpose()?;
    diesel::insert_into(a::audit_events)
        .values((
            a::actor.eq(&ctx.principal.subject),
            a::actor_role.eq(ctx.principal.role.as_str()),
            a::action.eq(change.action),
            a::entity_type.eq(change.entity_type),
            a::entity_id.eq(change.entity_id),
            a::account_id.eq(change.account_id),
            a::before.eq(before),
            a::after.eq(after),
            a::request_id.eq(&ctx.request_id),
            a::occurred_at.eq(ctx.now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A resource whose changes the audit log records: its entity type, its id, and the account
/// it belongs to.
pub trait Audited: Serialize {
    const ENTITY: &'static str;
    fn entity_id(&self) -> Uuid;
    fn account_id(&self) -> Option<Uuid>;
}

/// Records `action` on a resource, from what it was (`None` when it is new) to what it is
/// (`None` when it is gone); call inside the change's transaction.
pub async fn changed<T: Audited>(
    conn: &mut Conn,
    ctx: &Ctx,
    action: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), ApiError> {
    let Some(subject) = after.or(before) else {
        return Err(ApiError::internal("an audit change names no resource"));
    };
    record(
        conn,
        ctx,
        Change {
            action,
            entity_type: T::ENTITY,
            entity_id: subject.entity_id(),
            account_id: subject.account_id(),
            before,
            after,
        },
    )
    .await
}

/// Records `action` on many new resources at once (a batch of payments), in their order.
pub async fn created_many<T: Audited>(
    conn: &mut Conn,
    ctx: &Ctx,
    action: &str,
    resources: &[T],
) -> Result<(), ApiError> {
    for chunk in resources.chunks(1_000) {
        let rows = chunk
            .iter()
            .map(|r| {
                Ok((
                    a::actor.eq(&ctx.principal.subject),
                    a::actor_role.eq(ctx.principal.role.as_str()),
                    a::action.eq(action),
                    a::entity_type.eq(T::ENTITY),
                    a::entity_id.eq(r.entity_id()),
                    a::account_id.eq(r.account_id()),
                    a::before.eq(None::<serde_json::Value>),
                    a::after.eq(Some(serde_json::to_value(r)?)),
                    a::request_id.eq(&ctx.request_id),
                    a::occurred_at.eq(ctx.now),
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        diesel::insert_into(a::audit_events)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Entries matching the filter, newest first, after the cursor id.
pub async fn list(
    conn: &mut Conn,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, ApiError> {
    let mut query = a::audit_events.select(AuditRow::as_select()).into_boxed();
    if let Some(t) = &filter.entity_type {
        query = query.filter(a::entity_type.eq(t));
    }
    if let Some(id) = filter.entity_id {
        query = query.filter(a::entity_id.eq(id));
    }
    if let Some(id) = filter.account_id {
        query = query.filter(a::account_id.eq(id));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(a::actor.eq(actor));
    }
    if let Some(action) = &filter.action {
        query = query.filter(a::action.eq(action));
    }
    if let Some(id) = before_id {
        query = query.filter(a::id.lt(id));
    }
    Ok(query
        .order(a::id.desc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}
