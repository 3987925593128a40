//! Financial codes as their commands change them, each in the caller's transaction.

use uuid::Uuid;

use super::model::{validate, FinancialCodePatch, FinancialCodeRow, FinancialCodeView};
use super::store;
use crate::audit::Audited;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;

impl Audited for FinancialCodeView {
    const ENTITY: &'static str = "financial_code";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        None
    }
}

/// Adds the code `row` (already validated) to the chart.
pub async fn create(
    conn: &mut Conn,
    row: &FinancialCodeRow,
) -> Result<Written<FinancialCodeView>, ApiError> {
    let view = FinancialCodeView::from(store::insert(conn, row).await?);
    Ok(Written::created("financial_code.created", view))
}

/// Changes a code: lock, check the version, apply, validate, save.
async fn change(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    expected: Expected,
    action: &'static str,
    apply: impl FnOnce(&FinancialCodeRow) -> Result<FinancialCodeRow, ApiError>,
) -> Result<Written<FinancialCodeView>, ApiError> {
    let current = store::lock(conn, id).await?;
    expected.check(current.version)?;
    let mut next = apply(&current)?;
    next.version = current.version + 1;
    next.updated_at = ctx.now;
    validate(&next)?;
    let before = FinancialCodeView::from(current);
    let after = FinancialCodeView::from(store::update(conn, &next).await?);
    Ok(Written::changed(action, before, after))
}

/// Renames or re-describes a code at the version the caller expects.
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: FinancialCodePatch,
    expected: Expected,
) -> Result<Written<FinancialCodeView>, ApiError> {
    change(
        conn,
        ctx,
        id,
        expected,
        "financial_code.updated",
        |current| {
            Ok(FinancialCodeRow {
                name: patch.name.unwrap_or_else(|| current.name.clone()),
                description: patch
                    .description
                    .unwrap_or_else(|| current.description.clone()),
                ..current.clone()
            })
        },
    )
    .await
}

/// Retires a code (`active` false) or brings it back; refused when it already is so.
pub async fn set_active(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    active: bool,
    expected: Expected,
) -> Result<Written<FinancialCodeView>, ApiError> {
    let action = if active {
        "financial_code.activated"
    } else {
        "financial_code.deactivated"
    };
    change(conn, ctx, id, expected, action, |current| {
        if current.active == active {
            let state = if active { "active" } else { "inactive" };
            return Err(ApiError::conflict(
                "no_change",
                format!("The code is already {state}."),
            ));
        }
        Ok(FinancialCodeRow {
            active,
            ..current.clone()
        })
    })
    .await
}
