//! Performing a dunning run: reviewing promises, then each account's due steps in one
//! transaction each; and the preview of a run, with nothing done.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::model::{
    DunningRunStatus, DunningRunView, NoticeRow, NoticeView, PlannedStep, RunPreview, RunTrigger,
};
use super::recipients::Recipients;
use super::store::{claim, Candidate, Next, Plan};
use crate::accounts::model::CollectionsStatus;
use crate::collections::dunning::model::{DunningAction, StepRow};
use crate::collections::dunning::template;
use crate::collections::service_orders::{self, OrderKind, OrderSource};
use crate::context::Ctx;
use crate::db::{Conn, DbPool};
use crate::error::ApiError;
use crate::idempotency::{self, Begin};
use crate::schema::dunning_runs::dsl as dr;
use crate::schema::notices::dsl as nt;
use crate::tasks::model::Priority;

#[derive(Default)]
pub struct Counts {
    steps: i32,
    notices: i32,
    tasks: i32,
    orders: i32,
}

/// What performing `step` on an invoice as of `as_of` says: the notice's (or the task's or
/// order's) subject and texts, rendered from the step's templates.
pub struct Rendered {
    subject: String,
    text: String,
    html: String,
}

pub fn render(c: &Candidate, step: &StepRow, as_of: Date) -> Rendered {
    let money = |d: Decimal| c.currency.normalize(d).to_string();
    let values: HashMap<&str, String> = [
        ("account.name", c.legal_name.clone()),
        ("account.number", c.account_number.clone()),
        ("invoice.number", c.invoice_number.clone()),
        ("invoice.due_date", c.due_date.to_string()),
        ("invoice.total", money(c.total)),
        ("amount", money(c.amount)),
        ("currency", c.currency.to_string()),
        ("days_past_due", c.days.to_string()),
        ("today", as_of.to_string()),
    ]
    .into_iter()
    .collect();
    Rendered {
        subject: template::render(&step.subject, &values, false),
        text: template::render(&step.body_text, &values, false),
        html: template::render(&step.body_html, &values, true),
    }
}

/// Performs one step on one invoice (its action row already claimed).
pub async fn perform(
    conn: &mut Conn,
    ctx: &Ctx,
    run: &DunningRunView,
    c: &Candidate,
    step: &StepRow,
    recipients: &Recipients,
    counts: &mut Counts,
) -> Result<(), ApiError> {
    let (run_id, as_of) = (run.id, run.as_of);
    let Rendered {
        subject,
        text,
        html,
    } = render(c, step, as_of);
    let (mut task_id, mut order_id) = (None, None);
    let task = |kind: &'static str, priority| (kind, priority);
    let (task_kind, order_kind) = match step.action {
        a if a.is_notice() => (None, None),
        DunningAction::CallTask => (Some(task("collections_call", Priority::Normal)), None),
        DunningAction::AgencyPlacementRecommendation => {
            (Some(task("agency_placement_review", Priority::High)), None)
        }
        DunningAction::WriteOffRecommendation => {
            (Some(task("write_off_review", Priority::High)), None)
        }
        DunningAction::SuspensionOrder => (None, Some(OrderKind::Suspend)),
        DunningAction::TerminationOrder => (None, Some(OrderKind::Terminate)),
        _ => (None, Some(OrderKind::EquipmentPickup)),
    };
    if step.action.is_notice() {
        let (channel, to) = recipients.for_action(step.action);
        let next: Next = diesel::sql_query("SELECT nextval('notice_numbers') AS n")
            .get_result(conn)
            .await?;
        let row = NoticeRow {
            id: Uuid::now_v7(),
            number: format!("NTC-{:06}", next.n),
            account_id: c.account_id,
            invoice_id: c.invoice_id,
            policy_id: c.policy_id,
            step_no: step.step_no,
            action: step.action,
            channel,
            recipient: to,
            subject,
            body_text: text,
            body_html: html,
            amount: c.amount,
            currency: c.currency,
            run_id,
            created_at: ctx.now,
        };
        diesel::insert_into(nt::notices)
            .values(&row)
            .execute(conn)
            .await?;
        let view = NoticeView::from(row);
        crate::audit::changed(conn, ctx, "notice.created", None, Some(&view)).await?;
        crate::outbox::emit(
            conn,
            ctx.now,
            crate::outbox::EventType::NoticeCreated,
            view.id,
            Some(view.account_id),
            &view,
        )
        .await?;
        counts.notices += 1;
    } else if let Some((kind, priority)) = task_kind {
        let row = crate::collections::open_task(
            conn,
            ctx,
            kind,
            c.account_id,
            Some(c.invoice_id),
            subject,
            text,
            priority,
            as_of,
        )
        .await?;
        task_id = Some(row.id);
        counts.tasks += 1;
    } else if let Some(kind) = order_kind {
        // One open order of a kind per account: a second invoice reaching the step joins it.
        if let Some(order) = service_orders::create(
            conn,
            ctx,
            c.account_id,
            kind,
            None,
            OrderSource::Dunning,
            subject,
        )
        .await?
        {
            order_id = Some(order.id);
            counts.orders += 1;
        }
    }
    if task_id.is_some() || order_id.is_some() {
        diesel::sql_query(
            "UPDATE dunning_actions SET task_id = $1, service_order_id = $2
              WHERE invoice_id = $3 AND policy_id = $4 AND step_no = $5",
        )
        .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(task_id)
        .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(order_id)
        .bind::<SqlUuid, _>(c.invoice_id)
        .bind::<SqlUuid, _>(c.policy_id)
        .bind::<Integer, _>(step.step_no)
        .execute(conn)
        .await?;
    }
    counts.steps += 1;
    Ok(())
}

