//! Promises to pay as their commands change them, each in the caller's transaction: making
//! one, cancelling one, and the review that keeps or breaks them as cash moves.

use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{
    CancelPromise, InstalmentRow, InstalmentStatus, NewPromise, PromiseRow, PromiseStatus,
    PromiseView,
};
use super::rules::{self, PromiseEvent};
use super::store::{self, Scope};
use crate::accounts::model::CollectionsStatus;
use crate::audit;
use crate::collections::{open_task, past_due, set_status, status_after_arrangement};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::outbox::{self, EventType};
use crate::validate::Errors;

/// Records a promise of `new` (its grace days `grace`, checked) on an account that may take
/// one; the account becomes `promised`.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewPromise,
    grace: i32,
) -> Result<Written<PromiseView>, ApiError> {
    let account = crate::accounts::store::lock_named(conn, new.account_id, "account_id").await?;
    let today = ctx.now.date();
    let currency = account.currency;
    let mut e = Errors::default();
    let total = rules::check_instalments(&new.instalments, currency, today, &mut e);
    e.finish()?;
    if matches!(
        account.collections_status,
        CollectionsStatus::WithAgency | CollectionsStatus::WrittenOff
    ) {
        return Err(ApiError::conflict(
            "collections_status",
            format!(
                "The account is {}; promises are taken by the agency or not at all.",
                account.collections_status.as_str().replace('_', " ")
            ),
        ));
    }
    if store::count_active(conn, account.id).await? > 0 {
        return Err(ApiError::conflict(
            "promise_exists",
            "The account already has an active promise; cancel it first.",
        ));
    }
    let past_due = past_due(conn, account.id, today).await?;
    rules::check_total(total, past_due, currency)?;
    let now = ctx.now;
    let row = PromiseRow {
        id: Uuid::now_v7(),
        account_id: account.id,
        status: PromiseStatus::Active,
        currency,
        total,
        grace_days: grace,
        promised_on: today,
        note: new.note.as_deref().map(|n| n.trim().to_string()),
        closed_on: None,
        close_reason: None,
        created_by: ctx.principal.subject.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let instalments: Vec<InstalmentRow> = new
        .instalments
        .iter()
        .enumerate()
        .map(|(k, i)| InstalmentRow {
            promise_id: row.id,
            seq: k as i32 + 1,
            due_date: i.due_date,
            amount: i.amount,
            status: InstalmentStatus::Pending,
        })
        .collect();
    store::insert(conn, &row, &instalments, today).await?;
    let view = store::view(conn, row).await?;
    set_status(
        conn,
        ctx,
        account.id,
        &[CollectionsStatus::None, CollectionsStatus::InDunning],
        CollectionsStatus::Promised,
    )
    .await?;
    Ok(Written::created("promise.created", view))
}

/// Withdraws an active promise; the account returns to dunning while anything is past due.
pub async fn cancel(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    request: &CancelPromise,
) -> Result<Written<PromiseView>, ApiError> {
    let mut row = store::lock(conn, id).await?;
    let to = rules::transition(row.status, PromiseEvent::Cancel)?;
    let before = store::view(conn, row.clone()).await?;
    let today = ctx.now.date();
    row.status = to.to;
    row.closed_on = Some(today);
    row.close_reason = Some(request.reason.trim().to_string());
    row.version += 1;
    row.updated_at = ctx.now;
    store::update(conn, &row).await?;
    let after = store::view(conn, row.clone()).await?;
    let next = status_after_arrangement(conn, row.account_id, today).await?;
    set_status(
        conn,
        ctx,
        row.account_id,
        &[CollectionsStatus::Promised],
        next,
    )
    .await?;
    Ok(Written::changed(to.action, before, after))
}

/// What a review of promises closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reviewed {
    pub kept: i32,
    pub broken: i32,
}

