//! Disputes as their commands change them, each in the caller's transaction: opening (on an
//! invoice, or from a deduction), notes, and the changes of an active dispute under its lock
//! (resolution, whose valid outcome makes its credit memo, in `resolve`).

mod attachments;
mod resolve;

use uuid::Uuid;

pub use attachments::{attach, Attached};
pub use resolve::resolve;

use super::model::{
    Contact, DisputeDeduction, DisputePatch, DisputeRow, DisputeStatus, DisputeView, NewDispute,
    NewDisputeNote, NoteRow, ReviewDispute, WithdrawDispute,
};
use super::rules::DeductionChange;
use super::{rules, store};
use crate::context::Ctx;
use crate::credit_memos::settings::CreditSettings;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;
use crate::invoices::model::InvoiceRow;
use crate::ledger::model::Stamp;
use crate::outbox::{self, EventType};
use crate::payments::model::DeductionStatus;
use crate::validate::Errors;

/// A new dispute on `invoice` (already checked), holding its amount (and the tax on it, for
/// a taxable line) on the invoice.
#[allow(clippy::too_many_arguments)]
async fn open(
    conn: &mut Conn,
    settings: &CreditSettings,
    invoice: &mut InvoiceRow,
    line: Option<Uuid>,
    deduction: Option<Uuid>,
    amount: rust_decimal::Decimal,
    tax_amount: rust_decimal::Decimal,
    reason: super::model::DisputeReason,
    description: String,
    contact: Option<&Contact>,
    assignee: Option<String>,
    stamp: &Stamp,
) -> Result<DisputeRow, ApiError> {
    let today = stamp.today();
    let row = DisputeRow {
        id: Uuid::now_v7(),
        number: store::next_number(conn).await?,
        account_id: invoice.account_id,
        invoice_id: invoice.id,
        invoice_line_id: line,
        deduction_id: deduction,
        amount,
        currency: invoice.currency,
        reason,
        description,
        contact_name: contact.and_then(|c| c.name.clone()),
        contact_email: contact.and_then(|c| c.email.clone()),
        contact_phone: contact.and_then(|c| c.phone.clone()),
        status: DisputeStatus::Open,
        assignee,
        opened_on: today,
        sla_due_date: rules::add_business_days(
            today,
            settings.dispute_sla_business_days,
            &settings.holidays,
        ),
        root_cause: None,
        resolution_note: None,
        approved_amount: None,
        credit_memo_id: None,
        resolved_at: None,
        resolved_by: None,
        opened_by: stamp.actor.clone(),
        version: 1,
        created_at: stamp.now,
        updated_at: stamp.now,
        tax_amount,
    };
    invoice.disputed_amount += row.held();
    invoice.version += 1;
    invoice.updated_at = stamp.now;
    crate::invoices::store::update(conn, invoice).await?;
    store::insert(conn, &row).await?;
    Ok(row)
}

/// Releases what a closing dispute held on its invoice. A dispute opened from a deduction
/// that ends without a credit (withdrawn, found invalid) gives the deduction back: open
/// again for what the invoice is still short, unless the invoice has another open deduction.
async fn release(
    conn: &mut Conn,
    row: &DisputeRow,
    reopen_deduction: bool,
    stamp: &Stamp,
) -> Result<InvoiceRow, ApiError> {
    let mut invoice = crate::invoices::store::lock_visible(conn, row.invoice_id, None).await?;
    invoice.disputed_amount =
        (invoice.disputed_amount - row.held()).max(rust_decimal::Decimal::ZERO);
    invoice.version += 1;
    invoice.updated_at = stamp.now;
    crate::invoices::store::update(conn, &invoice).await?;
    let Some(deduction_id) = row.deduction_id.filter(|_| reopen_deduction) else {
        return Ok(invoice);
    };
    let mut deduction = crate::payments::store::lock_deduction(conn, deduction_id).await?;
    let short = invoice.balance_due - invoice.disputed_amount;
    let other_open = crate::payments::store::open_deductions(conn, &[invoice.id])
        .await?
        .contains_key(&invoice.id);
    if deduction.status == DeductionStatus::Disputed
        && invoice.status == crate::invoices::model::InvoiceStatus::Open
        && short > rust_decimal::Decimal::ZERO
        && !other_open
    {
        deduction.status = DeductionStatus::Open;
        deduction.amount = deduction.amount.min(short);
        deduction.resolved_at = None;
        deduction.resolved_by = None;
        deduction.version += 1;
        deduction.updated_at = stamp.now;
        crate::payments::store::update_deduction(conn, &deduction).await?;
    }
    Ok(invoice)
}

