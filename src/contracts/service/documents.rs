//! The paperwork attached to a contract.

use crate::contracts::documents::model::{DocumentView, NewDocumentRow};
use crate::contracts::documents::store;
use crate::contracts::model::OnAccount;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;

/// Attaches a document (already checked) to its contract, which must exist.
pub async fn attach(
    conn: &mut Conn,
    row: &NewDocumentRow<'_>,
) -> Result<Written<OnAccount<DocumentView>>, ApiError> {
    let account_id = store::contract_account(conn, row.contract_id).await?;
    let view = DocumentView::from(store::insert(conn, row).await?);
    Ok(Written::created(
        "contract.document_attached",
        OnAccount { account_id, view },
    ))
}
