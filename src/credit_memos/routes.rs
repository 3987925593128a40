//! HTTP handlers of credit memos: drafts, issue (or approval above the issuer's limit),
//! approve, reject, apply, refund, void, read, list and the document.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel_async::AsyncConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{
    ApprovalNote, CreditLineRow, CreditMemoFilter, CreditMemoRow, CreditMemoStatus, CreditMemoView,
    CreditRefundRow, NewCreditApplication, NewCreditMemo, NewCreditRefund, Rejection,
    VoidCreditMemo,
};
use super::service::{issued, line_rows, new_memo, plain_line, submit, targets_of_lines};
use super::{rules, store};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey, OptionalJson};
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::{self, Begin};
use crate::invoices::document::{DocumentQuery, Sheet, SheetLine};
use crate::ledger::model::Stamp;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::payments::rules::check_amount;
use crate::validate::Errors;
use crate::AppState;

/// Most lines on a credit memo.
const MAX_LINES: usize = 100;

/// Voiding an issued memo gives back to its invoices the taxable amount its lines credited.
async fn give_back_taxable(
    conn: &mut Conn,
    memo: &CreditMemoRow,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    if memo.status != CreditMemoStatus::Issued {
        return Ok(());
    }
    let credited = rules::taxable_by_invoice(&store::lines_of(conn, memo.id).await?);
    if credited.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = credited.keys().copied().collect();
    for mut invoice in crate::invoices::store::lock_many(conn, &ids).await? {
        invoice.credited_taxable -= credited[&invoice.id];
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        crate::invoices::store::update(conn, &invoice).await?;
    }
    Ok(())
}

/// A memo of a valid dispute that waits for approval keeps its amount held on the disputed
/// invoice (not auto-applied, not dunned); approval, rejection or void releases it.
pub async fn release_dispute_hold(
    conn: &mut Conn,
    memo: &CreditMemoRow,
    stamp: &Stamp,
) -> Result<(), ApiError> {
    if memo.dispute_id.is_none() || memo.status != CreditMemoStatus::PendingApproval {
        return Ok(());
    }
    let targets = store::targets_of(conn, memo.id).await?;
    let ids: Vec<Uuid> = targets.iter().map(|t| t.invoice_id).collect();
    for mut invoice in crate::invoices::store::lock_many(conn, &ids).await? {
        let held: Decimal = targets
            .iter()
            .filter(|t| t.invoice_id == invoice.id)
            .map(|t| t.amount)
            .sum();
        invoice.disputed_amount = (invoice.disputed_amount - held).max(Decimal::ZERO);
        invoice.version += 1;
        invoice.updated_at = stamp.now;
        crate::invoices::store::update(conn, &invoice).await?;
    }
    Ok(())
}

/// Checks a new memo's fields; returns its lines (invoice lines named, not yet checked).
fn check_new(new: &NewCreditMemo, currency: Currency, e: &mut Errors) -> Vec<CreditLineRow> {
    let lines: Vec<CreditLineRow> = match (&new.lines, new.amount) {
        (Some(lines), None) => {
            if lines.is_empty() || lines.len() > MAX_LINES {
                e.add("lines", "out_of_range", format!("1 to {MAX_LINES} lines"));
            }
            for (k, l) in lines.iter().enumerate() {
                e.text(&format!("lines[{k}].description"), &l.description, 500);
                check_amount(&format!("lines[{k}].amount"), l.amount, Some(currency), e);
            }
            lines
                .iter()
                .map(|l| CreditLineRow {
                    invoice_line_id: l.invoice_line_id,
                    financial_code_id: l.financial_code_id,
                    ..plain_line(l.description.trim().to_string(), l.amount)
                })
                .collect()
        }
        (None, Some(amount)) => {
            e.optional_text("description", new.description.as_deref(), 500);
            check_amount("amount", amount, Some(currency), e);
            vec![plain_line(
                new.description
                    .as_deref()
                    .map_or("Credit".to_string(), |d| d.trim().to_string()),
                amount,
            )]
        }
        _ => {
            e.add("lines", "one_of", "give either lines or amount");
            Vec::new()
        }
    };
    e.optional_text("memo", new.memo.as_deref(), 1000);
    let total: Decimal = lines
        .iter()
        .filter(|l| l.invoice_line_id.is_none())
        .map(|l| l.amount.max(Decimal::ZERO))
        .sum();
    let targeted: Decimal = new
        .targets
        .iter()
        .map(|t| t.amount.max(Decimal::ZERO))
        .sum();
    let mut seen = std::collections::HashSet::new();
    for (k, t) in new.targets.iter().enumerate() {
        check_amount(&format!("targets[{k}].amount"), t.amount, Some(currency), e);
        if !seen.insert(t.invoice_id) {
            e.add(
                &format!("targets[{k}].invoice_id"),
                "duplicate",
                "names an invoice already targeted",
            );
        }
    }
    if targeted > total {
        e.add(
            "targets",
            "exceeds_total",
            format!("target {targeted}, more than the total of the lines not of an invoice line ({total})"),
        );
    }
    lines
}

