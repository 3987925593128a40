//! Goals as their commands change them, each in the caller's transaction.

use uuid::Uuid;

use super::model::{CollectionGoalPatch, CollectionGoalView, GoalRow};
use super::{rules, store};
use crate::audit::Audited;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;

impl Audited for CollectionGoalView {
    const ENTITY: &'static str = "collection_goal";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// Sets the goal `row` (already checked); 409 `goal_exists` when its collector or team has
/// one for the month and currency.
pub async fn create(
    conn: &mut Conn,
    row: &GoalRow,
) -> Result<Written<CollectionGoalView>, ApiError> {
    let view = CollectionGoalView::from(store::insert(conn, row).await?);
    Ok(Written::created("collection_goal.created", view))
}

/// Changes a goal's targets at the version the caller expects.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &CollectionGoalPatch,
    expected: Expected,
) -> Result<Written<CollectionGoalView>, ApiError> {
    let current = store::find_for_update(conn, id).await?;
    expected.check(current.version)?;
    let next = patch.apply(&current, ctx.now);
    rules::check_changed(&next)?;
    let before = CollectionGoalView::from(current);
    let after = CollectionGoalView::from(store::update(conn, &next).await?);
    Ok(Written::changed("collection_goal.updated", before, after))
}
