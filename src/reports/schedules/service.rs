//! Schedules as their commands change them, and the job that runs the due ones: each run in
//! its own transaction, claimed by its row (once per schedule and date however many
//! instances look), its file and its `report.ready` event written together.

use actix_web::http::StatusCode;
use diesel_async::AsyncConnection;
use time::Date;
use uuid::Uuid;

use super::model::{
    ReportReadyEvent, ReportRunStatus, ReportRunView, ReportRunsDone, ReportSchedulePatch,
    ReportScheduleView, ScheduleRow,
};
use super::rules;
use super::store::{self, Outcome};
use crate::audit::Audited;
use crate::context::Ctx;
use crate::db::{Conn, DbPool};
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::{self, Begin, Written};
use crate::outbox::{self, EventType};
use crate::refusal::Refusal;
use crate::reports::catalog;

impl Audited for ReportScheduleView {
    const ENTITY: &'static str = "report_schedule";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

impl Audited for ReportRunView {
    const ENTITY: &'static str = "report_run";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// 422 naming `recipients` unless every recipient is an existing, enabled webhook endpoint.
async fn check_recipients(conn: &mut Conn, row: &ScheduleRow) -> Result<(), ApiError> {
    let ids = row.recipient_ids();
    if ids.is_empty() {
        return Ok(());
    }
    let found = store::endpoints(conn, &ids).await?;
    for id in &ids {
        match found.iter().find(|(e, _)| e == id) {
            None => {
                let message = format!("{id} is not a webhook endpoint");
                return Err(Refusal::field("recipients", "unknown_endpoint", message).into());
            }
            Some((_, false)) => {
                let message = format!("the webhook endpoint {id} is disabled");
                return Err(Refusal::field("recipients", "endpoint_disabled", message).into());
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Creates the schedule `row` (checked by `rules::check`) once its recipients are found.
pub async fn create(
    conn: &mut Conn,
    row: &ScheduleRow,
) -> Result<Written<ReportScheduleView>, ApiError> {
    check_recipients(conn, row).await?;
    let view = ReportScheduleView::from(store::insert(conn, row).await?);
    Ok(Written::created("report_schedule.created", view))
}

/// Changes a schedule at the version the caller expects.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &ReportSchedulePatch,
    expected: Expected,
) -> Result<Written<ReportScheduleView>, ApiError> {
    let current = store::find_for_update(conn, id).await?;
    expected.check(current.version)?;
    let next = rules::apply(patch, &current, ctx.now);
    rules::check(&next, ctx.today())?;
    if patch.recipients.is_some() {
        check_recipients(conn, &next).await?;
    }
    let before = ReportScheduleView::from(current);
    let after = ReportScheduleView::from(store::update(conn, &next).await?);
    Ok(Written::changed("report_schedule.updated", before, after))
}

/// Runs every active schedule due on `date` that no instance has run for it yet; answers
/// the runs made here.
pub async fn run_due(pool: &DbPool, ctx: &Ctx, date: Date) -> Result<Vec<ReportRunView>, ApiError> {
    let schedules = {
        let mut conn = crate::db::conn(pool).await?;
        rules::due(store::active(&mut conn).await?, date)
    };
    let mut runs = Vec::new();
    for schedule in schedules {
        if let Some(run) = run_one(pool, ctx, &schedule, date).await? {
            runs.push(run);
        }
    }
    Ok(runs)
}

/// [`run_due`] for a caller with an `Idempotency-Key`: the key is claimed before the runs
/// start, and a retry with it answers the first request's runs (as they stand while it is
/// still running) instead of an empty list. The flag says whether the answer is a replay.
pub async fn run_due_once(
    pool: &DbPool,
    ctx: &Ctx,
    date: Date,
    key: Option<&str>,
    fingerprint: &str,
) -> Result<(serde_json::Value, bool), ApiError> {
    let mut done = ReportRunsDone {
        run_date: date,
        data: Vec::new(),
    };
    let mut conn = crate::db::conn(pool).await?;
    if key.is_some() {
        let replay = conn
            .transaction(async |conn| {
                match idempotency::begin(conn, ctx, key, fingerprint).await? {
                    Begin::Replay(stored) => Ok(Some(stored.body)),
                    Begin::Fresh(claim) => {
                        claim.finish(conn, StatusCode::OK, &done).await?;
                        Ok::<_, ApiError>(None)
                    }
                }
            })
            .await?;
        if let Some(body) = replay {
            return Ok((body, true));
        }
    }
    done.data = run_due(pool, ctx, date).await?;
    idempotency::record_final(&mut conn, ctx, key, &done).await?;
    Ok((serde_json::to_value(&done)?, false))
}

/// One schedule's run on `date`, in one transaction: the claim, the report (read in a
/// savepoint, so that a report's error is stored as the run's failure), the file, the
/// event to its recipients and the audit entry. `None`: another instance has it.
async fn run_one(
    pool: &DbPool,
    ctx: &Ctx,
    schedule: &ScheduleRow,
    date: Date,
) -> Result<Option<ReportRunView>, ApiError> {
    let mut conn = crate::db::conn(pool).await?;
    conn.transaction(async |conn| {
        let Some(run_id) = store::claim(conn, schedule, date, ctx.now).await? else {
            return Ok(None);
        };
        let built = conn
            .transaction(async |conn| {
                let plan = catalog::plan_named(schedule.report, &schedule.parameter_map(), date)?;
                let report = plan(conn).await?;
                report.file(schedule.format)
            })
            .await;
        let outcome = match built {
            Ok(file) => {
                let event = ReportReadyEvent {
                    run_id,
                    schedule_id: schedule.id,
                    report: schedule.report,
                    format: schedule.format,
                    run_date: date,
                    file_path: format!("/v1/report-runs/{run_id}/file"),
                    file_name: file.file_name.clone(),
                    content_type: file.content_type.to_string(),
                    size_bytes: file.bytes.len() as i64,
                };
                let recipients = schedule.recipient_ids();
                let event_id = outbox::emit_to(
                    conn,
                    ctx.now,
                    EventType::ReportReady,
                    run_id,
                    &event,
                    &recipients,
                )
                .await?;
                Outcome::File {
                    bytes: file.bytes,
                    content_type: file.content_type,
                    file_name: file.file_name,
                    event_id,
                }
            }
            Err(ApiError::Unavailable(reason)) => return Err(ApiError::Unavailable(reason)),
            Err(e) => Outcome::Failed(describe(&e)),
        };
        let run = ReportRunView::from(store::finish(conn, run_id, &outcome).await?);
        let action = match run.status {
            ReportRunStatus::Failed => "report_run.failed",
            _ => "report_run.succeeded",
        };
        crate::audit::changed(conn, ctx, action, None, Some(&run)).await?;
        Ok(Some(run))
    })
    .await
}

/// An error as a run's `error`: the fields a refusal names, or the error's text.
fn describe(e: &ApiError) -> String {
    match e {
        ApiError::Validation(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Runs the due schedules as of the clock's today every `minutes` (0: never) while the
/// server runs.
pub fn spawn(pool: DbPool, minutes: u64, clock: crate::clock::Clock) {
    if minutes == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(minutes * 60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ctx = system_ctx(clock.now());
            match run_due(&pool, &ctx, ctx.today()).await {
                Ok(runs) if runs.is_empty() => {}
                Ok(runs) => log::info!("scheduled reports: {} runs", runs.len()),
                Err(e) => log::warn!("scheduled reports: {e}"),
            }
        }
    });
}

/// The caller the scheduled job acts as.
pub fn system_ctx(now: time::OffsetDateTime) -> Ctx {
    Ctx {
        principal: crate::auth::Principal {
            subject: "system:reports".into(),
            role: crate::auth::Role::Admin,
            partner_id: None,
        },
        request_id: None,
        now,
    }
}
