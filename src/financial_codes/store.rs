//! SQL of financial codes.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{FinancialCodeFilter, FinancialCodeKind, FinancialCodeRow};
use crate::db::{unique_violation, Conn};
use crate::error::ApiError;
use crate::schema::financial_codes::dsl as f;
use crate::validate::Errors;

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

/// Checks that every `(field, id)` names an active financial code of one of `kinds`, with one
/// query.
pub async fn check_codes(
    conn: &mut Conn,
    codes: &[(String, Uuid)],
    kinds: &[FinancialCodeKind],
    e: &mut Errors,
) -> Result<(), ApiError> {
    if codes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = codes.iter().map(|(_, id)| *id).collect();
    let found: HashMap<Uuid, (FinancialCodeKind, bool)> = f::financial_codes
        .filter(f::id.eq_any(&ids))
        .select((f::id, f::kind, f::active))
        .load::<(Uuid, FinancialCodeKind, bool)>(conn)
        .await?
        .into_iter()
        .map(|(id, k, a)| (id, (k, a)))
        .collect();
    for (field, id) in codes {
        match found.get(id) {
            None => e.add(field, "unknown", "no financial code has this id"),
            Some((_, false)) => e.add(field, "inactive", "the financial code is inactive"),
            Some((k, true)) if !kinds.contains(k) => e.add(
                field,
                "wrong_kind",
                format!(
                    "must be a financial code of kind {}",
                    kinds
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ),
            _ => {}
        }
    }
    Ok(())
}

/// The code with this `code`, if any.
pub async fn find_by_code(
    conn: &mut Conn,
    code: &str,
) -> Result<Option<FinancialCodeRow>, ApiError> {
    Ok(f::financial_codes
        .filter(f::code.eq(code))
        .select(FinancialCodeRow::as_select())
        .first(conn)
        .await
        .optional()?)
}
