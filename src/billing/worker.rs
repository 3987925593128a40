//! The background worker that performs billing runs. Any number of instances run one each;
//! runs are claimed with `FOR UPDATE SKIP LOCKED`, and contracts are billed in chunks, each
//! chunk one transaction that locks its contracts, so overlapping runs bill each period once.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use super::engine::{self, ContractBill, Settings};
use super::model::{RunRow, RunStatus};
use super::store;
use crate::db::{Conn, DbPool};
use crate::error::ApiError;

/// Contracts billed per transaction.
const CHUNK: usize = 200;

/// Polls for runs every few seconds, and at once when `wake` is notified.
pub fn spawn(pool: DbPool, settings: Settings, wake: Arc<Notify>) {
    let worker = format!("worker-{}", Uuid::now_v7());
    tokio::spawn(async move {
        loop {
            match next(&pool, &worker, &settings).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => log::warn!("billing worker: {e}"),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    });
}

/// Claims and performs one run; `false` when none is waiting.
async fn next(pool: &DbPool, worker: &str, settings: &Settings) -> Result<bool, ApiError> {
    let mut conn = crate::db::conn(pool).await?;
    let Some(run) = store::claim_run(&mut conn, worker).await? else {
        return Ok(false);
    };
    log::info!("billing run {} as of {} started", run.id, run.as_of);
    match perform(&mut conn, &run, settings).await {
        Ok(()) => {
            store::finish_run(&mut conn, run.id, RunStatus::Completed, None).await?;
            log::info!("billing run {} completed", run.id);
        }
        Err(e) => {
            log::error!("billing run {} failed: {e}", run.id);
            store::finish_run(&mut conn, run.id, RunStatus::Failed, Some(e.to_string())).await?;
        }
    }
    Ok(true)
}

async fn perform(conn: &mut Conn, run: &RunRow, settings: &Settings) -> Result<(), ApiError> {
    let ids = store::contracts_in_scope(conn, run).await?;
    store::set_total(conn, run.id, ids.len() as i32).await?;
    for chunk in ids.chunks(CHUNK) {
        if let Err(e) = bill_chunk(conn, run, chunk, settings).await {
            // One contract's data broke the chunk: bill its contracts one by one.
            log::warn!(
                "billing run {}: chunk failed ({e}); retrying contract by contract",
                run.id
            );
            for id in chunk {
                if let Err(e) = bill_chunk(conn, run, std::slice::from_ref(id), settings).await {
                    let failed = [(*id, "failed", e.to_string())];
                    store::add_progress(conn, run.id, 1, 0, &failed).await?;
                }
            }
        }
    }
    Ok(())
}

/// Bills a chunk of contracts in one transaction.
async fn bill_chunk(
    conn: &mut Conn,
    run: &RunRow,
    ids: &[Uuid],
    settings: &Settings,
) -> Result<(), ApiError> {
    conn.transaction(async |conn| {
        let now = OffsetDateTime::now_utc();
        let usage_as_of = run.as_of.min(now.date());
        let (inputs, accounts) = store::lock_inputs(conn, ids).await?;
        let mut bills: Vec<ContractBill> = Vec::new();
        let mut errors = Vec::new();
        for input in &inputs {
            match engine::bill_contract(
                input,
                &accounts,
                run.as_of,
                usage_as_of,
                run.id,
                settings,
                now,
            ) {
                Ok(bill) => bills.push(bill),
                Err(e) => errors.push((input.contract.id, e.code, e.reason)),
            }
        }
        let (invoices, refused) =
            store::write_bills(conn, run, &mut bills, &settings.numbering, now).await?;
        errors.extend(refused);
        store::expire_contracts(conn, run, ids).await?;
        store::add_progress(conn, run.id, ids.len() as i32, invoices, &errors).await
    })
    .await
}