/// Opens a dispute on an invoice (and optionally one of its lines) for at most its
/// undisputed balance; partners only on their own accounts' invoices.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewDispute,
    settings: &CreditSettings,
) -> Result<Written<DisputeView>, ApiError> {
    // A partner sees (and disputes) its own accounts' invoices only.
    match crate::invoices::store::find_visible(conn, new.invoice_id, ctx.partner_scope()).await {
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::field(
                "invoice_id",
                "unknown",
                "no invoice has this id",
            ))
        }
        other => other?,
    };
    let mut invoice = crate::invoices::store::lock_visible(conn, new.invoice_id, None).await?;
    let mut e = Errors::default();
    if let Err(err) = invoice.currency.check("amount", new.amount) {
        e.push(err);
    }
    // A taxable line is disputed for its net amount; the tax on it is held with it.
    let mut tax = rust_decimal::Decimal::ZERO;
    if let Some(line) = new.invoice_line_id {
        let lines = crate::invoices::store::lines_of(conn, &[invoice.id]).await?;
        match lines.iter().find(|l| l.id == line) {
            None => e.add("invoice_line_id", "unknown", "is not a line of the invoice"),
            Some(l) if new.amount > l.amount => e.add(
                "amount",
                "exceeds_line",
                format!("is more than the line's amount ({})", l.amount),
            ),
            Some(l) if l.taxable => {
                tax = crate::credit_memos::rules::credit_tax(
                    invoice.taxable_amount,
                    invoice.credited_taxable,
                    new.amount,
                    invoice.tax_rate,
                    invoice.currency,
                );
            }
            Some(_) => {}
        }
    }
    e.finish()?;
    if let Some(refusal) = rules::open_refusal(&invoice, new.amount + tax) {
        return Err(refusal.into());
    }
    // The invoice's open deduction (a short payment) may be no more than what is still short
    // apart from what is disputed.
    let deduction = match crate::payments::store::open_deductions(conn, &[invoice.id])
        .await?
        .remove(&invoice.id)
    {
        Some(d) => Some(crate::payments::store::lock_deduction(conn, d.id).await?),
        None => None,
    };
    let short = invoice.balance_due - invoice.disputed_amount - (new.amount + tax);
    let change = deduction
        .as_ref()
        .map(|d| rules::deduction_change(d.amount, short));
    let taken_over = deduction
        .as_ref()
        .filter(|_| change == Some(DeductionChange::TakeOver))
        .map(|d| d.id);
    let stamp = ctx.stamp();
    let row = open(
        conn,
        settings,
        &mut invoice,
        new.invoice_line_id,
        taken_over,
        new.amount,
        tax,
        new.reason,
        new.description.trim().to_string(),
        new.contact.as_ref(),
        new.assignee.clone(),
        &stamp,
    )
    .await?;
    if let (Some(mut d), Some(change)) = (deduction, change) {
        match change {
            DeductionChange::Keep => {}
            DeductionChange::ShrinkTo(amount) => {
                d.amount = amount;
                d.version += 1;
                d.updated_at = stamp.now;
                crate::payments::store::update_deduction(conn, &d).await?;
            }
            DeductionChange::TakeOver => {
                crate::payments::rules::resolve(&mut d, DeductionStatus::Disputed, &stamp);
                d.dispute_id = Some(row.id);
                crate::payments::store::update_deduction(conn, &d).await?;
            }
        }
    }
    let view = store::view(conn, row, ctx.today()).await?;
    announce(conn, ctx, EventType::DisputeOpened, &view).await?;
    Ok(Written::created("dispute.opened", view))
}

/// Turns an open deduction into a dispute on its invoice; the deduction becomes `disputed`.
pub async fn dispute_deduction(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &DisputeDeduction,
    settings: &CreditSettings,
) -> Result<Written<DisputeView>, ApiError> {
    let (mut invoice, mut deduction) =
        crate::payments::store::lock_deduction_with_invoice(conn, id).await?;
    if deduction.status != DeductionStatus::Open {
        return Err(ApiError::conflict(
            "deduction_not_open",
            format!("The deduction is {}, not open.", deduction.status.as_str()),
        ));
    }
    if let Some(refusal) = rules::open_refusal(&invoice, deduction.amount) {
        return Err(refusal.into());
    }
    let stamp = ctx.stamp();
    let description = new.description.as_deref().map_or_else(
        || {
            format!(
                "Short payment: {} deducted ({})",
                deduction.amount,
                deduction.reason.as_str().replace('_', " ")
            )
        },
        |d| d.trim().to_string(),
    );
    let row = open(
        conn,
        settings,
        &mut invoice,
        None,
        Some(deduction.id),
        deduction.amount,
        rust_decimal::Decimal::ZERO,
        rules::reason_of(deduction.reason),
        description,
        new.contact.as_ref(),
        new.assignee.clone(),
        &stamp,
    )
    .await?;
    crate::payments::rules::resolve(&mut deduction, DeductionStatus::Disputed, &stamp);
    deduction.dispute_id = Some(row.id);
    crate::payments::store::update_deduction(conn, &deduction).await?;
    let view = store::view(conn, row, ctx.today()).await?;
    announce(conn, ctx, EventType::DisputeOpened, &view).await?;
    Ok(Written::created("dispute.opened", view))
}

