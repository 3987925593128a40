//! Contacts as their commands change them, under their account's lock: added, changed and
//! removed (while the account is open).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::accounts::contacts::{find_for_update, validate, ContactPatch, ContactRow, ContactView};
use crate::accounts::{rules, store};
use crate::audit::{self, Audited};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;
use crate::schema::contacts::dsl as c;

impl Audited for ContactView {
    const ENTITY: &'static str = "contact";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Adds the contact `row` (already validated) to its open account, which the caller sees.
pub async fn create_contact(
    conn: &mut Conn,
    ctx: &Ctx,
    row: &ContactRow,
) -> Result<Written<ContactView>, ApiError> {
    let account = store::lock_visible(conn, row.account_id, ctx.partner_scope()).await?;
    rules::refuse_closed(account.status)?;
    let saved = diesel::insert_into(c::contacts)
        .values(row)
        .returning(ContactRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(Written::created(
        "contact.created",
        ContactView::from(saved),
    ))
}

/// Changes a contact of an open account the caller sees, at the version it expects.
pub async fn update_contact(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    contact_id: Uuid,
    patch: &ContactPatch,
    expected: Expected,
) -> Result<Written<ContactView>, ApiError> {
    let account = store::lock_visible(conn, account_id, ctx.partner_scope()).await?;
    let current = find_for_update(conn, account_id, contact_id).await?;
    expected.check(current.version)?;
    rules::refuse_closed(account.status)?;
    let next = ContactRow {
        name: patch.name.clone().unwrap_or_else(|| current.name.clone()),
        email: patch.email.clone().unwrap_or_else(|| current.email.clone()),
        phone: patch.phone.clone().unwrap_or_else(|| current.phone.clone()),
        role: patch.role.unwrap_or(current.role),
        version: current.version + 1,
        updated_at: ctx.now,
        ..current.clone()
    };
    validate(&next)?;
    let saved = diesel::update(c::contacts.find(contact_id))
        .set(&next)
        .returning(ContactRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(Written::changed(
        "contact.updated",
        ContactView::from(current),
        ContactView::from(saved),
    ))
}

/// Removes a contact of an open account the caller sees, unless notes of calls and letters
/// name it; the audit log keeps it.
pub async fn delete_contact(
    conn: &mut Conn,
    ctx: &Ctx,
    account_id: Uuid,
    contact_id: Uuid,
    expected: Expected,
) -> Result<(), ApiError> {
    let account = store::lock_visible(conn, account_id, ctx.partner_scope()).await?;
    let current = find_for_update(conn, account_id, contact_id).await?;
    expected.check(current.version)?;
    rules::refuse_closed(account.status)?;
    // A contact named by notes of calls and letters stays on record with them.
    diesel::delete(c::contacts.find(contact_id))
        .execute(conn)
        .await
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            ) => ApiError::conflict(
                "contact_in_use",
                "Account notes name this contact; it stays on record with them.",
            ),
            other => other.into(),
        })?;
    let before = ContactView::from(current);
    audit::changed(conn, ctx, "contact.deleted", Some(&before), None).await
}
