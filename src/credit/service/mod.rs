//! Credit management as its commands change it, each in the caller's transaction: opening a
//! review with its payment history, deciding it, placing and releasing holds, the exposure
//! check other domains call, and the scheduled job's periodic reviews and automatic holds.

mod holds;
mod reviews;

use time::Date;
use uuid::Uuid;

pub use holds::{place_hold, place_hold_on, refuse_hold, release_hold};
pub use reviews::{attach_document, decide, history, open_review, Attached};

use super::model::{CreditProfile, HoldSource, HoldView, NewReview, ReviewReason, ReviewView};
use super::rules;
use super::settings::CreditManagementSettings;
use super::store;
use crate::accounts::model::{AccountRow, CreditScope};
use crate::audit::{self, Audited};
use crate::collections::risk::Weights;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;

/// What the credit services need from the configuration: their own settings and the risk
/// score's weights.
#[derive(Clone, Debug, Default)]
pub struct Job {
    pub settings: CreditManagementSettings,
    pub weights: Weights,
}

impl Job {
    /// The job's settings as the configuration gives them.
    pub fn of(config: &crate::settings::Config) -> Job {
        Job {
            settings: config.credit_management.clone(),
            weights: config.collections.risk.clone(),
        }
    }
}

impl Audited for ReviewView {
    const ENTITY: &'static str = "credit_review";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

impl Audited for HoldView {
    const ENTITY: &'static str = "credit_hold";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// The account's credit standing: exposure, hold in force and next review date. An account
/// that uses its parent's credit shows its credit account's limit, its whole credit family's
/// exposure, the nearest hold in force on the way up, and the credit account's next review.
pub async fn profile(
    conn: &mut Conn,
    account: AccountRow,
    settings: &CreditManagementSettings,
) -> Result<CreditProfile, ApiError> {
    let chain = match account.credit_scope {
        CreditScope::Own => vec![account.id],
        CreditScope::Parent => store::credit_chain(conn, account.id).await?,
    };
    let head_id = *chain.last().unwrap_or(&account.id);
    let head = if head_id == account.id {
        account.clone()
    } else {
        crate::accounts::store::find_visible(conn, head_id, None).await?
    };
    let inputs = store::exposure_inputs(conn, head.id).await?;
    let exposure = rules::exposure(
        inputs.balance,
        inputs.committed,
        inputs.contracts,
        head.credit_limit,
        head.currency,
    );
    let hold = store::active_holds(conn, &chain)
        .await?
        .into_iter()
        .next()
        .map(HoldView::from);
    let next_review_date = store::next_review_date(conn, head.id, settings).await?;
    let credit_family = store::credit_members(conn, head.id).await?;
    Ok(CreditProfile {
        account_id: account.id,
        credit_account_id: head.id,
        credit_family,
        currency: account.currency,
        payment_terms_days: account.payment_terms_days,
        credit_status: account.credit_status,
        risk_level: account.risk_level,
        exposure,
        hold,
        next_review_date,
    })
}

/// The task kind opened when an account's exposure crosses its credit limit.
pub const LIMIT_TASK: &str = "credit_limit_exceeded";

/// After an invoice issue, a contract activation or an upgrade: when the account's exposure is
/// over its credit limit and no such task is open, opens one task for the credit analysts
/// with the figures (audited). Whether it opened one.
pub async fn check_exposure(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
) -> Result<bool, ApiError> {
    Ok(check_exposures(conn, ctx, &[account_id]).await? > 0)
}

/// [`check_exposure`] for many accounts at once (a billing run's chunk): two statements
/// whatever their number, and one insert and audit entry per task opened. How many it opened.
pub async fn check_exposures(
    conn: &mut Conn,
    ctx: &Ctx,
    accounts: &[Uuid],
) -> Result<usize, ApiError> {
    use crate::tasks::model::{Priority, SubjectType, TaskRow, TaskView};
    if accounts.is_empty() {
        return Ok(0);
    }
    let mut opened = 0;
    for a in store::limit_checks(conn, accounts, LIMIT_TASK).await? {
        let e = rules::exposure(
            a.balance,
            a.committed,
            a.contracts,
            Some(a.credit_limit),
            a.currency,
        );
        if !e.over_limit || a.task_open {
            continue;
        }
        let c = a.currency.code();
        let limit = a.currency.normalize(a.credit_limit);
        let mut row = TaskRow::new(
            LIMIT_TASK,
            SubjectType::Account,
            a.account_id,
            Some(a.account_id),
            format!(
                "Credit limit exceeded: exposure {} {c} over a limit of {limit} {c}",
                e.total
            ),
            ctx.today(),
            Priority::High,
            &ctx.principal.subject,
            ctx.now,
        );
        let family = match a.members {
            1 => String::new(),
            n => format!(" and the {} account(s) using its credit", n - 1),
        };
        row.description = Some(format!(
            "Account {} ({}){family}: balance {} {c} + committed charges {} {c} of {} active contract(s) for the next billing period = exposure {} {c}; credit limit {limit} {c}; over by {} {c}.",
            a.number,
            a.legal_name,
            e.balance,
            e.committed_charges,
            e.active_contracts,
            e.total,
            a.currency.normalize(e.total - a.credit_limit),
        ));
        let row = crate::tasks::store::insert(conn, &row).await?;
        audit::changed(conn, ctx, "task.created", None, Some(&TaskView::from(row))).await?;
        opened += 1;
    }
    Ok(opened)
}

/// The subject the scheduled job's reviews and holds are recorded under.
pub const SYSTEM: &str = "system:credit";

/// What one pass of the scheduled job did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scheduled {
    pub reviews_opened: i32,
    pub holds_placed: i32,
}

/// The scheduled job's credit work as of `as_of`: opens one periodic review for each account
/// past its next review date that has none open, and puts on hold the accounts with an
/// undisputed balance more than the configured days past due. One transaction per account;
/// an account that fails is logged and the others go on.
pub async fn scheduled(
    conn: &mut Conn,
    ctx: &Ctx,
    as_of: Date,
    job: &Job,
) -> Result<Scheduled, ApiError> {
    use diesel_async::AsyncConnection;
    // What the job opens and places is recorded as the credit job's, whoever started the run.
    let ctx = &Ctx {
        principal: crate::auth::Principal {
            subject: SYSTEM.into(),
            role: crate::auth::Role::Admin,
            partner_id: None,
        },
        request_id: ctx.request_id.clone(),
        now: ctx.now,
    };
    let mut done = Scheduled::default();
    let due = store::due(
        conn,
        as_of,
        &job.settings,
        None,
        None,
        i64::from(i32::MAX) - 1,
    )
    .await?;
    for account in due.into_iter().filter(|a| a.open_review_id.is_none()) {
        let opened = conn
            .transaction(async |conn| {
                let row =
                    crate::accounts::store::lock_visible(conn, account.account_id, None).await?;
                let new = NewReview {
                    requested_limit: row.credit_limit.unwrap_or_default(),
                    requested_terms_days: row.payment_terms_days,
                    reason: ReviewReason::Periodic,
                    note: Some(format!(
                        "Periodic review: due on {} ({} risk)",
                        account.next_review_date,
                        row.risk_level.as_str()
                    )),
                    external_score: None,
                };
                let review = reviews::review_row(conn, ctx, job, &row, &new).await?;
                let view = ReviewView::from(store::insert_review(conn, &review).await?);
                audit::changed(conn, ctx, "credit_review.created", None, Some(&view)).await
            })
            .await;
        match opened {
            Ok(()) => done.reviews_opened += 1,
            Err(e) => log::warn!("periodic credit review of {}: {e}", account.account_id),
        }
    }
    let days = job.settings.hold_days_past_due;
    if days > 0 {
        for overdue in store::overdue_without_hold(conn, as_of, days).await? {
            let placed = conn
                .transaction(async |conn| {
                    let row = crate::accounts::store::lock_visible(conn, overdue.account_id, None)
                        .await?;
                    let reason = format!(
                        "Invoice {} of {} is {} days past due (holds from more than {days})",
                        overdue.invoice_number,
                        overdue.overdue_account_number,
                        overdue.days_past_due
                    );
                    let written =
                        place_hold(conn, ctx, &row, &reason, HoldSource::Automatic).await?;
                    written.audit(conn, ctx).await.map(drop)
                })
                .await;
            match placed {
                Ok(()) => done.holds_placed += 1,
                Err(e) => log::warn!("automatic credit hold of {}: {e}", overdue.account_id),
            }
        }
    }
    Ok(done)
}
