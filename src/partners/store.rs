//! SQL of partners.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{PartnerFilter, PartnerRow};
use crate::db::{unique_violation, Conn};
use crate::error::ApiError;
use crate::schema::partners::dsl as p;

fn conflict(err: diesel::result::Error) -> ApiError {
    match unique_violation(&err) {
        Some("partners_code_key") => ApiError::Conflict {
            code: "duplicate_code",
            detail: "Another partner has this code.".into(),
            field: Some("code"),
        },
        _ => err.into(),
    }
}

pub async fn insert(conn: &mut Conn, row: &PartnerRow) -> Result<PartnerRow, ApiError> {
    diesel::insert_into(p::partners)
        .values(row)
        .returning(PartnerRow::as_returning())
        .get_result(conn)
        .await
        .map_err(conflict)
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<PartnerRow, ApiError> {
    p::partners
        .find(id)
        .select(PartnerRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("partner"))
}

pub async fn find_for_update(conn: &mut Conn, id: Uuid) -> Result<PartnerRow, ApiError> {
    p::partners
        .find(id)
        .select(PartnerRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("partner"))
}

pub async fn exists(conn: &mut Conn, id: Uuid) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(p::partners.find(id)))
        .get_result(conn)
        .await?)
}

pub async fn update(conn: &mut Conn, row: &PartnerRow) -> Result<PartnerRow, ApiError> {
    diesel::update(p::partners.find(row.id))
        .set(row)
        .returning(PartnerRow::as_returning())
        .get_result(conn)
        .await
        .map_err(conflict)
}

pub async fn list(
    conn: &mut Conn,
    filter: &PartnerFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PartnerRow>, ApiError> {
    let mut query = p::partners.select(PartnerRow::as_select()).into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(p::status.eq(status));
    }
    if let Some(after) = after {
        query = query.filter(p::id.gt(after));
    }
    Ok(query.order(p::id.asc()).limit(limit + 1).load(conn).await?)
}
