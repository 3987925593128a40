//! Billing contacts nested under an account: rows, shapes, SQL and handlers (their writes
//! are in `service::contacts`).

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::service;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Expected, IdempotencyKey};
use crate::idempotency;
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::schema::contacts::dsl as c;
use crate::state::AppState;
use crate::validate::{double_option, Errors};

crate::text_enum! {
    /// What a contact is for.
    ContactRole {
        Billing => "billing",
        AccountsPayable => "accounts_payable",
        Collections => "collections",
        Primary => "primary",
        Technical => "technical",
        Other => "other",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::contacts, treat_none_as_null = true)]
pub struct ContactRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: ContactRole,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A person to reach at the customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    pub account_id: Uuid,
    #[schema(example = "Dana Smith")]
    pub name: String,
    #[schema(example = "ap@acme.example")]
    pub email: Option<String>,
    #[schema(example = "+1 555 010 2000")]
    pub phone: Option<String>,
    pub role: ContactRole,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<ContactRow> for ContactView {
    fn from(r: ContactRow) -> Self {
        ContactView {
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            email: r.email,
            phone: r.phone,
            role: r.role,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new contact: an email or a phone number (or both).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Dana Smith", "email": "ap@acme.example", "role": "accounts_payable"}))]
pub struct NewContact {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(value_type = Option<crate::validate::EmailAddress>)]
    pub email: Option<String>,
    #[schema(value_type = Option<crate::validate::PhoneNumber>)]
    pub phone: Option<String>,
    pub role: ContactRole,
}

/// Changes to a contact; `null` clears email or phone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "+1 555 010 2001", "version": 1}))]
pub struct ContactPatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<crate::validate::EmailAddress>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<crate::validate::PhoneNumber>)]
    pub phone: Option<Option<String>>,
    pub role: Option<ContactRole>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl ContactPatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.phone.is_none() && self.role.is_none()
    }
}

pub(crate) fn validate(row: &ContactRow) -> Result<(), ApiError> {
    let mut e = Errors::default();
    e.text("name", &row.name, 200);
    e.email("email", row.email.as_deref());
    e.phone("phone", row.phone.as_deref());
    if row.email.is_none() && row.phone.is_none() {
        e.add(
            "email",
            "required",
            "a contact needs an email or a phone number",
        );
    }
    Ok(e.finish()?)
}

pub(crate) async fn find_for_update(
    conn: &mut Conn,
    account_id: Uuid,
    id: Uuid,
) -> Result<ContactRow, ApiError> {
    c::contacts
        .filter(c::account_id.eq(account_id))
        .find(id)
        .select(ContactRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ApiError::NotFound("contact"))
}

/// Handles the POST /v1/accounts/{id}/contacts route: adds a contact to an account.
#[utoipa::path(
    tag = "accounts",
    request_body = NewContact,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The contact was added", body = ContactView),
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
#[post("/accounts/{id}/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewContact>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsWrite)?;
    let account_id = id.into_inner();
    let new = body.0;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/accounts/{account_id}/contacts"), &new)?;
    let now = ctx.now;
    let row = ContactRow {
        id: Uuid::now_v7(),
        account_id,
        name: new.name,
        email: new.email,
        phone: new.phone,
        role: new.role,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    validate(&row)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| service::create_contact(conn, &ctx, &row).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/accounts/{id}/contacts route.
#[utoipa::path(
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id"), PageParams),
    responses(
        (status = 200, description = "A page of the account's contacts", body = Page<ContactView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsRead)?;
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let account =
        super::store::find_visible(&mut conn, id.into_inner(), ctx.partner_scope()).await?;
    let mut query = c::contacts
        .filter(c::account_id.eq(account.id))
        .select(ContactRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(c::id.gt(after));
    }
    let rows = query
        .order(c::id.asc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, ContactView::from)))
}

/// Handles the PATCH /v1/accounts/{id}/contacts/{contact_id} route.
#[utoipa::path(
    tag = "accounts",
    request_body = ContactPatch,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("contact_id" = Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being changed (or send `version`)"),
    ),
    responses(
        (status = 200, description = "The changed contact", body = ContactView),
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
#[patch("/accounts/{id}/contacts/{contact_id}")]
pub async fn update_contact(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<ContactPatch>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsWrite)?;
    let (account_id, contact_id) = path.into_inner();
    let patch = body.0;
    if patch.names_nothing() {
        return Err(ApiError::field("body", "empty", "names no field to change"));
    }
    let expected = Expected::from_request(&req, patch.version)?;
    let stored = idempotency::write(&state.pool, &ctx, None, "", async |conn| {
        service::update_contact(conn, &ctx, account_id, contact_id, &patch, expected).await
    })
    .await?;
    Ok(stored.into_response())
}

/// Handles the DELETE /v1/accounts/{id}/contacts/{contact_id} route.
#[utoipa::path(
    tag = "accounts",
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("contact_id" = Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version being deleted (optional)"),
    ),
    responses(
        (status = 204, description = "The contact was removed; the audit log keeps it"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []))
)]
#[delete("/accounts/{id}/contacts/{contact_id}")]
pub async fn delete_contact(
    state: web::Data<AppState>,
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::AccountsWrite)?;
    let (account_id, contact_id) = path.into_inner();
    let expected = Expected::optional(&req)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction(async |conn| {
        service::delete_contact(conn, &ctx, account_id, contact_id, expected).await
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