/// Ties the lines naming an invoice line to it: the line must be a positive line of an issued,
/// not void or written-off invoice of the account, and not credit more than it; the invoice
/// may not also be a target given by hand. Returns the invoices the lines credit.
async fn check_invoice_lines(
    conn: &mut Conn,
    account_id: Uuid,
    lines: &mut [CreditLineRow],
    targets: &[super::model::CreditTarget],
    e: &mut Errors,
) -> Result<Vec<Uuid>, ApiError> {
    use crate::invoices::model::InvoiceStatus;
    let ids: Vec<Uuid> = lines.iter().filter_map(|l| l.invoice_line_id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = crate::invoices::store::lines_with_invoices(conn, &ids).await?;
    let mut invoices = Vec::new();
    for (k, line) in lines.iter_mut().enumerate() {
        let Some(line_id) = line.invoice_line_id else {
            continue;
        };
        let field = format!("lines[{k}].invoice_line_id");
        let Some((of, invoice)) = found.iter().find(|(l, _)| l.id == line_id) else {
            e.add(&field, "unknown", "no invoice line has this id");
            continue;
        };
        if invoice.account_id != account_id {
            e.add(
                &field,
                "other_account",
                "is a line of another account's invoice",
            );
        } else if !matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::Paid) {
            e.add(
                &field,
                "not_creditable",
                format!("its invoice is {}", invoice.status.as_str()),
            );
        } else if of.amount <= Decimal::ZERO {
            e.add(&field, "not_creditable", "is a credit or true-up line");
        } else if line.amount > of.amount {
            e.add(
                &format!("lines[{k}].amount"),
                "exceeds_line",
                format!("is more than the invoice line's amount ({})", of.amount),
            );
        }
        if let Some(t) = targets.iter().position(|t| t.invoice_id == invoice.id) {
            e.add(
                &format!("targets[{t}].invoice_id"),
                "implied_by_lines",
                "is credited by lines of it; their totals are its target",
            );
        }
        line.invoice_id = Some(invoice.id);
        line.taxable = of.taxable && !invoice.tax_rate.is_zero();
        line.period_start = of.period_start;
        line.period_end = of.period_end;
        invoices.push(invoice.id);
    }
    invoices.sort();
    invoices.dedup();
    Ok(invoices)
}

