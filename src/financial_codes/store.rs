//! SQL of financial codes.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{FinancialCodeFilter, FinancialCodeRow};
use crate::db::{unique_violation, Conn};
use crate::error::ApiError;
use crate::schema::financial_codes::dsl as f;

pub async fn insert(conn: &mut Conn, row: &FinancialCodeRow) -> Result<FinancialCodeRow, ApiError> {
    diesel::insert_into(f::financial_codes)
        .values(row)
        .returning(FinancialCodeRow::as_returning())
        .get_result(conn)
        .await
        .map_err(|err| match unique_violation(&err) {
            Some("financial_codes_code_key") => ApiError::Conflict {
                code: "duplicate_code",
                detail: "Another financial code has this code.".into(),
                field: Some("code"),
            },
            _ => err.into(),
        })
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<FinancialCodeRow, ApiError> {
    f::financial_codes
        .find(id)
        .select(FinancialCodeRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("financial code"))
}

pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<FinancialCodeRow, ApiError> {
    f::financial_codes
        .find(id)
        .select(FinancialCodeRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("financial code"))
}

pub async fn update(conn: &mut Conn, row: &FinancialCodeRow) -> Result<FinancialCodeRow, ApiError> {
    Ok(diesel::update(f::financial_codes.find(row.id))
        .set(row)
        .returning(FinancialCodeRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn list(
    conn: &mut Conn,
    filter: &FinancialCodeFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<FinancialCodeRow>, ApiError> {
    let mut query = f::financial_codes
        .select(FinancialCodeRow::as_select())
        .into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(f::kind.eq(kind));
    }
    if let Some(active) = filter.active {
        query = query.filter(f::active.eq(active));
    }
    if let Some(after) = after {
        query = query.filter(f::id.gt(after));
    }
    Ok(query.order(f::id.asc()).limit(limit + 1).load(conn).await?)
}
