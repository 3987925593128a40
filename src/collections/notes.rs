//! Notes of contacts with a customer: channel, direction, outcome and text. Each is audited
//! against its account, so it shows in the account's activity timeline.

use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, IdempotencyKey};
use crate::idempotency::{self, Written};
use crate::openapi::responses::*;
use crate::pagination::{Page, PageParams};
use crate::schema::account_notes::dsl as n;
use crate::state::AppState;
use crate::validate::Errors;

crate::text_enum! {
    /// How the contact was made.
    Channel { Call => "call", Email => "email", Letter => "letter", Portal => "portal", InPerson => "in_person" }
}

crate::text_enum! {
    /// Who reached out: `outbound` from us, `inbound` from the customer.
    Direction { Inbound => "inbound", Outbound => "outbound" }
}

crate::text_enum! {
    /// What came of it.
    ContactOutcome {
        Reached => "reached",
        LeftMessage => "left_message",
        NoAnswer => "no_answer",
        Promised => "promised",
        Refused => "refused",
        Disputed => "disputed",
        WrongNumber => "wrong_number",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::account_notes)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct NoteRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub channel: Channel,
    pub direction: Direction,
    pub outcome: Option<ContactOutcome>,
    pub contact_id: Option<Uuid>,
    pub text: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

/// A contact with the customer as recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoteView {
    pub id: Uuid,
    pub account_id: Uuid,
    pub channel: Channel,
    pub direction: Direction,
    pub outcome: Option<ContactOutcome>,
    /// The account contact spoken to, if any.
    pub contact_id: Option<Uuid>,
    #[schema(example = "Spoke to AP; cheque for INV-2026-000123 goes out Friday.")]
    pub text: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl crate::audit::Audited for NoteView {
    const ENTITY: &'static str = "account_note";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

impl From<NoteRow> for NoteView {
    fn from(r: NoteRow) -> Self {
        NoteView {
            id: r.id,
            account_id: r.account_id,
            channel: r.channel,
            direction: r.direction,
            outcome: r.outcome,
            contact_id: r.contact_id,
            text: r.text,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A note to record.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    pub channel: Channel,
    pub direction: Direction,
    pub outcome: Option<ContactOutcome>,
    /// One of the account's contacts.
    pub contact_id: Option<Uuid>,
    /// Up to 10,000 characters.
    #[schema(max_length = 10000)]
    pub text: String,
}

/// The newest note of each account given: one query.
pub async fn last_contacts(
    conn: &mut Conn,
    accounts: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, NoteView>, ApiError> {
    let rows: Vec<NoteRow> = n::account_notes
        .filter(n::account_id.eq_any(accounts))
        .distinct_on(n::account_id)
        .order((n::account_id, n::created_at.desc(), n::id.desc()))
        .select(NoteRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.account_id, NoteView::from(r)))
        .collect())
}

/// Records a contact with the customer of an account (with one of its contacts).
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    new: &NewNote,
) -> Result<Written<NoteView>, ApiError> {
    // The account, then the contact, as a contact's deletion locks them: whichever comes
    // second waits for the first, so a deletion that goes first leaves the contact unknown
    // here, and one that comes after the note is refused (notes name the contact).
    crate::accounts::store::lock_visible(conn, account_id, None).await?;
    if let Some(contact) = new.contact_id {
        use crate::schema::contacts::dsl as c;
        let found: Option<Uuid> = c::contacts
            .filter(c::id.eq(contact).and(c::account_id.eq(account_id)))
            .select(c::id)
            .for_share()
            .first(conn)
            .await
            .optional()?;
        if found.is_none() {
            return Err(ApiError::field(
                "contact_id",
                "unknown",
                "no contact of this account has this id",
            ));
        }
    }
    let row = NoteRow {
        id: Uuid::now_v7(),
        account_id,
        channel: new.channel,
        direction: new.direction,
        outcome: new.outcome,
        contact_id: new.contact_id,
        text: new.text.trim().to_string(),
        created_by: ctx.principal.subject.clone(),
        created_at: ctx.now,
    };
    diesel::insert_into(n::account_notes)
        .values(&row)
        .execute(conn)
        .await?;
    Ok(Written::created(
        "account_note.created",
        NoteView::from(row),
    ))
}

/// Handles the POST /v1/accounts/{id}/notes route: records a contact with the customer.
#[utoipa::path(
    tag = "collections",
    request_body = NewNote,
    params(
        ("id" = Uuid, Path, description = "Account id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response"),
    ),
    responses(
        (status = 201, description = "The note was recorded", body = NoteView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[post("/accounts/{id}/notes")]
pub async fn create_note(
    state: web::Data<AppState>,
    ctx: Ctx,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    body: ApiJson<NewNote>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsWrite)?;
    let account_id = id.into_inner();
    let new = body.0;
    let mut e = Errors::default();
    e.text("text", &new.text, 10_000);
    e.finish()?;
    let fingerprint =
        idempotency::fingerprint("POST", &format!("/v1/accounts/{account_id}/notes"), &new)?;
    let stored = idempotency::write(
        &state.pool,
        &ctx,
        key.0.as_deref(),
        &fingerprint,
        async |conn| create(conn, &ctx, account_id, &new).await,
    )
    .await?;
    Ok(stored.into_response())
}

/// Handles the GET /v1/accounts/{id}/notes route: the account's notes, newest first.
#[utoipa::path(
    tag = "collections",
    params(("id" = Uuid, Path, description = "Account id"), PageParams),
    responses(
        (status = 200, description = "A page of notes", body = Page<NoteView>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/notes")]
pub async fn list_notes(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    page: ApiQuery<PageParams>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::CollectionsRead)?;
    let account_id = id.into_inner();
    let limit = page.0.limit()?;
    let after: Option<Uuid> = page.0.after()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    crate::accounts::store::find_visible(&mut conn, account_id, None).await?;
    let mut query = n::account_notes
        .filter(n::account_id.eq(account_id))
        .select(NoteRow::as_select())
        .order(n::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(n::id.lt(after));
    }
    let rows: Vec<NoteRow> = query.load(&mut conn).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id, NoteView::from)))
}
