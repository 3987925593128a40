//! Equipment and meters as their commands change them, each in the caller's transaction:
//! installing equipment with its meters, changing it, adding a meter.

use uuid::Uuid;

use super::model::{
    EquipmentPatch, EquipmentRow, EquipmentView, MeterRow, MeterView, NewEquipment, NewMeter,
    PlanRow,
};
use super::{rules, store};
use crate::context::Ctx;
use crate::contracts::model::{ContractRow, OnAccount};
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::Written;
use crate::readings::model::{ReadingRow, ReadingSource};
use crate::validate::Errors;

/// Validates new meters (fields under `field[i]`) and builds their rows, plans and initial
/// readings.
async fn meter_rows(
    conn: &mut Conn,
    ctx: &Ctx,
    field: &str,
    meters: &[NewMeter],
    equipment: &EquipmentRow,
    contract: &ContractRow,
    e: &mut Errors,
) -> Result<(Vec<MeterRow>, Vec<PlanRow>, Vec<ReadingRow>), ApiError> {
    let now = ctx.now;
    let mut codes = Vec::new();
    let (mut out, mut plans, mut readings) = (Vec::new(), Vec::new(), Vec::new());
    for (i, m) in meters.iter().enumerate() {
        let at = if field.is_empty() {
            String::new()
        } else {
            format!("{field}[{i}].")
        };
        rules::check_meter(&at, m, contract.currency(), e);
        codes.push((format!("{at}financial_code_id"), m.financial_code_id));
        let meter = MeterRow {
            id: Uuid::now_v7(),
            equipment_id: equipment.id,
            contract_id: contract.id,
            meter_type: m.meter_type.clone(),
            financial_code_id: m.financial_code_id,
            expected_monthly_volume: m.expected_monthly_volume,
            created_at: now,
        };
        plans.push(PlanRow {
            id: Uuid::now_v7(),
            meter_id: meter.id,
            effective_from: equipment.installed_on,
            included_units: m.included_units,
            // Trailing zeros dropped: the column takes at most 6 decimals of scale.
            overage_rate: m.overage_rate.normalize(),
            minimum_charge: m.minimum_charge.unwrap_or_default(),
            amendment_id: None,
            created_at: now,
        });
        if let Some(value) = m.initial_reading {
            readings.push(ReadingRow {
                id: Uuid::now_v7(),
                meter_id: meter.id,
                read_on: equipment.installed_on,
                value,
                source: ReadingSource::Technician,
                reset: None,
                starting_value: None,
                final_value: None,
                estimate_method: None,
                estimate_basis: None,
                billing_run_id: None,
                note: Some("reading at installation".into()),
                created_by: ctx.principal.subject.clone(),
                created_at: now,
                voided_at: None,
                voided_by: None,
                void_reason: None,
                replaces_id: None,
            });
        }
        out.push(meter);
    }
    let mut types: Vec<&str> = meters.iter().map(|m| m.meter_type.as_str()).collect();
    types.sort();
    if types.windows(2).any(|w| w[0] == w[1]) {
        e.add(
            field,
            "duplicate_meter_type",
            "each meter type appears once per equipment",
        );
    }
    crate::financial_codes::store::check_codes(conn, &codes, &[FinancialCodeKind::Revenue], e)
        .await?;
    Ok((out, plans, readings))
}

/// Installs equipment with its meters (and their initial readings) on the contract.
pub async fn install(
    conn: &mut Conn,
    ctx: &Ctx,
    contract_id: Uuid,
    new: &NewEquipment,
) -> Result<Written<OnAccount<EquipmentView>>, ApiError> {
    let contract = crate::contracts::store::lock(conn, contract_id).await?;
    let now = ctx.now;
    let row = EquipmentRow {
        id: Uuid::now_v7(),
        contract_id,
        serial_number: new.serial_number.trim().to_string(),
        make: new.make.trim().to_string(),
        model: new.model.trim().to_string(),
        install_address: new.install_address.clone(),
        installed_on: new.installed_on,
        removed_on: None,
        pickup_status: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut e = Errors::default();
    rules::validate(&row, &mut e);
    rules::validate_address(row.install_address.as_ref(), &mut e);
    let (meters, plans, readings) =
        meter_rows(conn, ctx, "meters", &new.meters, &row, &contract, &mut e).await?;
    e.finish()?;
    rules::refuse_ended(&contract)?;
    let row = store::insert(conn, &row).await?;
    store::insert_meters(conn, &meters).await?;
    store::insert_plans(conn, &plans).await?;
    crate::readings::store::insert_many(conn, &readings).await?;
    let view = EquipmentView::new(row, &meters, &plans);
    Ok(Written::created(
        "equipment.installed",
        OnAccount {
            account_id: contract.account_id,
            view,
        },
    ))
}

/// Changes make, model, address, removal or pick-up when the equipment is still the version
/// `expected`.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &EquipmentPatch,
    expected: Expected,
) -> Result<Written<OnAccount<EquipmentView>>, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    let c = current.clone();
    let next = EquipmentRow {
        make: patch.make.clone().map_or(c.make, |m| m.trim().to_string()),
        model: patch
            .model
            .clone()
            .map_or(c.model, |m| m.trim().to_string()),
        install_address: patch.install_address.clone().unwrap_or(c.install_address),
        removed_on: patch.removed_on.unwrap_or(c.removed_on),
        pickup_status: patch.pickup_status.unwrap_or(c.pickup_status),
        version: c.version + 1,
        updated_at: ctx.now,
        ..c
    };
    let mut e = Errors::default();
    rules::validate(&next, &mut e);
    rules::validate_address(
        patch.install_address.as_ref().and_then(Option::as_ref),
        &mut e,
    );
    e.finish()?;
    let contract = crate::contracts::store::find(conn, current.contract_id).await?;
    let before = store::view(conn, current).await?;
    let row = store::update(conn, &next).await?;
    let after = store::view(conn, row).await?;
    let account_id = contract.account_id;
    Ok(Written::changed(
        "equipment.updated",
        OnAccount {
            account_id,
            view: before,
        },
        OnAccount {
            account_id,
            view: after,
        },
    ))
}

/// Adds a meter with its plan (and initial reading) to the equipment.
pub async fn add_meter(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &NewMeter,
) -> Result<Written<OnAccount<MeterView>>, ApiError> {
    let equipment = store::lock(conn, id).await?;
    let contract = crate::contracts::store::find(conn, equipment.contract_id).await?;
    let mut e = Errors::default();
    let (meters, plans, readings) = meter_rows(
        conn,
        ctx,
        "",
        std::slice::from_ref(new),
        &equipment,
        &contract,
        &mut e,
    )
    .await?;
    e.finish()?;
    rules::refuse_ended(&contract)?;
    store::insert_meters(conn, &meters).await?;
    store::insert_plans(conn, &plans).await?;
    crate::readings::store::insert_many(conn, &readings).await?;
    let view = MeterView::new(meters[0].clone(), plans);
    Ok(Written::created(
        "meter.added",
        OnAccount {
            account_id: contract.account_id,
            view,
        },
    ))
}
