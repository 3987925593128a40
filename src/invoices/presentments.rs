//! The presentment log: where and how an issued invoice reached the customer (sent,
//! delivered, accepted, rejected with the reason), posted by front ends and partner portals.

use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{service, store};
use crate::accounts::model::PresentmentChannel;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::schema::invoice_presentments::dsl as p;
use crate::state::AppState;
use crate::validate::Errors;

crate::text_enum! {
    PresentmentStatus { Sent => "sent", Delivered => "delivered", Accepted => "accepted", Rejected => "rejected" }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::invoice_presentments)]
pub struct PresentmentRow {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub account_id: Uuid,
    pub channel: PresentmentChannel,
    pub destination: String,
    pub status: PresentmentStatus,
    pub reason: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub posted_by: String,
    pub posted_role: String,
    pub created_at: OffsetDateTime,
}

/// One entry of an invoice's presentment log.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresentmentView {
    pub id: Uuid,
    pub invoice_id: Uuid,
    /// The invoice's account, for the audit log.
    #[serde(skip)]
    pub account_id: Uuid,
    pub channel: PresentmentChannel,
    /// The email or postal address, or the portal.
    #[schema(example = "ap@acme.example")]
    pub destination: String,
    pub status: PresentmentStatus,
    /// Why the customer rejected the invoice.
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub posted_by: String,
    pub posted_role: String,
}

impl From<PresentmentRow> for PresentmentView {
    fn from(r: PresentmentRow) -> Self {
        PresentmentView {
            id: r.id,
            invoice_id: r.invoice_id,
            account_id: r.account_id,
            channel: r.channel,
            destination: r.destination,
            status: r.status,
            reason: r.reason,
            occurred_at: r.occurred_at,
            posted_by: r.posted_by,
            posted_role: r.posted_role,
        }
    }
}

/// The audit log records a presentment as a change of its invoice.
impl crate::audit::Audited for PresentmentView {
    const ENTITY: &'static str = "invoice";

    fn entity_id(&self) -> Uuid {
        self.invoice_id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Writes an entry of the log.
pub async fn insert(conn: &mut Conn, row: &PresentmentRow) -> Result<(), ApiError> {
    diesel::insert_into(p::invoice_presentments)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// The log of an invoice, oldest first.
pub async fn list(conn: &mut Conn, invoice_id: Uuid) -> Result<Vec<PresentmentRow>, ApiError> {
    Ok(p::invoice_presentments
        .filter(p::invoice_id.eq(invoice_id))
        .select(PresentmentRow::as_select())
        .order((p::occurred_at.asc(), p::id.asc()))
        .limit(1000)
        .load(conn)
        .await?)
}

/// A presentment event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel": "email", "destination": "ap@acme.example", "status": "delivered"}))]
pub struct NewPresentment {
    pub channel: PresentmentChannel,
    #[schema(max_length = 500)]
    pub destination: String,
    pub status: PresentmentStatus,
    /// Required when `rejected`.
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
    /// When it happened (default now; not in the future).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
}

/// Handles the POST /v1/invoices/{id}/presentments route: records how an issued invoice
/// reached the customer. Partner portals post for their own accounts' invoices.
#[utoipa::path(
    tag = "invoices",
    request_body = NewPresentment,
    params(
        ("id" = Uuid, Path, description = "Invoice id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The entry was recorded", body = PresentmentView),
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
#[post("/invoices/{id}/presentments")]
pub async fn create_presentment(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewPresentment>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::PresentmentWrite)?;
    let invoice_id = id.into_inner();
    let new = body.0;
    let now = ctx.now;
    let mut e = Errors::default();
    e.text("destination", &new.destination, 500);
    e.optional_text("reason", new.reason.as_deref(), 1000);
    if new.status == PresentmentStatus::Rejected && new.reason.is_none() {
        e.add("reason", "required", "a rejection says why");
    }
    if new
        .occurred_at
        .is_some_and(|t| t > now + time::Duration::minutes(5))
    {
        e.add("occurred_at", "future_date", "must not be in the future");
    }
    e.finish()?;
    let fingerprint = idempotency::fingerprint(
        "POST",
        &format!("/v1/invoices/{invoice_id}/presentments"),
        &new,
    )?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::present(conn, &ctx, invoice_id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/invoices/{id}/presentments route: the invoice's presentment log,
/// oldest first.
#[utoipa::path(
    tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The log", body = Vec<PresentmentView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/invoices/{id}/presentments")]
pub async fn list_presentments(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let invoice_id = id.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    store::find_visible(&conn, invoice_id, ctx.partner_scope()).await?;
    let rows = list(&mut conn, invoice_id).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(PresentmentView::from)
            .collect::<Vec<_>>(),
    ))
}
