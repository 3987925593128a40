//! The invoice commands, each in the caller's transaction: manual drafts (create, edit,
//! delete), issue, void and presentment; and what invoices do for other domains (bill a fee
//! on a new invoice). Each answers what it did for the audit log and the response.

mod drafts;
mod issue;
mod presentment;

use std::collections::HashMap;

use uuid::Uuid;

use super::model::{InvoiceRow, InvoiceStatus, InvoiceView, NewLine};
use super::store;
use crate::db::Conn;
use crate::error::ApiError;
use crate::financial_codes::model::FinancialCodeKind;
use crate::validate::Errors;

pub use drafts::{create, delete, update};
pub use issue::{fee_invoice, issue, void};
pub use presentment::present;

impl crate::audit::Audited for InvoiceView {
    const ENTITY: &'static str = "invoice";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// The invoice as clients read it.
pub async fn view(
    conn: &mut Conn,
    row: InvoiceRow,
    today: time::Date,
) -> Result<InvoiceView, ApiError> {
    Ok(views(conn, vec![row], today).await?.remove(0))
}

/// Invoices with their lines, the payments and credits applied to them and their
/// deductions: four queries whatever the number of invoices.
pub async fn views(
    conn: &mut Conn,
    rows: Vec<InvoiceRow>,
    today: time::Date,
) -> Result<Vec<InvoiceView>, ApiError> {
    use crate::payments::store as payments;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines: HashMap<Uuid, Vec<_>> = HashMap::new();
    for line in store::lines_of(conn, &ids).await? {
        lines.entry(line.invoice_id).or_default().push(line);
    }
    let mut applied = payments::applications_of_invoices(conn, &ids).await?;
    let mut credits: HashMap<Uuid, Vec<_>> = HashMap::new();
    for c in crate::credit_memos::store::application_views(conn, None, Some(&ids)).await? {
        credits.entry(c.invoice_id).or_default().push(c);
    }
    let mut deductions: HashMap<Uuid, Vec<_>> = HashMap::new();
    for d in payments::deductions_of(conn, None, Some(&ids)).await? {
        deductions.entry(d.invoice_id).or_default().push(d.into());
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let id = r.id;
            let mut view = InvoiceView::new(r, lines.remove(&id).unwrap_or_default(), today);
            view.payments = applied.remove(&id).unwrap_or_default();
            view.credits = credits.remove(&id).unwrap_or_default();
            view.deductions = deductions.remove(&id).unwrap_or_default();
            view
        })
        .collect())
}

/// Lines name active revenue or fee codes.
async fn check_line_codes(
    conn: &mut Conn,
    lines: &[NewLine],
    e: &mut Errors,
) -> Result<(), ApiError> {
    let codes: Vec<(String, Uuid)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("lines[{i}].financial_code_id"), l.financial_code_id))
        .collect();
    crate::financial_codes::store::check_codes(
        conn,
        &codes,
        &[FinancialCodeKind::Revenue, FinancialCodeKind::Fee],
        e,
    )
    .await
}

fn refuse_unless_draft(row: &InvoiceRow) -> Result<(), ApiError> {
    if row.status != InvoiceStatus::Draft {
        return Err(ApiError::conflict(
            "invoice_not_draft",
            "Issued invoices are immutable; correct them with a credit memo, an adjustment or a void.",
        ));
    }
    Ok(())
}
