//! HTTP handlers of adjustments: late fees, small-balance and bad-debt write-offs, and the
//! list of every adjustment (recoveries included).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel_async::AsyncConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::{
    AdjustmentFilter, AdjustmentKind, AdjustmentResult, AdjustmentRow, AdjustmentView,
    NewAdjustment, NewAdjustmentKind,
};
use super::{rules, store};
use crate::accounts::model::CollectionsStatus;
use crate::audit::{self, Change};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::{self, Begin};
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::ledger::model::Stamp;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::payments::rules::check_amount;
use crate::validate::Errors;
use crate::AppState;

/// Checks the fields a kind of adjustment needs and refuses the others.
fn check_new(new: &NewAdjustment, e: &mut Errors) {
    e.text("reason", &new.reason, 500);
    let not_allowed = |e: &mut Errors, field: &str| {
        e.add(
            field,
            "not_allowed",
            format!("is not used by a {}", new.kind.as_str()),
        )
    };
    if new.kind != NewAdjustmentKind::BadDebtWriteOff {
        if new.include_not_yet_due {
            not_allowed(e, "include_not_yet_due");
        }
        if new.not_yet_due_reason.is_some() {
            not_allowed(e, "not_yet_due_reason");
        }
    }
    match new.kind {
        NewAdjustmentKind::LateFee => {
            if new.account_id.is_none() {
                e.add(
                    "account_id",
                    "required",
                    "a late fee is billed to an account",
                );
            }
            match (new.amount, new.percentage) {
                (Some(a), None) => check_amount("amount", a, None, e),
                (None, Some(p)) => {
                    if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED || p.normalize().scale() > 4 {
                        e.add(
                            "percentage",
                            "out_of_range",
                            "must be more than 0 and at most 100, with up to 4 decimals",
                        );
                    }
                }
                _ => e.add("amount", "one_of", "give either amount or percentage"),
            }
        }
        NewAdjustmentKind::SmallBalanceWriteOff => {
            if new.invoice_id.is_none() {
                e.add("invoice_id", "required", "a write-off is of an invoice");
            }
            if new.percentage.is_some() {
                not_allowed(e, "percentage");
            }
            if let Some(a) = new.amount {
                check_amount("amount", a, None, e);
            }
        }
        NewAdjustmentKind::BadDebtWriteOff => {
            match (new.include_not_yet_due, new.not_yet_due_reason.as_deref()) {
                (true, None) => e.add(
                    "not_yet_due_reason",
                    "required",
                    "say why invoices not yet due are written off",
                ),
                (true, Some(reason)) => e.text("not_yet_due_reason", reason, 2000),
                (false, Some(_)) => e.add(
                    "not_yet_due_reason",
                    "not_allowed",
                    "only with include_not_yet_due",
                ),
                (false, None) => {}
            }
            if new.invoice_id.is_some() == new.account_id.is_some() {
                e.add(
                    "invoice_id",
                    "one_of",
                    "give either invoice_id or account_id (every open invoice)",
                );
            }
            if new.amount.is_some() {
                not_allowed(e, "amount");
            }
            if new.percentage.is_some() {
                not_allowed(e, "percentage");
            }
        }
    }
}

fn adjustment(
    kind: AdjustmentKind,
    invoice: &InvoiceRow,
    amount: Decimal,
    new: &NewAdjustment,
    stamp: &Stamp,
) -> AdjustmentRow {
    AdjustmentRow {
        id: Uuid::now_v7(),
        account_id: invoice.account_id,
        invoice_id: Some(invoice.id),
        kind,
        amount,
        currency: invoice.currency.clone(),
        financial_code_id: new.financial_code_id,
        reason: new.reason.trim().to_string(),
        deduction_id: None,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
        payment_id: None,
    }
}

