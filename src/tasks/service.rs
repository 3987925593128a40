//! Tasks as their commands change them, each in the caller's transaction.

use uuid::Uuid;

use super::model::{validate, TaskPatch, TaskRow, TaskView};
use super::store;
use crate::audit::Audited;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;

impl Audited for TaskView {
    const ENTITY: &'static str = "task";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        self.account_id
    }
}

/// Creates the task `row` (already validated).
pub async fn create(conn: &mut Conn, row: &TaskRow) -> Result<Written<TaskView>, ApiError> {
    let view = TaskView::from(store::insert(conn, row).await?);
    Ok(Written::created("task.created", view))
}

/// Changes a task at the version the caller expects.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &TaskPatch,
    expected: Expected,
) -> Result<Written<TaskView>, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    let next = patch.apply(&current, ctx.now)?;
    validate(&next)?;
    let before = TaskView::from(current);
    let after = TaskView::from(store::update(conn, &next).await?);
    Ok(Written::changed("task.updated", before, after))
}
