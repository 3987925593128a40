//! The invoice commands, each in the caller's transaction: manual drafts (create, edit,
//! delete), issue, void and presentment; and what invoices do for other domains (bill a fee
//! on a new invoice). Each answers what it did for the audit log and the response.

mod drafts;
mod issue;
mod presentment;

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{InvoiceRow, InvoiceStatus, InvoiceView, NewLine};
use super::store;
use crate::db::Conn;
use crate::error::ApiError;
use crate::financial_codes::model::FinancialCodeKind;
use crate::outbox::{self, EventType};
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

/// Stores an invoice whose balance moved (cash, a credit, an adjustment applied or taken
/// back): the one place where an invoice becomes `paid`. An invoice that does is added to
/// `paid`, whose [`Paid::announce`] writes its `invoice.paid` event once the transaction's
/// other writes (its applications, its deductions) are in, so that the event carries the
/// invoice as GET answers it. An invoice saved `paid` again (already paid) is not added.
pub async fn save(
    conn: &mut Conn,
    invoice: &InvoiceRow,
    paid: &mut Paid,
) -> Result<InvoiceRow, ApiError> {
    let (row, was) = store::update_from(conn, invoice).await?;
    if row.status == InvoiceStatus::Paid && was != InvoiceStatus::Paid && !paid.0.contains(&row.id)
    {
        paid.0.push(row.id);
    }
    Ok(row)
}

/// [`save`] for many invoices at once (a batch of payments), each saved once.
pub async fn save_many(
    conn: &mut Conn,
    invoices: &[InvoiceRow],
    paid: &mut Paid,
) -> Result<(), ApiError> {
    for id in store::update_cash(conn, invoices).await? {
        if !paid.0.contains(&id) {
            paid.0.push(id);
        }
    }
    Ok(())
}

/// The invoices a transaction's [`save`]s paid, whose `invoice.paid` events are still to be
/// written.
#[derive(Debug, Default)]
#[must_use = "the invoices paid are announced with `announce`"]
pub struct Paid(Vec<Uuid>);

impl Paid {
    /// Writes `invoice.paid` for each invoice paid, carrying the invoice as it stands now:
    /// six queries whatever their number, none when nothing was paid.
    pub async fn announce(self, conn: &mut Conn, now: OffsetDateTime) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let rows = store::many(conn, &self.0).await?;
        let events = views(conn, rows, now.date())
            .await?
            .iter()
            .map(|v| outbox::Event::new(EventType::InvoicePaid, v.id, Some(v.account_id), v))
            .collect::<Result<Vec<_>, _>>()?;
        outbox::emit_many(conn, now, &events).await
    }
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