/// A late fee, billed on a new invoice.
async fn late_fee(
    conn: &mut Conn,
    state: &AppState,
    ctx: &Ctx,
    new: &NewAdjustment,
    stamp: &Stamp,
) -> Result<Vec<AdjustmentRow>, ApiError> {
    let account_id = new.account_id.expect("checked");
    let account = crate::accounts::store::find_named(conn, account_id, "account_id").await?;
    let currency = Currency::parse(&account.currency).expect("a stored currency");
    let today = stamp.today();
    let past_due = match new.invoice_id {
        Some(id) => {
            let invoice = crate::invoices::store::lock_named(conn, id, "invoice_id").await?;
            if invoice.account_id != account.id {
                return Err(ApiError::field(
                    "invoice_id",
                    "other_account",
                    "is an invoice of another account",
                ));
            }
            if invoice.status == InvoiceStatus::Open && invoice.due_date < today {
                invoice.balance_due - invoice.disputed_amount
            } else {
                Decimal::ZERO
            }
        }
        None => store::past_due(conn, account.id, today).await?,
    };
    let amount = rules::late_fee(new.amount, new.percentage, past_due, currency);
    let mut e = Errors::default();
    if let Err(err) = currency.check("amount", amount) {
        e.push(err);
    }
    if amount <= Decimal::ZERO {
        e.add(
            "percentage",
            "nothing_past_due",
            "nothing undisputed is past due to charge a percentage of",
        );
    }
    e.finish()?;
    let of = new
        .invoice_id
        .map(|_| " on the past-due invoice".to_string())
        .unwrap_or_default();
    let description = match new.percentage {
        Some(p) => format!(
            "Late fee{of}: {}% of {} past due",
            p.normalize(),
            currency.normalize(past_due)
        ),
        None => format!("Late fee{of}"),
    };
    let invoice = crate::invoices::service::fee_invoice(
        conn,
        ctx,
        &state.config.billing.numbering,
        &account,
        description,
        amount,
        new.financial_code_id,
        stamp,
    )
    .await?;
    let row = adjustment(AdjustmentKind::LateFee, &invoice, amount, new, stamp);
    store::insert(conn, &row).await?;
    Ok(vec![row])
}

/// A small-balance write-off of an invoice.
async fn small_balance(
    conn: &mut Conn,
    state: &AppState,
    new: &NewAdjustment,
    stamp: &Stamp,
) -> Result<Vec<AdjustmentRow>, ApiError> {
    let mut invoice =
        crate::invoices::store::lock_named(conn, new.invoice_id.expect("checked"), "invoice_id")
            .await?;
    if new.account_id.is_some_and(|a| a != invoice.account_id) {
        return Err(ApiError::field(
            "invoice_id",
            "other_account",
            "is an invoice of another account",
        ));
    }
    let undisputed = invoice.balance_due - invoice.disputed_amount;
    let amount = new.amount.unwrap_or(undisputed);
    let mut e = Errors::default();
    if let Some(c) = Currency::parse(&invoice.currency) {
        if let Err(err) = c.check("amount", amount) {
            e.push(err);
        }
    }
    if amount <= Decimal::ZERO {
        e.add(
            "amount",
            "out_of_range",
            "nothing undisputed is left to write off",
        );
    }
    e.finish()?;
    let tolerance = state.config.payments.small_balance_tolerance;
    if let Some(refusal) = rules::small_balance_refusal(&invoice, amount, tolerance) {
        return Err(refusal.into());
    }
    if amount != undisputed && amount > Decimal::ZERO && amount <= undisputed {
        return Err(ApiError::field(
            "amount",
            "leaves_balance",
            format!(
                "must clear the invoice's undisputed balance ({undisputed}): a small balance is written off whole"
            ),
        ));
    }
    let row = adjustment(
        AdjustmentKind::SmallBalanceWriteOff,
        &invoice,
        amount,
        new,
        stamp,
    );
    let description = format!(
        "Small-balance write-off on {}: {}",
        invoice.number.as_deref().unwrap_or_default(),
        row.reason
    );
    let entry = rules::write_off(&mut invoice, amount, row.id, description, stamp);
    crate::invoices::store::update(conn, &invoice).await?;
    store::insert(conn, &row).await?;
    crate::ledger::store::post(conn, &[entry]).await?;
    crate::payments::store::sync_deductions(conn, &[invoice.id], None, stamp).await?;
    Ok(vec![row])
}

