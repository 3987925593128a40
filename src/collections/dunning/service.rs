//! The work of dunning policies: create and change (each change a new version), with their
//! audit entries, under one lock so that names, segments and the default stay unique.

use actix_web::http::StatusCode;
use uuid::Uuid;

use super::model::{NewPolicy, PolicyPatch, PolicyRow, PolicyView, StepRow};
use super::rules::{check_policy_fields, step_rows};
use super::store;
use crate::audit;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::validate::Errors;

/// Creates policy `id` at version 1 with its checked `steps`.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &NewPolicy,
    steps: &[StepRow],
) -> Result<(StatusCode, PolicyView), ApiError> {
    store::lock_policies(conn).await?;
    store::check_unique(conn, id, new.segment.as_deref(), new.is_default).await?;
    store::check_name_free(conn, id, new.name.trim()).await?;
    let row = PolicyRow {
        id,
        name: new.name.trim().to_string(),
        segment: new.segment.clone(),
        is_default: new.is_default,
        version: 1,
        created_by: ctx.principal.subject.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    store::save(conn, &row, steps, false).await?;
    let view = store::view(conn, row, 1).await?;
    audit::changed(conn, ctx, "dunning_policy.created", None, Some(&view)).await?;
    Ok((StatusCode::CREATED, view))
}

/// Makes the next version of policy `id` (at the version `expected`) with the changes; steps
/// given replace the steps, else the current ones carry over.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &PolicyPatch,
    expected: &Expected,
) -> Result<PolicyView, ApiError> {
    store::lock_policies(conn).await?;
    let current = store::find(conn, id).await?;
    expected.check(current.version)?;
    let before = store::view(conn, current.clone(), current.version).await?;
    let mut next = current.clone();
    next.version += 1;
    next.updated_at = ctx.now;
    if let Some(name) = &patch.name {
        next.name = name.trim().to_string();
    }
    if let Some(segment) = &patch.segment {
        next.segment = segment.clone();
    }
    if let Some(flag) = patch.is_default {
        next.is_default = flag;
    }
    let mut e = Errors::default();
    check_policy_fields(&next.name, next.segment.as_deref(), &mut e);
    let steps = match &patch.steps {
        Some(steps) => step_rows(id, next.version, steps, &mut e),
        None => store::steps_of(conn, &[(id, current.version)])
            .await?
            .remove(&(id, current.version))
            .unwrap_or_default()
            .into_iter()
            .map(|s| StepRow {
                policy_version: next.version,
                ..s
            })
            .collect(),
    };
    e.finish()?;
    store::check_unique(conn, id, next.segment.as_deref(), next.is_default).await?;
    store::check_name_free(conn, id, &next.name).await?;
    store::save(conn, &next, &steps, true).await?;
    let version = next.version;
    let after = store::view(conn, next, version).await?;
    audit::changed(
        conn,
        ctx,
        "dunning_policy.updated",
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}
