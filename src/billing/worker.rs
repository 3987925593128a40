//! The background worker that performs billing runs. Any number of instances run one each;
//! runs are claimed with `FOR UPDATE SKIP LOCKED`, and contracts are billed in chunks, each
//! chunk one transaction that locks its contracts, so overlapping runs bill each period once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncConnection;
use tokio::sync::Notify;
use uuid::Uuid;

use super::engine::{self, ContractBill, Settings};
use super::model::{BillingRunStatus, RunRow};
use super::store;
use crate::clock::Clock;
use crate::db::{Conn, DbPool};
use crate::error::ApiError;

/// Contracts billed per transaction.
const CHUNK: usize = 200;

/// Chunks in flight at once, each in its own transaction on its own connection (measured
/// on two cores: 2 lanes 2,900 contracts/s, 3 lanes 3,300, 4 lanes no more).
const LANES: usize = 3;

/// Polls for runs every few seconds, and at once when `wake` is notified.
pub fn spawn(pool: DbPool, settings: Settings, wake: Arc<Notify>, clock: Clock) {
    let worker = format!("worker-{}", Uuid::now_v7());
    tokio::spawn(async move {
        loop {
            match next(&pool, &worker, &settings, &clock).await {
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
async fn next(
    pool: &DbPool,
    worker: &str,
    settings: &Settings,
    clock: &Clock,
) -> Result<bool, ApiError> {
    let mut conn = crate::db::conn(pool).await?;
    let Some(run) = store::claim_run(&mut conn, worker, clock.now()).await? else {
        return Ok(false);
    };
    log::info!("billing run {} as of {} started", run.id, run.as_of);
    match perform(pool, &mut conn, &run, settings, clock).await {
        Ok(()) => {
            store::finish_run(
                &mut conn,
                run.id,
                BillingRunStatus::Completed,
                None,
                clock.now(),
            )
            .await?;
            log::info!("billing run {} completed", run.id);
        }
        Err(e) => {
            log::error!("billing run {} failed: {e}", run.id);
            store::finish_run(
                &mut conn,
                run.id,
                BillingRunStatus::Failed,
                Some(e.to_string()),
                clock.now(),
            )
            .await?;
        }
    }
    Ok(true)
}

/// Bills the run's contracts chunk by chunk on [`LANES`] connections at once: while one
/// chunk's rows are written, others are loaded, priced and written too. (Chunks wait for
/// each other only on the invoice-number counter, which each takes after writing its
/// drafts and holds until it commits.)
async fn perform(
    pool: &DbPool,
    conn: &mut Conn,
    run: &RunRow,
    settings: &Settings,
    clock: &Clock,
) -> Result<(), ApiError> {
    let ids = store::contracts_in_scope(conn, run.as_of, run.account_id, run.contract_id).await?;
    store::set_total(conn, run.id, ids.len() as i32).await?;
    let chunks: Vec<&[Uuid]> = ids.chunks(CHUNK).collect();
    let next = AtomicUsize::new(0);
    let mut others = Vec::new();
    for _ in 1..LANES.min(chunks.len()).max(1) {
        others.push(crate::db::conn(pool).await?);
    }
    let lanes = std::iter::once(lane(conn, run, &chunks, &next, settings, clock)).chain(
        others
            .iter_mut()
            .map(|c| lane(c, run, &chunks, &next, settings, clock)),
    );
    futures_util::future::join_all(lanes)
        .await
        .into_iter()
        .collect()
}

/// One lane: takes the next chunk not taken yet until none is left.
async fn lane(
    conn: &mut Conn,
    run: &RunRow,
    chunks: &[&[Uuid]],
    next: &AtomicUsize,
    settings: &Settings,
    clock: &Clock,
) -> Result<(), ApiError> {
    while let Some(chunk) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
        bill_or_split(conn, run, chunk, settings, clock).await?;
    }
    Ok(())
}

/// Bills a chunk; when one contract's data breaks it, its contracts one by one.
async fn bill_or_split(
    conn: &mut Conn,
    run: &RunRow,
    chunk: &[Uuid],
    settings: &Settings,
    clock: &Clock,
) -> Result<(), ApiError> {
    if let Err(e) = bill_chunk(conn, run, chunk, settings, clock).await {
        log::warn!(
            "billing run {}: chunk failed ({e}); retrying contract by contract",
            run.id
        );
        for id in chunk {
            if let Err(e) = bill_chunk(conn, run, std::slice::from_ref(id), settings, clock).await {
                let failed = [(*id, "failed", e.to_string())];
                store::add_progress(conn, run.id, 1, 0, &failed, clock.now()).await?;
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
    clock: &Clock,
) -> Result<(), ApiError> {
    conn.transaction(async |conn| {
        let now = clock.now();
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
        // Credits first: they take the credit memos' counter, then the bills the invoices'.
        errors.extend(store::write_credits(conn, run, &mut bills, now).await?);
        let (invoices, refused) =
            store::write_bills(conn, run, &mut bills, &settings.numbering, now).await?;
        errors.extend(refused);
        store::expire_contracts(conn, run, ids, now).await?;
        store::add_progress(conn, run.id, ids.len() as i32, invoices, &errors, now).await
    })
    .await
}
