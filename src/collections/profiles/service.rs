//! The work of collections profiles and portfolio rules.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{
    CollectionsAccountView, NewRule, ProfilePatch, ProfileRow, ProfileView, RuleRow, RuleView,
    RulesApplied,
};
use super::rules;
use super::store::{self, find};
use crate::audit::{self, Audited};
use crate::collections::dunning;
use crate::collections::risk;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::refusal::Refusal;
use crate::state::AppState;
use crate::validate::Errors;

/// A profile as the audit log records it: the view, under its account.
#[derive(Serialize)]
struct AuditedProfile {
    #[serde(skip)]
    account_id: Uuid,
    #[serde(flatten)]
    view: ProfileView,
}

impl Audited for AuditedProfile {
    const ENTITY: &'static str = "collection_profile";

    fn entity_id(&self) -> Uuid {
        self.account_id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

impl Audited for RulesApplied {
    // One entry for the whole application, under no rule and no account of its own.
    const ENTITY: &'static str = "assignment_rule";

    fn entity_id(&self) -> Uuid {
        Uuid::nil()
    }

    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// Changes the collections profile of account `id` (at the version `expected`), audited.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &ProfilePatch,
    expected: &Expected,
) -> Result<(), ApiError> {
    crate::accounts::store::lock_visible(conn, id, None).await?;
    let current = find(conn, id).await?;
    expected.check(current.version)?;
    let next = apply_patch(conn, patch, &current, ctx.now).await?;
    store::save(conn, &next).await?;
    let audited = |row: ProfileRow| AuditedProfile {
        account_id: id,
        view: row.into(),
    };
    audit::changed(
        conn,
        ctx,
        "collection_profile.updated",
        Some(&audited(current)),
        Some(&audited(next)),
    )
    .await
}

/// Adds a portfolio rule at a free position, audited.
pub async fn create_rule(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewRule,
) -> Result<(StatusCode, RuleView), ApiError> {
    if let Some(partner) = new.partner_id {
        if !crate::partners::store::exists(conn, partner).await? {
            return Err(Refusal::field("partner_id", "unknown", "no partner has this id").into());
        }
    }
    if store::position_taken(conn, new.position).await? {
        return Err(ApiError::Conflict {
            code: "position_taken",
            detail: format!("another rule has position {}", new.position),
            field: Some("position"),
        });
    }
    let row = RuleRow {
        id: Uuid::now_v7(),
        position: new.position,
        collector: new.collector.trim().to_string(),
        partner_id: new.partner_id,
        risk_level: new.risk_level,
        min_balance: new.min_balance,
        created_by: ctx.principal.subject.clone(),
        created_at: ctx.now,
    };
    store::insert_rule(conn, &row).await?;
    let view = RuleView::from(row);
    audit::changed(conn, ctx, "assignment_rule.created", None, Some(&view)).await?;
    Ok((StatusCode::CREATED, view))
}

/// Removes a rule, audited. Accounts it assigned keep their collector until the rules are
/// applied again.
pub async fn delete_rule(conn: &mut Conn, ctx: &Ctx, id: Uuid) -> Result<(), ApiError> {
    let row = store::delete_rule(conn, id)
        .await?
        .ok_or(ApiError::NotFound("assignment rule"))?;
    let view = RuleView::from(row);
    audit::changed(conn, ctx, "assignment_rule.deleted", Some(&view), None).await
}

/// Applies the rules to every account not assigned by hand; one audit entry lists the
/// changes, when there are any.
pub async fn apply_rules(
    conn: &mut Conn,
    ctx: &Ctx,
    weights: &risk::Weights,
) -> Result<(StatusCode, RulesApplied), ApiError> {
    let today = ctx.now.date();
    let rules = store::rules(conn).await?;
    let candidates = store::lock_candidates(conn).await?;
    let ids: Vec<Uuid> = candidates.iter().map(|c| c.id).collect();
    let inputs: HashMap<Uuid, risk::Inputs> = risk::factors(conn, today, Some(&ids))
        .await?
        .into_iter()
        .map(|i| (i.account_id, i))
        .collect();
    let changes = rules::reassignments(&candidates, &inputs, &rules, today, weights);
    store::reassign(conn, &changes, ctx.now).await?;
    let applied = RulesApplied {
        examined: candidates.len(),
        changes,
    };
    if !applied.changes.is_empty() {
        audit::changed(
            conn,
            ctx,
            "collection_portfolios.reassigned",
            None,
            Some(&applied),
        )
        .await?;
    }
    Ok((StatusCode::OK, applied))
}

/// What a profile patch is checked against: segment codes and an existing policy.
pub async fn apply_patch(
    conn: &mut Conn,
    patch: &ProfilePatch,
    current: &ProfileRow,
    now: OffsetDateTime,
) -> Result<ProfileRow, ApiError> {
    let mut e = Errors::default();
    let mut next = current.clone();
    if let Some(collector) = &patch.collector {
        if let Some(c) = collector {
            e.text("collector", c, 200);
        }
        next.collector = collector.as_deref().map(|c| c.trim().to_string());
        next.assignment_rule_id = None;
        next.assigned_at = next.collector.as_ref().map(|_| now);
    }
    if let Some(segment) = &patch.segment {
        if let Some(s) = segment {
            if !dunning::rules::is_segment(s) {
                e.add(
                    "segment",
                    "invalid",
                    "a lowercase letter, then up to 31 of a-z, 0-9 and _",
                );
            }
        }
        next.segment = segment.clone();
    }
    if let Some(policy) = patch.dunning_policy_id {
        if let Some(id) = policy {
            if dunning::store::find(conn, id).await.is_err() {
                e.add(
                    "dunning_policy_id",
                    "unknown",
                    "no dunning policy has this id",
                );
            }
        }
        next.dunning_policy_id = policy;
    }
    if let Some(flag) = patch.do_not_dun {
        next.do_not_dun = flag;
    }
    if let Some(reason) = &patch.do_not_dun_reason {
        e.optional_text("do_not_dun_reason", reason.as_deref(), 2000);
        next.do_not_dun_reason = reason.clone();
    }
    if next.do_not_dun && next.do_not_dun_reason.is_none() {
        e.add(
            "do_not_dun_reason",
            "required",
            "say why the account is not to be dunned",
        );
    }
    e.finish()?;
    next.version = current.version + 1;
    next.updated_at = now;
    Ok(next)
}

pub async fn account_view(
    conn: &mut Conn,
    state: &AppState,
    id: Uuid,
    today: Date,
) -> Result<CollectionsAccountView, ApiError> {
    let account = crate::accounts::store::find_visible(conn, id, None).await?;
    let profile = find(conn, id).await?;
    let inputs = risk::factors(conn, today, Some(&[id]))
        .await?
        .pop()
        .ok_or(ApiError::NotFound("account"))?;
    let risk = risk::score(&inputs, today, &state.config.collections.risk);
    let dunning_policy = crate::collections::dunning::store::effective(conn, &[id])
        .await?
        .remove(&id);
    let active_promise = crate::collections::promises::active_views(conn, &[id])
        .await?
        .remove(&id);
    let last_contact = crate::collections::notes::last_contacts(conn, &[id])
        .await?
        .remove(&id);
    let currency = account.currency;
    let norm = |d: Decimal| currency.normalize(d);
    Ok(CollectionsAccountView {
        account_id: id,
        number: account.number,
        legal_name: account.legal_name,
        currency: account.currency,
        status: account.status,
        collections_status: account.collections_status,
        profile: profile.into(),
        dunning_policy,
        risk,
        balance: norm(inputs.balance),
        past_due: norm(inputs.past_due),
        oldest_past_due_date: inputs.oldest_due,
        days_past_due: inputs.days_past_due(today),
        active_promise,
        last_contact,
    })
}
