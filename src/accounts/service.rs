//! Accounts as their commands change them, each in the caller's transaction: opening,
//! changing under optimistic concurrency, closing for good, and the contacts under them
//! (in `contacts`).

mod contacts;

use actix_web::http::StatusCode;
use serde::Serialize;
use uuid::Uuid;

pub use contacts::{create_contact, delete_contact, update_contact};

use super::model::{AccountPatch, AccountRow, AccountStatus, AccountView, CloseAccount};
use super::{rules, store};
use crate::audit::{self, Audited};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;
use crate::outbox::{self, EventType};

impl Audited for AccountView {
    const ENTITY: &'static str = "account";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.id)
    }
}

/// The account as GET /v1/accounts/{id} answers it: with its balance and payment history
/// as of `today`.
pub async fn view(
    conn: &mut Conn,
    row: AccountRow,
    today: time::Date,
) -> Result<AccountView, ApiError> {
    let summary = crate::ledger::store::balance_summary(conn, row.id, today).await?;
    let history = crate::payments::store::history(conn, row.id, today).await?;
    let mut view = AccountView::from(row);
    view.balance = Some(summary.normalized(view.currency));
    view.payment_history = Some(history);
    Ok(view)
}

/// The family of an account the caller sees: the tree its top ancestor heads, with each
/// member's balances as of `today`. A partner sees its own accounts of the family only.
pub async fn family(
    conn: &mut Conn,
    id: Uuid,
    partner: Option<Uuid>,
    today: time::Date,
) -> Result<super::family::AccountFamily, ApiError> {
    let account = store::find_visible(conn, id, partner).await?;
    let ancestors = store::ancestors(conn, id).await?;
    let levels = store::subtree(conn, ancestors.last().copied().unwrap_or(id)).await?;
    let ids: Vec<Uuid> = levels.iter().map(|(id, _)| *id).collect();
    let mut rows = store::find_many(conn, &ids).await?;
    rows.retain(|r| partner.is_none() || r.partner_id == partner);
    // The highest account above the one asked about that the caller sees.
    let top = ancestors
        .iter()
        .rev()
        .find(|a| rows.iter().any(|r| r.id == **a))
        .copied()
        .unwrap_or(id);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let balances = crate::ledger::store::balance_summaries(conn, &ids, today)
        .await?
        .into_iter()
        .map(|b| (b.account_id, b.summary))
        .collect();
    let depth: std::collections::HashMap<Uuid, i32> = levels.into_iter().collect();
    let members = rows
        .into_iter()
        .map(|r| {
            let d = depth.get(&r.id).copied().unwrap_or(0);
            (r, d)
        })
        .collect();
    Ok(super::family::build(
        id,
        top,
        account.currency,
        members,
        balances,
    ))
}

/// Writes `account.collections_status_changed` for an account whose collections status the
/// transaction just moved, carrying the account as GET answers it at `now`.
pub async fn collections_status_changed(
    conn: &mut Conn,
    now: time::OffsetDateTime,
    account_id: Uuid,
) -> Result<(), ApiError> {
    let row = store::find_visible(conn, account_id, None).await?;
    let view = view(conn, row, now.date()).await?;
    outbox::emit(
        conn,
        now,
        EventType::AccountCollectionsStatusChanged,
        view.id,
        Some(view.id),
        &view,
    )
    .await?;
    Ok(())
}

/// A partner id named in a request must exist.
async fn check_partner(conn: &mut Conn, partner_id: Option<Uuid>) -> Result<(), ApiError> {
    match partner_id {
        Some(id) if !crate::partners::store::exists(conn, id).await? => Err(ApiError::field(
            "partner_id",
            "unknown",
            "no partner has this id",
        )),
        _ => Ok(()),
    }
}

