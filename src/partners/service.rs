//! Partners as their commands change them, each in the caller's transaction.

use uuid::Uuid;

use super::model::{validate, PartnerPatch, PartnerRow, PartnerView};
use super::store;
use crate::audit::Audited;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;

impl Audited for PartnerView {
    const ENTITY: &'static str = "partner";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// Registers the partner `row` (already validated).
pub async fn create(conn: &mut Conn, row: &PartnerRow) -> Result<Written<PartnerView>, ApiError> {
    let view = PartnerView::from(store::insert(conn, row).await?);
    Ok(Written::created("partner.created", view))
}

/// Changes a partner at the version the caller expects.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: PartnerPatch,
    expected: Expected,
) -> Result<Written<PartnerView>, ApiError> {
    let current = store::find_for_update(conn, id).await?;
    expected.check(current.version)?;
    let next = patch.apply(&current, ctx.now);
    validate(&next)?;
    let before = PartnerView::from(current);
    let after = PartnerView::from(store::update(conn, &next).await?);
    Ok(Written::changed("partner.updated", before, after))
}
