//! SQL of equipment, meters and meter plans.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::Date;
use uuid::Uuid;

use super::model::{EquipmentRow, EquipmentView, MeterRow, PickupStatus, PlanRow};
use crate::db::{unique_violation, Conn};
use crate::error::ApiError;
use crate::schema::equipment::dsl as eq;
use crate::schema::meter_plans::dsl as mp;
use crate::schema::meters::dsl as m;

fn write_error(err: diesel::result::Error) -> ApiError {
    match unique_violation(&err) {
        Some("equipment_serial_number_key") => ApiError::Conflict {
            code: "duplicate_serial_number",
            detail: "Other equipment has this serial number.".into(),
            field: Some("serial_number"),
        },
        Some("meters_equipment_id_meter_type_key") => ApiError::Conflict {
            code: "duplicate_meter_type",
            detail: "The equipment already has a meter of this type.".into(),
            field: Some("meter_type"),
        },
        Some("meter_plans_meter_id_effective_from_key") => ApiError::Conflict {
            code: "duplicate_plan",
            detail: "The meter already has a plan from this date.".into(),
            field: Some("effective_date"),
        },
        _ => err.into(),
    }
}

pub async fn insert(conn: &mut Conn, row: &EquipmentRow) -> Result<EquipmentRow, ApiError> {
    diesel::insert_into(eq::equipment)
        .values(row)
        .returning(EquipmentRow::as_returning())
        .get_result(conn)
        .await
        .map_err(write_error)
}

pub async fn update(conn: &mut Conn, row: &EquipmentRow) -> Result<EquipmentRow, ApiError> {
    diesel::update(eq::equipment.find(row.id))
        .set(row)
        .returning(EquipmentRow::as_returning())
        .get_result(conn)
        .await
        .map_err(write_error)
}

pub async fn insert_meters(conn: &mut Conn, rows: &[MeterRow]) -> Result<(), ApiError> {
    if !rows.is_empty() {
        diesel::insert_into(m::meters)
            .values(rows)
            .execute(conn)
            .await
            .map_err(write_error)?;
    }
    Ok(())
}

pub async fn insert_plans(conn: &mut Conn, rows: &[PlanRow]) -> Result<(), ApiError> {
    if !rows.is_empty() {
        diesel::insert_into(mp::meter_plans)
            .values(rows)
            .execute(conn)
            .await
            .map_err(write_error)?;
    }
    Ok(())
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<EquipmentRow, ApiError> {
    eq::equipment
        .find(id)
        .select(EquipmentRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("equipment"))
}

pub async fn lock(conn: &mut Conn, id: Uuid) -> Result<EquipmentRow, ApiError> {
    eq::equipment
        .find(id)
        .select(EquipmentRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("equipment"))
}

pub async fn find_meter(conn: &mut Conn, id: Uuid) -> Result<MeterRow, ApiError> {
    m::meters
        .find(id)
        .select(MeterRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("meter"))
}

/// The equipment of a contract, after the cursor, in creation order.
pub async fn list(
    conn: &mut Conn,
    contract_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<EquipmentRow>, ApiError> {
    let mut query = eq::equipment
        .filter(eq::contract_id.eq(contract_id))
        .select(EquipmentRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(eq::id.gt(after));
    }
    Ok(query
        .order(eq::id.asc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}

/// The meters of some equipment and their plans, in two queries.
/// The equipment with its meters and their plans.
pub async fn view(conn: &mut Conn, row: EquipmentRow) -> Result<EquipmentView, ApiError> {
    let (meters, plans) = meters_of(conn, &[row.id]).await?;
    Ok(EquipmentView::new(row, &meters, &plans))
}

pub async fn meters_of(
    conn: &mut Conn,
    equipment_ids: &[Uuid],
) -> Result<(Vec<MeterRow>, Vec<PlanRow>), ApiError> {
    let meters: Vec<MeterRow> = m::meters
        .filter(m::equipment_id.eq_any(equipment_ids))
        .select(MeterRow::as_select())
        .order(m::id.asc())
        .load(conn)
        .await?;
    let plans = plans_of(conn, &meters.iter().map(|m| m.id).collect::<Vec<_>>()).await?;
    Ok((meters, plans))
}

pub async fn plans_of(conn: &mut Conn, meter_ids: &[Uuid]) -> Result<Vec<PlanRow>, ApiError> {
    Ok(mp::meter_plans
        .filter(mp::meter_id.eq_any(meter_ids))
        .select(PlanRow::as_select())
        .order((mp::meter_id.asc(), mp::effective_from.asc()))
        .load(conn)
        .await?)
}

pub async fn meter_count(conn: &mut Conn, contract_id: Uuid) -> Result<i64, ApiError> {
    Ok(m::meters
        .filter(m::contract_id.eq(contract_id))
        .count()
        .get_result(conn)
        .await?)
}

pub async fn meter_ids(conn: &mut Conn, contract_id: Uuid) -> Result<Vec<Uuid>, ApiError> {
    Ok(m::meters
        .filter(m::contract_id.eq(contract_id))
        .select(m::id)
        .load(conn)
        .await?)
}

/// Marks the contract's equipment still installed after `last_day` for pick-up; returns
/// their serial numbers.
pub async fn list_for_pickup(
    conn: &mut Conn,
    contract_id: Uuid,
    last_day: Date,
    now: time::OffsetDateTime,
) -> Result<Vec<String>, ApiError> {
    Ok(diesel::update(
        eq::equipment
            .filter(eq::contract_id.eq(contract_id))
            .filter(eq::removed_on.is_null().or(eq::removed_on.gt(last_day))),
    )
    .set((
        eq::pickup_status.eq(PickupStatus::Pending),
        eq::version.eq(eq::version + 1),
        eq::updated_at.eq(now),
    ))
    .returning(eq::serial_number)
    .get_results(conn)
    .await?)
}