/// Handles the POST /v1/credit-memos route: a credit memo draft.
///
/// Lines (or one `amount`), a reason, an active financial code of kind `credit`, and
/// optionally the invoices of the account it goes to (each target at most the invoice's
/// undisputed balance; together at most the total).
#[utoipa::path(
    tag = "credit memos",
    request_body = NewCreditMemo,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The draft", body = CreditMemoView),
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
#[post("/credit-memos")]
pub async fn create_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewCreditMemo>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/credit-memos", &new)?;
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
            let currency = Currency::parse(&account.currency).expect("a stored currency");
            let mut e = Errors::default();
            let mut lines = check_new(&new, currency, &mut e);
            crate::financial_codes::store::check_codes(
                conn,
                &[("financial_code_id".into(), new.financial_code_id)],
                &[FinancialCodeKind::Credit],
                &mut e,
            )
            .await?;
            let line_codes: Vec<(String, Uuid)> = lines
                .iter()
                .enumerate()
                .filter_map(|(k, l)| {
                    l.financial_code_id
                        .map(|c| (format!("lines[{k}].financial_code_id"), c))
                })
                .collect();
            crate::financial_codes::store::check_codes(
                conn,
                &line_codes,
                &[FinancialCodeKind::Credit, FinancialCodeKind::Revenue],
                &mut e,
            )
            .await?;
            let credited =
                check_invoice_lines(conn, account.id, &mut lines, &new.targets, &mut e).await?;
            let mut ids: Vec<Uuid> = new.targets.iter().map(|t| t.invoice_id).collect();
            ids.extend(credited);
            let invoices = crate::invoices::store::lock_many(conn, &ids).await?;
            for (k, t) in new.targets.iter().enumerate() {
                let field = format!("targets[{k}].invoice_id");
                match invoices.iter().find(|i| i.id == t.invoice_id) {
                    None => e.add(&field, "unknown", "no invoice has this id"),
                    Some(i) if i.account_id != account.id => {
                        e.add(&field, "other_account", "is an invoice of another account")
                    }
                    Some(i) if t.amount > rules::creditable(i) => e.add(
                        &format!("targets[{k}].amount"),
                        "exceeds_balance",
                        format!(
                            "is more than the invoice's undisputed open balance ({})",
                            rules::creditable(i)
                        ),
                    ),
                    Some(_) => {}
                }
            }
            e.finish()?;
            // The tax as things stand; fixed when the memo is issued.
            let taxes: Vec<rules::InvoiceTax> = invoices.iter().map(Into::into).collect();
            rules::tax_lines(&mut lines, &taxes, currency);
            let stamp = Stamp::of(&ctx);
            let memo = new_memo(
                account.id,
                &account.currency,
                new.reason,
                new.financial_code_id,
                &lines,
                new.memo.clone(),
                None,
                &stamp,
            );
            let line_rows = line_rows(memo.id, &lines);
            let targets = targets_of_lines(memo.id, &line_rows, &new.targets);
            store::insert(conn, &memo, &line_rows, &targets).await?;
            let view = store::view(conn, memo).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "credit_memo.created",
                    entity_type: "credit_memo",
                    entity_id: view.id,
                    account_id: Some(view.account_id),
                    before: None,
                    after: Some(&view),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Runs one change of a memo in a transaction: claims the idempotency key, locks the memo,
/// runs `$body` (a `Result<(), ApiError>`) with `$conn`, `$memo` (mutable) and `$stamp` bound,
/// records the audit entry
/// and answers the memo's view with `$status`.
macro_rules! memo_change {
    ($state:expr, $ctx:expr, $id:expr, $key:expr, $fingerprint:expr, $action:expr, $status:expr,
     |$conn:ident, $memo:ident, $stamp:ident| $body:block) => {{
        let ctx: &Ctx = $ctx;
        let mut conn = crate::db::conn(&$state.pool).await?;
        let stored = conn
            .transaction(async |$conn| {
                let claim = match idempotency::begin($conn, ctx, $key, $fingerprint).await? {
                    Begin::Replay(stored) => return Ok(stored),
                    Begin::Fresh(claim) => claim,
                };
                let mut memo = store::lock($conn, $id).await?;
                let before = store::view($conn, memo.clone()).await?;
                let stamp = Stamp::of(ctx);
                {
                    let $memo = &mut memo;
                    let $stamp = &stamp;
                    let done: Result<(), ApiError> = $body;
                    done?;
                }
                let after = store::view($conn, memo).await?;
                audit::record(
                    $conn,
                    ctx,
                    Change {
                        action: $action,
                        entity_type: "credit_memo",
                        entity_id: $id,
                        account_id: Some(after.account_id),
                        before: Some(&before),
                        after: Some(&after),
                    },
                )
                .await?;
                claim.finish($conn, $status, &after).await
            })
            .await?;
        Ok(stored.into_response())
    }};
}

