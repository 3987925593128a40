//! HTTP handlers of payments: record one (applying it by its remittance, oldest due first, or
//! not at all), apply it by hand, reverse an application, refund, return, read and list.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel_async::AsyncConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{
    ApplicationRow, ApplicationSource, DeductionRow, NewApplication, NewPayment, NewRefund,
    PaymentFilter, PaymentRow, PaymentStatus, PaymentView, RefundRow, RemittanceLine,
    ReturnPayment, ReverseApplication,
};
use super::rules::{self, Stamp};
use super::store;
use crate::accounts::model::AccountRow;
use crate::adjustments::model::{AdjustmentKind, AdjustmentRow};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency::{self, Begin};
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::ledger::model::EntryRow;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::validate::Errors;
use crate::AppState;

/// What one cash movement changed, written by [`save`].
#[derive(Default)]
struct Moves {
    invoices: Vec<InvoiceRow>,
    applications: Vec<ApplicationRow>,
    /// New deductions.
    deductions: Vec<DeductionRow>,
    /// Open deductions brought to a new short amount.
    updated_deductions: Vec<DeductionRow>,
    /// Recoveries of written-off invoices, and write-offs of reversed recoveries.
    adjustments: Vec<AdjustmentRow>,
    entries: Vec<EntryRow>,
}

