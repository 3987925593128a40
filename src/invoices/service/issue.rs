//! Issue and void: the number, the date and the ledger; and the fee invoices other domains
//! bill (returned payments, late fees).

use rust_decimal::Decimal;
use uuid::Uuid;

use super::{refuse_unless_draft, view};
use crate::accounts::model::AccountRow;
use crate::audit;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;
use crate::invoices::model::{InvoiceRow, InvoiceView, IssueInvoice, NewLine, VoidInvoice};
use crate::invoices::rules::{self, Numbering};
use crate::invoices::store;
use crate::ledger::model::Stamp;
use crate::outbox::{self, EventType};

/// Numbers, dates and posts a draft that is still the version `expected`, when the account's
/// presentment preferences are met.
pub async fn issue(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    issue: &IssueInvoice,
    expected: Expected,
    numbering: &Numbering,
) -> Result<Written<InvoiceView>, ApiError> {
    let current = store::lock_visible(conn, id, None).await?;
    expected.check(current.version)?;
    refuse_unless_draft(&current)?;
    let account = crate::accounts::store::find_visible(conn, current.account_id, None).await?;
    let now = ctx.now;
    let date = issue.invoice_date.unwrap_or(now.date());
    let mut problems = rules::issue_problems(&current);
    problems.extend(rules::presentment_problems(&account, &current));
    if (date - now.date()).whole_days().abs() > 366 {
        problems.push(crate::error::FieldError::new(
            "invoice_date",
            "out_of_range",
            "must be within a year of today",
        ));
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let before = view(conn, current.clone(), ctx.today()).await?;
    let mut next = current;
    let year = date.year();
    let n = crate::db::next_number(conn, &numbering.series(year)).await?;
    let number = numbering.number(year, n);
    let entry = rules::issue(
        &mut next,
        number,
        date,
        now,
        &ctx.principal.subject,
        ctx.request_id.clone(),
    );
    if next.po_number.is_none() {
        next.po_number = rules::effective_po(&account, &next);
    }
    let row = store::update(conn, &next).await?;
    crate::ledger::store::post(conn, entry.as_slice()).await?;
    crate::credit::check_exposure(conn, ctx, row.account_id).await?;
    let after = view(conn, row, ctx.today()).await?;
    announce(conn, now, EventType::InvoiceIssued, &after).await?;
    Ok(Written::changed("invoice.issued", before, after))
}

/// Voids an issued invoice with nothing applied that is still the version `expected`; the
/// ledger reverses its balance.
pub async fn void(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    void: &VoidInvoice,
    expected: Expected,
) -> Result<Written<InvoiceView>, ApiError> {
    let current = store::lock_visible(conn, id, None).await?;
    expected.check(current.version)?;
    if let Some(why) = rules::void_refusal(&current) {
        return Err(ApiError::conflict("invoice_not_voidable", why));
    }
    let before = view(conn, current.clone(), ctx.today()).await?;
    let mut next = current;
    let now = ctx.now;
    let entry = rules::void(
        &mut next,
        &void.reason,
        now.date(),
        now,
        &ctx.principal.subject,
        ctx.request_id.clone(),
    );
    let row = store::update(conn, &next).await?;
    crate::ledger::store::post(conn, entry.as_slice()).await?;
    let after = view(conn, row, ctx.today()).await?;
    announce(conn, now, EventType::InvoiceVoided, &after).await?;
    Ok(Written::changed("invoice.voided", before, after))
}

/// Bills a fee (a returned payment, a late fee) on a new invoice with one untaxed line under
/// `code_id`, issued at once; it stays a draft when the account's presentment preferences
/// (a PO number, a reference field) are not met, for billing to complete and issue.
#[allow(clippy::too_many_arguments)]
pub async fn fee_invoice(
    conn: &mut Conn,
    ctx: &Ctx,
    numbering: &Numbering,
    account: &AccountRow,
    description: String,
    amount: Decimal,
    code_id: Uuid,
    stamp: &Stamp,
) -> Result<InvoiceRow, ApiError> {
    let currency = account.currency;
    let id = Uuid::now_v7();
    let line = NewLine {
        description,
        quantity: Decimal::ONE,
        unit_price: currency.round(amount),
        financial_code_id: code_id,
        taxable: Some(false),
    };
    let lines = rules::manual_lines(id, &[line], currency);
    let mut row = rules::new_draft(account, id, None, account.payment_terms_days, stamp.now);
    rules::set_totals(&mut row, &lines, currency);
    store::insert_many(conn, std::slice::from_ref(&row), &lines).await?;
    row.po_number = rules::effective_po(account, &row);
    if !rules::presentment_problems(account, &row).is_empty() {
        // The account's presentment preferences (a PO number, a reference field) are not met:
        // the fee stays a draft for billing to complete and issue.
        let view = InvoiceView::new(row.clone(), lines, ctx.today());
        audit::changed(conn, ctx, "invoice.created", None, Some(&view)).await?;
        return Ok(row);
    }
    let year = stamp.today().year();
    let n = crate::db::next_number(conn, &numbering.series(year)).await?;
    let entry = rules::issue(
        &mut row,
        numbering.number(year, n),
        stamp.today(),
        stamp.now,
        &stamp.actor,
        stamp.request_id.clone(),
    );
    let row = store::update(conn, &row).await?;
    crate::ledger::store::post(conn, entry.as_slice()).await?;
    let view = InvoiceView::new(row.clone(), lines, ctx.today());
    audit::changed(conn, ctx, "invoice.issued", None, Some(&view)).await?;
    announce(conn, stamp.now, EventType::InvoiceIssued, &view).await?;
    Ok(row)
}

/// Writes `event` about the invoice, carrying it as the API returns it.
async fn announce(
    conn: &mut Conn,
    now: time::OffsetDateTime,
    event: EventType,
    view: &InvoiceView,
) -> Result<(), ApiError> {
    outbox::emit(conn, now, event, view.id, Some(view.account_id), view).await?;
    Ok(())
}
