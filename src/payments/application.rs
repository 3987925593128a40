//! How cash meets invoices: the movements a payment makes (applications, deductions,
//! recoveries of written-off invoices) and how they are written, in the caller's transaction.

use std::collections::HashSet;

use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{ApplicationRow, ApplicationSource, DeductionRow, PaymentRow, PaymentStatus};
use super::requests::RemittanceLine;
use super::rules::{self, Stamp};
use super::store;
use crate::adjustments::model::{AdjustmentKind, AdjustmentRow};
use crate::audit;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::ledger::model::EntryRow;
use crate::validate::Errors;

/// What one cash movement changed, written by [`save`].
#[derive(Default)]
pub(super) struct Moves {
    pub(super) invoices: Vec<InvoiceRow>,
    pub(super) applications: Vec<ApplicationRow>,
    /// New deductions.
    pub(super) deductions: Vec<DeductionRow>,
    /// Open deductions brought to a new short amount.
    pub(super) updated_deductions: Vec<DeductionRow>,
    /// Recoveries of written-off invoices, and write-offs of reversed recoveries.
    pub(super) adjustments: Vec<AdjustmentRow>,
    pub(super) entries: Vec<EntryRow>,
}

/// Before a payment is applied to an uncollectible invoice, the written-off amount it pays is
/// reinstated: a recovery.
pub(super) async fn recover(
    conn: &mut Conn,
    payment: &PaymentRow,
    invoice: &mut InvoiceRow,
    amount: Decimal,
    date: time::Date,
    stamp: &Stamp,
    moves: &mut Moves,
) -> Result<(), ApiError> {
    if invoice.status != InvoiceStatus::Uncollectible {
        return Ok(());
    }
    let row = written_off_adjustment(
        conn,
        payment,
        invoice,
        amount,
        AdjustmentKind::Recovery,
        stamp,
    )
    .await?;
    let description = format!(
        "Recovery on {} by payment {}",
        invoice.number.as_deref().unwrap_or_default(),
        payment.number
    );
    moves.entries.push(crate::adjustments::rules::recover(
        invoice,
        amount,
        row.id,
        date,
        description,
        stamp,
    ));
    moves.adjustments.push(row);
    Ok(())
}

/// After an application to an uncollectible invoice is reversed, the amount it recovered is
/// written off again.
pub(super) async fn write_off_again(
    conn: &mut Conn,
    payment: &PaymentRow,
    invoice: &mut InvoiceRow,
    amount: Decimal,
    stamp: &Stamp,
    moves: &mut Moves,
) -> Result<(), ApiError> {
    if invoice.status != InvoiceStatus::Uncollectible {
        return Ok(());
    }
    let row = written_off_adjustment(
        conn,
        payment,
        invoice,
        amount,
        AdjustmentKind::BadDebtWriteOff,
        stamp,
    )
    .await?;
    let description = format!(
        "Recovery by payment {} reversed: {} written off again",
        payment.number,
        invoice.number.as_deref().unwrap_or_default()
    );
    moves.entries.push(crate::adjustments::rules::write_off(
        invoice,
        amount,
        row.id,
        description,
        stamp,
    ));
    moves.adjustments.push(row);
    Ok(())
}

async fn written_off_adjustment(
    conn: &mut Conn,
    payment: &PaymentRow,
    invoice: &InvoiceRow,
    amount: Decimal,
    kind: AdjustmentKind,
    stamp: &Stamp,
) -> Result<AdjustmentRow, ApiError> {
    let code = crate::adjustments::store::bad_debt_code(conn, invoice.id)
        .await?
        .ok_or_else(|| ApiError::internal("an uncollectible invoice without its write-off"))?;
    Ok(AdjustmentRow {
        id: Uuid::now_v7(),
        account_id: invoice.account_id,
        invoice_id: Some(invoice.id),
        kind,
        amount,
        currency: invoice.currency,
        financial_code_id: code,
        reason: format!("payment {}", payment.number),
        deduction_id: None,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
        payment_id: Some(payment.id),
    })
}

/// Writes a movement (with the audit entries of its adjustments): the payment, the invoices it touched (keeping their open deductions
/// within what they are short: settled by this payment when nothing is), new applications
/// and deductions, and the ledger entries.
pub(super) async fn save(
    conn: &mut Conn,
    ctx: &Ctx,
    payment: &PaymentRow,
    moves: &Moves,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    save_as(conn, ctx, payment, moves, stamp, false).await
}

