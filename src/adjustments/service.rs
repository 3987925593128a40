//! The adjustment commands, in the caller's transaction: a late fee (billed on a new fee
//! invoice), a small-balance write-off, a bad-debt write-off of an invoice or of a whole
//! account. Each adjustment made is recorded in the audit log.

use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::model::{
    AdjustmentKind, AdjustmentResult, AdjustmentRow, AdjustmentView, NewAdjustment,
    NewAdjustmentKind,
};
use super::{rules, store};
use crate::accounts::model::{AccountView, CollectionsStatus};
use crate::audit::{self, Audited};
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::financial_codes::model::FinancialCodeKind;
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::invoices::rules::Numbering;
use crate::ledger::model::Stamp;
use crate::validate::Errors;

impl Audited for AdjustmentView {
    const ENTITY: &'static str = "adjustment";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// An account a bad-debt write-off left with nothing open, as the audit log records it.
#[derive(Serialize)]
#[serde(transparent)]
struct WrittenOff(AccountView);

impl Audited for WrittenOff {
    const ENTITY: &'static str = "account";

    fn entity_id(&self) -> Uuid {
        self.0.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.0.id)
    }
}

/// Makes the adjustments `new` asks for and records each in the audit log (with the account a
/// bad-debt write-off leaves with nothing open).
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewAdjustment,
    numbering: &Numbering,
    tolerance: Decimal,
) -> Result<AdjustmentResult, ApiError> {
    let kind = match new.kind {
        NewAdjustmentKind::LateFee => FinancialCodeKind::Fee,
        _ => FinancialCodeKind::WriteOff,
    };
    let mut e = Errors::default();
    crate::financial_codes::store::check_codes(
        conn,
        &[("financial_code_id".into(), new.financial_code_id)],
        &[kind],
        &mut e,
    )
    .await?;
    e.finish()?;
    let stamp = ctx.stamp();
    let rows = match new.kind {
        NewAdjustmentKind::LateFee => late_fee(conn, ctx, new, numbering, &stamp).await?,
        NewAdjustmentKind::SmallBalanceWriteOff => {
            small_balance(conn, new, tolerance, &stamp).await?
        }
        NewAdjustmentKind::BadDebtWriteOff => bad_debt(conn, ctx, new, &stamp).await?,
    };
    let views: Vec<AdjustmentView> = rows.into_iter().map(AdjustmentView::from).collect();
    for view in &views {
        audit::changed(conn, ctx, "adjustment.created", None, Some(view)).await?;
    }
    Ok(AdjustmentResult { adjustments: views })
}

fn adjustment(
    kind: AdjustmentKind,
    invoice: &InvoiceRow,
    amount: Decimal,
    new: &NewAdjustment,
    stamp: &Stamp,
) -> AdjustmentRow {
    AdjustmentRow {
        id: Uuid::now_v7(),
        account_id: invoice.account_id,
        invoice_id: Some(invoice.id),
        kind,
        amount,
        currency: invoice.currency,
        financial_code_id: new.financial_code_id,
        reason: new.reason.trim().to_string(),
        deduction_id: None,
        created_by: stamp.actor.clone(),
        created_at: stamp.now,
        payment_id: None,
    }
}

/// A late fee, billed on a new invoice.
async fn late_fee(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewAdjustment,
    numbering: &Numbering,
    stamp: &Stamp,
) -> Result<Vec<AdjustmentRow>, ApiError> {
    let account_id = new.account_id.expect("checked");
    let account = crate::accounts::store::find_named(conn, account_id, "account_id").await?;
    let currency = account.currency;
    let today = stamp.today();
    let past_due = match new.invoice_id {
        Some(id) => {
            let invoice = crate::invoices::store::lock_named(conn, id, "invoice_id").await?;
            if invoice.account_id != account.id {
                return Err(ApiError::field(
                    "invoice_id",
                    "other_account",
                    "is an invoice of another account",
                ));
            }
            if invoice.status == InvoiceStatus::Open && invoice.due_date < today {
                invoice.balance_due - invoice.disputed_amount
            } else {
                Decimal::ZERO
            }
        }
        None => store::past_due(conn, account.id, today).await?,
    };
    let amount = rules::late_fee(new.amount, new.percentage, past_due, currency);
    let mut e = Errors::default();
    if let Err(err) = currency.check("amount", amount) {
        e.push(err);
    }
    if amount <= Decimal::ZERO {
        e.add(
            "percentage",
            "nothing_past_due",
            "nothing undisputed is past due to charge a percentage of",
        );
    }
    e.finish()?;
    let of = new
        .invoice_id
        .map(|_| " on the past-due invoice".to_string())
        .unwrap_or_default();
    let description = match new.percentage {
        Some(p) => format!(
            "Late fee{of}: {}% of {} past due",
            p.normalize(),
            currency.normalize(past_due)
        ),
        None => format!("Late fee{of}"),
    };
    let invoice = crate::invoices::service::fee_invoice(
        conn,
        ctx,
        numbering,
        &account,
        description,
        amount,
        new.financial_code_id,
        stamp,
    )
    .await?;
    let row = adjustment(AdjustmentKind::LateFee, &invoice, amount, new, stamp);
    store::insert(conn, &row).await?;
    Ok(vec![row])
}

