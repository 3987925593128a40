//! The inputs of a chunk of contracts, loaded set-wise: a fixed number of queries whatever
//! the chunk size.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use crate::billing::engine::{AccountTerms, ContractInput, MeterInput, MeterPeriodRow};
use crate::contracts::model::{AmendmentRow, ChargeRow, ContractRow};
use crate::db::Conn;
use crate::equipment::model::{EquipmentRow, MeterRow, PlanRow};
use crate::error::ApiError;
use crate::readings::model::{ReadingRow, ReadingSource};

/// Locks a chunk of contracts (in id order, so overlapping runs cannot deadlock) and loads
/// everything billing needs about them, a fixed number of queries whatever the chunk size:
/// the contracts' inputs, and the terms of every account they bill.
pub async fn lock_inputs(
    conn: &mut Conn,
    ids: &[Uuid],
) -> Result<(Vec<ContractInput>, HashMap<Uuid, AccountTerms>), ApiError> {
    load_inputs(conn, ids, true).await
}

/// [`lock_inputs`] without the locks, for a preview that writes nothing.
pub async fn read_inputs(
    conn: &mut Conn,
    ids: &[Uuid],
) -> Result<(Vec<ContractInput>, HashMap<Uuid, AccountTerms>), ApiError> {
    load_inputs(conn, ids, false).await
}

async fn load_inputs(
    conn: &mut Conn,
    ids: &[Uuid],
    lock: bool,
) -> Result<(Vec<ContractInput>, HashMap<Uuid, AccountTerms>), ApiError> {
    use crate::schema::accounts::dsl as a;
    use crate::schema::billed_periods::dsl as bp;
    use crate::schema::contract_amendments::dsl as am;
    use crate::schema::contract_charges::dsl as ch;
    use crate::schema::contracts::dsl as c;
    use crate::schema::equipment::dsl as eq;
    use crate::schema::meter_periods::dsl as mp;
    use crate::schema::meter_plans::dsl as pl;
    use crate::schema::meter_readings::dsl as r;
    use crate::schema::meters::dsl as m;

    let query = c::contracts
        .filter(c::id.eq_any(ids))
        .select(ContractRow::as_select())
        .order(c::id.asc());
    let contracts: Vec<ContractRow> = if lock {
        query.for_update().load(conn).await?
    } else {
        query.load(conn).await?
    };
    let charges: Vec<ChargeRow> = ch::contract_charges
        .filter(ch::contract_id.eq_any(ids))
        .select(ChargeRow::as_select())
        .order((ch::effective_from.asc(), ch::id.asc()))
        .load(conn)
        .await?;
    let amendments: Vec<AmendmentRow> = am::contract_amendments
        .filter(am::contract_id.eq_any(ids))
        .select(AmendmentRow::as_select())
        .order((am::effective_date.asc(), am::created_at.asc()))
        .load(conn)
        .await?;
    let billed: Vec<(Uuid, Date)> = bp::billed_periods
        .filter(bp::contract_id.eq_any(ids))
        .select((bp::contract_id, bp::period_start))
        .load(conn)
        .await?;
    let mut account_ids: Vec<Uuid> = contracts.iter().map(|c| c.account_id).collect();
    account_ids.extend(amendments.iter().filter_map(|a| a.previous_account_id));
    account_ids.extend(amendments.iter().filter_map(|a| a.account_id));
    let accounts: HashMap<Uuid, AccountTerms> = a::accounts
        .filter(a::id.eq_any(&account_ids))
        .select((a::id, a::payment_terms_days, a::tax_exempt, a::tax_rate))
        .load::<(Uuid, i32, bool, Option<Decimal>)>(conn)
        .await?
        .into_iter()
        .map(|(id, terms, exempt, rate)| {
            let tax_rate = if exempt {
                Decimal::ZERO
            } else {
                rate.unwrap_or_default()
            };
            (
                id,
                AccountTerms {
                    payment_terms_days: terms,
                    tax_rate,
                },
            )
        })
        .collect();
    let equipment: HashMap<Uuid, EquipmentRow> = eq::equipment
        .filter(eq::contract_id.eq_any(ids))
        .select(EquipmentRow::as_select())
        .load::<EquipmentRow>(conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let meters: Vec<MeterRow> = m::meters
        .filter(m::contract_id.eq_any(ids))
        .select(MeterRow::as_select())
        .order(m::id.asc())
        .load(conn)
        .await?;
    let meter_ids: Vec<Uuid> = meters.iter().map(|m| m.id).collect();
    let plans: Vec<PlanRow> = pl::meter_plans
        .filter(pl::meter_id.eq_any(&meter_ids))
        .select(PlanRow::as_select())
        .order(pl::effective_from.asc())
        .load(conn)
        .await?;
    let actuals: Vec<ReadingRow> = r::meter_readings
        .filter(r::meter_id.eq_any(&meter_ids))
        .filter(r::source.ne(ReadingSource::Estimated))
        .filter(r::voided_at.is_null())
        .select(ReadingRow::as_select())
        .order(r::read_on.asc())
        .load(conn)
        .await?;
    let periods: Vec<MeterPeriodRow> = mp::meter_periods
        .filter(mp::meter_id.eq_any(&meter_ids))
        .select(MeterPeriodRow::as_select())
        .order(mp::period_start.asc())
        .load(conn)
        .await?;

    let mut billed_by: HashMap<Uuid, HashSet<Date>> = HashMap::new();
    for (contract, start) in billed {
        billed_by.entry(contract).or_default().insert(start);
    }
    let mut charges = group(charges, |c| c.contract_id);
    let mut amendments = group(amendments, |a| a.contract_id);
    let mut plans = group(plans, |p| p.meter_id);
    let mut actuals = group(actuals, |r| r.meter_id);
    let mut periods = group(periods, |p| p.meter_id);
    let mut meters_of = HashMap::<Uuid, Vec<MeterInput>>::new();
    for m in meters {
        let Some(equipment) = equipment.get(&m.equipment_id) else {
            continue;
        };
        meters_of
            .entry(m.contract_id)
            .or_default()
            .push(MeterInput {
                equipment: equipment.clone(),
                plans: plans.remove(&m.id).unwrap_or_default(),
                actuals: actuals.remove(&m.id).unwrap_or_default(),
                billed: periods.remove(&m.id).unwrap_or_default(),
                meter: m,
            });
    }
    let inputs = contracts
        .into_iter()
        .map(|contract| {
            let id = contract.id;
            ContractInput {
                charges: charges.remove(&id).unwrap_or_default(),
                amendments: amendments.remove(&id).unwrap_or_default(),
                meters: meters_of.remove(&id).unwrap_or_default(),
                billed_starts: billed_by.remove(&id).unwrap_or_default(),
                contract,
            }
        })
        .collect();
    Ok((inputs, accounts))
}

/// Rows grouped by a key, each group in the rows' order.
fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}