/// Performs a dunning run as of `as_of`, recorded in `dunning_runs`; its summary.
pub async fn run(
    pool: &DbPool,
    ctx: &Ctx,
    as_of: Date,
    trigger: RunTrigger,
    credit: &crate::credit::service::Job,
) -> Result<DunningRunView, ApiError> {
    run_once(pool, ctx, as_of, trigger, None, "", credit)
        .await
        .map(|(summary, _)| summary)
}

/// [`run`], claiming `key` with the run's start: a retry with the same key answers the run
/// (as it stands when the first is still running) instead of running again. The flag says
/// whether the answer is such a replay.
pub async fn run_once(
    pool: &DbPool,
    ctx: &Ctx,
    as_of: Date,
    trigger: RunTrigger,
    key: Option<&str>,
    fingerprint: &str,
    credit: &crate::credit::service::Job,
) -> Result<(DunningRunView, bool), ApiError> {
    let mut conn = crate::db::conn(pool).await?;
    let mut summary = DunningRunView {
        id: Uuid::now_v7(),
        as_of,
        trigger,
        status: DunningRunStatus::Running,
        started_by: ctx.principal.subject.clone(),
        started_at: ctx.now,
        finished_at: None,
        invoices_examined: 0,
        steps_performed: 0,
        notices: 0,
        tasks: 0,
        service_orders: 0,
        promises_kept: 0,
        promises_broken: 0,
        error: None,
    };
    let started = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, ctx, key, fingerprint).await? {
                Begin::Replay(stored) => return Ok(Some(stored)),
                Begin::Fresh(claim) => claim,
            };
            diesel::insert_into(dr::dunning_runs)
                .values(&summary)
                .execute(conn)
                .await?;
            claim.finish(conn, StatusCode::CREATED, &summary).await?;
            Ok::<_, ApiError>(None)
        })
        .await?;
    if let Some(stored) = started {
        let id: Uuid = serde_json::from_value(stored.body["id"].clone())?;
        let current = dr::dunning_runs
            .find(id)
            .select(DunningRunView::as_select())
            .first(&mut conn)
            .await?;
        return Ok((current, true));
    }
    let outcome = dun(&mut conn, ctx, &mut summary, credit).await;
    summary.finished_at = Some(ctx.now);
    match outcome {
        Ok(()) => summary.status = DunningRunStatus::Completed,
        Err(e) => {
            log::error!("dunning run {} failed: {e}", summary.id);
            summary.status = DunningRunStatus::Failed;
            summary.error = Some(e.to_string());
        }
    }
    conn.transaction(async |conn| {
        diesel::update(dr::dunning_runs.find(summary.id))
            .set(&summary)
            .execute(conn)
            .await?;
        idempotency::record_final(conn, ctx, key, &summary).await
    })
    .await?;
    Ok((summary, false))
}