/// [`save`], for a payment that is new (`created`: inserted as it ends, not updated).
pub(super) async fn save_as(
    conn: &mut Conn,
    ctx: &Ctx,
    payment: &PaymentRow,
    moves: &Moves,
    stamp: &Stamp,
    created: bool,
) -> Result<(), ApiError> {
    if created {
        store::insert(conn, std::slice::from_ref(payment)).await?;
    } else {
        store::update(conn, payment).await?;
    }
    let mut paid = crate::invoices::service::Paid::default();
    for invoice in &moves.invoices {
        crate::invoices::service::save(conn, invoice, &mut paid).await?;
    }
    store::insert_applications(conn, &moves.applications).await?;
    for deduction in &moves.updated_deductions {
        store::update_deduction(conn, deduction).await?;
    }
    let touched: Vec<Uuid> = moves.invoices.iter().map(|i| i.id).collect();
    store::sync_deductions(conn, &touched, Some(payment.id), stamp).await?;
    store::insert_deductions(conn, &moves.deductions).await?;
    crate::adjustments::store::insert_many(conn, &moves.adjustments).await?;
    for row in &moves.adjustments {
        let view = crate::adjustments::model::AdjustmentView::from(row.clone());
        audit::changed(conn, ctx, "adjustment.created", None, Some(&view)).await?;
    }
    crate::ledger::store::post(conn, &moves.entries).await?;
    paid.announce(conn, stamp.now).await?;
    // The payer, then each account under it whose invoices the cash moved.
    let mut accounts = vec![payment.account_id];
    for invoice in &moves.invoices {
        if !accounts.contains(&invoice.account_id) {
            accounts.push(invoice.account_id);
        }
    }
    for account in accounts {
        crate::collections::events::cash_moved(
            conn,
            ctx,
            account,
            payment.status == PaymentStatus::Returned,
        )
        .await?;
    }
    Ok(())
}

/// The invoice each remittance line names (422 naming the line when none does).
pub(super) async fn resolve_lines(
    conn: &mut Conn,
    lines: &[RemittanceLine],
) -> Result<Vec<Uuid>, ApiError> {
    let numbers: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.invoice_number.as_deref().map(str::trim))
        .collect();
    let by_number = crate::invoices::store::ids_by_number(conn, &numbers).await?;
    let given: Vec<Uuid> = lines.iter().filter_map(|l| l.invoice_id).collect();
    let existing: std::collections::HashSet<Uuid> =
        crate::invoices::store::existing(conn, &given).await?;
    let mut e = Errors::default();
    let mut ids = Vec::with_capacity(lines.len());
    let mut seen = std::collections::HashSet::new();
    for (k, line) in lines.iter().enumerate() {
        let (field, id) = match (&line.invoice_id, &line.invoice_number) {
            (Some(id), _) => ("invoice_id", existing.contains(id).then_some(*id)),
            (None, Some(n)) => ("invoice_number", by_number.get(n.trim()).copied()),
            (None, None) => unreachable!("checked before"),
        };
        match id {
            None => e.add(
                &format!("remittance[{k}].{field}"),
                "unknown",
                "no invoice has it",
            ),
            Some(id) if !seen.insert(id) => e.add(
                &format!("remittance[{k}].{field}"),
                "duplicate",
                "names an invoice already in the remittance",
            ),
            Some(id) => ids.push(id),
        }
    }
    e.finish()?;
    Ok(ids)
}

/// Adds a refusal's field errors to `e`; other refusals end the request.
fn collect(refusal: Option<ApiError>, e: &mut Errors) -> Result<(), ApiError> {
    match refusal {
        None => Ok(()),
        Some(ApiError::Validation(errors)) => {
            e.0.extend(errors);
            Ok(())
        }
        Some(other) => Err(other),
    }
}

/// The accounts under the payer's among those of `invoices`: whose invoices the payment may
/// pay besides its own account's. Looked up only when an invoice is of another account.
pub(super) async fn under_payer(
    conn: &mut Conn,
    payer: Uuid,
    invoices: &[InvoiceRow],
) -> Result<HashSet<Uuid>, ApiError> {
    if invoices.iter().all(|i| i.account_id == payer) {
        return Ok(HashSet::new());
    }
    let family = crate::accounts::store::subtree(conn, payer).await?;
    Ok(family
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| *id != payer && invoices.iter().any(|i| i.account_id == *id))
        .collect())
}

/// The date an application made when the payment is recorded takes in the ledger: the day the
/// money came in, or the invoice's date when the invoice is younger.
fn applied_on(payment: &PaymentRow, invoice: &InvoiceRow) -> time::Date {
    payment.received_date.max(invoice.invoice_date)
}

