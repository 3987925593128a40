//! HTTP handlers of invoices: manual drafts (create, edit, delete), issue, void, read, list.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{
    InvoiceFilter, InvoicePatch, InvoiceRow, InvoiceSort, InvoiceStatus, InvoiceView, IssueInvoice,
    NewInvoice, NewLine, References, VoidInvoice,
};
use super::{rules, store};
use crate::accounts::model::AccountStatus;
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey, OptionalJson};
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::{self, Begin};
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::validate::Errors;
use crate::AppState;

async fn view(
    conn: &mut Conn,
    row: InvoiceRow,
    today: time::Date,
) -> Result<InvoiceView, ApiError> {
    Ok(views(conn, vec![row], today).await?.remove(0))
}

/// Invoices with their lines, the payments and credits applied to them and their
/// deductions: four queries whatever the number of invoices.
async fn views(
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

/// Handles the POST /v1/invoices route: a manual invoice for one-off charges, as a draft.
#[utoipa::path(
    tag = "invoices",
    request_body = NewInvoice,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The draft invoice", body = InvoiceView),
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
#[post("/invoices")]
pub async fn create_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewInvoice>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesWrite)?;
    let new = body.0;
    let fingerprint = idempotency::fingerprint("POST", "/v1/invoices", &new)?;
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
            let references = References(new.reference_fields.clone());
            rules::validate_header(
                new.po_number.as_deref(),
                &references,
                new.memo.as_deref(),
                &mut e,
            );
            rules::validate_lines(&new.lines, currency, &mut e);
            check_line_codes(conn, &new.lines, &mut e).await?;
            let mut terms = account.payment_terms_days;
            if let Some(contract_id) = new.contract_id {
                match crate::contracts::store::find(conn, contract_id).await {
                    Ok(c) if c.account_id == account.id => {
                        terms = c.payment_terms_days.unwrap_or(terms)
                    }
                    _ => e.add(
                        "contract_id",
                        "unknown",
                        "is not a contract of this account",
                    ),
                }
            }
            e.finish()?;
            if account.status == AccountStatus::Closed {
                return Err(ApiError::conflict(
                    "account_closed",
                    "The account is closed.",
                ));
            }
            let now = ctx.now;
            let id = Uuid::now_v7();
            let lines = rules::manual_lines(id, &new.lines, currency);
            let mut row = rules::new_draft(&account, id, new.contract_id, terms, now);
            row.po_number = new.po_number.clone().map(|p| p.trim().to_string());
            row.reference_fields = references;
            row.memo = new.memo.clone();
            rules::set_totals(&mut row, &lines, currency);
            store::insert_many(conn, std::slice::from_ref(&row), &lines).await?;
            let view = InvoiceView::new(row, lines, ctx.today());
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "invoice.created",
                    entity_type: "invoice",
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

/// Handles the PATCH /v1/invoices/{id} route: edits a draft (lines of manual drafts only).
#[utoipa::path(
    tag = "invoices",
    request_body = InvoicePatch,
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed draft", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 428, response = PreconditionRequired),
    ),
    security(("bearer" = []))
)]
#[patch("/invoices/{id}")]
pub async fn update_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: ApiJson<InvoicePatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesWrite)?;
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let (version, view) = conn
        .transaction(async |conn| {
            let current = store::lock_visible(conn, id, None).await?;
            expected.check(current.version)?;
            refuse_unless_draft(&current)?;
            let currency = Currency::parse(&current.currency).expect("a stored currency");
            let mut next = current.clone();
            if let Some(po) = &patch.po_number {
                next.po_number = po.as_ref().map(|p| p.trim().to_string());
            }
            if let Some(refs) = &patch.reference_fields {
                next.reference_fields = References(refs.clone());
            }
            if let Some(memo) = &patch.memo {
                next.memo = memo.clone();
            }
            let mut e = Errors::default();
            rules::validate_header(
                next.po_number.as_deref(),
                &next.reference_fields,
                next.memo.as_deref(),
                &mut e,
            );
            if let Some(lines) = &patch.lines {
                if current.billing_run_id.is_some() {
                    e.add(
                        "lines",
                        "not_allowed",
                        "the lines of a billed draft come from its contract; correct the contract or readings",
                    );
                }
                rules::validate_lines(lines, currency, &mut e);
                check_line_codes(conn, lines, &mut e).await?;
            }
            e.finish()?;
            let before = view(conn, current, ctx.today()).await?;
            if let Some(lines) = &patch.lines {
                let rows = rules::manual_lines(id, lines, currency);
                rules::set_totals(&mut next, &rows, currency);
                store::replace_lines(conn, id, &rows).await?;
            }
            next.version += 1;
            next.updated_at = ctx.now;
            let row = store::update(conn, &next).await?;
            let version = row.version;
            let after = view(conn, row, ctx.today()).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "invoice.updated",
                    entity_type: "invoice",
                    entity_id: id,
                    account_id: Some(after.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            Ok::<_, ApiError>((version, after))
        })
        .await?;
    Ok(versioned(StatusCode::OK, version, &view))
}

