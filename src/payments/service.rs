//! The payment commands, each in the caller's transaction: record (and apply) a payment,
//! apply it by hand, reverse an application, refund, return. Each answers what it did for
//! the audit log and the response; [`receive`] is how other domains record cash.

pub mod batch;
pub mod deductions;

use actix_web::http::StatusCode;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::application::{
    apply_auto, apply_remittance, recover, save, save_as, write_off_again, Moves,
};
use super::model::{ApplicationMode, ApplicationSource, PaymentRow, PaymentView, RefundRow};
use super::requests::{
    NewApplication, NewPayment, NewRefund, RemittanceLine, ReturnPayment, ReverseApplication,
};
use super::rules::{self, Stamp};
use super::store;
use crate::accounts::model::AccountRow;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::idempotency::Written;
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::invoices::rules::Numbering;
use crate::outbox::{self, EventType};
use crate::validate::Errors;

/// Writes a new payment, applies it as its mode says (by the remittance, oldest due first,
/// or not at all) and posts its receipt and applications. Answers its view, built from what
/// was just written (a new payment has no refunds, and its deductions are the ones it left).
pub async fn receive(
    conn: &mut Conn,
    ctx: &Ctx,
    payment: &mut PaymentRow,
    remittance: Option<&[RemittanceLine]>,
    stamp: &Stamp,
) -> Result<PaymentView, ApiError> {
    let receipt = rules::receipt(payment, stamp);
    let mut moves = match (payment.application_mode, remittance) {
        (super::model::ApplicationMode::Remittance, Some(lines)) => {
            apply_remittance(conn, payment, lines, stamp).await?
        }
        (super::model::ApplicationMode::Auto, _) => apply_auto(conn, payment, stamp).await?,
        _ => Moves::default(),
    };
    moves.entries.insert(0, receipt);
    payment.version = 1;
    save_as(conn, ctx, payment, &moves, stamp, true).await?;
    let view = new_view(payment, &moves);
    announce(conn, stamp, EventType::PaymentReceived, &view).await?;
    if !view.applications.is_empty() {
        announce(conn, stamp, EventType::PaymentApplied, &view).await?;
    }
    Ok(view)
}

/// A new payment's view, built from what it moved (a new payment has no refunds, and its
/// deductions are the ones it left).
fn new_view(payment: &PaymentRow, moves: &Moves) -> PaymentView {
    let applications = moves
        .applications
        .iter()
        .map(|a| {
            let invoice = moves.invoices.iter().find(|i| i.id == a.invoice_id);
            super::model::ApplicationView::new(
                a.clone(),
                payment.currency,
                payment.number.clone(),
                invoice.and_then(|i| i.number.clone()),
                invoice.map_or(payment.account_id, |i| i.account_id),
            )
        })
        .collect();
    PaymentView::new(
        payment.clone(),
        applications,
        Vec::new(),
        moves.deductions.clone(),
    )
}

/// Writes `event` about the payment, carrying it as the API returns it.
async fn announce(
    conn: &mut Conn,
    stamp: &Stamp,
    event: EventType,
    view: &PaymentView,
) -> Result<(), ApiError> {
    outbox::emit(conn, stamp.now, event, view.id, Some(view.account_id), view).await?;
    Ok(())
}

/// Records a new payment and applies it as its mode says.
pub async fn record(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewPayment,
    mode: ApplicationMode,
) -> Result<Written<PaymentView>, ApiError> {
    let account = crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
    check_currency(new, &account)?;
    let number = store::next_number(conn).await?;
    record_numbered(conn, ctx, new, mode, &account, number).await
}

/// [`record`] for a payment of `account` whose number is taken.
async fn record_numbered(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewPayment,
    mode: ApplicationMode,
    account: &AccountRow,
    number: String,
) -> Result<Written<PaymentView>, ApiError> {
    let stamp = ctx.stamp();
    let mut payment = new_row(new, mode, account, number, &stamp)?;
    let view = receive(conn, ctx, &mut payment, new.remittance.as_deref(), &stamp).await?;
    Ok(Written {
        status: StatusCode::CREATED,
        action: "payment.received",
        before: None,
        after: view,
    })
}

/// The row of a new payment of `account` numbered `number` (refused when not in the
/// account's currency).
fn new_row(
    new: &NewPayment,
    mode: ApplicationMode,
    account: &AccountRow,
    number: String,
    stamp: &Stamp,
) -> Result<PaymentRow, ApiError> {
    check_currency(new, account)?;
    Ok(PaymentRow {
        reference: new.reference.as_deref().map(|r| r.trim().to_string()),
        application_mode: mode,
        memo: new.memo.clone(),
        ..PaymentRow::received(
            number,
            account.id,
            new.amount,
            account.currency,
            new.method,
            new.received_date,
            stamp.actor.clone(),
            stamp.now,
        )
    })
}

