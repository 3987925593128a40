//! HTTP handlers of disputes: open (on an invoice, or from a deduction), read, list, assign,
//! review, notes, resolve (a valid one issues its credit memo) and withdraw.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{
    Contact, DisputeDeduction, DisputeFilter, DisputeOutcome, DisputePatch, DisputeRow,
    DisputeStatus, DisputeView, NewDispute, NewDisputeNote, NoteRow, ResolveDispute, ReviewDispute,
    WithdrawDispute,
};
use super::{rules, store};
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey, OptionalJson};
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::{self, Begin};
use crate::invoices::model::InvoiceRow;
use crate::ledger::model::Stamp;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::payments::model::DeductionStatus;
use crate::validate::Errors;
use crate::AppState;

fn check_contact(contact: Option<&Contact>, e: &mut Errors) {
    if let Some(c) = contact {
        e.optional_text("contact.name", c.name.as_deref(), 200);
        e.email("contact.email", c.email.as_deref());
        e.phone("contact.phone", c.phone.as_deref());
    }
}

/// A new dispute on `invoice` (already checked), holding its amount (and the tax on it, for
/// a taxable line) on the invoice.
#[allow(clippy::too_many_arguments)]
async fn open(
    conn: &mut Conn,
    state: &AppState,
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
    let settings = &state.config.credits;
    let today = stamp.today();
    let row = DisputeRow {
        id: Uuid::now_v7(),
        number: store::next_number(conn).await?,
        account_id: invoice.account_id,
        invoice_id: invoice.id,
        invoice_line_id: line,
        deduction_id: deduction,
        amount,
        currency: invoice.currency.clone(),
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

async fn record(
    conn: &mut Conn,
    ctx: &Ctx,
    action: &str,
    before: Option<&DisputeView>,
    after: &DisputeView,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        ctx,
        Change {
            action,
            entity_type: "dispute",
            entity_id: after.id,
            account_id: Some(after.account_id),
            before,
            after: Some(after),
        },
    )
    .await
}

/// Handles the POST /v1/disputes route: opens a dispute on an invoice (and optionally one of
/// its lines) for at most its undisputed balance.
///
/// The SLA due date is the opening day plus `DISPUTE_SLA_BUSINESS_DAYS` business days
/// (weekends and `HOLIDAYS` skipped). While the dispute is active, its amount is held on the
/// invoice: not auto-applied, not dunned. Partner tokens may open disputes on their
/// accounts' invoices.
#[utoipa::path(
    tag = "disputes",
    request_body = NewDispute,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The open dispute", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/disputes")]
pub async fn create_dispute(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewDispute>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesWrite)?;
    let new = body.0;
    let mut e = Errors::default();
    e.text("description", &new.description, 2000);
    e.optional_text("assignee", new.assignee.as_deref(), 100);
    check_contact(new.contact.as_ref(), &mut e);
    crate::payments::rules::check_amount("amount", new.amount, None, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/disputes", &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            // A partner sees (and disputes) its own accounts' invoices only.
            match crate::invoices::store::find_visible(conn, new.invoice_id, ctx.partner_scope())
                .await
            {
                Err(ApiError::NotFound(_)) => {
                    return Err(ApiError::field(
                        "invoice_id",
                        "unknown",
                        "no invoice has this id",
                    ))
                }
                other => other?,
            };
            let mut invoice =
                crate::invoices::store::lock_visible(conn, new.invoice_id, None).await?;
            let mut e = Errors::default();
            if let Some(c) = Currency::parse(&invoice.currency) {
                if let Err(err) = c.check("amount", new.amount) {
                    e.push(err);
                }
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
                        if let Some(c) = Currency::parse(&invoice.currency) {
                            tax = crate::credit_memos::rules::credit_tax(
                                invoice.taxable_amount,
                                invoice.credited_taxable,
                                new.amount,
                                invoice.tax_rate,
                                c,
                            );
                        }
                    }
                    Some(_) => {}
                }
            }
            e.finish()?;
            if let Some(refusal) = rules::open_refusal(&invoice, new.amount + tax) {
                return Err(refusal);
            }
            let stamp = Stamp::of(&ctx);
            let row = open(
                conn,
                &state,
                &mut invoice,
                new.invoice_line_id,
                None,
                new.amount,
                tax,
                new.reason,
                new.description.trim().to_string(),
                new.contact.as_ref(),
                new.assignee.clone(),
                &stamp,
            )
            .await?;
            let view = store::view(conn, row, ctx.today()).await?;
            record(conn, &ctx, "dispute.opened", None, &view).await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/deductions/{id}/dispute route: turns an open deduction into a
