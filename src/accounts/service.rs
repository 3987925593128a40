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

impl Audited for AccountView {
    const ENTITY: &'static str = "account";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.id)
    }
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

/// Opens the account `draft` (already validated); without a given number it takes the next
/// of the series.
pub async fn create(
    conn: &mut Conn,
    draft: &AccountRow,
    given_number: Option<String>,
) -> Result<Written<AccountView>, ApiError> {
    check_partner(conn, draft.partner_id).await?;
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
    let current = store::lock_visible(conn, id, ctx.partner_scope()).await?;
    expected.check(current.version)?;
    rules::refuse_closed(current.status)?;
    if let Some(partner) = patch.partner_id {
        check_partner(conn, partner).await?;
    }
    let next = patch.apply(&current, ctx.now);
    rules::validate(&next)?;
    let before = AccountView::from(current);
    let after = AccountView::from(store::update(conn, &next).await?);
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
