//! SQL of goals.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::Date;
use uuid::Uuid;

use super::model::GoalRow;
use crate::db::{unique_violation, Conn};
use crate::error::ApiError;
use crate::schema::collection_goals::dsl as g;

fn conflict(err: diesel::result::Error) -> ApiError {
    match unique_violation(&err) {
        Some("collection_goals_collector_key" | "collection_goals_team_key") => {
            ApiError::Conflict {
                code: "goal_exists",
                detail: "A goal of this collector or team for this month and currency exists; \
                         change it instead."
                    .into(),
                field: Some("month"),
            }
        }
        _ => err.into(),
    }
}

pub async fn insert(conn: &mut Conn, row: &GoalRow) -> Result<GoalRow, ApiError> {
    diesel::insert_into(g::collection_goals)
        .values(row)
        .returning(GoalRow::as_returning())
        .get_result(conn)
        .await
        .map_err(conflict)
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<GoalRow, ApiError> {
    g::collection_goals
        .find(id)
        .select(GoalRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("collection goal"))
}

pub async fn find_for_update(conn: &mut Conn, id: Uuid) -> Result<GoalRow, ApiError> {
    g::collection_goals
        .find(id)
        .select(GoalRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("collection goal"))
}

pub async fn update(conn: &mut Conn, row: &GoalRow) -> Result<GoalRow, ApiError> {
    diesel::update(g::collection_goals.find(row.id))
        .set(row)
        .returning(GoalRow::as_returning())
        .get_result(conn)
        .await
        .map_err(conflict)
}

/// Goals in creation order, filtered.
pub async fn list(
    conn: &mut Conn,
    month: Option<Date>,
    collector: Option<&str>,
    team: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GoalRow>, ApiError> {
    let mut query = g::collection_goals
        .select(GoalRow::as_select())
        .into_boxed();
    if let Some(month) = month {
        query = query.filter(g::month.eq(month));
    }
    if let Some(collector) = collector {
        query = query.filter(g::collector.eq(collector));
    }
    if let Some(team) = team {
        query = query.filter(g::team.eq(team));
    }
    if let Some(after) = after {
        query = query.filter(g::id.gt(after));
    }
    Ok(query.order(g::id.asc()).limit(limit + 1).load(conn).await?)
}

/// Every goal of the months from `first` to `last` (of `collector` only, when given), by
/// month, currency, collector then team.
pub async fn of_months(
    conn: &mut Conn,
    first: Date,
    last: Date,
    collector: Option<&str>,
) -> Result<Vec<GoalRow>, ApiError> {
    let mut query = g::collection_goals
        .select(GoalRow::as_select())
        .filter(g::month.between(first, last))
        .into_boxed();
    if let Some(collector) = collector {
        query = query.filter(g::collector.eq(collector));
    }
    Ok(query
        .order((g::month, g::currency, g::collector, g::team))
        .load(conn)
        .await?)
}
