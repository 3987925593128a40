//! The work of collections profiles and portfolio rules.

use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{CollectionsAccountView, ProfilePatch, ProfileRow};
use super::store::find;
use crate::collections::dunning;
use crate::collections::risk;
use crate::db::Conn;
use crate::error::ApiError;
use crate::state::AppState;
use crate::validate::Errors;

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
