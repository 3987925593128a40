//! What collections do when an account's cash moves: promises are reviewed (kept as soon as
//! covered; broken again by a returned payment that had kept an instalment); suspension and
//! termination orders made by dunning are cancelled once nothing past due is left for them to
//! act on; and an account that owes nothing past due leaves dunning and, if suspended, gets a
//! restore order.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::promises::{self, Scope};
use super::service_orders::{self, OrderKind, OrderSource};
use crate::accounts::model::{AccountStatus, CollectionsStatus};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;

/// Call in the transaction that moved cash on the account (a payment recorded, applied,
/// unapplied, refunded or returned; a credit applied). `returned` when a payment was returned.
pub async fn cash_moved(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    returned: bool,
) -> Result<(), ApiError> {
    let today = ctx.now.date();
    let scope = if returned {
        Scope::Returned(account_id)
    } else {
        Scope::Account(account_id)
    };
    promises::review(conn, ctx, scope, today).await?;
    // Orders that follow the account are looked at only where there are some.
    if service_orders::has_open_dunning_orders(conn, account_id).await? {
        let parts = super::past_due_parts(conn, account_id, today).await?;
        if let Some(why) = parts.obsolete_because() {
            service_orders::cancel_obsolete(conn, ctx, account_id, why).await?;
        }
    }
    if super::past_due(conn, account_id, today).await? > Decimal::ZERO {
        return Ok(());
    }
    super::set_status(
        conn,
        ctx,
        account_id,
        &[CollectionsStatus::InDunning],
        CollectionsStatus::None,
    )
    .await?;
    let account = crate::accounts::store::find_visible(conn, account_id, None).await?;
    if account.status == AccountStatus::Suspended {
        service_orders::create(
            conn,
            ctx,
            account_id,
            OrderKind::Restore,
            None,
            OrderSource::Automatic,
            "the past-due balance was paid".into(),
        )
        .await?;
    }
    Ok(())
}

/// [`cash_moved`] for the accounts of a batch of payments received (nothing returned). Most
/// accounts have nothing for collections to do: no active promise, no open dunning order, and
/// not in dunning or suspended, or still past due. One query finds the others, which are
/// followed one by one.
pub async fn cash_received(conn: &mut Conn, ctx: &Ctx, accounts: &[Uuid]) -> Result<(), ApiError> {
    for account in super::with_collections_work(conn, accounts, ctx.now.date()).await? {
        cash_moved(conn, ctx, account, false).await?;
    }
    Ok(())
}
