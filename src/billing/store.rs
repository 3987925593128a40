//! SQL of billing runs: the queue, the inputs of a chunk of contracts loaded set-wise, and
//! the outputs of a chunk written set-wise.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::engine::{AccountTerms, ContractBill, ContractInput, MeterInput, MeterPeriodRow};
use super::model::{BillingRunStatus, RunErrorRow, RunRow};
use crate::accounts::model::AccountRow;
use crate::contracts::model::{AmendmentRow, ChargeRow, ContractRow, ContractStatus};
use crate::db::Conn;
use crate::equipment::model::{EquipmentRow, MeterRow, PlanRow};
use crate::error::ApiError;
use crate::invoices;
use crate::readings::model::{ReadingRow, ReadingSource};
use crate::schema::billing_run_errors::dsl as be;
use crate::schema::billing_runs::dsl as br;

pub async fn insert_run(conn: &mut Conn, row: &RunRow) -> Result<RunRow, ApiError> {
    Ok(diesel::insert_into(br::billing_runs)
        .values(row)
        .returning(RunRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find_run(conn: &mut Conn, id: Uuid) -> Result<RunRow, ApiError> {
    br::billing_runs
        .find(id)
        .select(RunRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("billing run"))
}

pub async fn run_errors(conn: &mut Conn, id: Uuid) -> Result<Vec<RunErrorRow>, ApiError> {
    Ok(be::billing_run_errors
        .filter(be::run_id.eq(id))
        .select(RunErrorRow::as_select())
        .order(be::id.asc())
        .limit(1000)
        .load(conn)
        .await?)
}

pub async fn list_runs(
    conn: &mut Conn,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RunRow>, ApiError> {
    let mut query = br::billing_runs.select(RunRow::as_select()).into_boxed();
    if let Some(after) = after {
        query = query.filter(br::id.gt(after));
    }
    Ok(query
        .order(br::id.asc())
        .limit(limit + 1)
        .load(conn)
        .await?)
}

/// Claims the oldest queued run, or a running one whose worker stopped sending heartbeats,
/// for this worker; `SKIP LOCKED` lets any number of instances poll side by side.
///
/// `started_at` is the service clock's; heartbeats are the database's own time, which every
/// instance shares, since they only tell workers apart.
pub async fn claim_run(
    conn: &mut Conn,
    worker: &str,
    now: OffsetDateTime,
) -> Result<Option<RunRow>, ApiError> {
    let row = diesel::sql_query(
        "UPDATE billing_runs SET status = 'running', claimed_by = $1, heartbeat_at = now(),
                started_at = COALESCE(started_at, $2)
          WHERE id = (SELECT id FROM billing_runs
                       WHERE status = 'queued'
                          OR (status = 'running' AND heartbeat_at < now() - interval '2 minutes')
                       ORDER BY created_at
                       FOR UPDATE SKIP LOCKED LIMIT 1)
          RETURNING *",
    )
    .bind::<diesel::sql_types::Text, _>(worker)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .get_result::<RunRowByName>(conn)
    .await
    .optional()?;
    Ok(row.map(|r| r.0))
}

/// `RunRow` read from a raw query.
struct RunRowByName(RunRow);

impl diesel::QueryableByName<diesel::pg::Pg> for RunRowByName {
    fn build<'a>(
        row: &impl diesel::row::NamedRow<'a, diesel::pg::Pg>,
    ) -> diesel::deserialize::Result<Self> {
        use diesel::row::NamedRow;
        use diesel::sql_types::*;
        Ok(RunRowByName(RunRow {
            id: NamedRow::get::<Uuid, _>(row, "id")?,
            as_of: NamedRow::get::<diesel::sql_types::Date, _>(row, "as_of")?,
            account_id: NamedRow::get::<Nullable<diesel::sql_types::Uuid>, _>(row, "account_id")?,
            contract_id: NamedRow::get::<Nullable<diesel::sql_types::Uuid>, _>(row, "contract_id")?,
            mode: NamedRow::get::<Text, _>(row, "mode")?,
            status: NamedRow::get::<Text, _>(row, "status")?,
            contracts_total: NamedRow::get::<Nullable<Integer>, _>(row, "contracts_total")?,
            contracts_done: NamedRow::get::<Integer, _>(row, "contracts_done")?,
            invoices_created: NamedRow::get::<Integer, _>(row, "invoices_created")?,
            errors_count: NamedRow::get::<Integer, _>(row, "errors_count")?,
            failure: NamedRow::get::<Nullable<Text>, _>(row, "failure")?,
            requested_by: NamedRow::get::<Text, _>(row, "requested_by")?,
            request_id: NamedRow::get::<Nullable<Text>, _>(row, "request_id")?,
            claimed_by: NamedRow::get::<Nullable<Text>, _>(row, "claimed_by")?,
            heartbeat_at: NamedRow::get::<Nullable<Timestamptz>, _>(row, "heartbeat_at")?,
            created_at: NamedRow::get::<Timestamptz, _>(row, "created_at")?,
            started_at: NamedRow::get::<Nullable<Timestamptz>, _>(row, "started_at")?,
            finished_at: NamedRow::get::<Nullable<Timestamptz>, _>(row, "finished_at")?,
        }))
    }
}

/// The contracts a run as of `as_of` covers (of one account, or one contract), in id order.
pub async fn contracts_in_scope(
    conn: &mut Conn,
    as_of: Date,
    account_id: Option<Uuid>,
    contract_id: Option<Uuid>,
) -> Result<Vec<Uuid>, ApiError> {
    use crate::schema::contracts::dsl as c;
    let mut query = c::contracts
        .filter(c::status.eq_any([
            ContractStatus::Active,
            ContractStatus::Suspended,
            ContractStatus::Terminated,
            ContractStatus::Expired,
        ]))
        .filter(c::start_date.le(as_of))
        .select(c::id)
        .into_boxed();
    if let Some(account) = account_id {
        query = query.filter(c::account_id.eq(account));
    }
    if let Some(contract) = contract_id {
        query = query.filter(c::id.eq(contract));
    }
    Ok(query.order(c::id.asc()).load(conn).await?)
}

pub async fn set_total(conn: &mut Conn, run_id: Uuid, total: i32) -> Result<(), ApiError> {
    diesel::update(br::billing_runs.find(run_id))
        .set((
            br::contracts_total.eq(total),
            br::heartbeat_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn add_progress(
    conn: &mut Conn,
    run_id: Uuid,
    done: i32,
    invoices: i32,
    errors: &[(Uuid, &str, String)],
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    if !errors.is_empty() {
        let rows: Vec<_> = errors
            .iter()
            .map(|(contract, code, reason)| {
                (
                    be::run_id.eq(run_id),
                    be::contract_id.eq(*contract),
                    be::code.eq(*code),
                    be::reason.eq(reason),
                    be::created_at.eq(now),
                )
            })
            .collect();
        diesel::insert_into(be::billing_run_errors)
            .values(rows)
            .execute(conn)
            .await?;
    }
    diesel::update(br::billing_runs.find(run_id))
        .set((
            br::contracts_done.eq(br::contracts_done + done),
            br::invoices_created.eq(br::invoices_created + invoices),
            br::errors_count.eq(br::errors_count + errors.len() as i32),
            br::heartbeat_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn finish_run(
    conn: &mut Conn,
    run_id: Uuid,
    status: BillingRunStatus,
    failure: Option<String>,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    diesel::update(br::billing_runs.find(run_id))
        .set((
            br::status.eq(status),
            br::failure.eq(failure),
            br::finished_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

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

/// Writes the bills of a chunk: invoices and lines, estimated readings, billed periods,
/// re-rated periods, flagged amendments and their review tasks, audit entries.
///
/// In `issue` mode each invoice is numbered and posted to the ledger; one whose account's
/// presentment preferences are not met (a required PO number, say) stays a draft and is
/// returned as an error of the run.
pub async fn write_bills(
    conn: &mut Conn,
    run: &RunRow,
    bills: &mut [ContractBill],
    numbering: &invoices::rules::Numbering,
    now: OffsetDateTime,
) -> Result<(i32, Vec<(Uuid, &'static str, String)>), ApiError> {
    use crate::schema::audit_events::dsl as au;
    use crate::schema::billed_periods::dsl as bp;
    use crate::schema::contract_amendments::dsl as am;
    use crate::schema::meter_periods::dsl as mp;
    use crate::schema::tasks::dsl as t;

    let mut invoices = Vec::new();
    let mut lines = Vec::new();
    let mut estimates = Vec::new();
    let mut billed = Vec::new();
    let mut new_periods = Vec::new();
    let mut reviewed = Vec::new();
    let actor = format!("billing-run:{}", run.id);
    let mut entries = Vec::new();
    let mut refused = Vec::new();
    let issuing = run.mode == super::model::RunMode::Issue;
    let owners: HashMap<Uuid, AccountRow> = if issuing {
        use crate::schema::accounts::dsl as a;
        let ids: Vec<Uuid> = bills
            .iter()
            .flat_map(|b| b.invoices.iter().map(|i| i.account_id))
            .collect();
        a::accounts
            .filter(a::id.eq_any(&ids))
            .select(AccountRow::as_select())
            .load::<AccountRow>(conn)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect()
    } else {
        HashMap::new()
    };
    let problems_of = |invoice: &invoices::model::InvoiceRow| {
        let mut problems = invoices::rules::issue_problems(invoice);
        if let Some(account) = owners.get(&invoice.account_id) {
            problems.extend(invoices::rules::presentment_problems(account, invoice));
        }
        problems
    };
    // First the drafts and all that hangs off them, while other chunks write theirs: the
    // invoice-number counter is not taken yet.
    let mut drafts = Vec::new();
    for bill in bills.iter_mut() {
        drafts.extend(bill.invoices.iter().cloned());
        lines.append(&mut bill.lines);
        estimates.append(&mut bill.estimates);
        billed.extend(bill.billed_periods.iter().map(|(start, end, invoice)| {
            (
                bp::contract_id.eq(bill
                    .invoices
                    .iter()
                    .find(|i| i.id == *invoice)
                    .and_then(|i| i.contract_id)
                    .unwrap_or_default()),
                bp::period_start.eq(*start),
                bp::period_end.eq(*end),
                bp::invoice_id.eq(*invoice),
            )
        }));
        new_periods.extend(bill.new_meter_periods.iter().cloned());
        reviewed.extend(bill.reviewed.iter().copied());
    }
    crate::readings::store::insert_many(conn, &estimates).await?;
    crate::invoices::store::insert_many(conn, &drafts, &lines).await?;
    for chunk in billed.chunks(5000) {
        diesel::insert_into(bp::billed_periods)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for chunk in new_periods.chunks(2000) {
        diesel::insert_into(mp::meter_periods)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for bill in bills.iter() {
        for p in &bill.rerated {
            diesel::update(mp::meter_periods.find((p.meter_id, p.period_start)))
                .set(p)
                .execute(conn)
                .await?;
        }
    }
    for (amendment, invoice_id) in &reviewed {
        diesel::update(am::contract_amendments.find(amendment))
            .set(am::review_invoice_id.eq(invoice_id))
            .execute(conn)
            .await?;
    }

    // Then the numbers of every invoice that will be issued, a block per year at once. The
    // counter stays locked until the chunk commits (so that a failed chunk leaves no gap),
    // which is why as little as possible is written after taking it.
    let mut wanted: std::collections::BTreeMap<i32, i64> = Default::default();
    for invoice in bills.iter().flat_map(|b| &b.invoices).filter(|_| issuing) {
        if problems_of(invoice).is_empty() {
            *wanted.entry(invoice.invoice_date.year()).or_default() += 1;
        }
    }
    let mut next: HashMap<i32, i64> = HashMap::new();
    for (year, count) in wanted {
        next.insert(
            year,
            crate::db::next_numbers(conn, &numbering.series(year), count).await?,
        );
    }
    let mut issued = Vec::new();
    for bill in bills.iter_mut() {
        for invoice in bill.invoices.iter_mut().filter(|_| issuing) {
            let problems = problems_of(invoice);
            if !problems.is_empty() {
                let reasons: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect();
                refused.push((
                    invoice.contract_id.unwrap_or_default(),
                    "not_issued",
                    format!("invoice left as a draft: {}", reasons.join("; ")),
                ));
                continue;
            }
            let year = invoice.invoice_date.year();
            let n = next.get_mut(&year).expect("a block for the year");
            let number = numbering.number(year, *n);
            *n += 1;
            let date = invoice.invoice_date;
            entries.extend(invoices::rules::issue(
                invoice,
                number,
                date,
                now,
                &actor,
                run.request_id.clone(),
            ));
            issued.push(invoice.clone());
        }
        invoices.extend(bill.invoices.iter().cloned());
    }
    crate::invoices::store::issue_drafts(conn, &issued).await?;
    crate::ledger::store::post(conn, &entries).await?;
    let mut tasks = Vec::new();
    for invoice in invoices.iter().filter(|i| i.review_required) {
        let mut task = crate::tasks::TaskRow::new(
            "first_invoice_review",
            crate::tasks::SubjectType::Invoice,
            invoice.id,
            Some(invoice.account_id),
            format!(
                "Review invoice {} before it goes out",
                invoice
                    .number
                    .clone()
                    .unwrap_or_else(|| format!("draft {}", invoice.id))
            ),
            invoice.invoice_date + time::Duration::days(2),
            crate::tasks::Priority::Normal,
            &actor,
            now,
        );
        task.description = invoice.review_reason.clone();
        tasks.push(task);
    }
    if !tasks.is_empty() {
        diesel::insert_into(t::tasks)
            .values(&tasks)
            .execute(conn)
            .await?;
    }
    let task_audits: Vec<_> = tasks
        .iter()
        .map(|task| {
            (
                au::actor.eq(actor.clone()),
                au::actor_role.eq("system"),
                au::action.eq("task.created"),
                au::entity_type.eq("task"),
                au::entity_id.eq(task.id),
                au::account_id.eq(task.account_id),
                au::after.eq(serde_json::to_value(crate::tasks::TaskView::from(task.clone())).ok()),
                au::request_id.eq(run.request_id.clone()),
                au::occurred_at.eq(now),
            )
        })
        .collect();
    if !task_audits.is_empty() {
        diesel::insert_into(au::audit_events)
            .values(task_audits)
            .execute(conn)
            .await?;
    }
    let audits: Vec<_> = invoices
        .iter()
        .map(|i| {
            (
                au::actor.eq(actor.clone()),
                au::actor_role.eq("system"),
                au::action.eq("invoice.created"),
                au::entity_type.eq("invoice"),
                au::entity_id.eq(i.id),
                au::account_id.eq(Some(i.account_id)),
                au::after.eq(Some(serde_json::json!({
                    "number": i.number,
                    "status": i.status,
                    "contract_id": i.contract_id,
                    "billing_run_id": run.id,
                    "total": i.total.to_string(),
                    "currency": i.currency,
                    "period_start": i.period_start.map(|d| d.to_string()),
                    "period_end": i.period_end.map(|d| d.to_string()),
                    "review_required": i.review_required,
                }))),
                au::request_id.eq(run.request_id.clone()),
                au::occurred_at.eq(now),
            )
        })
        .collect();
    for chunk in audits.chunks(2000) {
        diesel::insert_into(au::audit_events)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok((invoices.len() as i32, refused))
}

/// Active contracts whose end date passed by `as_of` become `expired` (their last periods are
/// still billed by later runs); each change is audited.
pub async fn expire_contracts(
    conn: &mut Conn,
    run: &RunRow,
    ids: &[Uuid],
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    use crate::schema::audit_events::dsl as au;
    use crate::schema::contracts::dsl as c;
    let expired: Vec<(Uuid, Uuid, Option<Date>)> = diesel::update(
        c::contracts
            .filter(c::id.eq_any(ids))
            .filter(c::status.eq(ContractStatus::Active))
            .filter(c::end_date.lt(run.as_of)),
    )
    .set((
        c::status.eq(ContractStatus::Expired),
        c::version.eq(c::version + 1),
        c::updated_at.eq(now),
    ))
    .returning((c::id, c::account_id, c::end_date))
    .get_results(conn)
    .await?;
    if expired.is_empty() {
        return Ok(());
    }
    let actor = format!("billing-run:{}", run.id);
    let rows: Vec<_> = expired
        .iter()
        .map(|(id, account, end)| {
            (
                au::actor.eq(actor.clone()),
                au::actor_role.eq("system"),
                au::action.eq("contract.expired"),
                au::entity_type.eq("contract"),
                au::entity_id.eq(*id),
                au::account_id.eq(Some(*account)),
                au::before.eq(Some(serde_json::json!({"status": "active"}))),
                au::after.eq(Some(serde_json::json!({
                    "status": "expired",
                    "end_date": end.map(|d| d.to_string()),
                }))),
                au::request_id.eq(run.request_id.clone()),
                au::occurred_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(au::audit_events)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// What deleting a billing run's draft gave back to its contract: the periods billed again by
/// the next run.
#[derive(Debug, Default, serde::Serialize)]
pub struct Released {
    /// Recurring-charge periods (start, end).
    pub periods: Vec<(Date, Date)>,
    /// Meter periods (meter, start, end).
    pub meter_periods: Vec<(Uuid, Date, Date)>,
    /// Estimated readings the run made for them, removed.
    pub estimates_removed: usize,
    /// Earlier periods the draft had re-rated (a true-up), back as they were billed.
    pub rerates_undone: usize,
    /// Amendments whose first invoice it was: the next invoice is flagged for review again.
    pub reviews_reopened: usize,
    /// First-invoice review tasks of the draft, cancelled.
    pub tasks_cancelled: Vec<Uuid>,
}

/// Releases what a billing run's draft holds, before the draft is deleted: its billed and
/// metered periods (and the estimates made for them), the re-rates it made, the amendments'
/// review marks and its open review tasks. Refused (409 `later_periods_billed`) when a later
/// period of one of its meters is billed on another invoice: a meter's periods are billed in
/// order, so the later draft goes first. Call with the contract and the draft locked.
pub async fn release_draft(
    conn: &mut Conn,
    invoice: &crate::invoices::model::InvoiceRow,
    now: OffsetDateTime,
) -> Result<Released, ApiError> {
    use crate::schema::billed_periods::dsl as bp;
    use crate::schema::contract_amendments::dsl as am;
    use crate::schema::meter_periods::dsl as mp;
    use crate::schema::meter_readings::dsl as r;
    use crate::schema::tasks::dsl as t;
    let mine: Vec<(Uuid, Date)> = mp::meter_periods
        .filter(mp::invoice_id.eq(invoice.id))
        .select((mp::meter_id, mp::period_start))
        .load(conn)
        .await?;
    for (meter, start) in &mine {
        let later: i64 = mp::meter_periods
            .filter(mp::meter_id.eq(meter))
            .filter(mp::period_start.gt(start))
            .filter(mp::invoice_id.ne(invoice.id))
            .count()
            .get_result(conn)
            .await?;
        if later > 0 {
            return Err(ApiError::conflict(
                "later_periods_billed",
                format!(
                    "A later period of a meter this draft bills (after {start}) is on another invoice; meters are billed in order: delete or correct the later invoice first."
                ),
            ));
        }
    }
    let mut released = Released::default();
    let removed: Vec<(Uuid, Date, Date, Uuid, bool)> =
        diesel::delete(mp::meter_periods.filter(mp::invoice_id.eq(invoice.id)))
            .returning((
                mp::meter_id,
                mp::period_start,
                mp::period_end,
                mp::end_reading_id,
                mp::end_estimated,
            ))
            .get_results(conn)
            .await?;
    let estimates: Vec<Uuid> = removed
        .iter()
        .filter(|(.., estimated)| *estimated)
        .map(|(_, _, _, reading, _)| *reading)
        .collect();
    released.estimates_removed = diesel::delete(
        r::meter_readings
            .filter(r::id.eq_any(&estimates))
            .filter(r::source.eq(ReadingSource::Estimated)),
    )
    .execute(conn)
    .await?;
    released.meter_periods = removed
        .into_iter()
        .map(|(meter, start, end, ..)| (meter, start, end))
        .collect();
    released.rerates_undone =
        diesel::update(mp::meter_periods.filter(mp::rerated_invoice_id.eq(invoice.id)))
            .set((
                mp::rerated_start_value.eq(None::<i64>),
                mp::rerated_end_value.eq(None::<i64>),
                mp::rerated_usage.eq(None::<i64>),
                mp::rerated_charged.eq(None::<Decimal>),
                mp::rerated_invoice_id.eq(None::<Uuid>),
            ))
            .execute(conn)
            .await?;
    released.periods = diesel::delete(bp::billed_periods.filter(bp::invoice_id.eq(invoice.id)))
        .returning((bp::period_start, bp::period_end))
        .get_results(conn)
        .await?;
    released.periods.sort();
    released.reviews_reopened =
        diesel::update(am::contract_amendments.filter(am::review_invoice_id.eq(invoice.id)))
            .set(am::review_invoice_id.eq(None::<Uuid>))
            .execute(conn)
            .await?;
    released.tasks_cancelled = diesel::update(
        t::tasks
            .filter(t::subject_id.eq(invoice.id))
            .filter(t::type_.eq("first_invoice_review"))
            .filter(t::status.eq_any(["open", "in_progress"])),
    )
    .set((
        t::status.eq("cancelled"),
        t::version.eq(t::version + 1),
        t::updated_at.eq(now),
    ))
    .returning(t::id)
    .get_results(conn)
    .await?;
    Ok(released)
}

/// Writes the bills' credits: the true-ups that would have taken an invoice below zero, as a
/// credit memo per account (reason `meter_reading`) whose lines credit the usage lines that
/// billed the re-rated periods, with their tax. An issuing run issues the memo and applies it
/// to those invoices; a draft run leaves it a draft for billing to review with the invoices.
/// A contract whose usage was billed on an invoice still a draft is refused (removed from
/// `bills`, returned with the reason): that draft is corrected by deleting and rebilling it.
pub async fn write_credits(
    conn: &mut Conn,
    run: &RunRow,
    bills: &mut Vec<ContractBill>,
    now: OffsetDateTime,
) -> Result<Vec<(Uuid, &'static str, String)>, ApiError> {
    use crate::credit_memos::model::{CreditLineRow, CreditReason};
    use crate::credit_memos::service as credits;
    use crate::invoices::model::InvoiceStatus;
    use crate::schema::audit_events::dsl as au;
    use crate::schema::invoice_lines::dsl as l;
    use crate::schema::meter_periods::dsl as mp;
    let stamp = crate::ledger::model::Stamp {
        now,
        actor: format!("billing-run:{}", run.id),
        request_id: run.request_id.clone(),
    };
    let issuing = run.mode == super::model::RunMode::Issue;
    // The usage lines that billed the re-rated periods, all in one query.
    let meters: Vec<Uuid> = bills
        .iter()
        .flat_map(|b| b.credits.iter())
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| l.meter_id))
        .collect();
    let starts: Vec<Date> = bills
        .iter()
        .flat_map(|b| b.credits.iter())
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| l.period_start))
        .collect();
    let billed: HashMap<(Uuid, Date), (Uuid, Uuid, bool)> = if meters.is_empty() {
        HashMap::new()
    } else {
        l::invoice_lines
            .inner_join(
                mp::meter_periods.on(mp::invoice_id
                    .eq(l::invoice_id)
                    .and(mp::meter_id.nullable().eq(l::meter_id))
                    .and(mp::period_start.nullable().eq(l::period_start))),
            )
            .filter(mp::meter_id.eq_any(&meters))
            .filter(mp::period_start.eq_any(&starts))
            .filter(l::kind.eq(crate::invoices::model::LineKind::Usage.as_str()))
            .select((
                mp::meter_id,
                mp::period_start,
                l::id,
                l::invoice_id,
                l::taxable,
            ))
            .load::<(Uuid, Date, Uuid, Uuid, bool)>(conn)
            .await?
            .into_iter()
            .map(|(meter, start, line, invoice, taxable)| {
                ((meter, start), (line, invoice, taxable))
            })
            .collect()
    };
    let mut refused = Vec::new();
    let mut kept = Vec::new();
    'bills: for bill in std::mem::take(bills) {
        // Every memo's lines and invoices first: a draft among them refuses the whole bill.
        let mut memos = Vec::new();
        for (account_id, true_ups) in &bill.credits {
            let mut lines = Vec::new();
            for t in true_ups {
                let (Some(meter), Some(start)) = (t.meter_id, t.period_start) else {
                    continue;
                };
                // The usage line of the invoice that billed the period.
                let Some(&(line_id, invoice_id, taxable)) = billed.get(&(meter, start)) else {
                    return Err(ApiError::internal(format!(
                        "no usage line billed the period of {start} of meter {meter}"
                    )));
                };
                lines.push(CreditLineRow {
                    invoice_id: Some(invoice_id),
                    invoice_line_id: Some(line_id),
                    financial_code_id: Some(t.financial_code_id),
                    taxable,
                    period_start: t.period_start,
                    period_end: t.period_end,
                    ..credits::plain_line(t.description.clone(), -t.amount)
                });
            }
            if lines.is_empty() {
                continue;
            }
            let ids: Vec<Uuid> = lines.iter().filter_map(|l| l.invoice_id).collect();
            let invoices = crate::invoices::store::lock_many(conn, &ids).await?;
            if let Some(draft) = invoices.iter().find(|i| i.status == InvoiceStatus::Draft) {
                refused.push((
                    bill.contract_id,
                    "usage_invoice_draft",
                    format!(
                        "a corrected reading re-rates usage billed on draft invoice {}, and the \
                         credit is more than the next invoice can take: delete that draft and \
                         bill its periods again",
                        draft.id
                    ),
                ));
                continue 'bills;
            }
            memos.push((*account_id, lines, invoices));
        }
        for (account_id, mut lines, invoices) in memos {
            let Some(currency) = invoices
                .as_slice()
                .first()
                .and_then(|i| crate::money::Currency::parse(&i.currency))
            else {
                continue;
            };
            for line in lines.iter_mut() {
                line.taxable = line.taxable
                    && invoices
                        .iter()
                        .any(|i| Some(i.id) == line.invoice_id && !i.tax_rate.is_zero());
            }
            let taxes: Vec<_> = invoices.iter().map(Into::into).collect();
            crate::credit_memos::rules::tax_lines(&mut lines, &taxes, currency);
            let code = lines[0].financial_code_id.expect("the meter's code");
            let mut memo = credits::new_memo(
                account_id,
                &invoices[0].currency,
                CreditReason::MeterReading,
                code,
                &lines,
                Some(
                    "Usage billed too high, re-rated by a corrected reading: more than the next \
                     invoice could take"
                        .into(),
                ),
                None,
                &stamp,
            );
            let rows = credits::line_rows(memo.id, &lines);
            let targets = credits::targets_of_lines(memo.id, &rows, &[]);
            crate::credit_memos::store::insert(conn, &memo, &rows, &targets).await?;
            if issuing {
                memo.submitted_by = Some(stamp.actor.clone());
                memo.submitted_at = Some(now);
                credits::issue_and_apply(conn, &mut memo, &stamp).await?;
            }
            let view = crate::credit_memos::store::view(conn, memo.clone()).await?;
            diesel::insert_into(au::audit_events)
                .values((
                    au::actor.eq(&stamp.actor),
                    au::actor_role.eq("system"),
                    au::action.eq("credit_memo.created"),
                    au::entity_type.eq("credit_memo"),
                    au::entity_id.eq(memo.id),
                    au::account_id.eq(Some(account_id)),
                    au::after.eq(serde_json::to_value(&view).ok()),
                    au::request_id.eq(run.request_id.clone()),
                    au::occurred_at.eq(now),
                ))
                .execute(conn)
                .await?;
        }
        kept.push(bill);
    }
    *bills = kept;
    Ok(refused)
}