/// Re-evaluates promises as of `as_of`: instalments become kept or missed; promises become
/// kept or broken. A broken promise opens a high-priority task for the collector and puts the
/// account back in dunning.
pub async fn review(
    conn: &mut Conn,
    ctx: &Ctx,
    scope: Scope,
    as_of: Date,
) -> Result<Reviewed, ApiError> {
    let rows = store::lock_for_review(conn, scope).await?;
    let mut reviewed = Reviewed::default();
    if rows.is_empty() {
        return Ok(reviewed);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let accounts: Vec<Uuid> = rows.iter().map(|r| r.account_id).collect();
    let mut instalments = store::instalments_of(conn, &ids).await?;
    let payments = store::payments_of(conn, &accounts).await?;
    for mut promise in rows {
        let current = instalments.remove(&promise.id).unwrap_or_default();
        let counted: Vec<(Date, Decimal)> = payments
            .get(&promise.account_id)
            .map(|ps| {
                ps.iter()
                    .filter(|(received, _)| *received >= promise.promised_on)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let plan: Vec<(Date, Decimal)> = current.iter().map(|i| (i.due_date, i.amount)).collect();
        let eval = rules::evaluate(&plan, &counted, promise.grace_days, as_of);
        // An instalment kept before and uncovered now was kept by a returned payment.
        let unkept = current
            .iter()
            .zip(&eval.instalments)
            .any(|(i, now)| i.status == InstalmentStatus::Kept && *now != InstalmentStatus::Kept);
        let event = PromiseEvent::of_review(unkept, eval.status);
        // The promises reviewed are active or kept: the table moves each of them.
        let Ok(to) = rules::transition(promise.status, event) else {
            continue;
        };
        let changed: Vec<(i32, InstalmentStatus)> = current
            .iter()
            .zip(&eval.instalments)
            .filter(|(i, now)| i.status != **now)
            .map(|(i, now)| (i.seq, *now))
            .collect();
        if changed.is_empty() && to.to == promise.status {
            continue;
        }
        let before = store::view(conn, promise.clone()).await?;
        for (seq, s) in &changed {
            store::set_instalment(conn, promise.id, *seq, *s).await?;
        }
        match to.to {
            PromiseStatus::Broken => reviewed.broken += 1,
            PromiseStatus::Kept if promise.status != PromiseStatus::Kept => reviewed.kept += 1,
            _ => {}
        }
        if let Some(reason) = to.close_reason {
            promise.close_reason = Some(reason.into());
        }
        if to.to != promise.status {
            promise.status = to.to;
            promise.closed_on = Some(as_of);
        }
        promise.version += 1;
        promise.updated_at = ctx.now;
        store::update(conn, &promise).await?;
        let after = store::view(conn, promise.clone()).await?;
        audit::changed(conn, ctx, to.action, Some(&before), Some(&after)).await?;
        if to.to == PromiseStatus::Broken && before.status != PromiseStatus::Broken {
            outbox::emit(
                conn,
                ctx.now,
                EventType::PromiseBroken,
                promise.id,
                Some(promise.account_id),
                &after,
            )
            .await?;
        }
        after_review(conn, ctx, &promise, &after, to.action, as_of).await?;
    }
    Ok(reviewed)
}

/// What a promise that a review broke or kept does to its account: a broken one opens a task
/// for the collector and puts the account back in dunning; a kept one leaves dunning while
/// nothing is past due.
async fn after_review(
    conn: &mut Conn,
    ctx: &Ctx,
    promise: &PromiseRow,
    after: &PromiseView,
    action: &str,
    as_of: Date,
) -> Result<(), ApiError> {
    match action {
        "promise.broken" => {
            open_task(
                conn,
                ctx,
                "broken_promise",
                promise.account_id,
                None,
                format!("Promise to pay broken: {} {}", after.total, after.currency),
                promise.close_reason.clone().unwrap_or_default(),
                crate::tasks::model::Priority::High,
                as_of,
            )
            .await?;
            set_status(
                conn,
                ctx,
                promise.account_id,
                &[CollectionsStatus::Promised, CollectionsStatus::None],
                CollectionsStatus::InDunning,
            )
            .await?;
        }
        "promise.kept" => {
            let next = status_after_arrangement(conn, promise.account_id, as_of).await?;
            set_status(
                conn,
                ctx,
                promise.account_id,
                &[CollectionsStatus::Promised],
                next,
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}