/// Before a payment is applied to an uncollectible invoice, the written-off amount it pays is
/// reinstated: a recovery.
async fn recover(
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
async fn write_off_again(
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
        currency: invoice.currency.clone(),
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
async fn save(
    conn: &mut Conn,
    ctx: &Ctx,
    payment: &PaymentRow,
    moves: &Moves,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    save_as(conn, ctx, payment, moves, stamp, false).await
}

/// [`save`], for a payment that is new (`created`: inserted as it ends, not updated).
async fn save_as(
    conn: &mut Conn,
    ctx: &Ctx,
    payment: &PaymentRow,
    moves: &Moves,
    stamp: &Stamp,
    created: bool,
) -> Result<(), ApiError> {
    if created {
        store::insert(conn, payment).await?;
    } else {
        store::update(conn, payment).await?;
    }
    for invoice in &moves.invoices {
        crate::invoices::store::update(conn, invoice).await?;
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
        audit::record(
            conn,
            ctx,
            Change {
                action: "adjustment.created",
                entity_type: "adjustment",
                entity_id: view.id,
                account_id: Some(view.account_id),
                before: None,
                after: Some(&view),
            },
        )
        .await?;
    }
    crate::ledger::store::post(conn, &moves.entries).await?;
    crate::collections::events::cash_moved(
        conn,
        ctx,
        payment.account_id,
        payment.status == PaymentStatus::Returned,
    )
    .await
}

/// Records a payment's change in the audit log and answers its view (stored with the
/// idempotency key).
async fn finish(
    conn: &mut Conn,
    ctx: &Ctx,
    claim: idempotency::Claim,
    action: &str,
    before: Option<PaymentView>,
    payment: PaymentRow,
    status: StatusCode,
) -> Result<idempotency::Stored, ApiError> {
    let after = store::view(conn, payment).await?;
    finish_with(conn, ctx, claim, action, before, after, status).await
}

/// [`finish`] with the view already made.
async fn finish_with(
    conn: &mut Conn,
    ctx: &Ctx,
    claim: idempotency::Claim,
    action: &str,
    before: Option<PaymentView>,
    after: PaymentView,
    status: StatusCode,
) -> Result<idempotency::Stored, ApiError> {
    audit::record(
        conn,
        ctx,
        Change {
            action,
            entity_type: "payment",
            entity_id: after.id,
            account_id: Some(after.account_id),
            before: before.as_ref(),
            after: Some(&after),
        },
    )
    .await?;
    claim.finish(conn, status, &after).await
}

/// The invoice each remittance line names (422 naming the line when none does).
async fn resolve_lines(conn: &mut Conn, lines: &[RemittanceLine]) -> Result<Vec<Uuid>, ApiError> {
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

/// The date an application made when the payment is recorded takes in the ledger: the day the
/// money came in, or the invoice's date when the invoice is younger.
fn applied_on(payment: &PaymentRow, invoice: &InvoiceRow) -> time::Date {
    payment.received_date.max(invoice.invoice_date)
}

/// Applies a new payment as its remittance says: every line checked first (all problems in
/// one 422), then applied, a short line leaving a deduction.
async fn apply_remittance(
    conn: &mut Conn,
    payment: &mut PaymentRow,
    lines: &[RemittanceLine],
    stamp: &Stamp,
) -> Result<Moves, ApiError> {
    let ids = resolve_lines(conn, lines).await?;
    let mut invoices = crate::invoices::store::lock_many(conn, &ids).await?;
    let mut open = store::open_deductions(conn, &ids).await?;
    let mut e = Errors::default();
    for (k, (line, id)) in lines.iter().zip(&ids).enumerate() {
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
                line.amount,
                &format!("remittance[{k}].{field}"),
                &format!("remittance[{k}].amount"),
            ),
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
    e.finish()?;
    let mut moves = Moves::default();
    for (line, id) in lines.iter().zip(&ids) {
        // Every line's invoice was found above, or the request ended there.
        let invoice = invoices.iter_mut().find(|i| i.id == *id).expect("checked");
        let date = applied_on(payment, invoice);
        recover(conn, payment, invoice, line.amount, date, stamp, &mut moves).await?;
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
        let existing = open.remove(&invoice.id);
        let updating = existing.is_some();
        if let Some(d) = rules::deduction(payment, invoice, line.deduction_reason, existing, stamp)
        {
            if updating {
                moves.updated_deductions.push(d);
            } else {
                moves.deductions.push(d);
            }
        }
    }
    moves.invoices = invoices;
    Ok(moves)
}

/// Applies a new payment to the account's open invoices, oldest due first, skipping disputed
/// amounts.
async fn apply_auto(
    conn: &mut Conn,
    payment: &mut PaymentRow,
    stamp: &Stamp,
) -> Result<Moves, ApiError> {
    let mut invoices = store::lock_open_invoices(conn, payment.account_id).await?;
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
    let applications = moves
        .applications
        .iter()
        .map(|a| {
            let invoice = moves.invoices.iter().find(|i| i.id == a.invoice_id);
            super::model::ApplicationView::new(
                a.clone(),
                &payment.currency,
                payment.number.clone(),
                invoice.and_then(|i| i.number.clone()),
            )
        })
        .collect();
    Ok(PaymentView::new(
        payment.clone(),
        applications,
        Vec::new(),
        moves.deductions,
    ))
}

/// Handles the POST /v1/payments route: records a payment and applies it.
///
/// With a remittance, each line pays the invoice it names (by id or number); a line paying
/// less than the undisputed balance leaves a deduction with its reason. Without one, `auto`
/// (the default) pays the account's open invoices oldest due date first, then oldest invoice
/// date, skipping disputed amounts; `none` leaves it all unapplied. Whatever is not applied
/// stays as unapplied cash on the account.
#[utoipa::path(
    tag = "payments",
    request_body = NewPayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The payment, with its applications and deductions", body = PaymentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/payments")]
pub async fn create_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewPayment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let new = body.0;
    let mut e = Errors::default();
    let mode = rules::check_new(&new, ctx.now.date(), &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/payments", &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let account =
                crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
            if account.currency != new.currency {
                return Err(ApiError::field(
                    "currency",
                    "currency_mismatch",
                    format!("must be the account's currency ({})", account.currency),
                ));
            }
            let stamp = Stamp::of(&ctx);
            let mut payment = PaymentRow {
                id: Uuid::now_v7(),
                number: store::next_number(conn).await?,
                account_id: account.id,
                amount: new.amount,
                currency: account.currency.clone(),
                method: new.method,
                reference: new.reference.as_deref().map(|r| r.trim().to_string()),
                received_date: new.received_date,
                application_mode: mode,
                memo: new.memo.clone(),
                amount_applied: Decimal::ZERO,
                amount_refunded: Decimal::ZERO,
                status: PaymentStatus::Unapplied,
                returned_on: None,
                return_reason: None,
                return_code: None,
                return_note: None,
                return_fee_invoice_id: None,
                version: 1,
                created_by: stamp.actor.clone(),
                created_at: stamp.now,
                updated_at: stamp.now,
            };
            let view = receive(conn, &ctx, &mut payment, new.remittance.as_deref(), &stamp).await?;
            finish_with(
                conn,
                &ctx,
                claim,
                "payment.received",
                None,
                view,
                StatusCode::CREATED,
            )
            .await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/payments/{id}/applications route: applies part of the payment's
/// unapplied amount to an invoice of its account.
///
/// Refused (422 naming the field) above the payment's unapplied amount or the invoice's
/// balance, for another account's invoice, another currency, a draft, void or written-off
/// invoice; 409 for a returned payment.
#[utoipa::path(
    tag = "payments",
    request_body = NewApplication,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The payment with the new application", body = PaymentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/payments/{id}/applications")]