/// Handles the POST /v1/credit-memos/{id}/issue route: issues a draft, or sends it for
/// approval when its total is above the caller's approval limit (`CREDIT_APPROVAL_LIMITS`).
///
/// Issuing takes the next number of the year's gapless series (`CM-2026-000001`), puts the
/// credit on the account and applies it to its targets, each up to the invoice's undisputed
/// balance.
#[utoipa::path(
    tag = "credit memos",
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The memo, issued or pending approval", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/issue")]
pub async fn issue_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/issue"), &())?;
    memo_change!(
        state,
        &ctx,
        id,
        key.0.as_deref(),
        &fingerprint,
        "credit_memo.submitted",
        StatusCode::OK,
        |conn, memo, stamp| {
            if let Some(refusal) = rules::issue_refusal(memo) {
                return Err(refusal);
            }
            submit(conn, &state.config.credits, &ctx, memo, stamp).await
        }
    )
}

/// Handles the POST /v1/credit-memos/{id}/approve route: approves a memo pending approval,
/// which issues and applies it. Not by whoever submitted it (403), and only within the
/// approver's own limit (403).
#[utoipa::path(
    tag = "credit memos",
    request_body(content = Option<ApprovalNote>),
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The issued memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/approve")]
pub async fn approve_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<ApprovalNote>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosApprove)?;
    let note = body.0.note;
    let mut e = Errors::default();
    e.optional_text("note", note.as_deref(), 1000);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/approve"), &note)?;
    memo_change!(
        state,
        &ctx,
        id,
        key.0.as_deref(),
        &fingerprint,
        "credit_memo.approved",
        StatusCode::OK,
        |conn, memo, stamp| {
            let within = state
                .config
                .credits
                .within_limit(ctx.principal.role, memo.total);
            if let Some(refusal) = rules::approval_refusal(memo, within, stamp) {
                return Err(refusal);
            }
            release_dispute_hold(conn, memo, stamp).await?;
            memo.approved_by = Some(stamp.actor.clone());
            memo.approved_at = Some(stamp.now);
            memo.approval_note = note.clone();
            issued(conn, &ctx, memo, stamp).await
        }
    )
}

/// Handles the POST /v1/credit-memos/{id}/reject route: rejects a memo pending approval, with
/// a note. Not by whoever submitted it (403).
#[utoipa::path(
    tag = "credit memos",
    request_body = Rejection,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The rejected memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/reject")]
pub async fn reject_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<Rejection>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosApprove)?;
    let note = body.0.note;
    let mut e = Errors::default();
    e.text("note", &note, 1000);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/reject"), &note)?;
    memo_change!(
        state,
        &ctx,
        id,
        key.0.as_deref(),
        &fingerprint,
        "credit_memo.rejected",
        StatusCode::OK,
        |conn, memo, stamp| {
            if let Some(refusal) = rules::approval_refusal(memo, true, stamp) {
                return Err(refusal);
            }
            release_dispute_hold(conn, memo, stamp).await?;
            memo.status = CreditMemoStatus::Rejected;
            memo.rejected_by = Some(stamp.actor.clone());
            memo.rejection_note = Some(note.clone());
            memo.version += 1;
            memo.updated_at = stamp.now;
            store::update(conn, memo).await
        }
    )
}

/// Handles the POST /v1/credit-memos/{id}/applications route: applies part of an issued memo's
/// unapplied credit to an open invoice of its account (never above the invoice's undisputed
/// balance or the memo's unapplied credit).
#[utoipa::path(
    tag = "credit memos",
    request_body = NewCreditApplication,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The memo with the new application", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/applications")]
