//! Credit reviews: opening one with the payment history as of its date, deciding it (the
//! limit and terms set on the account when approved), and the documents kept with it.

use serde::Serialize;
use time::Date;
use uuid::Uuid;

use super::Job;
use crate::accounts::model::{AccountRow, AccountView, CreditScope};
use crate::audit::{self, Audited};
use crate::collections::risk::Weights;
use crate::context::Ctx;
use crate::credit::model::{
    CreditHistory, Decision, NewReview, ReviewReason, ReviewRow, ReviewStatus, ReviewView,
};
use crate::credit::rules::{self, Verdict};
use crate::credit::store;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;

/// The payment history of an account's credit family (the account and every account under it
/// that uses its credit) as of `as_of`, with the account's own risk score: three statements.
pub async fn history(
    conn: &mut Conn,
    account: &AccountRow,
    as_of: Date,
    weights: &Weights,
) -> Result<CreditHistory, ApiError> {
    let from = rules::period_from(as_of);
    let members = store::credit_members(conn, account.id).await?;
    let inputs = store::history_inputs(conn, &members, from, as_of).await?;
    let factors = crate::collections::risk::factors(conn, as_of, Some(&[account.id])).await?;
    let factors = factors
        .first()
        .ok_or_else(|| ApiError::internal("no risk factors for an existing account"))?;
    let risk = crate::collections::risk::score(factors, as_of, weights);
    Ok(rules::history(&inputs, &risk, as_of, account.currency))
}

/// A review row for the account as of today, requested by the caller.
pub(super) async fn review_row(
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
    if account.credit_scope == CreditScope::Parent {
        let head = store::credit_head(conn, account.id).await?;
        return Err(rules::credit_at_parent(head).into());
    }
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

/// A document as it was attached: recorded in the audit log as a change of its review, on
/// the review's account; answered as the document.
pub struct Attached {
    pub view: crate::credit::model::ReviewDocumentView,
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
        &crate::credit::model::NewDocumentRow {
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