/// Handles the DELETE /v1/invoices/{id} route: deletes a draft.
///
/// A draft made by a billing run gives its contract's periods back: its recurring and meter
/// periods become due again (the estimates made for them go), the re-rates it made are
/// undone, amendments it was the first invoice after are flagged again, and its review tasks
/// are cancelled; the next run bills them again (rebill after a contract correction). Refused
/// (409 `later_periods_billed`) while a later period of one of its meters is on another
/// invoice.
#[utoipa::path(
    tag = "invoices",
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being deleted (optional)"),
    ),
    responses(
        (status = 204, description = "The draft was deleted"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[delete("/invoices/{id}")]
pub async fn delete_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesWrite)?;
    let expected = Expected::optional(&req)?;
    let id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| {
        // A run's draft: its contract first, the order billing runs lock in.
        let peek = store::find_visible(conn, id, None).await?;
        if let (Some(_), Some(contract)) = (peek.billing_run_id, peek.contract_id) {
            crate::contracts::store::lock(conn, contract).await?;
        }
        let current = store::lock_visible(conn, id, None).await?;
        expected.check(current.version)?;
        refuse_unless_draft(&current)?;
        let released = match (current.billing_run_id, current.contract_id) {
            (Some(_), Some(contract)) => Some((
                contract,
                crate::billing::store::release_draft(conn, &current, ctx.now).await?,
            )),
            _ => None,
        };
        let before = view(conn, current, ctx.today()).await?;
        store::delete_draft(conn, id).await?;
        audit::record(
            conn,
            &ctx,
            Change {
                action: "invoice.deleted",
                entity_type: "invoice",
                entity_id: id,
                account_id: Some(before.account_id),
                before: Some(&before),
                after: None::<&InvoiceView>,
            },
        )
        .await?;
        let Some((contract, released)) = released else {
            return Ok(());
        };
        audit::record(
            conn,
            &ctx,
            Change {
                action: "contract.periods_released",
                entity_type: "contract",
                entity_id: contract,
                account_id: Some(before.account_id),
                before: None,
                after: Some(&serde_json::json!({
                    "invoice_id": id,
                    "released": released,
                })),
            },
        )
        .await?;
        for task in &released.tasks_cancelled {
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "task.updated",
                    entity_type: "task",
                    entity_id: *task,
                    account_id: Some(before.account_id),
                    before: None,
                    after: Some(&serde_json::json!({
                        "status": "cancelled",
                        "reason": format!("its draft invoice {id} was deleted"),
                    })),
                },
            )
            .await?;
        }
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Handles the POST /v1/invoices/{id}/issue route: numbers, dates and posts a draft.
///
/// Takes the next number of the series (`INV-2026-000001`, gapless under concurrency), sets
/// the due date from the payment terms and posts the total to the ledger. Refused (422, naming
/// what is missing) when the account's presentment preferences are not met, e.g. a required
/// PO number, or when the total is negative.
#[utoipa::path(
    tag = "invoices",
    request_body(content = Option<IssueInvoice>),
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being issued (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The issued invoice", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/invoices/{id}/issue")]
pub async fn issue_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: OptionalJson<IssueInvoice>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesIssue)?;
    let issue = body.0;
    let expected = match issue.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let id = id.into_inner();
    let numbering = state.config.billing.numbering.clone();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/invoices/{id}/issue"), &issue)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let current = store::lock_visible(conn, id, None).await?;
            expected.check(current.version)?;
            refuse_unless_draft(&current)?;
            let account =
                crate::accounts::store::find_visible(conn, current.account_id, None).await?;
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
            let after = view(conn, row, ctx.today()).await?;
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "invoice.issued",
                    entity_type: "invoice",
                    entity_id: id,
                    account_id: Some(after.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::OK, &after).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the POST /v1/invoices/{id}/void route: voids an issued invoice with nothing
/// applied. The number stays used; the ledger reverses the balance.
#[utoipa::path(
    tag = "invoices",
    request_body = VoidInvoice,
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being voided (optional)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 200, description = "The void invoice", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/invoices/{id}/void")]
pub async fn void_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<VoidInvoice>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesIssue)?;
    let void = body.0;
    let expected = match void.version {
        Some(v) => Expected::from_request(&req, Some(v))?,
        None => Expected::optional(&req)?,
    };
    let mut e = Errors::default();
    e.text("reason", &void.reason, 500);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint("POST", &format!("/v1/invoices/{id}/void"), &void)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
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
            audit::record(
                conn,
                &ctx,
                Change {
                    action: "invoice.voided",
                    entity_type: "invoice",
                    entity_id: id,
                    account_id: Some(after.account_id),
                    before: Some(&before),
                    after: Some(&after),
                },
            )
            .await?;
            claim.finish(conn, StatusCode::OK, &after).await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/invoices/{id} route: the invoice, its lines and their meter facts.
#[utoipa::path(
    tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice; its version is the ETag", body = InvoiceView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/invoices/{id}")]
pub async fn get_invoice(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope()).await?;
    let version = row.version;
    Ok(versioned(
        StatusCode::OK,
        version,
        &view(&mut conn, row, ctx.today()).await?,
    ))
}

/// Handles the GET /v1/invoices route: invoices with their lines, filtered and sorted.
#[utoipa::path(
    tag = "invoices",
    params(InvoiceFilter, PageParams),
    responses(
        (status = 200, description = "A page of invoices (a partner token sees its own accounts' only)", body = Page<InvoiceView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/invoices")]
pub async fn list_invoices(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<InvoiceFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let limit = page.0.limit()?;
    let sort = filter.0.sort.unwrap_or(InvoiceSort::Created);
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(
        &mut conn,
        &filter.0,
        ctx.partner_scope(),
        page.0.after()?,
        limit,
        ctx.now.date(),
    )
    .await?;
    let cursors: HashMap<Uuid, String> = rows
        .iter()
        .map(|r| (r.id, store::cursor_of(r, sort)))
        .collect();
    let views = views(&mut conn, rows, ctx.today()).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        views,
        limit,
        |v| cursors[&v.id].clone(),
        |v| v,
    )))
}