/// Performs a run: reviews promises, does the credit work of the day (periodic reviews due,
/// automatic holds), then performs the due dunning steps.
pub async fn dun(
    conn: &mut Conn,
    ctx: &Ctx,
    summary: &mut DunningRunView,
    credit: &crate::credit::service::Job,
) -> Result<(), ApiError> {
    let as_of = summary.as_of;
    // Never past today: a promise's deadline still to come is not missed.
    let review_until = as_of.min(ctx.today());
    let credited = crate::credit::scheduled(conn, ctx, review_until, credit).await?;
    if credited.reviews_opened > 0 || credited.holds_placed > 0 {
        log::info!(
            "dunning run {}: {} periodic credit reviews opened, {} accounts put on credit hold",
            summary.id,
            credited.reviews_opened,
            credited.holds_placed
        );
    }
    let reviewed = conn
        .transaction(async |conn| {
            crate::collections::promises::review(
                conn,
                ctx,
                crate::collections::promises::Scope::All,
                review_until,
            )
            .await
        })
        .await?;
    summary.promises_kept = reviewed.kept;
    summary.promises_broken = reviewed.broken;
    let plan = Plan::as_of(conn, as_of).await?;
    summary.invoices_examined = plan.candidates.len() as i32;
    let mut counts = Counts::default();
    for (account_id, work) in plan.work() {
        let mut account_counts = Counts::default();
        let result = conn
            .transaction(async |conn| {
                let account = crate::accounts::store::lock_visible(conn, account_id, None).await?;
                let recipients = Recipients::of(conn, &account).await?;
                let mut any = false;
                for (c, step, earlier) in &work {
                    if claim(conn, summary.id, c, step, earlier, ctx.now).await? {
                        perform(
                            conn,
                            ctx,
                            summary,
                            c,
                            step,
                            &recipients,
                            &mut account_counts,
                        )
                        .await?;
                        any = true;
                    }
                }
                if any {
                    crate::collections::set_status(
                        conn,
                        ctx,
                        account_id,
                        &[CollectionsStatus::None],
                        CollectionsStatus::InDunning,
                    )
                    .await?;
                }
                Ok::<_, ApiError>(())
            })
            .await;
        match result {
            Ok(()) => {
                counts.steps += account_counts.steps;
                counts.notices += account_counts.notices;
                counts.tasks += account_counts.tasks;
                counts.orders += account_counts.orders;
            }
            // One account's data must not stop the others' dunning.
            Err(e) => log::warn!("dunning run {}: account {account_id}: {e}", summary.id),
        }
    }
    summary.steps_performed = counts.steps;
    summary.notices = counts.notices;
    summary.tasks = counts.tasks;
    summary.service_orders = counts.orders;
    Ok(())
}

/// What a run as of `as_of` would do, with nothing done: the same candidates and steps, the
/// notices rendered for the recipients they would go to.
pub async fn preview_run(conn: &mut Conn, as_of: Date) -> Result<RunPreview, ApiError> {
    let plan = Plan::as_of(conn, as_of).await?;
    let work = plan.work();
    let accounts: Vec<Uuid> = work.iter().map(|(a, _)| *a).collect();
    let recipients = Recipients::of_many(conn, &accounts).await?;
    let mut steps = Vec::new();
    for (account_id, list) in work {
        for (c, step, earlier) in list {
            let Rendered { subject, text, .. } = render(c, step, as_of);
            let to = step
                .action
                .is_notice()
                .then(|| recipients.get(&account_id))
                .flatten()
                .map(|r| r.for_action(step.action));
            steps.push(PlannedStep {
                account_id,
                invoice_id: c.invoice_id,
                invoice_number: c.invoice_number.clone(),
                days_past_due: c.days,
                amount: c.currency.normalize(c.amount),
                currency: c.currency,
                step_no: step.step_no,
                action: step.action,
                superseded_steps: earlier.iter().map(|s| s.step_no).collect(),
                channel: to.as_ref().map(|(channel, _)| *channel),
                recipient: to.map(|(_, recipient)| recipient),
                subject,
                body_text: text,
            });
        }
    }
    Ok(RunPreview {
        as_of,
        preview: true,
        invoices_examined: plan.candidates.len() as i32,
        steps,
    })
}

/// Runs dunning as of today every `minutes` (0: never) while the server runs.
pub fn spawn(
    pool: DbPool,
    minutes: u64,
    clock: crate::clock::Clock,
    credit: crate::credit::service::Job,
) {
    if minutes == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(minutes * 60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ctx = crate::collections::system_ctx(clock.now());
            match run(&pool, &ctx, ctx.today(), RunTrigger::Schedule, &credit).await {
                Ok(r) => log::info!(
                    "dunning run {}: {} steps, {} notices, {} promises broken",
                    r.id,
                    r.steps_performed,
                    r.notices,
                    r.promises_broken
                ),
                Err(e) => log::warn!("dunning run: {e}"),
            }
        }
    });
}
