//! The billing run commands, each in the caller's transaction: request a run (queued for the
//! worker) and preview one (computed in a snapshot that cannot write).

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::engine::Settings;
use super::model::{BillingRunStatus, BillingRunView, NewBillingRun, NewRunMode, RunMode, RunRow};
use super::preview::BillingPreview;
use super::store;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::validate::Errors;

/// How far ahead a run may bill (advance charges of the coming period).
const MAX_DAYS_AHEAD: i64 = 31;

/// The run's date is not too far ahead of `today`; what else is wrong is added by the command.
pub fn check_as_of(new: &NewBillingRun, today: time::Date) -> Errors {
    let mut e = Errors::default();
    if new.as_of > today + Duration::days(MAX_DAYS_AHEAD) {
        e.add(
            "as_of",
            "too_far_ahead",
            format!("must be at most {MAX_DAYS_AHEAD} days after today"),
        );
    }
    e
}

/// The account and contract a run names exist.
async fn check_scope(conn: &mut Conn, new: &NewBillingRun, e: &mut Errors) -> Result<(), ApiError> {
    if let Some(account) = new.account_id {
        if let Err(ApiError::NotFound(_)) =
            crate::accounts::store::find_visible(conn, account, None).await
        {
            e.add("account_id", "unknown", "no account has this id");
        }
    }
    if let Some(contract) = new.contract_id {
        if let Err(ApiError::NotFound(_)) = crate::contracts::store::find(conn, contract).await {
            e.add("contract_id", "unknown", "no contract has this id");
        }
    }
    Ok(())
}

/// What a run as `new` asks would bill, in one snapshot and a transaction that cannot write;
/// `e` holds what was already found wrong with the request.
pub async fn preview(
    conn: &mut Conn,
    settings: &Settings,
    new: &NewBillingRun,
    mut e: Errors,
    now: OffsetDateTime,
) -> Result<BillingPreview, ApiError> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| {
            check_scope(conn, new, &mut e).await?;
            std::mem::take(&mut e).finish()?;
            super::preview::preview(
                conn,
                settings,
                new.as_of,
                new.account_id,
                new.contract_id,
                now,
            )
            .await
        })
        .await
}

/// Queues the run `new` asks for (the worker performs it); `e` holds what was already found
/// wrong with the request. Answers 202 with the queued run.
pub async fn request(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewBillingRun,
    mut e: Errors,
) -> Result<Written<BillingRunView>, ApiError> {
    check_scope(conn, new, &mut e).await?;
    e.finish()?;
    let row = store::insert_run(
        conn,
        &RunRow {
            id: Uuid::now_v7(),
            as_of: new.as_of,
            account_id: new.account_id,
            contract_id: new.contract_id,
            mode: match new.mode {
                Some(NewRunMode::Issue) => RunMode::Issue,
                _ => RunMode::Draft,
            },
            status: BillingRunStatus::Queued,
            contracts_total: None,
            contracts_done: 0,
            invoices_created: 0,
            errors_count: 0,
            failure: None,
            requested_by: ctx.principal.subject.clone(),
            request_id: ctx.request_id.clone(),
            claimed_by: None,
            heartbeat_at: None,
            created_at: ctx.now,
            started_at: None,
            finished_at: None,
        },
    )
    .await?;
    Ok(Written {
        status: actix_web::http::StatusCode::ACCEPTED,
        action: "billing_run.requested",
        before: None,
        after: BillingRunView::new(row, Vec::new()),
    })
}
