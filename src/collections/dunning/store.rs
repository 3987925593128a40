//! SQL of dunning policies: a policy and its steps by version, the policy of each account,
//! and the uniqueness of names, segments and the default.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{EffectivePolicy, PolicyRow, PolicyView, StepRow, StepView};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::dunning_policies::dsl as dp;
use crate::schema::dunning_steps::dsl as ds;

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<PolicyRow, ApiError> {
    dp::dunning_policies
        .find(id)
        .select(PolicyRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("dunning policy"))
}

/// The steps of each (policy, version) given: one query.
pub async fn steps_of(
    conn: &mut Conn,
    versions: &[(Uuid, i32)],
) -> Result<HashMap<(Uuid, i32), Vec<StepRow>>, ApiError> {
    let ids: Vec<Uuid> = versions.iter().map(|v| v.0).collect();
    let rows: Vec<StepRow> = ds::dunning_steps
        .filter(ds::policy_id.eq_any(&ids))
        .select(StepRow::as_select())
        .order((ds::policy_id, ds::policy_version, ds::step_no))
        .load(conn)
        .await?;
    let mut out: HashMap<(Uuid, i32), Vec<StepRow>> = HashMap::new();
    for row in rows {
        let key = (row.policy_id, row.policy_version);
        if versions.contains(&key) {
            out.entry(key).or_default().push(row);
        }
    }
    Ok(out)
}

pub async fn view(conn: &mut Conn, row: PolicyRow, version: i32) -> Result<PolicyView, ApiError> {
    let mut steps = steps_of(conn, &[(row.id, version)]).await?;
    Ok(PolicyView {
        id: row.id,
        name: row.name,
        segment: row.segment,
        is_default: row.is_default,
        version,
        latest_version: row.version,
        steps: steps
            .remove(&(row.id, version))
            .unwrap_or_default()
            .into_iter()
            .map(StepView::from)
            .collect(),
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The effective policy of each account given that has one: one query.
pub async fn effective(
    conn: &mut Conn,
    accounts: &[Uuid],
) -> Result<HashMap<Uuid, EffectivePolicy>, ApiError> {
    let rows: Vec<EffectivePolicy> = diesel::sql_query(
        "SELECT a.id AS account_id, p.id, p.name, p.version, x.source
           FROM accounts a
           LEFT JOIN collection_profiles cp ON cp.account_id = a.id
           LEFT JOIN dunning_policies sp ON sp.segment = cp.segment
           LEFT JOIN dunning_policies dp ON dp.is_default
          CROSS JOIN LATERAL (
                SELECT CASE WHEN cp.dunning_policy_id IS NOT NULL THEN cp.dunning_policy_id
                            WHEN sp.id IS NOT NULL THEN sp.id ELSE dp.id END AS policy_id,
                       CASE WHEN cp.dunning_policy_id IS NOT NULL THEN 'account'
                            WHEN sp.id IS NOT NULL THEN 'segment' ELSE 'default' END AS source) x
           JOIN dunning_policies p ON p.id = x.policy_id
          WHERE a.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(accounts)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.account_id, r)).collect())
}

/// Refuses a second default policy or a second policy for a segment (409).
pub async fn check_unique(
    conn: &mut Conn,
    id: Uuid,
    segment: Option<&str>,
    is_default: bool,
) -> Result<(), ApiError> {
    if let Some(segment) = segment {
        let other: Option<Uuid> = dp::dunning_policies
            .filter(dp::segment.eq(segment).and(dp::id.ne(id)))
            .select(dp::id)
            .first(conn)
            .await
            .optional()?;
        if other.is_some() {
            return Err(ApiError::Conflict {
                code: "segment_taken",
                detail: format!("another policy is the default of segment {segment}"),
                field: Some("segment"),
            });
        }
    }
    if is_default {
        let other: Option<Uuid> = dp::dunning_policies
            .filter(dp::is_default.eq(true).and(dp::id.ne(id)))
            .select(dp::id)
            .first(conn)
            .await
            .optional()?;
        if other.is_some() {
            return Err(ApiError::Conflict {
                code: "default_taken",
                detail: "another policy is the default; unset it first".into(),
                field: Some("is_default"),
            });
        }
    }
    Ok(())
}

/// Serialises policy changes: unique names, segments and the default are checked under it.
pub async fn lock_policies(conn: &mut Conn) -> Result<(), ApiError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('dunning_policies'))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Refuses a name another policy has (409 `name_taken`).
pub async fn check_name_free(conn: &mut Conn, id: Uuid, name: &str) -> Result<(), ApiError> {
    let taken: i64 = dp::dunning_policies
        .filter(dp::name.eq(name).and(dp::id.ne(id)))
        .count()
        .get_result(conn)
        .await?;
    if taken > 0 {
        return Err(ApiError::Conflict {
            code: "name_taken",
            detail: "another policy has this name".into(),
            field: Some("name"),
        });
    }
    Ok(())
}

/// Writes a new policy, or the new version of one (`exists`), with the steps of that version.
pub async fn save(
    conn: &mut Conn,
    row: &PolicyRow,
    steps: &[StepRow],
    exists: bool,
) -> Result<(), ApiError> {
    if exists {
        diesel::update(dp::dunning_policies.find(row.id))
            .set(row)
            .execute(conn)
            .await?;
    } else {
        diesel::insert_into(dp::dunning_policies)
            .values(row)
            .execute(conn)
            .await?;
    }
    diesel::insert_into(ds::dunning_steps)
        .values(steps)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every policy at its newest version, by name.
pub async fn views(conn: &mut Conn) -> Result<Vec<PolicyView>, ApiError> {
    let rows: Vec<PolicyRow> = dp::dunning_policies
        .select(PolicyRow::as_select())
        .order(dp::name)
        .load(conn)
        .await?;
    let versions: Vec<(Uuid, i32)> = rows.iter().map(|r| (r.id, r.version)).collect();
    let mut steps = steps_of(conn, &versions).await?;
    Ok(rows
        .into_iter()
        .map(|row| PolicyView {
            steps: steps
                .remove(&(row.id, row.version))
                .unwrap_or_default()
                .into_iter()
                .map(StepView::from)
                .collect(),
            id: row.id,
            name: row.name,
            segment: row.segment,
            is_default: row.is_default,
            version: row.version,
            latest_version: row.version,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect())
}