/// Writes `event` about the dispute, carrying it as the API returns it.
async fn announce(
    conn: &mut Conn,
    ctx: &Ctx,
    event: EventType,
    view: &DisputeView,
) -> Result<(), ApiError> {
    outbox::emit(conn, ctx.now, event, view.id, Some(view.account_id), view).await?;
    Ok(())
}

/// Adds a note to a dispute (a partner's only on its own accounts' disputes).
pub async fn add_note(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    note: &NewDisputeNote,
) -> Result<Written<DisputeView>, ApiError> {
    let row = store::lock_visible(conn, id, ctx.partner_scope()).await?;
    let stamp = ctx.stamp();
    store::insert_note(
        conn,
        &NoteRow {
            id: Uuid::now_v7(),
            dispute_id: row.id,
            author: stamp.actor.clone(),
            text: note.text.trim().to_string(),
            created_at: stamp.now,
        },
    )
    .await?;
    let view = store::view(conn, row, ctx.today()).await?;
    Ok(Written::created("dispute.note_added", view))
}

/// The dispute under its lock (as `partner` sees it) and its view as it was, with the stamp
/// of the change.
async fn locked(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    partner: Option<Uuid>,
) -> Result<(DisputeRow, DisputeView, Stamp), ApiError> {
    let row = store::lock_visible(conn, id, partner).await?;
    let before = store::view(conn, row.clone(), ctx.today()).await?;
    Ok((row, before, ctx.stamp()))
}

/// Stores the changed dispute as its next version: what the change `action` did.
async fn changed(
    conn: &mut Conn,
    ctx: &Ctx,
    action: &'static str,
    before: DisputeView,
    mut row: DisputeRow,
    stamp: &Stamp,
) -> Result<Written<DisputeView>, ApiError> {
    row.version += 1;
    row.updated_at = stamp.now;
    store::update(conn, &row).await?;
    let after = store::view(conn, row, ctx.today()).await?;
    Ok(Written::changed(action, before, after))
}

/// Reassigns an active dispute, or corrects its description or contact, when it is still
/// the version `expected`.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &DisputePatch,
    expected: Expected,
) -> Result<Written<DisputeView>, ApiError> {
    let (mut row, before, stamp) = locked(conn, ctx, id, None).await?;
    expected.check(row.version)?;
    if !row.status.is_active() {
        return Err(ApiError::conflict(
            "dispute_closed",
            format!(
                "The dispute is {}; it no longer changes.",
                row.status.as_str()
            ),
        ));
    }
    if let Some(assignee) = &patch.assignee {
        row.assignee = assignee.as_deref().map(|a| a.trim().to_string());
    }
    if let Some(d) = &patch.description {
        row.description = d.trim().to_string();
    }
    if let Some(c) = &patch.contact {
        row.contact_name = c.name.clone();
        row.contact_email = c.email.clone();
        row.contact_phone = c.phone.clone();
    }
    changed(conn, ctx, "dispute.updated", before, row, &stamp).await
}

/// Takes an open dispute under review, assigning it (by default to the caller, unless it is
/// assigned already).
pub async fn review(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    review: &ReviewDispute,
) -> Result<Written<DisputeView>, ApiError> {
    let (mut row, before, stamp) = locked(conn, ctx, id, None).await?;
    if let Some(refusal) = rules::transition_refusal(row.status, DisputeStatus::UnderReview) {
        return Err(refusal.into());
    }
    row.status = DisputeStatus::UnderReview;
    if let Some(a) = &review.assignee {
        row.assignee = Some(a.trim().to_string());
    } else if row.assignee.is_none() {
        row.assignee = Some(stamp.actor.clone());
    }
    changed(conn, ctx, "dispute.under_review", before, row, &stamp).await
}

/// The customer withdraws an active dispute (a partner only its own accounts'); its amount
/// is released on the invoice.
pub async fn withdraw(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    withdraw: &WithdrawDispute,
) -> Result<Written<DisputeView>, ApiError> {
    let (mut row, before, stamp) = locked(conn, ctx, id, ctx.partner_scope()).await?;
    if let Some(refusal) = rules::transition_refusal(row.status, DisputeStatus::Withdrawn) {
        return Err(refusal.into());
    }
    release(conn, &row, true, &stamp).await?;
    row.status = DisputeStatus::Withdrawn;
    row.resolution_note = withdraw.note.as_deref().map(|n| n.trim().to_string());
    row.resolved_at = Some(stamp.now);
    row.resolved_by = Some(stamp.actor.clone());
    changed(conn, ctx, "dispute.withdrawn", before, row, &stamp).await
}
