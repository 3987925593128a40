//! Credit management as its commands change it, each in the caller's transaction: opening a
//! review with its payment history, deciding it, placing and releasing holds, the exposure
//! check other domains call, and the scheduled job's periodic reviews and automatic holds.

use serde::Serialize;
use time::Date;
use uuid::Uuid;

use super::model::{
    CreditHistory, CreditProfile, Decision, HoldRow, HoldSource, HoldView, NewReview, ReviewReason,
    ReviewRow, ReviewStatus, ReviewView,
};
use super::rules::{self, Verdict};
use super::settings::CreditManagementSettings;
use super::store;
use crate::accounts::model::{AccountRow, AccountView, CreditStatus};
use crate::audit::{self, Audited};
use crate::collections::risk::Weights;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::outbox::{self, EventType};

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

/// The payment history of an account as of `as_of`: two statements (the history's inputs and
/// the risk score's).
pub async fn history(
    conn: &mut Conn,
    account: &AccountRow,
    as_of: Date,
    weights: &Weights,
) -> Result<CreditHistory, ApiError> {
    let from = rules::period_from(as_of);
    let inputs = store::history_inputs(conn, account.id, from, as_of).await?;
    let factors = crate::collections::risk::factors(conn, as_of, Some(&[account.id])).await?;
    let factors = factors
        .first()
        .ok_or_else(|| ApiError::internal("no risk factors for an existing account"))?;
    let risk = crate::collections::risk::score(factors, as_of, weights);
    Ok(rules::history(&inputs, &risk, as_of, account.currency))
}

/// A review row for the account as of today, requested by the caller.
async fn review_row(
    conn: &mut Conn,
    ctx: &Ctx,
    job: &Job,
    account: &AccountRow,
    new: &NewReview,
) -> Result<ReviewRow, ApiError> {
    let today = ctx.today();
    let history = history(conn, account, today, &job.weights).await?;
    Ok(ReviewRow {
        id: Uuid::now_v7(),
        account_id: account.id,
        status: ReviewStatus::Pending,
        reason: new.reason,
        currency: account.currency,
        requested_limit: new.requested_limit,
        requested_terms_days: new.requested_terms_days,
        current_limit: account.credit_limit,
        current_terms_days: account.payment_terms_days,
        terms_exception: rules::is_terms_exception(new.requested_terms_days, &job.settings),
        note: new.note.as_deref().map(|n| n.trim().to_string()),
        external_score: new.external_score.clone(),
        review_date: today,
        history,
        requested_by: ctx.principal.subject.clone(),
        escalated_by: None,
        escalation_note: None,
        decided_by: None,
        decided_role: None,
        decided_at: None,
        decision_note: None,
        version: 1,
        created_at: ctx.now,
        updated_at: ctx.now,
    })
}

/// Opens a review of an account the caller sees, with its payment history as of today.
pub async fn open_review(
    conn: &mut Conn,
    ctx: &Ctx,
    job: &Job,
    account_id: Uuid,
    new: &NewReview,
) -> Result<Written<ReviewView>, ApiError> {
    let account =
        crate::accounts::store::lock_visible(conn, account_id, ctx.partner_scope()).await?;
    rules::validate_new(new, account.currency, ctx.today())?;
    crate::accounts::rules::refuse_closed(account.status)?;
    let row = review_row(conn, ctx, job, &account, new).await?;
    let view = ReviewView::from(store::insert_review(conn, &row).await?);
    Ok(Written::created("credit_review.created", view))
}

/// Gives `verdict` on a review: approving sets the account's limit and terms (audited) and
/// its next review date; declining sets the next review date; escalating leaves the review
/// to a role with unlimited authority.
pub async fn decide(
    conn: &mut Conn,
    ctx: &Ctx,
    job: &Job,
    id: Uuid,
    verdict: Verdict,
    decision: &Decision,
) -> Result<Written<ReviewView>, ApiError> {
    let current = store::find_review(conn, id, ctx.partner_scope(), true).await?;
    let role = ctx.principal.role;
    let to = rules::decide(
        &current,
        &ctx.principal.subject,
        role,
        verdict,
        &job.settings,
    )?;
    let note = decision.note.as_deref().map(|n| n.trim().to_string());
    let mut next = current.clone();
    next.status = to;
    next.version += 1;
    next.updated_at = ctx.now;
    if verdict == Verdict::Escalate {
        next.escalated_by = Some(ctx.principal.subject.clone());
        next.escalation_note = note;
    } else {
        next.decided_by = Some(ctx.principal.subject.clone());
        next.decided_role = Some(role.as_str().to_string());
        next.decided_at = Some(ctx.now);
        next.decision_note = note;
        let account = crate::accounts::store::lock_visible(conn, current.account_id, None).await?;
        crate::accounts::rules::refuse_closed(account.status)?;
        if verdict == Verdict::Approve {
            approve_on_account(conn, ctx, &account, &current).await?;
        }
        let months = job.settings.months(account.risk_level) as i32;
        store::set_next_review_date(conn, account.id, rules::add_months(ctx.today(), months))
            .await?;
    }
    let before = ReviewView::from(current);
    let after = ReviewView::from(store::update_review(conn, &next).await?);
    Ok(Written::changed(verdict.action(), before, after))
}