/// A parent named by a request (on an account opened or moved) must be one the caller sees,
/// open, in the same currency, not the account or one under it, and the family at most five
/// levels deep. Checked under the hierarchy lock, which the transaction keeps until it ends.
async fn check_parent(
    conn: &mut Conn,
    ctx: &Ctx,
    account: &AccountRow,
    new: bool,
) -> Result<(), ApiError> {
    let Some(parent_id) = account.parent_id else {
        return Ok(());
    };
    store::lock_hierarchy(conn).await?;
    let parent = match store::find_visible(conn, parent_id, ctx.partner_scope()).await {
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::field(
                "parent_id",
                "unknown",
                "no account has this id",
            ))
        }
        other => other?,
    };
    let ancestors = store::ancestors(conn, parent_id).await?;
    let height = if new {
        1
    } else {
        let below = store::subtree(conn, account.id).await?;
        below
            .iter()
            .map(|(_, depth)| *depth as usize)
            .max()
            .unwrap_or(0)
            + 1
    };
    let at = rules::Placement {
        parent: &parent,
        ancestors: &ancestors,
        height,
    };
    match rules::placement_refusal(account, &at) {
        Some(refusal) => Err(refusal.into()),
        None => Ok(()),
    }
}

/// Opens the account `draft` (already validated); without a given number it takes the next
/// of the series.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    draft: &AccountRow,
    given_number: Option<String>,
) -> Result<Written<AccountView>, ApiError> {
    check_partner(conn, draft.partner_id).await?;
    check_parent(conn, ctx, draft, true).await?;
    let number = match given_number {
        Some(number) => number,
        None => store::next_account_number(conn).await?,
    };
    let row = AccountRow {
        number,
        ..draft.clone()
    };
    let view = AccountView::from(store::insert(conn, &row).await?);
    Ok(Written::created("account.created", view))
}

/// Changes an open account the caller sees, at the version it expects.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: AccountPatch,
    expected: Expected,
) -> Result<Written<AccountView>, ApiError> {
    if patch.parent_id.is_some() {
        // Before the account's row: a move takes the hierarchy lock first, so two moves wait
        // in line instead of each holding a row the other's parent check needs.
        store::lock_hierarchy(conn).await?;
    }
    let current = store::lock_visible(conn, id, ctx.partner_scope()).await?;
    expected.check(current.version)?;
    rules::refuse_closed(current.status)?;
    if let Some(partner) = patch.partner_id {
        check_partner(conn, partner).await?;
    }
    let next = patch.apply(&current, ctx.now);
    rules::validate(&next)?;
    if next.parent_id != current.parent_id {
        check_parent(conn, ctx, &next, false).await?;
    }
    let moved = next.collections_status != current.collections_status;
    let before = AccountView::from(current);
    let after = AccountView::from(store::update(conn, &next).await?);
    if moved {
        collections_status_changed(conn, ctx.now, after.id).await?;
    }
    Ok(Written::changed("account.updated", before, after))
}

/// An account as the audit log records its closing: the account, and after it the reason.
#[derive(Serialize)]
struct Closing<'a> {
    account: &'a AccountView,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl Audited for Closing<'_> {
    const ENTITY: &'static str = "account";
    fn entity_id(&self) -> Uuid {
        self.account.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account.id)
    }
}

/// Closes an account the caller sees for good, at the version it expects. Its audit entry
/// carries the reason, which the answer (the account) does not, so it records the entry
/// itself (through `idempotency::run`).
pub async fn close(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    close: &CloseAccount,
    expected: Expected,
) -> Result<(StatusCode, AccountView), ApiError> {
    let current = store::lock_visible(conn, id, ctx.partner_scope()).await?;
    expected.check(current.version)?;
    rules::refuse_closed(current.status)?;
    let mut next = current.clone();
    next.status = AccountStatus::Closed;
    next.closed_at = Some(ctx.now);
    next.updated_at = ctx.now;
    next.version += 1;
    let before = AccountView::from(current);
    let after = AccountView::from(store::update(conn, &next).await?);
    audit::changed(
        conn,
        ctx,
        "account.closed",
        Some(&Closing {
            account: &before,
            reason: None,
        }),
        Some(&Closing {
            account: &after,
            reason: Some(&close.reason),
        }),
    )
    .await?;
    Ok((StatusCode::OK, after))
}