/// A small-balance write-off of an invoice.
async fn small_balance(
    conn: &mut Conn,
    new: &NewAdjustment,
    tolerance: Decimal,
    stamp: &Stamp,
) -> Result<Vec<AdjustmentRow>, ApiError> {
    let mut invoice =
        crate::invoices::store::lock_named(conn, new.invoice_id.expect("checked"), "invoice_id")
            .await?;
    if new.account_id.is_some_and(|a| a != invoice.account_id) {
        return Err(ApiError::field(
            "invoice_id",
            "other_account",
            "is an invoice of another account",
        ));
    }
    let undisputed = invoice.balance_due - invoice.disputed_amount;
    let amount = new.amount.unwrap_or(undisputed);
    let mut e = Errors::default();
    if let Err(err) = invoice.currency.check("amount", amount) {
        e.push(err);
    }
    if amount <= Decimal::ZERO {
        e.add(
            "amount",
            "out_of_range",
            "nothing undisputed is left to write off",
        );
    }
    e.finish()?;
    if let Some(refusal) = rules::small_balance_refusal(&invoice, amount, tolerance) {
        return Err(refusal.into());
    }
    if amount != undisputed && amount > Decimal::ZERO && amount <= undisputed {
        return Err(ApiError::field(
            "amount",
            "leaves_balance",
            format!(
                "must clear the invoice's undisputed balance ({undisputed}): a small balance is written off whole"
            ),
        ));
    }
    let row = adjustment(
        AdjustmentKind::SmallBalanceWriteOff,
        &invoice,
        amount,
        new,
        stamp,
    );
    let description = format!(
        "Small-balance write-off on {}: {}",
        invoice.number.as_deref().unwrap_or_default(),
        row.reason
    );
    let entry = rules::write_off(&mut invoice, amount, row.id, description, stamp);
    let mut paid = crate::invoices::service::Paid::default();
    crate::invoices::service::save(conn, &invoice, &mut paid).await?;
    store::insert(conn, &row).await?;
    crate::ledger::store::post(conn, &[entry]).await?;
    crate::payments::store::sync_deductions(conn, &[invoice.id], None, stamp).await?;
    paid.announce(conn, stamp.now).await?;
    Ok(vec![row])
}

/// A bad-debt write-off of an invoice, or of every open invoice of an account.
async fn bad_debt(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewAdjustment,
    stamp: &Stamp,
) -> Result<Vec<AdjustmentRow>, ApiError> {
    // A whole account: its row is locked before its invoices, so that a payment recorded at
    // the same time (which holds a key-share lock on the account) waits or goes first.
    let account = match new.account_id {
        Some(account_id) => {
            crate::accounts::store::find_named(conn, account_id, "account_id").await?;
            Some(crate::accounts::store::lock_visible(conn, account_id, None).await?)
        }
        None => None,
    };
    let today = stamp.today();
    let (mut invoices, left_open) = match (new.invoice_id, &account) {
        (Some(id), _) => {
            let invoice = crate::invoices::store::lock_named(conn, id, "invoice_id").await?;
            if let Some(refusal) = rules::bad_debt_refusal(&invoice) {
                return Err(refusal.into());
            }
            if !new.include_not_yet_due && !rules::past_due_on(&invoice, today) {
                return Err(ApiError::field(
                    "invoice_id",
                    "not_past_due",
                    format!(
                        "is due {}: only past-due invoices are written off as bad debt unless include_not_yet_due is set with a reason",
                        invoice.due_date
                    ),
                ));
            }
            (vec![invoice], 0)
        }
        (None, Some(account)) => {
            let open = crate::payments::store::lock_open_invoices(conn, account.id).await?;
            let (due, not_yet): (Vec<InvoiceRow>, Vec<InvoiceRow>) = open
                .into_iter()
                .partition(|i| new.include_not_yet_due || rules::past_due_on(i, today));
            if due.is_empty() {
                return Err(ApiError::conflict(
                    "nothing_to_write_off",
                    if not_yet.is_empty() {
                        "The account has no open invoice with a balance.".to_string()
                    } else {
                        format!(
                            "None of the account's {} open invoices is past due; set include_not_yet_due with a reason to write them off.",
                            not_yet.len()
                        )
                    },
                ));
            }
            if let Some(refusal) = due.iter().find_map(rules::bad_debt_refusal) {
                return Err(refusal.into());
            }
            (due, not_yet.len())
        }
        (None, None) => unreachable!("checked"),
    };
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for invoice in &mut invoices {
        let mut row = adjustment(
            AdjustmentKind::BadDebtWriteOff,
            invoice,
            Decimal::ZERO,
            new,
            stamp,
        );
        if !rules::past_due_on(invoice, today) {
            let why = new.not_yet_due_reason.as_deref().unwrap_or_default().trim();
            row.reason = format!("{} (not yet due: {why})", row.reason);
        }
        let description = format!(
            "Bad debt written off on {}: {}",
            invoice.number.as_deref().unwrap_or_default(),
            row.reason
        );
        let (amount, entry) = rules::bad_debt(invoice, row.id, description, stamp);
        row.amount = amount;
        rows.push(row);
        entries.push(entry);
    }
    for invoice in &invoices {
        crate::invoices::store::update(conn, invoice).await?;
    }
    store::insert_many(conn, &rows).await?;
    crate::ledger::store::post(conn, &entries).await?;
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    crate::payments::store::cancel_open_deductions(conn, &ids, stamp).await?;
    // The account is written off when nothing of it is left open.
    if let Some(before) = account.filter(|_| left_open == 0) {
        let mut after = before.clone();
        after.collections_status = CollectionsStatus::WrittenOff;
        after.version += 1;
        after.updated_at = stamp.now;
        let after = crate::accounts::store::update(conn, &after).await?;
        let moved = after.collections_status != before.collections_status;
        let account_id = after.id;
        audit::changed(
            conn,
            ctx,
            "account.written_off",
            Some(&WrittenOff(AccountView::from(before))),
            Some(&WrittenOff(AccountView::from(after))),
        )
        .await?;
        if moved {
            crate::accounts::service::collections_status_changed(conn, stamp.now, account_id)
                .await?;
        }
    }
    Ok(rows)
}
