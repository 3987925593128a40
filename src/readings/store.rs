//! SQL of meter readings.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date as SqlDate, Nullable, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::model::{ReadingFilter, ReadingRow, ReadingSource, ResetKind};
use super::rules::{Billed, MeterState, Neighbours};
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
                 WHERE meter_id = m.id AND source <> 'estimated' AND voided_at IS NULL
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

/// A reading, locked.
pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<ReadingRow, ApiError> {
    r::meter_readings
        .find(id)
        .select(ReadingRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("meter reading"))
}

/// The contract of a reading's meter (read without a lock).
pub async fn contract_of(conn: &mut Conn, reading_id: Uuid) -> Result<Uuid, ApiError> {
    use crate::schema::meters::dsl as m;
    r::meter_readings
        .inner_join(m::meters)
        .filter(r::id.eq(reading_id))
        .select(m::contract_id)
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("meter reading"))
}

/// The meter's actual, unvoided readings just before and just after `reading`.
pub async fn neighbours(conn: &mut Conn, reading: &ReadingRow) -> Result<Neighbours, ApiError> {
    let actual = r::meter_readings
        .filter(r::meter_id.eq(reading.meter_id))
        .filter(r::source.ne(ReadingSource::Estimated))
        .filter(r::voided_at.is_null())
        .filter(r::id.ne(reading.id));
    let before: Option<(time::Date, i64)> = actual
        .filter(r::read_on.lt(reading.read_on))
        .order(r::read_on.desc())
        .select((r::read_on, r::value))
        .first(conn)
        .await
        .optional()?;
    let after: Option<(time::Date, i64, Option<ResetKind>)> = actual
        .filter(r::read_on.gt(reading.read_on))
        .order(r::read_on.asc())
        .select((r::read_on, r::value, r::reset))
        .first(conn)
        .await
        .optional()?;
    Ok(Neighbours {
        before,
        after: after.map(|(on, value, reset)| (on, value, reset.is_some())),
    })
}

/// Where the reading stands against its meter's billed periods.
pub async fn billed(conn: &mut Conn, reading: &ReadingRow) -> Result<Billed, ApiError> {
    use crate::schema::meter_periods::dsl as mp;
    let latest: Option<(Uuid, time::Date)> = mp::meter_periods
        .filter(mp::meter_id.eq(reading.meter_id))
        .order(mp::period_start.desc())
        .select((mp::end_reading_id, mp::end_read_on))
        .first(conn)
        .await
        .optional()?;
    Ok(match latest {
        None => Billed::No,
        Some((end, _)) if end == reading.id => Billed::LatestEnd,
        Some((_, end_on)) if reading.read_on <= end_on => Billed::Earlier,
        Some(_) => Billed::No,
    })
}

/// Voids a reading: kept, with who, when and why, and counted for nothing.
pub async fn void(
    conn: &mut Conn,
    reading: &ReadingRow,
    by: &str,
    reason: &str,
    at: time::OffsetDateTime,
) -> Result<ReadingRow, ApiError> {
    Ok(diesel::update(r::meter_readings.find(reading.id))
        .set((
            r::voided_at.eq(at),
            r::voided_by.eq(by),
            r::void_reason.eq(reason),
        ))
        .returning(ReadingRow::as_returning())
        .get_result(conn)
        .await?)
}

/// Records on the billed period that ends at `reading` the value it should have ended at.
pub async fn mark_period_corrected(
    conn: &mut Conn,
    reading: &ReadingRow,
    value: i64,
) -> Result<(), ApiError> {
    use crate::schema::meter_periods::dsl as mp;
    diesel::update(
        mp::meter_periods
            .filter(mp::meter_id.eq(reading.meter_id))
            .filter(mp::end_reading_id.eq(reading.id)),
    )
    .set(mp::corrected_end_value.eq(value))
    .execute(conn)
    .await?;
    Ok(())
}