/// A bad-debt write-off of an invoice, or of every open invoice of an account.
async fn bad_debt(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewAdjustment,
    stamp: &Stamp,
) -> Result<Vec<AdjustmentRow>, ApiError> {
    // A whole account: its row is locked before its invoices, so that a payment recorded at
    // the same time (which holds a key-share lock on the account) waits or goes first.
    let account = match new.account_id {
        Some(account_id) => {
            crate::accounts::store::find_named(conn, account_id, "account_id").await?;
            Some(crate::accounts::store::lock_visible(conn, account_id, None).await?)
        }
        None => None,
    };
    let today = stamp.today();
    let (mut invoices, left_open) = match (new.invoice_id, &account) {
        (Some(id), _) => {
            let invoice = crate::invoices::store::lock_named(conn, id, "invoice_id").await?;
            if let Some(refusal) = rules::bad_debt_refusal(&invoice) {
                return Err(refusal.into());
            }
            if !new.include_not_yet_due && !rules::past_due_on(&invoice, today) {
                return Err(ApiError::field(
                    "invoice_id",
                    "not_past_due",
                    format!(
                        "is due {}: only past-due invoices are written off as bad debt unless include_not_yet_due is set with a reason",
                        invoice.due_date
                    ),
                ));
            }
            (vec![invoice], 0)
        }
        (None, Some(account)) => {
            let open = crate::payments::store::lock_open_invoices(conn, account.id).await?;
            let (due, not_yet): (Vec<InvoiceRow>, Vec<InvoiceRow>) = open
                .into_iter()
                .partition(|i| new.include_not_yet_due || rules::past_due_on(i, today));
            if due.is_empty() {
                return Err(ApiError::conflict(
                    "nothing_to_write_off",
                    if not_yet.is_empty() {
                        "The account has no open invoice with a balance.".to_string()
                    } else {
                        format!(
                            "None of the account's {} open invoices is past due; set include_not_yet_due with a reason to write them off.",
                            not_yet.len()
                        )
                    },
                ));
            }
            if let Some(refusal) = due.iter().find_map(rules::bad_debt_refusal) {
                return Err(refusal.into());
            }
            (due, not_yet.len())
        }
        (None, None) => unreachable!("checked"),
    };
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for invoice in &mut invoices {
        let mut row = adjustment(
            AdjustmentKind::BadDebtWriteOff,
            invoice,
            Decimal::ZERO,
            new,
            stamp,
        );
        if !rules::past_due_on(invoice, today) {
            let why = new.not_yet_due_reason.as_deref().unwrap_or_default().trim();
            row.reason = format!("{} (not yet due: {why})", row.reason);
        }
        let description = format!(
            "Bad debt written off on {}: {}",
            invoice.number.as_deref().unwrap_or_default(),
            row.reason
        );
        let (amount, entry) = rules::bad_debt(invoice, row.id, description, stamp);
        row.amount = amount;
        rows.push(row);
        entries.push(entry);
    }
    for invoice in &invoices {
        crate::invoices::store::update(conn, invoice).await?;
    }
    store::insert_many(conn, &rows).await?;
    crate::ledger::store::post(conn, &entries).await?;
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    crate::payments::store::cancel_open_deductions(conn, &ids, stamp).await?;
    // The account is written off when nothing of it is left open.
    if let Some(before) = account.filter(|_| left_open == 0) {
        let account_id = before.id;
        let mut after = before.clone();
        after.collections_status = CollectionsStatus::WrittenOff;
        after.version += 1;
        after.updated_at = stamp.now;
        let after = crate::accounts::store::update(conn, &after).await?;
        audit::record(
            conn,
            ctx,
            Change {
                action: "account.written_off",
                entity_type: "account",
                entity_id: account_id,
                account_id: Some(account_id),
                before: Some(&crate::accounts::model::AccountView::from(before)),
                after: Some(&crate::accounts::model::AccountView::from(after)),
            },
        )
        .await?;
    }
    Ok(rows)
}

