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
use crate::payments::model::DeductionView;
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

/// The invoice as GET answers it, if the caller may see it (a partner token sees its
/// partner's accounts' only): the invoice and what [`views`] reads with it, sent to the
/// database together in one round trip.
pub async fn find_view(
    conn: &Conn,
    id: Uuid,
    partner: Option<Uuid>,
    today: time::Date,
) -> Result<InvoiceView, ApiError> {
    let ids = [id];
    let (row, parts) = tokio::try_join!(
        store::find_visible(conn, id, partner),
        Parts::of(conn, &ids)
    )?;
    Ok(parts.assemble(vec![row], today).remove(0))
}

/// Invoices with their lines, the payments and credits applied to them and their
/// deductions: four queries whatever the number of invoices, sent together.
pub async fn views(
    conn: &Conn,
    rows: Vec<InvoiceRow>,
    today: time::Date,
) -> Result<Vec<InvoiceView>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    Ok(Parts::of(conn, &ids).await?.assemble(rows, today))
}

/// What an invoice's view holds besides the invoice, for several invoices, by invoice.
struct Parts {
    lines: HashMap<Uuid, Vec<super::model::LineRow>>,
    applied: HashMap<Uuid, Vec<crate::payments::model::ApplicationView>>,
    credits: HashMap<Uuid, Vec<crate::credit_memos::model::CreditApplicationView>>,
    deductions: HashMap<Uuid, Vec<DeductionView>>,
}

impl Parts {
    /// The four reads, pipelined on the connection: the database receives them at once and
    /// answers them in order, so the request waits for one round trip instead of four.
    async fn of(conn: &Conn, ids: &[Uuid]) -> Result<Parts, ApiError> {
        use crate::payments::store as payments;
        let (lines, applied, credits, deductions) = tokio::try_join!(
            store::lines_of(conn, ids),
            payments::applications_of_invoices(conn, ids),
            crate::credit_memos::store::application_views(conn, None, Some(ids)),
            payments::deductions_of(conn, None, Some(ids)),
        )?;
        let deductions = deductions.into_iter().map(Into::into).collect();
        Ok(Parts {
            lines: crate::db::by_parent(lines, |l| l.invoice_id),
            applied,
            credits: crate::db::by_parent(credits, |c| c.invoice_id),
            deductions: crate::db::by_parent(deductions, |d: &DeductionView| d.invoice_id),
        })
    }

    fn assemble(mut self, rows: Vec<InvoiceRow>, today: time::Date) -> Vec<InvoiceView> {
        rows.into_iter()
            .map(|r| {
                let id = r.id;
                let lines = self.lines.remove(&id).unwrap_or_default();
                let mut view = InvoiceView::new(r, lines, today);
                view.payments = self.applied.remove(&id).unwrap_or_default();
                view.credits = self.credits.remove(&id).unwrap_or_default();
                view.deductions = self.deductions.remove(&id).unwrap_or_default();
                view
            })
            .collect()
    }
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
