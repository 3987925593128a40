//! Many payments recorded in one transaction (a bank file's credits): each one what
//! [`super::record`] makes of it, with the writes made set-wise. The numbers are taken in one
//! statement and the invoices locked together (in id order); payments, invoices,
//! applications, deductions, ledger entries, events and audit entries are written by
//! multi-row statements, and collections look once at the accounts the cash reached.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::super::application::{apply_line, check_remittance, Moves};
use super::{new_row, new_view, record_numbered};
use crate::accounts::model::AccountRow;
use crate::audit;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::invoices::model::{InvoiceRow, InvoiceStatus};
use crate::outbox::{self, EventType};
use crate::payments::model::{ApplicationMode, DeductionRow, PaymentRow, PaymentView};
use crate::payments::requests::{NewPayment, RemittanceLine};
use crate::payments::rules::{self, Stamp};
use crate::payments::store;

/// Records the payments in their order, each applied as its `application_mode` says, and
/// audits each as `payment.received`; answers their views in the same order. A payment whose
/// remittance names an invoice by number, twice, of another account or written off, or that
/// is applied `auto`, is recorded on its own, in its place, exactly as [`super::record`] does.
/// A refusal of any payment refuses them all.
pub async fn record_many(
    conn: &mut Conn,
    ctx: &Ctx,
    news: &[&NewPayment],
) -> Result<Vec<PaymentView>, ApiError> {
    let stamp = ctx.stamp();
    let mut account_ids: Vec<Uuid> = news.iter().map(|n| n.account_id).collect();
    account_ids.sort();
    account_ids.dedup();
    let accounts: HashMap<Uuid, AccountRow> = crate::accounts::store::find_many(conn, &account_ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let numbers = store::next_numbers(conn, news.len()).await?;
    let mut ids: Vec<Uuid> = news
        .iter()
        .flat_map(|n| lines_of(n).iter().filter_map(|l| l.invoice_id))
        .collect();
    ids.sort();
    ids.dedup();
    let mut held = Held {
        invoices: HashMap::new(),
        open: HashMap::new(),
    };
    held.read(conn, &ids).await?;
    let mut batch = Batch::default();
    let mut views = Vec::with_capacity(news.len());
    for (new, number) in news.iter().zip(numbers) {
        let Some(account) = accounts.get(&new.account_id) else {
            crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
            return Err(ApiError::NotFound("account"));
        };
        let mode = mode_of(new);
        let lines = lines_of(new);
        let line_ids: Vec<Uuid> = lines.iter().filter_map(|l| l.invoice_id).collect();
        let distinct: HashSet<&Uuid> = line_ids.iter().collect();
        let alone = mode == ApplicationMode::Auto
            || line_ids.len() < lines.len()
            || distinct.len() < line_ids.len()
            || line_ids.iter().any(|id| {
                held.invoices.get(id).is_none_or(|i| {
                    i.account_id != account.id || i.status == InvoiceStatus::Uncollectible
                })
            });
        if alone || line_ids.iter().any(|id| batch.touched.contains(id)) {
            // What the batch holds is written first, and these invoices read as they are.
            batch.write(conn, ctx, &stamp, &mut views).await?;
            held.read(conn, &line_ids).await?;
        }
        if alone {
            let view = record_numbered(conn, ctx, new, mode, account, number)
                .await?
                .audit(conn, ctx)
                .await?;
            let paid: Vec<Uuid> = view.applications.iter().map(|a| a.invoice_id).collect();
            held.read(conn, &paid).await?;
            views.push(view);
            continue;
        }
        let mut payment = new_row(new, mode, account, number, &stamp)?;
        let mut invoices: Vec<InvoiceRow> = line_ids
            .iter()
            .map(|id| held.invoices[id].clone())
            .collect();
        check_remittance(&payment, lines, &line_ids, &invoices, &HashSet::new())?;
        let receipt = rules::receipt(&payment, &stamp);
        let mut moves = Moves::default();
        for (line, invoice) in lines.iter().zip(invoices.iter_mut()) {
            let open = held.open.remove(&invoice.id);
            apply_line(&mut payment, invoice, line, open, &stamp, &mut moves);
        }
        moves.entries.insert(0, receipt);
        payment.version = 1;
        for invoice in &invoices {
            held.invoices.insert(invoice.id, invoice.clone());
        }
        moves.invoices = invoices;
        batch.add(payment, moves);
    }
    batch.write(conn, ctx, &stamp, &mut views).await?;
    Ok(views)
}

/// How a new payment is applied: as it says, or as `POST /v1/payments` defaults it.
fn mode_of(new: &NewPayment) -> ApplicationMode {
    new.application_mode.unwrap_or(if new.remittance.is_some() {
        ApplicationMode::Remittance
    } else {
        ApplicationMode::Auto
    })
}

/// The remittance lines a payment is applied by (none unless applied by remittance).
fn lines_of(new: &NewPayment) -> &[RemittanceLine] {
    match (mode_of(new), &new.remittance) {
        (ApplicationMode::Remittance, Some(lines)) => lines,
        _ => &[],
    }
}

/// The invoices the batch's payments pay, locked, as the batch has left them; and their open
/// deductions not yet used.
struct Held {
    invoices: HashMap<Uuid, InvoiceRow>,
    open: HashMap<Uuid, DeductionRow>,
}

impl Held {
    /// Locks and reads the invoices (again), with their open deductions.
    async fn read(&mut self, conn: &mut Conn, ids: &[Uuid]) -> Result<(), ApiError> {
        if ids.is_empty() {
            return Ok(());
        }
        for invoice in crate::invoices::store::lock_many(conn, ids).await? {
            self.invoices.insert(invoice.id, invoice);
        }
        for id in ids {
            self.open.remove(id);
        }
        self.open.extend(store::open_deductions(conn, ids).await?);
        Ok(())
    }
}

/// Payments made in memory, not yet written; each invoice at most once.
#[derive(Default)]
struct Batch {
    payments: Vec<PaymentRow>,
    moves: Moves,
    views: Vec<PaymentView>,
    /// The invoices each payment paid, for the deductions it settles.
    paid_by: Vec<(Uuid, Vec<Uuid>)>,
    touched: HashSet<Uuid>,
}

impl Batch {
    fn add(&mut self, payment: PaymentRow, moves: Moves) {
        self.views.push(new_view(&payment, &moves));
        let invoices: Vec<Uuid> = moves.invoices.iter().map(|i| i.id).collect();
        self.touched.extend(invoices.iter().copied());
        self.paid_by.push((payment.id, invoices));
        self.payments.push(payment);
        let all = &mut self.moves;
        all.invoices.extend(moves.invoices);
        all.applications.extend(moves.applications);
        all.deductions.extend(moves.deductions);
        all.updated_deductions.extend(moves.updated_deductions);
        all.entries.extend(moves.entries);
    }

    /// Writes what the batch holds, in the order [`super::record`] writes one payment, and
    /// adds the views to `out`.
    async fn write(
        &mut self,
        conn: &mut Conn,
        ctx: &Ctx,
        stamp: &Stamp,
        out: &mut Vec<PaymentView>,
    ) -> Result<(), ApiError> {
        if self.payments.is_empty() {
            return Ok(());
        }
        let Batch {
            payments,
            moves,
            views,
            paid_by,
            touched,
        } = std::mem::take(self);
        store::insert(conn, &payments).await?;
        let mut paid = crate::invoices::service::Paid::default();
        crate::invoices::service::save_many(conn, &moves.invoices, &mut paid).await?;
        for chunk in moves.applications.chunks(2_000) {
            store::insert_applications(conn, chunk).await?;
        }
        for deduction in &moves.updated_deductions {
            store::update_deduction(conn, deduction).await?;
        }
        // Deductions nothing is short of any more are settled by the payment that paid them.
        let touched: Vec<Uuid> = touched.into_iter().collect();
        let open = store::open_deductions(conn, &touched).await?;
        for (payment, invoices) in &paid_by {
            let settling: Vec<Uuid> = invoices
                .iter()
                .copied()
                .filter(|i| open.contains_key(i))
                .collect();
            store::sync_deductions(conn, &settling, Some(*payment), stamp).await?;
        }
        for chunk in moves.deductions.chunks(1_000) {
            store::insert_deductions(conn, chunk).await?;
        }
        crate::ledger::store::post(conn, &moves.entries).await?;
        paid.announce(conn, stamp.now).await?;
        let mut events = Vec::with_capacity(views.len() * 2);
        for view in &views {
            let account = Some(view.account_id);
            events.push(outbox::Event::new(
                EventType::PaymentReceived,
                view.id,
                account,
                view,
            )?);
            if !view.applications.is_empty() {
                events.push(outbox::Event::new(
                    EventType::PaymentApplied,
                    view.id,
                    account,
                    view,
                )?);
            }
        }
        outbox::emit_many(conn, stamp.now, &events).await?;
        let mut accounts: Vec<Uuid> = Vec::new();
        let mut seen = HashSet::new();
        for payment in &payments {
            if seen.insert(payment.account_id) {
                accounts.push(payment.account_id);
            }
        }
        crate::collections::events::cash_received(conn, ctx, &accounts).await?;
        audit::created_many(conn, ctx, "payment.received", &views).await?;
        out.extend(views);
        Ok(())
    }
}