/// Handles the POST /v1/adjustments route: a late fee, a small-balance write-off or a
/// bad-debt write-off.
///
/// Late fees (`adjustments:write`) are billed on a new issued invoice under a `fee` code:
/// an `amount`, or a `percentage` of the past-due balance (disputed amounts excluded).
/// Small-balance write-offs (`adjustments:write`) are at most `SMALL_BALANCE_TOLERANCE`.
/// Bad-debt write-offs (`adjustments:bad_debt`: collections manager and admin) write the whole
/// balance of a past-due invoice, or of every past-due invoice of an account, off under a
/// `write_off` code: the invoices become `uncollectible` (a disputed one is refused), and an
/// account left with nothing open gets the collections status `written_off`. Invoices not yet
/// past due only with `include_not_yet_due` and a `not_yet_due_reason`. A later payment applied to an uncollectible
/// invoice is recorded as a recovery.
#[utoipa::path(
    tag = "adjustments",
    request_body = NewAdjustment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, description = "The adjustments made (one per invoice)", body = AdjustmentResult),
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
#[post("/adjustments")]
pub async fn create_adjustment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    body: ApiJson<NewAdjustment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AdjustmentsWrite)?;
    let new = body.0;
    if new.kind == NewAdjustmentKind::BadDebtWriteOff {
        ctx.require(Permission::AdjustmentsBadDebt)?;
    }
    let mut e = Errors::default();
    check_new(&new, &mut e);
    e.finish()?;
    let fingerprint = idempotency::fingerprint("POST", "/v1/adjustments", &new)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let stored = conn
        .transaction(async |conn| {
            let claim = match idempotency::begin(conn, &ctx, key.0.as_deref(), &fingerprint).await?
            {
                Begin::Replay(stored) => return Ok(stored),
                Begin::Fresh(claim) => claim,
            };
            let kind = match new.kind {
                NewAdjustmentKind::LateFee => FinancialCodeKind::Fee,
                _ => FinancialCodeKind::WriteOff,
            };
            let mut e = Errors::default();
            crate::financial_codes::store::check_codes(
                conn,
                &[("financial_code_id".into(), new.financial_code_id)],
                &[kind],
                &mut e,
            )
            .await?;
            e.finish()?;
            let stamp = ctx.stamp();
            let rows = match new.kind {
                NewAdjustmentKind::LateFee => late_fee(conn, &state, &ctx, &new, &stamp).await?,
                NewAdjustmentKind::SmallBalanceWriteOff => {
                    small_balance(conn, &state, &new, &stamp).await?
                }
                NewAdjustmentKind::BadDebtWriteOff => bad_debt(conn, &ctx, &new, &stamp).await?,
            };
            let views: Vec<AdjustmentView> = rows.into_iter().map(AdjustmentView::from).collect();
            for view in &views {
                audit::record(
                    conn,
                    &ctx,
                    Change {
                        action: "adjustment.created",
                        entity_type: "adjustment",
                        entity_id: view.id,
                        account_id: Some(view.account_id),
                        before: None,
                        after: Some(view),
                    },
                )
                .await?;
            }
            claim
                .finish(
                    conn,
                    StatusCode::CREATED,
                    &AdjustmentResult { adjustments: views },
                )
                .await
        })
        .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/adjustments/{id} route.
#[utoipa::path(
    tag = "adjustments",
    params(("id" = Uuid, Path, description = "Adjustment id")),
    responses(
        (status = 200, description = "The adjustment", body = AdjustmentView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/adjustments/{id}")]
pub async fn get_adjustment(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AdjustmentsRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::find(&mut conn, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AdjustmentView::from(row)))
}

/// Handles the GET /v1/adjustments route: adjustments newest first, filtered.
#[utoipa::path(
    tag = "adjustments",
    params(AdjustmentFilter, PageParams),
    responses(
        (status = 200, description = "A page of adjustments", body = Page<AdjustmentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    ),
    security(("bearer" = []))
)]
#[get("/adjustments")]
pub async fn list_adjustments(
    state: web::Data<AppState>,
    ctx: Ctx,
    filter: ApiQuery<AdjustmentFilter>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AdjustmentsRead)?;
    let limit = page.0.limit()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let rows = store::list(&mut conn, &filter.0, page.0.after()?, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, AdjustmentView::from)))
}