/// Sets the approved limit and terms on the account, audited as `account.credit_approved`.
async fn approve_on_account(
    conn: &mut Conn,
    ctx: &Ctx,
    account: &AccountRow,
    review: &ReviewRow,
) -> Result<(), ApiError> {
    let mut next = account.clone();
    // A periodic review of an account without a limit confirms its terms and sets none.
    let unlimited = review.reason == ReviewReason::Periodic && account.credit_limit.is_none();
    next.credit_limit = (!unlimited).then_some(review.requested_limit);
    next.payment_terms_days = review.requested_terms_days;
    next.version += 1;
    next.updated_at = ctx.now;
    let before = AccountView::from(account.clone());
    let after = AccountView::from(crate::accounts::store::update(conn, &next).await?);
    audit::changed(
        conn,
        ctx,
        "account.credit_approved",
        Some(&before),
        Some(&after),
    )
    .await
}

/// The account's credit standing: exposure, hold in force and next review date.
pub async fn profile(
    conn: &mut Conn,
    account: AccountRow,
    settings: &CreditManagementSettings,
) -> Result<CreditProfile, ApiError> {
    let inputs = store::exposure_inputs(conn, account.id).await?;
    let exposure = rules::exposure(
        inputs.balance,
        inputs.committed,
        inputs.contracts,
        account.credit_limit,
        account.currency,
    );
    let hold = store::active_hold(conn, account.id)
        .await?
        .map(HoldView::from);
    let next_review_date = store::next_review_date(conn, account.id, settings).await?;
    Ok(CreditProfile {
        account_id: account.id,
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
        row.description = Some(format!(
            "Account {} ({}): balance {} {c} + committed charges {} {c} of {} active contract(s) for the next billing period = exposure {} {c}; credit limit {limit} {c}; over by {} {c}.",
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

/// Refuses an operation a credit hold blocks (new contracts, upgrades, manual invoices) with
/// 409 `credit_hold` naming the hold.
pub async fn refuse_hold(conn: &mut Conn, account: &AccountRow) -> Result<(), ApiError> {
    let hold = store::active_hold(conn, account.id).await?;
    if hold.is_none() && account.credit_status != CreditStatus::Hold {
        return Ok(());
    }
    Err(rules::hold_refusal(hold.as_ref()).into())
}

/// The account's credit status as the audit log records its move by a hold.
#[derive(Serialize)]
struct CreditStatusOf {
    account_id: Uuid,
    credit_status: CreditStatus,
}

impl Audited for CreditStatusOf {
    const ENTITY: &'static str = "account";
    fn entity_id(&self) -> Uuid {
        self.account_id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Moves the account's credit status, audited as `action`.
async fn set_credit_status(
    conn: &mut Conn,
    ctx: &Ctx,
    account: &AccountRow,
    to: CreditStatus,
    action: &str,
) -> Result<(), ApiError> {
    if account.credit_status == to {
        return Ok(());
    }
    let mut next = account.clone();
    next.credit_status = to;
    next.version += 1;
    next.updated_at = ctx.now;
    crate::accounts::store::update(conn, &next).await?;
    let of = |credit_status| CreditStatusOf {
        account_id: account.id,
        credit_status,
    };
    audit::changed(
        conn,
        ctx,
        action,
        Some(&of(account.credit_status)),
        Some(&of(to)),
    )
    .await
}

/// Puts an account on credit hold (its credit status becomes `hold`) and announces it.
pub async fn place_hold(
    conn: &mut Conn,
    ctx: &Ctx,
    account: &AccountRow,
    reason: &str,
    source: HoldSource,
) -> Result<Written<HoldView>, ApiError> {
    crate::accounts::rules::refuse_closed(account.status)?;
    if store::active_hold(conn, account.id).await?.is_some() {
        return Err(ApiError::conflict(
            "hold_exists",
            "The account is already on credit hold.",
        ));
    }
    let row = HoldRow {
        id: Uuid::now_v7(),
        account_id: account.id,
        source,
        reason: reason.trim().to_string(),
        placed_by: ctx.principal.subject.clone(),
        placed_at: ctx.now,
        released_by: None,
        released_at: None,
        release_note: None,
        version: 1,
    };
    let view = HoldView::from(store::insert_hold(conn, &row).await?);
    set_credit_status(
        conn,
        ctx,
        account,
        CreditStatus::Hold,
        "account.credit_status_changed",
    )
    .await?;
    outbox::emit(
        conn,
        ctx.now,
        EventType::CreditHoldPlaced,
        view.id,
        Some(account.id),
        &view,
    )
    .await?;
    Ok(Written::created("credit_hold.placed", view))
}

/// Places a hold on an account the caller sees.
pub async fn place_hold_on(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    reason: &str,
) -> Result<Written<HoldView>, ApiError> {
    let account =
        crate::accounts::store::lock_visible(conn, account_id, ctx.partner_scope()).await?;
    place_hold(conn, ctx, &account, reason, HoldSource::Manual).await
}

/// Releases the account's hold in force: its credit status becomes `good` again.
pub async fn release_hold(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    note: Option<&str>,
) -> Result<Written<HoldView>, ApiError> {
    let account =
        crate::accounts::store::lock_visible(conn, account_id, ctx.partner_scope()).await?;
    let Some(current) = store::active_hold(conn, account.id).await? else {
        return Err(ApiError::conflict(
            "no_hold",
            "The account has no credit hold in force.",
        ));
    };
    let mut next = current.clone();
    next.released_by = Some(ctx.principal.subject.clone());
    next.released_at = Some(ctx.now);
    next.release_note = note.map(|n| n.trim().to_string());
    next.version += 1;
    let before = HoldView::from(current);
    let after = HoldView::from(store::update_hold(conn, &next).await?);
    set_credit_status(
        conn,
        ctx,
        &account,
        CreditStatus::Good,
        "account.credit_status_changed",
    )
    .await?;
    outbox::emit(
        conn,
        ctx.now,
        EventType::CreditHoldReleased,
        after.id,
        Some(account.id),
        &after,
    )
    .await?;
    Ok(Written::changed("credit_hold.released", before, after))
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
                let review = review_row(conn, ctx, job, &row, &new).await?;
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
                        "Invoice {} is {} days past due (holds from more than {days})",
                        overdue.invoice_number, overdue.days_past_due
                    );
                    let written =
                        place_hold(conn, ctx, &row, &reason, HoldSource::Automatic).await?;
                    audit::changed(conn, ctx, written.action, None, Some(&written.after)).await
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

/// A document as it was attached: recorded in the audit log as a change of its review, on
/// the review's account; answered as the document.
pub struct Attached {
    pub view: super::model::ReviewDocumentView,
    pub account_id: Uuid,
}

impl Serialize for Attached {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view.serialize(serializer)
    }
}

impl Audited for Attached {
    const ENTITY: &'static str = "credit_review";
    fn entity_id(&self) -> Uuid {
        self.view.review_id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Keeps a file (already checked) with an open review the caller sees.
pub async fn attach_document(
    conn: &mut Conn,
    ctx: &Ctx,
    review_id: Uuid,
    filename: &str,
    file: &crate::contracts::documents::UploadedFile,
) -> Result<Written<Attached>, ApiError> {
    let review = store::find_review(conn, review_id, ctx.partner_scope(), true).await?;
    if !matches!(
        review.status,
        ReviewStatus::Pending | ReviewStatus::Escalated
    ) {
        return Err(ApiError::conflict(
            "review_closed",
            format!(
                "The review is {}; its documents are closed.",
                review.status.as_str()
            ),
        ));
    }
    let row = store::insert_document(
        conn,
        &super::model::NewDocumentRow {
            id: Uuid::now_v7(),
            review_id,
            filename,
            content_type: file.content_type,
            size_bytes: file.content.len() as i64,
            sha256: &file.sha256,
            content: &file.content,
            uploaded_by: &ctx.principal.subject,
            created_at: ctx.now,
        },
    )
    .await?;
    Ok(Written::created(
        "credit_review.document_attached",
        Attached {
            view: row.into(),
            account_id: review.account_id,
        },
    ))
}