pub async fn create_application(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewApplication>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    let field = match (&new.invoice_id, &new.invoice_number) {
        (Some(_), None) => "invoice_id",
        (None, Some(n)) => {
            e.text("invoice_number", n, 40);
            "invoice_number"
        }
        _ => {
            e.add(
                "invoice_id",
                "one_of",
                "give exactly one of invoice_id and invoice_number",
            );
            "invoice_id"
        }
    };
    rules::check_amount("amount", new.amount, None, &mut e);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/payments/{id}/applications"), &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let mut payment = store::lock(conn, id).await?;
            let mut e = Errors::default();
            rules::check_amount(
                "amount",
                new.amount,
                Currency::parse(&payment.currency),
                &mut e,
            );
            e.finish()?;
            let invoice_id = match (&new.invoice_id, &new.invoice_number) {
                (Some(id), _) => Some(*id),
                (None, Some(n)) => crate::invoices::store::ids_by_number(conn, &[n.trim()])
                    .await?
                    .into_values()
                    .next(),
                (None, None) => None,
            };
            let mut invoice = crate::invoices::store::lock_named(
                conn,
                invoice_id.unwrap_or_else(Uuid::nil),
                field,
            )
            .await?;
            if let Some(refusal) =
                rules::application_refusal(&payment, &invoice, new.amount, field, "amount")
            {
                return Err(refusal);
            }
            let before = store::view(conn, payment.clone()).await?;
            let stamp = Stamp::of(&ctx);
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
            save(conn, &ctx, &payment, &moves, &stamp).await?;
            finish(
                conn,
                &ctx,
                claim,
                "payment.applied",
                Some(before),
                payment,
                StatusCode::CREATED,
            )
            .await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/payments/{id}/applications/{application_id}/reverse route: reverses
/// one application. The application stays in the history, dated and with the reason; the
/// amount goes back to the invoice's balance (reopening it) and to the payment's unapplied
/// cash. Open deductions the payment left on that invoice are cancelled.
#[utoipa::path(
    tag = "payments",
    request_body = ReverseApplication,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("application_id" = Uuid, Path, description = "Application id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The payment with the application reversed", body = PaymentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/payments/{id}/applications/{application_id}/reverse")]
pub async fn reverse_application(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<ReverseApplication>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let (id, application_id) = path.into_inner();
    let reverse = body.0;
    let mut e = Errors::default();
    e.text("reason", &reverse.reason, 500);
    e.finish()?;
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/payments/{id}/applications/{application_id}/reverse"),
        &reverse,
    )?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
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
            let stamp = Stamp::of(&ctx);
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
            save(conn, &ctx, &payment, &moves, &stamp).await?;
            store::reopen_deductions(conn, payment.id, &[invoice_id], &stamp).await?;
            finish(conn, &ctx, claim, "payment.application_reversed", Some(before), payment, StatusCode::OK).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/payments/{id}/refunds route: sends part of the payment's unapplied
/// amount back to the customer (never more than is unapplied).
#[utoipa::path(
    tag = "payments",
    request_body = NewRefund,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The payment with the refund", body = PaymentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/payments/{id}/refunds")]
pub async fn create_refund(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewRefund>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRefund)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    rules::check_amount("amount", new.amount, None, &mut e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.optional_text("reason", new.reason.as_deref(), 500);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/payments/{id}/refunds"), &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let mut payment = store::lock(conn, id).await?;
            let stamp = Stamp::of(&ctx);
            let refunded_on = new.refunded_on.unwrap_or(stamp.today());
            let mut e = Errors::default();
            rules::check_amount(
                "amount",
                new.amount,
                Currency::parse(&payment.currency),
                &mut e,
            );
            let earliest = store::last_movement(conn, id)
                .await?
                .unwrap_or(payment.received_date);
            rules::check_date("refunded_on", refunded_on, earliest, stamp.today(), &mut e);
            e.finish()?;
            if let Some(refusal) = rules::refund_refusal(&payment, new.amount) {
                return Err(refusal);
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
            save(conn, &ctx, &payment, &moves, &stamp).await?;
            finish(
                conn,
                &ctx,
                claim,
                "payment.refunded",
                Some(before),
                payment,
                StatusCode::CREATED,
            )
            .await
        })
        .await?;
    Ok(stored.into_response())
}