fn check_currency(new: &NewPayment, account: &AccountRow) -> Result<(), ApiError> {
    if account.currency.code() != new.currency {
        return Err(ApiError::field(
            "currency",
            "currency_mismatch",
            format!("must be the account's currency ({})", account.currency),
        ));
    }
    Ok(())
}

/// Applies part of a payment's unapplied amount to an invoice of its account (`field` names
/// how the caller named the invoice).
pub async fn apply(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &NewApplication,
    field: &str,
) -> Result<Written<PaymentView>, ApiError> {
    let mut payment = store::lock(conn, id).await?;
    let mut e = Errors::default();
    rules::check_amount("amount", new.amount, Some(payment.currency), &mut e);
    e.finish()?;
    let invoice_id = match (&new.invoice_id, &new.invoice_number) {
        (Some(id), _) => Some(*id),
        (None, Some(n)) => crate::invoices::store::ids_by_number(conn, &[n.trim()])
            .await?
            .into_values()
            .next(),
        (None, None) => None,
    };
    let mut invoice =
        crate::invoices::store::lock_named(conn, invoice_id.unwrap_or_else(Uuid::nil), field)
            .await?;
    let under =
        super::application::under_payer(conn, payment.account_id, std::slice::from_ref(&invoice))
            .await?;
    if let Some(refusal) =
        rules::application_refusal(&payment, &invoice, &under, new.amount, field, "amount")
    {
        return Err(refusal.into());
    }
    let before = store::view(conn, payment.clone()).await?;
    let stamp = ctx.stamp();
    // Dated today, or the invoice's date when the invoice is dated later.
    let date = stamp.today().max(invoice.invoice_date);
    let mut moves = Moves::default();
    recover(
        conn,
        &payment,
        &mut invoice,
        new.amount,
        date,
        &stamp,
        &mut moves,
    )
    .await?;
    let (application, entries) = rules::apply(
        &mut payment,
        &mut invoice,
        new.amount,
        ApplicationSource::Manual,
        date,
        &stamp,
    );
    moves.invoices = vec![invoice];
    moves.applications = vec![application];
    moves.entries.extend(entries);
    save(conn, ctx, &payment, &moves, &stamp).await?;
    let after = store::view(conn, payment).await?;
    announce(conn, &stamp, EventType::PaymentApplied, &after).await?;
    Ok(Written {
        status: StatusCode::CREATED,
        action: "payment.applied",
        before: Some(before),
        after,
    })
}

/// Reverses one application: the amount goes back to the invoice and to unapplied cash.
pub async fn reverse_application(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    application_id: Uuid,
    reverse: &ReverseApplication,
) -> Result<Written<PaymentView>, ApiError> {
    let mut payment = store::lock(conn, id).await?;
    let mut application = store::find_application(conn, id, application_id).await?;
    if application.reversed_at.is_some() {
        return Err(ApiError::conflict(
            "application_reversed",
            "The application was already reversed.",
        ));
    }
    let mut invoice =
        crate::invoices::store::lock_visible(conn, application.invoice_id, None).await?;
    if invoice.status == InvoiceStatus::Uncollectible
        && application.amount
            > crate::adjustments::store::recovered_by(conn, payment.id, invoice.id).await?
    {
        return Err(ApiError::conflict(
            "invoice_uncollectible",
            "The invoice was written off as uncollectible after this application; unapplying it would raise a written-off balance.",
        ));
    }
    let before = store::view(conn, payment.clone()).await?;
    let stamp = ctx.stamp();
    // Never dated before the application it undoes.
    let date = stamp.today().max(application.applied_on);
    let entries = rules::reverse(
        &mut payment,
        &mut invoice,
        &mut application,
        reverse.reason.trim(),
        date,
        &stamp,
    );
    store::update_application(conn, &application).await?;
    store::cancel_deductions(conn, payment.id, &[invoice.id], &stamp).await?;
    let invoice_id = invoice.id;
    let mut moves = Moves {
        entries: entries.into(),
        ..Moves::default()
    };
    write_off_again(
        conn,
        &payment,
        &mut invoice,
        application.amount,
        &stamp,
        &mut moves,
    )
    .await?;
    moves.invoices = vec![invoice];
    save(conn, ctx, &payment, &moves, &stamp).await?;
    store::reopen_deductions(conn, payment.id, &[invoice_id], &stamp).await?;
    Ok(Written {
        status: StatusCode::OK,
        action: "payment.application_reversed",
        before: Some(before),
        after: store::view(conn, payment).await?,
    })
}

