//! Manual drafts: create, edit, delete (a billing run's draft gives its periods back).

use serde::Serialize;
use uuid::Uuid;

use super::{check_line_codes, refuse_unless_draft, view};
use crate::accounts::model::AccountStatus;
use crate::audit::{self, Audited};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::extract::Expected;
use crate::idempotency::Written;
use crate::invoices::model::{InvoicePatch, InvoiceView, NewInvoice, References};
use crate::invoices::{rules, store};
use crate::validate::Errors;

/// Writes a manual invoice for one-off charges as a draft of the account.
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewInvoice,
) -> Result<Written<InvoiceView>, ApiError> {
    let account = crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
    let currency = account.currency;
    let mut e = Errors::default();
    let references = References(new.reference_fields.clone());
    rules::validate_header(
        new.po_number.as_deref(),
        &references,
        new.memo.as_deref(),
        &mut e,
    );
    rules::validate_lines(&new.lines, currency, &mut e);
    check_line_codes(conn, &new.lines, &mut e).await?;
    let mut terms = account.payment_terms_days;
    if let Some(contract_id) = new.contract_id {
        match crate::contracts::store::find(conn, contract_id).await {
            Ok(c) if c.account_id == account.id => terms = c.payment_terms_days.unwrap_or(terms),
            _ => e.add(
                "contract_id",
                "unknown",
                "is not a contract of this account",
            ),
        }
    }
    e.finish()?;
    if account.status == AccountStatus::Closed {
        return Err(ApiError::conflict(
            "account_closed",
            "The account is closed.",
        ));
    }
    crate::credit::refuse_hold(conn, &account).await?;
    let id = Uuid::now_v7();
    let lines = rules::manual_lines(id, &new.lines, currency);
    let mut row = rules::new_draft(&account, id, new.contract_id, terms, ctx.now);
    row.po_number = new.po_number.clone().map(|p| p.trim().to_string());
    row.reference_fields = references;
    row.memo = new.memo.clone();
    rules::set_totals(&mut row, &lines, currency);
    store::insert_many(conn, std::slice::from_ref(&row), &lines).await?;
    let view = InvoiceView::new(row, lines, ctx.today());
    Ok(Written::created("invoice.created", view))
}

/// Edits a draft that is still the version `expected` (lines of manual drafts only).
pub async fn update(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    patch: &InvoicePatch,
    expected: Expected,
) -> Result<Written<InvoiceView>, ApiError> {
    let current = store::lock_visible(conn, id, None).await?;
    expected.check(current.version)?;
    refuse_unless_draft(&current)?;
    let currency = current.currency;
    let mut next = current.clone();
    if let Some(po) = &patch.po_number {
        next.po_number = po.as_ref().map(|p| p.trim().to_string());
    }
    if let Some(refs) = &patch.reference_fields {
        next.reference_fields = References(refs.clone());
    }
    if let Some(memo) = &patch.memo {
        next.memo = memo.clone();
    }
    let mut e = Errors::default();
    rules::validate_header(
        next.po_number.as_deref(),
        &next.reference_fields,
        next.memo.as_deref(),
        &mut e,
    );
    if let Some(lines) = &patch.lines {
        if current.billing_run_id.is_some() {
            e.add(
                "lines",
                "not_allowed",
                "the lines of a billed draft come from its contract; correct the contract or readings",
            );
        }
        rules::validate_lines(lines, currency, &mut e);
        check_line_codes(conn, lines, &mut e).await?;
    }
    e.finish()?;
    let before = view(conn, current, ctx.today()).await?;
    if let Some(lines) = &patch.lines {
        let rows = rules::manual_lines(id, lines, currency);
        rules::set_totals(&mut next, &rows, currency);
        store::replace_lines(conn, id, &rows).await?;
    }
    next.version += 1;
    next.updated_at = ctx.now;
    let row = store::update(conn, &next).await?;
    let after = view(conn, row, ctx.today()).await?;
    Ok(Written::changed("invoice.updated", before, after))
}

/// The periods a deleted run's draft gave back to its contract, as the audit log records them.
#[derive(Serialize)]
struct PeriodsReleased<'a> {
    #[serde(skip)]
    contract_id: Uuid,
    #[serde(skip)]
    account_id: Uuid,
    invoice_id: Uuid,
    released: &'a crate::billing::store::Released,
}

impl Audited for PeriodsReleased<'_> {
    const ENTITY: &'static str = "contract";

    fn entity_id(&self) -> Uuid {
        self.contract_id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// A review task cancelled with its deleted draft, as the audit log records it.
#[derive(Serialize)]
struct TaskCancelled {
    #[serde(skip)]
    task_id: Uuid,
    #[serde(skip)]
    account_id: Uuid,
    status: &'static str,
    reason: String,
}

impl Audited for TaskCancelled {
    const ENTITY: &'static str = "task";

    fn entity_id(&self) -> Uuid {
        self.task_id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// Deletes a draft that is still the version `expected`. A billing run's draft gives its
/// contract's periods back and cancels its review tasks; each is recorded in the audit log.
pub async fn delete(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    expected: Expected,
) -> Result<(), ApiError> {
    // A run's draft: its contract first, the order billing runs lock in.
    let peek = store::find_visible(conn, id, None).await?;
    if let (Some(_), Some(contract)) = (peek.billing_run_id, peek.contract_id) {
        crate::contracts::store::lock(conn, contract).await?;
    }
    let current = store::lock_visible(conn, id, None).await?;
    expected.check(current.version)?;
    refuse_unless_draft(&current)?;
    let released = match (current.billing_run_id, current.contract_id) {
        (Some(_), Some(contract)) => Some((
            contract,
            crate::billing::store::release_draft(conn, &current, ctx.now).await?,
        )),
        _ => None,
    };
    let before = view(conn, current, ctx.today()).await?;
    store::delete_draft(conn, id).await?;
    audit::changed(conn, ctx, "invoice.deleted", Some(&before), None).await?;
    let Some((contract_id, released)) = released else {
        return Ok(());
    };
    let account_id = before.account_id;
    let periods = PeriodsReleased {
        contract_id,
        account_id,
        invoice_id: id,
        released: &released,
    };
    audit::changed(conn, ctx, "contract.periods_released", None, Some(&periods)).await?;
    for task in &released.tasks_cancelled {
        let cancelled = TaskCancelled {
            task_id: *task,
            account_id,
            status: "cancelled",
            reason: format!("its draft invoice {id} was deleted"),
        };
        audit::changed(conn, ctx, "task.updated", None, Some(&cancelled)).await?;
    }
    Ok(())
}
