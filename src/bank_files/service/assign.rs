//! Unidentified cash settled by hand.

use uuid::Uuid;

use super::{memo, received_date, truncate};
use crate::bank_files::matching;
use crate::bank_files::model::{AssignPayment, BankOutcome, BankTransactionView};
use crate::bank_files::store;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::payments::requests::NewPayment;
use crate::validate::Errors;

/// Settles unidentified cash by hand: records its payment on the account given (applied as
/// asked), and learns the payer's bank account and name for that account.
pub async fn assign(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    how: &AssignPayment,
) -> Result<Written<BankTransactionView>, ApiError> {
    let row = store::lock_transaction(conn, id).await?;
    if row.outcome != BankOutcome::Unidentified {
        return Err(ApiError::conflict(
            "not_unidentified",
            format!(
                "The transaction is {}, not unidentified cash.",
                row.outcome.as_str()
            ),
        ));
    }
    let account = crate::accounts::store::find_named(conn, how.account_id, "account_id").await?;
    if row
        .currency
        .as_deref()
        .is_some_and(|c| c != account.currency.code())
    {
        return Err(ApiError::field(
            "account_id",
            "currency_mismatch",
            format!(
                "the account is in {}, the cash in {}",
                account.currency,
                row.currency.as_deref().unwrap_or_default()
            ),
        ));
    }
    let new = NewPayment {
        account_id: account.id,
        amount: row.amount,
        currency: account.currency.code().to_string(),
        method: row.method,
        reference: row.bank_reference.as_deref().map(|r| truncate(r, 100)),
        received_date: received_date(row.value_date, ctx.today()),
        remittance: how.remittance.clone(),
        application_mode: how.application_mode,
        memo: Some(truncate(
            how.memo
                .as_deref()
                .unwrap_or(&memo(&row.location, &row.text)),
            1000,
        )),
    };
    let mut e = Errors::default();
    let mode = crate::payments::rules::check_new(&new, ctx.today(), &mut e);
    e.finish()?;
    let before = BankTransactionView::from(row.clone());
    let payment = crate::payments::service::record(conn, ctx, &new, mode)
        .await?
        .audit(conn, ctx)
        .await?;
    let stamp = ctx.stamp();
    store::assign(conn, id, account.id, payment.id, &stamp.actor, stamp.now).await?;
    let learned: Vec<_> =
        matching::payer_keys(row.payer_account.as_deref(), row.payer_name.as_deref())
            .into_iter()
            .map(|(kind, value)| (kind.to_string(), value, account.id, id))
            .collect();
    store::learn(conn, &learned, stamp.now).await?;
    let after = BankTransactionView::from(store::lock_transaction(conn, id).await?);
    Ok(Written::changed("bank_transaction.assigned", before, after))
}
