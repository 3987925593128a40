//! Credit holds: placed by a credit analyst or by the scheduled job, released by hand; the
//! refusal of what a hold blocks.

use serde::Serialize;
use uuid::Uuid;

use crate::accounts::model::{AccountRow, CreditScope, CreditStatus};
use crate::audit::{self, Audited};
use crate::context::Ctx;
use crate::credit::model::{HoldRow, HoldSource, HoldView};
use crate::credit::{rules, store};
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::outbox::{self, EventType};

/// Refuses an operation a credit hold blocks (new contracts, upgrades, manual invoices) with
/// 409 `credit_hold` naming the hold: one on the account, or, when it uses its parent's
/// credit, one on an account above it whose credit it uses.
pub async fn refuse_hold(conn: &mut Conn, account: &AccountRow) -> Result<(), ApiError> {
    let hold = if account.credit_scope == CreditScope::Parent {
        let chain = store::credit_chain(conn, account.id).await?;
        store::active_holds(conn, &chain).await?.into_iter().next()
    } else {
        store::active_hold(conn, account.id).await?
    };
    if hold.is_none() && account.credit_status != CreditStatus::Hold {
        return Ok(());
    }
    Err(rules::hold_refusal(account.id, hold.as_ref()).into())
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
