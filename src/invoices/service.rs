//! What invoices do for other domains, in the caller's transaction: bill a fee on a new
//! invoice.

use uuid::Uuid;

use super::model::{InvoiceRow, InvoiceView, NewLine};
use super::{rules, store};
use crate::audit::{self, Change};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::money::Currency;

/// Bills a fee (a returned payment, a late fee) on a new invoice with one untaxed line under
/// `code_id`, issued at once; it stays a draft when the account's presentment preferences
/// (a PO number, a reference field) are not met, for billing to complete and issue.
#[allow(clippy::too_many_arguments)]
pub async fn fee_invoice(
    conn: &mut Conn,
    ctx: &Ctx,
    numbering: &rules::Numbering,
    account: &crate::accounts::model::AccountRow,
    description: String,
    amount: rust_decimal::Decimal,
    code_id: Uuid,
    stamp: &crate::ledger::model::Stamp,
) -> Result<InvoiceRow, ApiError> {
    use rust_decimal::Decimal;
    let currency = Currency::parse(&account.currency).expect("a stored currency");
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
        audit::record(
            conn,
            ctx,
            Change {
                action: "invoice.created",
                entity_type: "invoice",
                entity_id: row.id,
                account_id: Some(row.account_id),
                before: None,
                after: Some(&view),
            },
        )
        .await?;
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
    audit::record(
        conn,
        ctx,
        Change {
            action: "invoice.issued",
            entity_type: "invoice",
            entity_id: row.id,
            account_id: Some(row.account_id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    Ok(row)
}