/// Sends part of a payment's unapplied amount back to the customer.
pub async fn refund(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    new: &NewRefund,
) -> Result<Written<PaymentView>, ApiError> {
    let mut payment = store::lock(conn, id).await?;
    let stamp = ctx.stamp();
    let refunded_on = new.refunded_on.unwrap_or(stamp.today());
    let mut e = Errors::default();
    rules::check_amount("amount", new.amount, Some(payment.currency), &mut e);
    let earliest = store::last_movement(conn, id)
        .await?
        .unwrap_or(payment.received_date);
    rules::check_date("refunded_on", refunded_on, earliest, stamp.today(), &mut e);
    e.finish()?;
    if let Some(refusal) = rules::refund_refusal(&payment, new.amount) {
        return Err(refusal.into());
    }
    let before = store::view(conn, payment.clone()).await?;
    let row = RefundRow {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        amount: new.amount,
        method: new.method,
        reference: new.reference.as_deref().map(|r| r.trim().to_string()),
        refunded_on,
        reason: new.reason.clone(),
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
    };
    let (row, entry) = rules::refund(&mut payment, row, &stamp);
    store::insert_refund(conn, &row).await?;
    let moves = Moves {
        entries: vec![entry],
        ..Moves::default()
    };
    save(conn, ctx, &payment, &moves, &stamp).await?;
    Ok(Written {
        status: StatusCode::CREATED,
        action: "payment.refunded",
        before: Some(before),
        after: store::view(conn, payment).await?,
    })
}

/// The bank gave the payment back: every application is reversed, its deductions
/// cancelled, and with `charge_fee` the configured fee is billed.
pub async fn return_payment(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    how: &ReturnPayment,
    fee: Option<&(Decimal, String)>,
    numbering: &Numbering,
) -> Result<Written<PaymentView>, ApiError> {
    let mut payment = store::lock(conn, id).await?;
    let stamp = ctx.stamp();
    let returned_on = how.returned_on.unwrap_or(stamp.today());
    let mut e = Errors::default();
    let earliest = store::last_movement(conn, id)
        .await?
        .unwrap_or(payment.received_date);
    rules::check_date("returned_on", returned_on, earliest, stamp.today(), &mut e);
    e.finish()?;
    if let Some(refusal) = rules::return_refusal(&payment) {
        return Err(refusal.into());
    }
    let before = store::view(conn, payment.clone()).await?;
    let mut applications = store::live_applications(conn, id).await?;
    let mut invoice_ids: Vec<Uuid> = applications.iter().map(|a| a.invoice_id).collect();
    invoice_ids.sort();
    invoice_ids.dedup();
    let mut invoices = crate::invoices::store::lock_many(conn, &invoice_ids).await?;
    let mut moves = Moves::default();
    let reason = format!("payment returned ({})", how.reason.as_str());
    for application in &mut applications {
        let invoice = invoices
            .iter_mut()
            .find(|i| i.id == application.invoice_id)
            .ok_or(ApiError::NotFound("invoice"))?;
        moves.entries.extend(rules::reverse(
            &mut payment,
            invoice,
            application,
            &reason,
            returned_on,
            &stamp,
        ));
        write_off_again(
            conn,
            &payment,
            invoice,
            application.amount,
            &stamp,
            &mut moves,
        )
        .await?;
        store::update_application(conn, application).await?;
    }
    store::cancel_deductions(conn, id, &invoice_ids, &stamp).await?;
    moves
        .entries
        .push(rules::mark_returned(&mut payment, how, returned_on, &stamp));
    moves.invoices = invoices;
    if how.charge_fee {
        let account =
            crate::accounts::store::find_named(conn, payment.account_id, "account_id").await?;
        let fee = fee_invoice(conn, ctx, fee, numbering, &account, &payment, &stamp).await?;
        payment.return_fee_invoice_id = Some(fee.id);
    }
    save(conn, ctx, &payment, &moves, &stamp).await?;
    store::reopen_deductions(conn, id, &invoice_ids, &stamp).await?;
    let after = store::view(conn, payment).await?;
    announce(conn, &stamp, EventType::PaymentReturned, &after).await?;
    Ok(Written {
        status: StatusCode::OK,
        action: "payment.returned",
        before: Some(before),
        after,
    })
}

/// Issues the returned-payment fee invoice: one line at the configured amount and code.
async fn fee_invoice(
    conn: &mut Conn,
    ctx: &Ctx,
    fee: Option<&(Decimal, String)>,
    numbering: &Numbering,
    account: &AccountRow,
    payment: &PaymentRow,
    stamp: &Stamp,
) -> Result<InvoiceRow, ApiError> {
    use crate::financial_codes::model::FinancialCodeKind;
    let not_configured = |why: String| ApiError::field("charge_fee", "fee_not_configured", why);
    let Some((amount, code)) = fee else {
        return Err(not_configured(
            "no returned-payment fee is configured (RETURNED_PAYMENT_FEE)".into(),
        ));
    };
    let code = match crate::financial_codes::store::find_by_code(conn, code).await? {
        Some(c) if c.active && c.kind == FinancialCodeKind::Fee => c,
        _ => {
            return Err(not_configured(format!(
                "the configured fee code {code} is not an active financial code of kind fee"
            )))
        }
    };
    let description = format!(
        "Returned payment fee: payment {} ({})",
        payment.number,
        payment.return_reason.map_or("returned", |r| r.as_str())
    );
    crate::invoices::service::fee_invoice(
        conn,
        ctx,
        numbering,
        account,
        description,
        *amount,
        code.id,
        stamp,
    )
    .await
}
