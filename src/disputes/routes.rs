//! HTTP handlers of disputes: open (on an invoice, or from a deduction), read, list, assign,
//! review, notes, resolve (a valid one issues its credit memo) and withdraw.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::model::{
    Contact, DisputeDeduction, DisputeFilter, DisputeOutcome, DisputePatch, DisputeView,
    NewDispute, NewDisputeNote, ResolveDispute, ReviewDispute, WithdrawDispute,
};
use super::{service, store};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::{versioned, ApiJson, ApiQuery, Expected, IdempotencyKey, OptionalJson};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::validate::Errors;

fn check_contact(contact: Option<&Contact>, e: &mut Errors) {
    if let Some(c) = contact {
        e.optional_text("contact.name", c.name.as_deref(), 200);
        e.email("contact.email", c.email.as_deref());
        e.phone("contact.phone", c.phone.as_deref());
    }
}

/// Checks a resolution: a note, and for a valid outcome only, the amount approved and the
/// credit code of its memo.
fn check_resolution(resolve: &ResolveDispute, e: &mut Errors) {
    e.text("note", &resolve.note, 2000);
    match resolve.outcome {
        DisputeOutcome::Valid => {
            match resolve.approved_amount {
                None => e.add(
                    "approved_amount",
                    "required",
                    "a valid dispute needs the amount it credits",
                ),
                Some(a) => crate::payments::rules::check_amount("approved_amount", a, None, e),
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
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create(conn, &ctx, &new, &state.config.credits).await,
    )
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
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::dispute_deduction(conn, &ctx, id, &new, &state.config.credits).await,
    )
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
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
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
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update(conn, &ctx, id, &patch, expected).await
    })
    .await?;
    Ok(stored.into_response())
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
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::review(conn, &ctx, id, &review).await,
    )
    .await?;
    Ok(stored.into_response())
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
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::add_note(conn, &ctx, id, &note).await,
    )
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
    ctx.require(Permission::DisputesResolve)?;
    let resolve = body.0;
    let mut e = Errors::default();
    check_resolution(&resolve, &mut e);
    e.finish()?;
    let id = id.into_inner();
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/disputes/{id}/resolve"), &resolve)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::resolve(conn, &ctx, id, &resolve, &state.config.credits).await,
    )
    .await?;
    Ok(stored.into_response())
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
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/disputes/{id}/withdraw"), &withdraw)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::withdraw(conn, &ctx, id, &withdraw).await,
    )
    .await?;
    Ok(stored.into_response())
}
