//! The presentment log: how an issued invoice reached the customer.

use uuid::Uuid;

use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::invoices::model::InvoiceStatus;
use crate::invoices::presentments::{self, NewPresentment, PresentmentRow, PresentmentView};
use crate::invoices::store;

/// Records how an issued invoice the caller may see reached the customer.
pub async fn present(
    conn: &mut Conn,
    ctx: &Ctx,
    invoice_id: Uuid,
    new: &NewPresentment,
) -> Result<Written<PresentmentView>, ApiError> {
    let invoice = store::find_visible(conn, invoice_id, ctx.partner_scope()).await?;
    if invoice.status == InvoiceStatus::Draft {
        return Err(ApiError::conflict(
            "invoice_not_issued",
            "A draft is not presented; issue it first.",
        ));
    }
    let now = ctx.now;
    let row = PresentmentRow {
        id: Uuid::now_v7(),
        invoice_id,
        account_id: invoice.account_id,
        channel: new.channel,
        destination: new.destination.trim().to_string(),
        status: new.status,
        reason: new.reason.clone(),
        occurred_at: new.occurred_at.unwrap_or(now),
        posted_by: ctx.principal.subject.clone(),
        posted_role: ctx.principal.role.as_str().to_string(),
        created_at: now,
    };
    presentments::insert(conn, &row).await?;
    Ok(Written::created(
        "invoice.presentment_recorded",
        PresentmentView::from(row),
    ))
}
