//! SQL of meter readings.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date as SqlDate, Nullable, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{ReadingFilter, ReadingRow, ReadingSource};
use super::rules::MeterState;
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::meter_readings::dsl as r;

/// A meter as a posted reading sees it.
#[derive(Debug, QueryableByName)]
struct MeterStateRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlDate)]
    installed_on: time::Date,
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    partner_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlDate>)]
    last_on: Option<time::Date>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_value: Option<i64>,
}

/// A meter as a posted reading sees it, with the account and partner it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct MeterOwner {
    pub state: MeterState,
    pub account_id: Uuid,
    pub partner_id: Option<Uuid>,
}

impl MeterOwner {
    /// Whether a caller confined to `partner` (if any) may see the meter.
    pub fn visible_to(&self, partner: Option<Uuid>) -> bool {
        partner.is_none() || self.partner_id == partner
    }
}

/// Locks the meters (in id order) so that concurrent readings of one meter are checked one
/// after the other, then reads their states. The locks are taken by a statement of their own:
/// a statement that waited for a lock still reads with the snapshot it started with, and
/// would miss the reading that the transaction it waited for has just committed.
pub async fn lock_meter_states(
    conn: &mut Conn,
    meter_ids: &[Uuid],
) -> Result<HashMap<Uuid, MeterOwner>, ApiError> {
    diesel::sql_query("SELECT id FROM meters WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind::<Array<SqlUuid>, _>(meter_ids)
        .execute(conn)
        .await?;
    meter_states(conn, meter_ids).await
}

/// The meters' installation dates, owners and last actual readings, without locking.
pub async fn meter_states(
    conn: &mut Conn,
    meter_ids: &[Uuid],
) -> Result<HashMap<Uuid, MeterOwner>, ApiError> {
    let rows: Vec<MeterStateRow> = diesel::sql_query(
        "SELECT m.id, e.installed_on, a.id AS account_id, a.partner_id,
                last.read_on AS last_on, last.value AS last_value
           FROM meters m
           JOIN equipment e ON e.id = m.equipment_id
           JOIN contracts c ON c.id = m.contract_id
           JOIN accounts a ON a.id = c.account_id
           LEFT JOIN LATERAL (
                SELECT read_on, value FROM meter_readings
                 WHERE meter_id = m.id AND source <> 'estimated'
                 ORDER BY read_on DESC LIMIT 1) last ON true
          WHERE m.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(meter_ids)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let owner = MeterOwner {
                state: MeterState {
                    installed_on: row.installed_on,
                    last_actual: row.last_on.zip(row.last_value),
                },
                account_id: row.account_id,
                partner_id: row.partner_id,
            };
            (row.id, owner)
        })
        .collect())
}

pub async fn insert_many(conn: &mut Conn, rows: &[ReadingRow]) -> Result<(), ApiError> {
    for chunk in rows.chunks(1000) {
        diesel::insert_into(r::meter_readings)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn list(
    conn: &mut Conn,
    meter_id: Uuid,
    filter: &ReadingFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReadingRow>, ApiError> {
    let mut query = r::meter_readings
        .filter(r::meter_id.eq(meter_id))
        .select(ReadingRow::as_select())
        .into_boxed();
    match filter.estimated {
        Some(true) => query = query.filter(r::source.eq(ReadingSource::Estimated)),
        Some(false) => query = query.filter(r::source.ne(ReadingSource::Estimated)),
        None => {}
    }
    if let Some(after) = after {
        query = query.filter(r::id.gt(after));
    }
    Ok(query.order(r::id.asc()).limit(limit + 1).load(conn).await?)
}