/// dispute on its invoice, carrying its amount and reason; the deduction becomes `disputed`.
#[utoipa::path(
    tag = "disputes",
    request_body(content = Option<DisputeDeduction>),
    params(
        ("id" = Uuid, Path, description = "Deduction id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The open dispute", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/deductions/{id}/dispute")]
pub async fn dispute_deduction(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<DisputeDeduction>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesWrite)?;
    ctx.require(Permission::PaymentsRead)?;
    let new = body.0;
    let id = id.into_inner();
    let mut e = Errors::default();
    e.optional_text("description", new.description.as_deref(), 2000);
    e.optional_text("assignee", new.assignee.as_deref(), 100);
    check_contact(new.contact.as_ref(), &mut e);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/deductions/{id}/dispute"), &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let (mut invoice, mut deduction) =
                crate::payments::store::lock_deduction_with_invoice(conn, id).await?;
            if deduction.status != DeductionStatus::Open {
                return Err(ApiError::conflict(
                    "deduction_not_open",
                    format!("The deduction is {}, not open.", deduction.status.as_str()),
                ));
            }
            if let Some(refusal) = rules::open_refusal(&invoice, deduction.amount) {
                return Err(refusal);
            }
            let stamp = Stamp::of(&ctx);
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
                &state,
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
            record(conn, &ctx, "dispute.opened", None, &view).await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/disputes/{id} route.
#[utoipa::path(
    tag = "disputes",
    params(("id" = Uuid, Path, description = "Dispute id")),
    responses(
        (status = 200, description = "The dispute with its notes; its version is the ETag", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/disputes/{id}")]
pub async fn get_dispute(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope()).await?;
    let version = row.version;
    Ok(versioned(
        StatusCode::OK,
        version,
        &store::view(&mut conn, row, ctx.today()).await?,
    ))
}

/// Handles the GET /v1/disputes route: disputes in opening order, filtered
/// (`sla=breached` lists the overdue ones). Partner tokens see their accounts' disputes.
#[utoipa::path(
    tag = "disputes",
    params(DisputeFilter, PageParams),
    responses(
        (status = 200, description = "A page of disputes", body = Page<DisputeView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/disputes")]
pub async fn list_disputes(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<DisputeFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesRead)?;
    let limit = page.0.limit()?;
    let today = ctx.now.date();
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(
        &mut conn,
        &filter.0,
        ctx.partner_scope(),
        page.0.after()?,
        limit,
        today,
    )
    .await?;
    let views = store::views(&mut conn, rows, today).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(views, limit, |v: &DisputeView| v.id, |v| v)))
}

/// Runs one change of an active dispute under its lock and records it.
macro_rules! dispute_change {
    ($state:expr, $ctx:expr, $id:expr, $partner:expr, $action:expr, $key:expr, $fingerprint:expr,
     |$conn:ident, $row:ident, $stamp:ident| $body:block) => {{
        let ctx: &Ctx = $ctx;
        let mut conn = crate::db::conn(&$state.pool).await?;
        let (version, stored) = conn
            .transaction(async |$conn| {
                let claim = match idempotency::begin($conn, ctx, $key, $fingerprint).await? {
                    Begin::Replay(stored) => return Ok((None, stored)),
                    Begin::Fresh(claim) => claim,
                };
                let mut row = store::lock_visible($conn, $id, $partner).await?;
                let before = store::view($conn, row.clone(), ctx.today()).await?;
                let stamp = Stamp::of(ctx);
                {
                    let $row = &mut row;
                    let $stamp = &stamp;
                    let done: Result<(), ApiError> = $body;
                    done?;
                }
                row.version += 1;
                row.updated_at = stamp.now;
                store::update($conn, &row).await?;
                let version = row.version;
                let after = store::view($conn, row, ctx.today()).await?;
                record($conn, ctx, $action, Some(&before), &after).await?;
                let stored = claim.finish($conn, StatusCode::OK, &after).await?;
                Ok::<_, ApiError>((Some(version), stored))
            })
            .await?;
        Ok(match version {
            Some(version) => versioned(StatusCode::OK, version, &stored.body),
            None => stored.into_response(),
        })
    }};
}

/// Handles the PATCH /v1/disputes/{id} route: reassigns an active dispute (`null`
/// unassigns), or corrects its description or contact, under optimistic concurrency.
#[utoipa::path(
    tag = "disputes",
    request_body = DisputePatch,
    params(
        ("id" = Uuid, Path, description = "Dispute id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed dispute", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/disputes/{id}")]
pub async fn update_dispute(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<DisputePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesManage)?;
    let patch = body.0;
    let expected = Expected::from_request(&req, patch.version)?;
    let mut e = Errors::default();
    if let Some(Some(a)) = &patch.assignee {
        e.text("assignee", a, 100);
    }
    if let Some(d) = &patch.description {
        e.text("description", d, 2000);
    }
    check_contact(patch.contact.as_ref(), &mut e);
    e.finish()?;
    let id = id.into_inner();
    dispute_change!(
        state,
        &ctx,
        id,
        None,
        "dispute.updated",
        None,
        "",
        |_conn, row, _stamp| {
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
            Ok(())
        }
    )
}

/// Handles the POST /v1/disputes/{id}/review route: takes an open dispute under review,
/// assigning it (by default to the caller, unless it is assigned already).
#[utoipa::path(
    tag = "disputes",
    request_body(content = Option<ReviewDispute>),
    params(
        ("id" = Uuid, Path, description = "Dispute id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The dispute under review", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/disputes/{id}/review")]
pub async fn review_dispute(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<ReviewDispute>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesManage)?;
    let review = body.0;
    let mut e = Errors::default();
    e.optional_text("assignee", review.assignee.as_deref(), 100);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/disputes/{id}/review"), &review)?;
    dispute_change!(
        state,
        &ctx,
        id,
        None,
        "dispute.under_review",
        key.0.as_deref(),
        &fingerprint,
        |_conn, row, stamp| {
            if let Some(refusal) = rules::transition_refusal(row.status, DisputeStatus::UnderReview)
            {
                return Err(refusal);
            }
            row.status = DisputeStatus::UnderReview;
            if let Some(a) = &review.assignee {
                row.assignee = Some(a.trim().to_string());
            } else if row.assignee.is_none() {
                row.assignee = Some(stamp.actor.clone());
            }
            Ok(())
        }
    )
}

/// Handles the POST /v1/disputes/{id}/notes route: adds a note (partner tokens too, on their
/// accounts' disputes).
#[utoipa::path(
    tag = "disputes",
    request_body = NewDisputeNote,
    params(
        ("id" = Uuid, Path, description = "Dispute id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The dispute with the note", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/disputes/{id}/notes")]
pub async fn add_note(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewDisputeNote>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesWrite)?;
    let note = body.0;
    let mut e = Errors::default();
    e.text("text", &note.text, 4000);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint("POST", &format!("/v1/disputes/{id}/notes"), &note)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let row = store::lock_visible(conn, id, ctx.partner_scope()).await?;
            let stamp = Stamp::of(&ctx);
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
            record(conn, &ctx, "dispute.note_added", None, &view).await?;
            claim.finish(conn, StatusCode::CREATED, &view).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/disputes/{id}/resolve route: resolves an active dispute with a root
/// cause and a note.
///
/// Either way the disputed amount is released on the invoice. `valid` with an
/// `approved_amount` (at most the disputed amount) and a `credit` financial code creates a
/// credit memo in the same transaction: issued and applied to the invoice when within the
/// resolver's approval limit, otherwise pending approval. Resolving twice, even at once, is
/// refused (409): one dispute, one credit memo.
#[utoipa::path(
    tag = "disputes",
    request_body = ResolveDispute,
    params(
        ("id" = Uuid, Path, description = "Dispute id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The resolved dispute", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/disputes/{id}/resolve")]
pub async fn resolve_dispute(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<ResolveDispute>,
) -> Result<HttpResponse, ApiError> {
    use crate::credit_memos::model::CreditReason;
    use crate::credit_memos::service as credits;
    ctx.require(Permission::DisputesResolve)?;
    let resolve = body.0;
    let mut e = Errors::default();
    e.text("note", &resolve.note, 2000);
    match resolve.outcome {
        DisputeOutcome::Valid => {
            match resolve.approved_amount {
                None => e.add(
                    "approved_amount",
                    "required",
                    "a valid dispute needs the amount it credits",
                ),
                Some(a) => crate::payments::rules::check_amount("approved_amount", a, None, &mut e),
            }
            if resolve.financial_code_id.is_none() {
                e.add(
                    "financial_code_id",
                    "required",
                    "a valid dispute's credit memo needs a credit code",
                );
            }
        }
        DisputeOutcome::Invalid => {
            if resolve.approved_amount.is_some() {
                e.add(
                    "approved_amount",
                    "not_allowed",
                    "an invalid dispute credits nothing",
                );
            }
            if resolve.financial_code_id.is_some() {
                e.add(
                    "financial_code_id",
                    "not_allowed",
                    "an invalid dispute credits nothing",
                );
            }
        }
    }
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/disputes/{id}/resolve"), &resolve)?;
    let to = match resolve.outcome {
        DisputeOutcome::Valid => DisputeStatus::ResolvedValid,
        DisputeOutcome::Invalid => DisputeStatus::ResolvedInvalid,
    };
    dispute_change!(
        state,
        &ctx,
        id,
        None,
        "dispute.resolved",
        key.0.as_deref(),
        &fingerprint,
        |conn, row, stamp| {
            if let Some(refusal) = rules::transition_refusal(row.status, to) {
                return Err(refusal);
            }
            let mut e = Errors::default();
            if let (Some(amount), Some(code)) = (resolve.approved_amount, resolve.financial_code_id)
            {
                if amount > row.amount {
                    e.add(
                        "approved_amount",
                        "exceeds_disputed",
                        format!("is more than the disputed amount ({})", row.amount),
                    );
                }
                if let Some(c) = Currency::parse(&row.currency) {
                    if let Err(err) = c.check("approved_amount", amount) {
                        e.push(err);
                    }
                }
                crate::financial_codes::store::check_codes(
                    conn,
                    &[("financial_code_id".into(), code)],
                    &[FinancialCodeKind::Credit],
                    &mut e,
                )
                .await?;
            }
            e.finish()?;
            let invoice = release(conn, row, to != DisputeStatus::ResolvedValid, stamp).await?;
            row.status = to;
            row.root_cause = Some(resolve.root_cause);
            row.resolution_note = Some(resolve.note.trim().to_string());
            row.resolved_at = Some(stamp.now);
            row.resolved_by = Some(stamp.actor.clone());
            row.approved_amount = resolve
                .approved_amount
                .filter(|_| to == DisputeStatus::ResolvedValid);
            if let (Some(amount), Some(code)) = (row.approved_amount, resolve.financial_code_id) {
                let description = format!(
                    "Dispute {} resolved ({}): {}",
                    row.number,
                    resolve.root_cause.as_str().replace('_', " "),
                    row.reason.as_str().replace('_', " ")
                );
                // A dispute of a taxable line credits the line's amount and the tax on it;
                // any other credits the amount approved.
                let mut line = credits::plain_line(description, amount);
                let of_line = match row.invoice_line_id {
                    Some(id) => crate::invoices::store::lines_of(conn, &[invoice.id])
                        .await?
                        .into_iter()
                        .find(|l| l.id == id),
                    None => None,
                };
                if let Some(of) = of_line {
                    line.invoice_id = Some(invoice.id);
                    line.invoice_line_id = Some(of.id);
                    line.taxable = of.taxable && !invoice.tax_rate.is_zero();
                    line.period_start = of.period_start;
                    line.period_end = of.period_end;
                }
                let mut lines = [line];
                if let Some(c) = Currency::parse(&row.currency) {
                    crate::credit_memos::rules::tax_lines(&mut lines, &[(&invoice).into()], c);
                }
                let mut memo = credits::new_memo(
                    row.account_id,
                    &row.currency,
                    CreditReason::Dispute,
                    code,
                    &lines,
                    Some(resolve.note.trim().to_string()),
                    Some(row.id),
                    stamp,
                );
                let lines = credits::line_rows(memo.id, &lines);
                let given = match lines[0].invoice_id {
                    Some(_) => Vec::new(),
                    None => vec![crate::credit_memos::model::CreditTarget {
                        invoice_id: invoice.id,
                        amount,
                    }],
                };
                let targets = credits::targets_of_lines(memo.id, &lines, &given);
                crate::credit_memos::store::insert(conn, &memo, &lines, &targets).await?;
                credits::submit(conn, &state.config.credits, &ctx, &mut memo, stamp).await?;
                if memo.status == crate::credit_memos::model::CreditMemoStatus::PendingApproval {
                    // Until the credit is approved, its amount stays held on the invoice.
                    let mut invoice =
                        crate::invoices::store::lock_visible(conn, row.invoice_id, None).await?;
                    invoice.disputed_amount += targets
                        .iter()
                        .map(|t| t.amount)
                        .sum::<rust_decimal::Decimal>();
                    invoice.version += 1;
                    crate::invoices::store::update(conn, &invoice).await?;
                }
                row.credit_memo_id = Some(memo.id);
                let view = crate::credit_memos::store::view(conn, memo).await?;
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
            }
            Ok(())
        }
    )
}

/// Handles the POST /v1/disputes/{id}/withdraw route: the customer withdraws an active
/// dispute (partner tokens too); its amount is released on the invoice.
#[utoipa::path(
    tag = "disputes",
    request_body(content = Option<WithdrawDispute>),
    params(
        ("id" = Uuid, Path, description = "Dispute id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The withdrawn dispute", body = DisputeView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/disputes/{id}/withdraw")]
pub async fn withdraw_dispute(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<WithdrawDispute>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::DisputesWrite)?;
    let withdraw = body.0;
    let mut e = Errors::default();
    e.optional_text("note", withdraw.note.as_deref(), 2000);
    e.finish()?;
    let id = id.into_inner();
    let partner = ctx.partner_scope();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/disputes/{id}/withdraw"), &withdraw)?;
    dispute_change!(
        state,
        &ctx,
        id,
        partner,
        "dispute.withdrawn",
        key.0.as_deref(),
        &fingerprint,
        |conn, row, stamp| {
            if let Some(refusal) = rules::transition_refusal(row.status, DisputeStatus::Withdrawn) {
                return Err(refusal);
            }
            release(conn, row, true, stamp).await?;
            row.status = DisputeStatus::Withdrawn;
            row.resolution_note = withdraw.note.as_deref().map(|n| n.trim().to_string());
            row.resolved_at = Some(stamp.now);
            row.resolved_by = Some(stamp.actor.clone());
            Ok(())
        }
    )
}
