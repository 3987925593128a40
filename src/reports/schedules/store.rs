//! SQL of report schedules and runs.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{ReportRunStatus, RunRow, ScheduleRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::report_runs::dsl as r;
use crate::schema::report_schedules::dsl as s;

pub async fn insert(conn: &mut Conn, row: &ScheduleRow) -> Result<ScheduleRow, ApiError> {
    Ok(diesel::insert_into(s::report_schedules)
        .values(row)
        .returning(ScheduleRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<ScheduleRow, ApiError> {
    s::report_schedules
        .find(id)
        .select(ScheduleRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("report schedule"))
}

pub async fn find_for_update(conn: &mut Conn, id: Uuid) -> Result<ScheduleRow, ApiError> {
    s::report_schedules
        .find(id)
        .select(ScheduleRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("report schedule"))
}

pub async fn update(conn: &mut Conn, row: &ScheduleRow) -> Result<ScheduleRow, ApiError> {
    Ok(diesel::update(s::report_schedules.find(row.id))
        .set(row)
        .returning(ScheduleRow::as_returning())
        .get_result(conn)
        .await?)
}

/// Schedules in creation order, filtered.
pub async fn list(
    conn: &mut Conn,
    report: Option<crate::reports::catalog::ReportName>,
    active: Option<bool>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ScheduleRow>, ApiError> {
    let mut query = s::report_schedules
        .select(ScheduleRow::as_select())
        .into_boxed();
    if let Some(report) = report {
        query = query.filter(s::report.eq(report));
    }
    if let Some(active) = active {
        query = query.filter(s::active.eq(active));
    }
    if let Some(after) = after {
        query = query.filter(s::id.gt(after));
    }
    Ok(query.order(s::id.asc()).limit(limit + 1).load(conn).await?)
}

/// Every active schedule, in creation order (the rules say which are due).
pub async fn active(conn: &mut Conn) -> Result<Vec<ScheduleRow>, ApiError> {
    Ok(s::report_schedules
        .select(ScheduleRow::as_select())
        .filter(s::active.eq(true))
        .order(s::id.asc())
        .load(conn)
        .await?)
}

/// Of `ids`, those naming an existing webhook endpoint, and whether each is enabled.
pub async fn endpoints(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<(Uuid, bool)>, ApiError> {
    use crate::schema::webhook_endpoints::dsl as w;
    Ok(w::webhook_endpoints
        .filter(w::id.eq_any(ids))
        .select((w::id, w::enabled))
        .load(conn)
        .await?)
}

/// Claims the run of `schedule` on `date` for this transaction: the run's id, or `None` when
/// another transaction has (or had) it. A claim another transaction holds uncommitted makes
/// this one wait for its outcome.
pub async fn claim(
    conn: &mut Conn,
    schedule: &ScheduleRow,
    date: Date,
    now: OffsetDateTime,
) -> Result<Option<Uuid>, ApiError> {
    Ok(diesel::insert_into(r::report_runs)
        .values((
            r::id.eq(Uuid::now_v7()),
            r::schedule_id.eq(schedule.id),
            r::run_date.eq(date),
            r::report.eq(schedule.report),
            r::parameters.eq(&schedule.parameters),
            r::format.eq(schedule.format),
            r::status.eq(ReportRunStatus::Running),
            r::created_at.eq(now),
        ))
        .on_conflict((r::schedule_id, r::run_date))
        .do_nothing()
        .returning(r::id)
        .get_result(conn)
        .await
        .optional()?)
}

/// What a run ends with: its file, or why it failed.
pub enum Outcome {
    File {
        bytes: Vec<u8>,
        content_type: &'static str,
        file_name: String,
        event_id: Uuid,
    },
    Failed(String),
}

/// Stores a claimed run's outcome.
pub async fn finish(conn: &mut Conn, id: Uuid, outcome: &Outcome) -> Result<RunRow, ApiError> {
    let target = diesel::update(r::report_runs.find(id));
    let query = match outcome {
        Outcome::File {
            bytes,
            content_type,
            file_name,
            event_id,
        } => {
            target
                .set((
                    r::status.eq(ReportRunStatus::Succeeded),
                    r::size_bytes.eq(bytes.len() as i64),
                    r::content.eq(bytes),
                    r::content_type.eq(*content_type),
                    r::file_name.eq(file_name),
                    r::event_id.eq(event_id),
                ))
                .returning(RunRow::as_returning())
                .get_result(conn)
                .await?
        }
        Outcome::Failed(error) => {
            target
                .set((r::status.eq(ReportRunStatus::Failed), r::error.eq(error)))
                .returning(RunRow::as_returning())
                .get_result(conn)
                .await?
        }
    };
    Ok(query)
}

pub async fn find_run(conn: &mut Conn, id: Uuid) -> Result<RunRow, ApiError> {
    r::report_runs
        .find(id)
        .select(RunRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("report run"))
}

/// A run's file: its bytes (none when it failed), content type and name.
pub async fn run_file(
    conn: &mut Conn,
    id: Uuid,
) -> Result<(Option<Vec<u8>>, Option<String>, Option<String>), ApiError> {
    r::report_runs
        .find(id)
        .select((r::content, r::content_type, r::file_name))
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("report run"))
}

/// Runs in creation order, of one schedule when given.
pub async fn list_runs(
    conn: &mut Conn,
    schedule: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RunRow>, ApiError> {
    let mut query = r::report_runs.select(RunRow::as_select()).into_boxed();
    if let Some(schedule) = schedule {
        query = query.filter(r::schedule_id.eq(schedule));
    }
    if let Some(after) = after {
        query = query.filter(r::id.gt(after));
    }
    Ok(query.order(r::id.asc()).limit(limit + 1).load(conn).await?)
}
