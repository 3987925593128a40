//! SQL of tasks.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{validate, TaskFilter, TaskRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::tasks::dsl as t;

fn unknown_account() -> ApiError {
    ApiError::field("account_id", "unknown", "no account has this id")
}

fn write_error(err: DieselError) -> ApiError {
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)
            if info.constraint_name() == Some("tasks_account_id_fkey") =>
        {
            unknown_account()
        }
        _ => err.into(),
    }
}

/// Stores a new task, inside the caller's transaction. The row is validated first (422
/// naming the field), and its account must exist (422 naming `account_id`). The caller
/// records the `task.created` audit entry in the same transaction.
pub async fn insert(conn: &mut Conn, row: &TaskRow) -> Result<TaskRow, ApiError> {
    validate(row)?;
    if let Some(account_id) = row.account_id {
        if !account_exists(conn, account_id).await? {
            return Err(unknown_account());
        }
    }
    diesel::insert_into(t::tasks)
        .values(row)
        .returning(TaskRow::as_returning())
        .get_result(conn)
        .await
        .map_err(write_error)
}

async fn account_exists(conn: &mut Conn, id: Uuid) -> Result<bool, ApiError> {
    use crate::schema::accounts::dsl as a;
    Ok(
        diesel::select(diesel::dsl::exists(a::accounts.filter(a::id.eq(id))))
            .get_result(conn)
            .await?,
    )
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<TaskRow, ApiError> {
    t::tasks
        .find(id)
        .select(TaskRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("task"))
}

/// Like [`find`], locking the row for the rest of the transaction.
pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<TaskRow, ApiError> {
    t::tasks
        .find(id)
        .select(TaskRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("task"))
}

pub async fn update(conn: &mut Conn, row: &TaskRow) -> Result<TaskRow, ApiError> {
    diesel::update(t::tasks.find(row.id))
        .set(row)
        .returning(TaskRow::as_returning())
        .get_result(conn)
        .await
        .map_err(write_error)
}

/// Tasks matching the filter in creation (id) order, after the cursor id; one more than
/// `limit` so the caller can tell whether another page follows.
pub async fn list(
    conn: &mut Conn,
    filter: &TaskFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TaskRow>, ApiError> {
    let mut query = t::tasks.select(TaskRow::as_select()).into_boxed();
    if let Some(kind) = &filter.kind {
        query = query.filter(t::type_.eq(kind));
    }
    if let Some(status) = filter.status {
        query = query.filter(t::status.eq(status));
    }
    if let Some(assignee) = &filter.assignee {
        query = query.filter(t::assignee.eq(assignee));
    }
    if let Some(subject_id) = filter.subject_id {
        query = query.filter(t::subject_id.eq(subject_id));
    }
    if let Some(account_id) = filter.account_id {
        query = query.filter(t::account_id.eq(account_id));
    }
    if let Some(date) = filter.due_before {
        query = query.filter(t::due_date.lt(date));
    }
    if let Some(priority) = filter.priority {
        query = query.filter(t::priority.eq(priority));
    }
    if let Some(after) = after {
        query = query.filter(t::id.gt(after));
    }
    Ok(query.order(t::id.asc()).limit(limit + 1).load(conn).await?)
}

/// The open and in-progress tasks of the accounts, soonest due first: account, due date, title.
pub async fn open_of_accounts(
    conn: &mut Conn,
    account_ids: &[Uuid],
) -> Result<Vec<(Option<Uuid>, time::Date, String)>, ApiError> {
    Ok(t::tasks
        .filter(t::account_id.eq_any(account_ids))
        .filter(t::status.eq_any(["open", "in_progress"]))
        .select((t::account_id, t::due_date, t::title))
        .order(t::due_date)
        .load(conn)
        .await?)
}