pub async fn apply_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewCreditApplication>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    check_amount("amount", new.amount, None, &mut e);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/applications"), &new)?;
    memo_change!(
        state,
        &ctx,
        id,
        key.0.as_deref(),
        &fingerprint,
        "credit_memo.applied",
        StatusCode::CREATED,
        |conn, memo, stamp| {
            let mut e = Errors::default();
            check_amount(
                "amount",
                new.amount,
                Currency::parse(&memo.currency),
                &mut e,
            );
            e.finish()?;
            let mut invoice =
                crate::invoices::store::lock_named(conn, new.invoice_id, "invoice_id").await?;
            if let Some(refusal) = rules::application_refusal(memo, &invoice, new.amount) {
                return Err(refusal);
            }
            let date = stamp.today().max(invoice.invoice_date);
            let (application, entries) = rules::apply(memo, &mut invoice, new.amount, date, stamp);
            store::update(conn, memo).await?;
            crate::invoices::store::update(conn, &invoice).await?;
            store::insert_applications(conn, &[application]).await?;
            crate::payments::store::sync_deductions(conn, &[invoice.id], None, stamp).await?;
            crate::ledger::store::post(conn, &entries).await?;
            crate::collections::events::cash_moved(conn, &ctx, memo.account_id, false).await
        }
    )
}

/// Handles the POST /v1/credit-memos/{id}/refunds route: pays part of an issued memo's
/// unapplied credit back to the customer.
#[utoipa::path(
    tag = "credit memos",
    request_body = NewCreditRefund,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The memo with the refund", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/refunds")]
pub async fn refund_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewCreditRefund>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PaymentsRefund)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    check_amount("amount", new.amount, None, &mut e);
    e.optional_text("reference", new.reference.as_deref(), 100);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/refunds"), &new)?;
    memo_change!(
        state,
        &ctx,
        id,
        key.0.as_deref(),
        &fingerprint,
        "credit_memo.refunded",
        StatusCode::CREATED,
        |conn, memo, stamp| {
            let mut e = Errors::default();
            check_amount(
                "amount",
                new.amount,
                Currency::parse(&memo.currency),
                &mut e,
            );
            e.finish()?;
            if let Some(refusal) = rules::refund_refusal(memo, new.amount) {
                return Err(refusal);
            }
            let entry = rules::refund(memo, new.amount, stamp);
            store::update(conn, memo).await?;
            store::insert_refund(
                conn,
                &CreditRefundRow {
                    id: Uuid::now_v7(),
                    credit_memo_id: memo.id,
                    amount: new.amount,
                    method: new.method,
                    reference: new.reference.as_deref().map(|r| r.trim().to_string()),
                    refunded_on: stamp.today(),
                    created_by: stamp.actor.clone(),
                    created_at: stamp.now,
                },
            )
            .await?;
            crate::ledger::store::post(conn, &[entry]).await
        }
    )
}

/// Handles the POST /v1/credit-memos/{id}/void route: voids a draft, a memo pending approval,
/// or an issued memo of which nothing is applied or refunded (its credit comes off the
/// account; its number stays used).
#[utoipa::path(
    tag = "credit memos",
    request_body = VoidCreditMemo,
    params(
        ("id" = Uuid, Path, description = "Credit memo id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The void memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/credit-memos/{id}/void")]
pub async fn void_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<VoidCreditMemo>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosWrite)?;
    let reason = body.0.reason;
    let mut e = Errors::default();
    e.text("reason", &reason, 500);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/credit-memos/{id}/void"), &reason)?;
    memo_change!(
        state,
        &ctx,
        id,
        key.0.as_deref(),
        &fingerprint,
        "credit_memo.voided",
        StatusCode::OK,
        |conn, memo, stamp| {
            if let Some(refusal) = rules::void_refusal(memo) {
                return Err(refusal);
            }
            release_dispute_hold(conn, memo, stamp).await?;
            give_back_taxable(conn, memo, stamp).await?;
            let entry = rules::void(memo, &reason, stamp);
            store::update(conn, memo).await?;
            crate::ledger::store::post(conn, entry.as_slice()).await
        }
    )
}

