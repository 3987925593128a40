//! SQL of billing runs: the queue, the inputs of a chunk of contracts loaded set-wise, and
//! the outputs of a chunk written set-wise.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::model::{BillingRunStatus, RunErrorRow, RunRow};
use crate::contracts::model::ContractStatus;
use crate::db::Conn;
use crate::error::ApiError;
use crate::schema::billing_run_errors::dsl as be;
use crate::schema::billing_runs::dsl as br;

mod bills;
mod credits;
mod inputs;
mod release;

pub use bills::{expire_contracts, write_bills};
pub use credits::write_credits;
pub use inputs::{lock_inputs, read_inputs};
pub use release::{release_draft, Released};

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