/// Issues the returned-payment fee invoice: one line at the configured amount and code.
async fn fee_invoice(
    conn: &mut Conn,
    ctx: &Ctx,
    state: &AppState,
    account: &AccountRow,
    payment: &PaymentRow,
    stamp: &Stamp,
) -> Result<InvoiceRow, ApiError> {
    use crate::financial_codes::model::FinancialCodeKind;
    let not_configured = |why: String| ApiError::field("charge_fee", "fee_not_configured", why);
    let Some((amount, code)) = &state.config.payments.returned_payment_fee else {
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
    crate::invoices::routes::fee_invoice(
        conn,
        ctx,
        &state.config.billing.numbering,
        account,
        description,
        *amount,
        code.id,
        stamp,
    )
    .await
}

/// Handles the POST /v1/payments/{id}/return route: the bank gave the payment back (NSF, ACH
/// return with its code, chargeback).
///
/// Every application is reversed and those invoices reopen; the deductions it left are
/// cancelled; the money comes off the account; with `charge_fee`, the configured
/// returned-payment fee is billed on a new issued invoice. The payment counts in the
/// account's returned-payment history and can no longer be applied or refunded. A payment
/// with refunds cannot be returned (409).
#[utoipa::path(
    tag = "payments",
    request_body = ReturnPayment,
    params(
        ("id" = Uuid, Path, description = "Payment id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The returned payment", body = PaymentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/payments/{id}/return")]
pub async fn return_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<ReturnPayment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsWrite)?;
    let how = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    e.optional_text("return_code", how.return_code.as_deref(), 20);
    e.optional_text("note", how.note.as_deref(), 1000);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", &format!("/v1/payments/{id}/return"), &how)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let mut payment = store::lock(conn, id).await?;
            let stamp = Stamp::of(&ctx);
            let returned_on = how.returned_on.unwrap_or(stamp.today());
            let mut e = Errors::default();
            let earliest = store::last_movement(conn, id)
                .await?
                .unwrap_or(payment.received_date);
            rules::check_date("returned_on", returned_on, earliest, stamp.today(), &mut e);
            e.finish()?;
            if let Some(refusal) = rules::return_refusal(&payment) {
                return Err(refusal);
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
            moves.entries.push(rules::mark_returned(
                &mut payment,
                &how,
                returned_on,
                &stamp,
            ));
            moves.invoices = invoices;
            if how.charge_fee {
                let account =
                    crate::accounts::store::find_named(conn, payment.account_id, "account_id")
                        .await?;
                let fee = fee_invoice(conn, &ctx, &state, &account, &payment, &stamp).await?;
                payment.return_fee_invoice_id = Some(fee.id);
            }
            save(conn, &ctx, &payment, &moves, &stamp).await?;
            store::reopen_deductions(conn, id, &invoice_ids, &stamp).await?;
            finish(
                conn,
                &ctx,
                claim,
                "payment.returned",
                Some(before),
                payment,
                StatusCode::OK,
            )
            .await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/payments/{id} route: the payment with its applications (reversed ones
/// too), refunds, deductions and return.
#[utoipa::path(
    tag = "payments",
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/payments/{id}")]
pub async fn get_payment(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(store::view(&mut conn, row).await?))
}

/// Handles the GET /v1/payments route: payments, newest first, filtered.
#[utoipa::path(
    tag = "payments",
    params(PaymentFilter, PageParams),
    responses(
        (status = 200, description = "A page of payments", body = Page<PaymentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/payments")]
pub async fn list_payments(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<PaymentFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    let views = store::views(&mut conn, rows).await?;
    let page = Page::from_rows(views, limit, |v: &PaymentView| v.id, |v| v);
    Ok(HttpResponse::Ok().json(page))
}