/// Handles the GET /v1/credit-memos/{id} route.
#[utoipa::path(
    tag = "credit memos",
    params(("id" = Uuid, Path, description = "Credit memo id")),
    responses(
        (status = 200, description = "The memo", body = CreditMemoView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/credit-memos/{id}")]
pub async fn get_credit_memo(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(store::view(&mut conn, row).await?))
}

/// Handles the GET /v1/credit-memos route: memos newest first, filtered.
#[utoipa::path(
    tag = "credit memos",
    params(CreditMemoFilter, PageParams),
    responses(
        (status = 200, description = "A page of credit memos", body = Page<CreditMemoView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/credit-memos")]
pub async fn list_credit_memos(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<CreditMemoFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CreditMemosRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    let views = store::views(&mut conn, rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        views,
        limit,
        |v: &CreditMemoView| v.id,
        |v| v,
    )))
}

/// Handles the GET /v1/credit-memos/{id}/document route: the memo as the customer receives
/// it, HTML or PDF.
#[utoipa::path(
    tag = "credit memos",
    params(("id" = Uuid, Path, description = "Credit memo id"), DocumentQuery),
    responses(
        (status = 200, description = "The document", content(
            (String = "text/html"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/credit-memos/{id}/document")]
pub async fn credit_memo_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<DocumentQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::invoices::document::{bill_to, money, respond, seller_lines};
    ctx.require(Permission::CreditMemosRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let memo = store::find(&mut conn, id.into_inner()).await?;
    let lines = store::lines_of(&mut conn, memo.id).await?;
    let account = crate::accounts::store::find_visible(&mut conn, memo.account_id, None).await?;
    let applications = store::application_views(&mut conn, Some(&[memo.id]), None).await?;
    let currency = Currency::parse(&memo.currency).expect("a stored currency");
    let amount = |d| money(d, currency);
    let number = memo.number.clone().unwrap_or_else(|| "(draft)".into());
    let mut facts = vec![
        ("Credit memo number".to_string(), number.clone()),
        (
            "Date".to_string(),
            memo.credit_date
                .map_or_else(|| "(not issued)".into(), |d| d.to_string()),
        ),
        ("Account".to_string(), account.number.clone()),
        ("Reason".to_string(), memo.reason.as_str().replace('_', " ")),
    ];
    for a in &applications {
        facts.push((
            format!(
                "Applied to {}",
                a.invoice_number.as_deref().unwrap_or_default()
            ),
            amount(a.amount),
        ));
    }
    let mut totals = vec![
        ("Subtotal".to_string(), amount(memo.total - memo.tax_total)),
        ("Tax".to_string(), amount(memo.tax_total)),
        (
            format!("Total credit {}", memo.currency),
            amount(memo.total),
        ),
    ];
    if !memo.amount_applied.is_zero() {
        totals.push(("Applied to invoices".into(), amount(memo.amount_applied)));
    }
    if !memo.amount_refunded.is_zero() {
        totals.push(("Refunded".into(), amount(memo.amount_refunded)));
    }
    totals.push((
        format!("Credit on account {}", memo.currency),
        amount(memo.unapplied()),
    ));
    let sheet = Sheet {
        title: format!("Credit memo {number}"),
        stamp: match memo.status {
            CreditMemoStatus::Void => Some("VOID".into()),
            CreditMemoStatus::Draft => Some("DRAFT".into()),
            CreditMemoStatus::PendingApproval => Some("PENDING APPROVAL".into()),
            CreditMemoStatus::Rejected => Some("REJECTED".into()),
            CreditMemoStatus::Issued => None,
        },
        seller: seller_lines(&state.config.seller),
        bill_to: bill_to(&account),
        facts,
        lines_title: "Credits".into(),
        lines: lines
            .iter()
            .map(|l| SheetLine {
                description: l.description.clone(),
                detail: Some(format!(
                    "Net {}, tax {}, total {}{}",
                    amount(l.amount),
                    amount(l.tax_amount),
                    amount(l.total()),
                    match (l.period_start, l.period_end) {
                        (Some(from), Some(to)) => format!("; period {from} to {to}"),
                        _ => String::new(),
                    }
                )),
                quantity: "1".into(),
                unit_price: amount(l.amount),
                amount: amount(l.total()),
            })
            .collect(),
        totals,
        remit_to: Vec::new(),
        how_to_pay: Vec::new(),
        memo: memo.memo.clone(),
    };
    let name = memo
        .number
        .clone()
        .unwrap_or_else(|| format!("draft-{}", memo.id));
    Ok(respond(&sheet, query.0.format, &name))
}