/// Applies a new payment as its remittance says: every line checked first (all problems in
/// one 422), then applied, a short line leaving a deduction.
pub(super) async fn apply_remittance(
    conn: &mut Conn,
    payment: &mut PaymentRow,
    lines: &[RemittanceLine],
    stamp: &Stamp,
) -> Result<Moves, ApiError> {
    let ids = resolve_lines(conn, lines).await?;
    let mut invoices = crate::invoices::store::lock_many(conn, &ids).await?;
    let under = under_payer(conn, payment.account_id, &invoices).await?;
    let mut open = store::open_deductions(conn, &ids).await?;
    check_remittance(payment, lines, &ids, &invoices, &under)?;
    let mut moves = Moves::default();
    for (line, id) in lines.iter().zip(&ids) {
        // Every line's invoice was found above, or the request ended there.
        let invoice = invoices.iter_mut().find(|i| i.id == *id).expect("checked");
        let date = applied_on(payment, invoice);
        recover(conn, payment, invoice, line.amount, date, stamp, &mut moves).await?;
        apply_line(
            payment,
            invoice,
            line,
            open.remove(&invoice.id),
            stamp,
            &mut moves,
        );
    }
    moves.invoices = invoices;
    Ok(moves)
}

/// Checks every line of a remittance against the invoice it names (`ids`, in line order):
/// all problems in one 422.
pub(super) fn check_remittance(
    payment: &PaymentRow,
    lines: &[RemittanceLine],
    ids: &[Uuid],
    invoices: &[InvoiceRow],
    under: &HashSet<Uuid>,
) -> Result<(), ApiError> {
    let mut e = Errors::default();
    for (k, (line, id)) in lines.iter().zip(ids).enumerate() {
        let field = if line.invoice_id.is_some() {
            "invoice_id"
        } else {
            "invoice_number"
        };
        let Some(invoice) = invoices.iter().find(|i| i.id == *id) else {
            // Deleted (a draft) since the lines were resolved.
            e.add(
                &format!("remittance[{k}].{field}"),
                "unknown",
                "no invoice has it",
            );
            continue;
        };
        collect(
            rules::application_refusal(
                payment,
                invoice,
                under,
                line.amount,
                &format!("remittance[{k}].{field}"),
                &format!("remittance[{k}].amount"),
            )
            .map(Into::into),
            &mut e,
        )?;
        if line.deduction_reason.is_some()
            && line.amount >= invoice.balance_due - invoice.disputed_amount
        {
            e.add(
                &format!("remittance[{k}].deduction_reason"),
                "nothing_deducted",
                "the line pays the whole undisputed balance; nothing is deducted",
            );
        }
    }
    Ok(e.finish()?)
}

/// Applies one checked remittance line: the application, its entries, and the deduction a
/// short line leaves (`open`: the invoice's open deduction, brought to the new short amount).
pub(super) fn apply_line(
    payment: &mut PaymentRow,
    invoice: &mut InvoiceRow,
    line: &RemittanceLine,
    open: Option<DeductionRow>,
    stamp: &Stamp,
    moves: &mut Moves,
) {
    let date = applied_on(payment, invoice);
    let (application, entries) = rules::apply(
        payment,
        invoice,
        line.amount,
        ApplicationSource::Remittance,
        date,
        stamp,
    );
    moves.applications.push(application);
    moves.entries.extend(entries);
    let updating = open.is_some();
    if let Some(d) = rules::deduction(payment, invoice, line.deduction_reason, open, stamp) {
        if updating {
            moves.updated_deductions.push(d);
        } else {
            moves.deductions.push(d);
        }
    }
}

/// Applies a new payment to the open invoices of its account and of the accounts under it,
/// oldest due first, skipping disputed amounts.
pub(super) async fn apply_auto(
    conn: &mut Conn,
    payment: &mut PaymentRow,
    stamp: &Stamp,
) -> Result<Moves, ApiError> {
    let mut invoices =
        crate::invoices::store::lock_open_of_family(conn, payment.account_id).await?;
    let plan = rules::auto_plan(payment.unapplied(), &invoices);
    let mut moves = Moves::default();
    for (id, amount) in &plan {
        let invoice = invoices.iter_mut().find(|i| i.id == *id).expect("locked");
        let date = applied_on(payment, invoice);
        let (application, entries) = rules::apply(
            payment,
            invoice,
            *amount,
            ApplicationSource::Auto,
            date,
            stamp,
        );
        moves.applications.push(application);
        moves.entries.extend(entries);
    }
    invoices.retain(|i| plan.iter().any(|(id, _)| *id == i.id));
    moves.invoices = invoices;
    Ok(moves)
}
