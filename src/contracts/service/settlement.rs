//! Termination settles the contract: what was billed in advance for days after the
//! termination date is credited, and what is still to bill up to it (charges in arrears, the
//! final meter readings) is billed on a final invoice, in the transaction that terminates it.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use time::{Date, Duration};
use uuid::Uuid;

use crate::audit;
use crate::billing::engine::{self, owners, suspensions, Settings};
use crate::billing::model::{BillingRunStatus, RunMode, RunRow};
use crate::billing::rules as billing_rules;
use crate::context::Ctx;
use crate::contracts::model::{ChargeRow, ContractRow, Settlement};
use crate::credit_memos::model::{CreditLineRow, CreditReason};
use crate::db::Conn;
use crate::error::ApiError;

/// A recurring-charge line billed for the contract on a non-void invoice.
#[derive(Debug, Clone, Queryable)]
pub struct BilledCharge {
    pub line_id: Uuid,
    pub invoice_id: Uuid,
    pub account_id: Uuid,
    pub charge_id: Option<Uuid>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub amount: Decimal,
    pub taxable: bool,
    pub financial_code_id: Uuid,
    pub description: String,
}

/// What a termination on `t` gives back of a billed line: what was billed beyond what the
/// schedule cut at `t` says it should have been, less what was credited on the line already.
pub fn termination_credit(billed: Decimal, expected: Decimal, credited: Decimal) -> Decimal {
    (billed - expected - credited).max(Decimal::ZERO)
}

/// What the schedule, cut at the termination, says a billed line should have been: nothing
/// for a span starting after it, else the same charge, account and span start in the
/// (shortened) period it belongs to.
fn expected(
    c: &ContractRow,
    charges: &[ChargeRow],
    owners: &[(Date, Uuid)],
    suspended: &[billing_rules::Span],
    line: &BilledCharge,
) -> Decimal {
    let (Some(t), Some(from), Some(charge)) = (c.terminated_on, line.from, line.charge_id) else {
        return line.amount;
    };
    if from > t {
        return Decimal::ZERO;
    }
    let periods = engine::periods_of(c, from);
    let Some(period) = periods.iter().find(|p| p.start <= from && from <= p.end) else {
        return line.amount;
    };
    let charges = engine::charges_of(charges);
    billing_rules::charge_lines(period, &charges, owners, suspended, c.currency())
        .into_iter()
        .find(|l| l.key.id == charge && l.account == line.account_id && l.span.from == from)
        .map_or(Decimal::ZERO, |l| l.amount)
}

fn fmt(d: Date) -> String {
    format!("{} {} {}", d.day(), &d.month().to_string()[..3], d.year())
}

/// Settles the terminated contract `c` (already saved with its termination date): a credit
/// memo per account of what was billed in advance for days after it, issued and applied to
/// the invoices that billed them; and, once the termination day is over, a final invoice of
/// what is still to bill up to it. Audited; returns what was made.
pub async fn settle(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &Settings,
    c: &ContractRow,
) -> Result<Settlement, ApiError> {
    let Some(t) = c.terminated_on else {
        return Ok(Settlement::default());
    };
    let mut settlement = Settlement {
        credit_memo_ids: credit_advance(conn, ctx, c, t).await?,
        ..Default::default()
    };
    if t < ctx.today() {
        bill_final(conn, ctx, settings, c, &mut settlement).await?;
    }
    Ok(settlement)
}

/// The credit memos of what was billed for days after `t`.
async fn credit_advance(
    conn: &mut Conn,
    ctx: &Ctx,
    c: &ContractRow,
    t: Date,
) -> Result<Vec<Uuid>, ApiError> {
    use crate::credit_memos::service as credits;
    use crate::invoices::model::InvoiceStatus;
    use crate::schema::credit_memo_lines::dsl as cl;
    use crate::schema::credit_memos::dsl as cm;
    use crate::schema::invoice_lines::dsl as l;
    use crate::schema::invoices::dsl as i;
    let billed: Vec<BilledCharge> = l::invoice_lines
        .inner_join(i::invoices)
        .filter(l::contract_id.eq(c.id))
        .filter(l::kind.eq("recurring"))
        .filter(l::period_end.gt(t))
        .filter(i::status.ne(InvoiceStatus::Void))
        .filter(i::status.ne(InvoiceStatus::Draft))
        .select((
            l::id,
            i::id,
            i::account_id,
            l::charge_id,
            l::period_start,
            l::period_end,
            l::amount,
            l::taxable,
            l::financial_code_id,
            l::description,
        ))
        .order(l::id)
        .load(conn)
        .await?;
    if billed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = billed.iter().map(|b| b.line_id).collect();
    let credited: Vec<(Option<Uuid>, Decimal)> = cl::credit_memo_lines
        .inner_join(cm::credit_memos)
        .filter(cl::invoice_line_id.eq_any(&ids))
        .filter(cm::status.eq_any([
            crate::credit_memos::model::CreditMemoStatus::Issued,
            crate::credit_memos::model::CreditMemoStatus::PendingApproval,
        ]))
        .select((cl::invoice_line_id, cl::amount))
        .load(conn)
        .await?;
    let charges = crate::contracts::store::charges(conn, c.id).await?;
    let amendments = crate::contracts::store::amendments(conn, c.id).await?;
    let (owners, suspended) = (owners(c, &amendments), suspensions(&amendments));
    let stamp = ctx.stamp();
    let mut by_account: Vec<(Uuid, Vec<CreditLineRow>)> = Vec::new();
    for line in &billed {
        let already: Decimal = credited
            .iter()
            .filter(|(id, _)| *id == Some(line.line_id))
            .map(|(_, a)| *a)
            .sum();
        let expected = expected(c, &charges, &owners, &suspended, line);
        let credit = termination_credit(line.amount, expected, already);
        if credit.is_zero() {
            continue;
        }
        let (from, to) = (
            line.from.map_or(t, |f| f.max(t + Duration::days(1))),
            line.to.unwrap_or(t),
        );
        let row = CreditLineRow {
            invoice_id: Some(line.invoice_id),
            invoice_line_id: Some(line.line_id),
            financial_code_id: Some(line.financial_code_id),
            taxable: line.taxable,
            period_start: Some(from),
            period_end: Some(to),
            ..credits::plain_line(
                format!(
                    "{}: {} – {} after the termination of {} on {}",
                    line.description.split(',').next().unwrap_or("Charge"),
                    fmt(from),
                    fmt(to),
                    c.number,
                    fmt(t)
                ),
                credit,
            )
        };
        match by_account.iter_mut().find(|(a, _)| *a == line.account_id) {
            Some((_, lines)) => lines.push(row),
            None => by_account.push((line.account_id, vec![row])),
        }
    }
    let currency = c.currency();
    let mut memos = Vec::new();
    for (account_id, mut lines) in by_account {
        let invoice_ids: Vec<Uuid> = lines.iter().filter_map(|l| l.invoice_id).collect();
        let invoices = crate::invoices::store::lock_many(conn, &invoice_ids).await?;
        for line in lines.iter_mut() {
            let taxed = invoices
                .iter()
                .find(|i| Some(i.id) == line.invoice_id)
                .is_some_and(|i| !i.tax_rate.is_zero());
            line.taxable = line.taxable && taxed;
        }
        let taxes: Vec<_> = invoices.iter().map(Into::into).collect();
        crate::credit_memos::rules::tax_lines(&mut lines, &taxes, currency);
        let code = lines[0].financial_code_id.expect("a charge's code");
        let mut memo = credits::new_memo(
            account_id,
            c.currency,
            CreditReason::Termination,
            code,
            &lines,
            Some(format!(
                "Charges billed in advance for days after the termination of {} on {t}",
                c.number
            )),
            None,
            &stamp,
        );
        let rows = credits::line_rows(memo.id, &lines);
        let targets = credits::targets_of_lines(memo.id, &rows, &[]);
        crate::credit_memos::store::insert(conn, &memo, &rows, &targets).await?;
        // Owed by the schedule, not granted: issued at once, whatever the issuer's limit.
        // (Collections see the credit when cash next moves on the account.)
        memo.submitted_by = Some(stamp.actor.clone());
        memo.submitted_at = Some(stamp.now);
        credits::issue_and_apply(conn, &mut memo, &stamp).await?;
        let view = crate::credit_memos::store::view(conn, memo.clone()).await?;
        audit::changed(conn, ctx, "credit_memo.created", None, Some(&view)).await?;
        memos.push(memo.id);
    }
    Ok(memos)
}

/// Bills what is still due up to the termination on a final invoice, now: a billing run of
/// the contract as of today, issued, made and finished in this transaction.
async fn bill_final(
    conn: &mut Conn,
    ctx: &Ctx,
    settings: &Settings,
    c: &ContractRow,
    settlement: &mut Settlement,
) -> Result<(), ApiError> {
    use crate::billing::store;
    let today = ctx.today();
    let run = store::insert_run(
        conn,
        &RunRow {
            id: Uuid::now_v7(),
            as_of: today,
            account_id: None,
            contract_id: Some(c.id),
            mode: RunMode::Issue,
            status: BillingRunStatus::Running,
            contracts_total: Some(1),
            contracts_done: 0,
            invoices_created: 0,
            errors_count: 0,
            failure: None,
            requested_by: ctx.principal.subject.clone(),
            request_id: ctx.request_id.clone(),
            claimed_by: Some(format!("termination of {}", c.number)),
            heartbeat_at: None,
            created_at: ctx.now,
            started_at: Some(ctx.now),
            finished_at: None,
        },
    )
    .await?;
    let (inputs, accounts) = store::lock_inputs(conn, &[c.id]).await?;
    let mut errors = Vec::new();
    let mut bills = Vec::new();
    for input in &inputs {
        match engine::bill_contract(input, &accounts, today, today, run.id, settings, ctx.now) {
            Ok(bill) => bills.push(bill),
            Err(e) => {
                settlement.final_billing_error = Some(e.reason.clone());
                errors.push((input.contract.id, e.code, e.reason));
            }
        }
    }
    errors.extend(store::write_credits(conn, &run, &mut bills, ctx.now).await?);
    let (created, refused) =
        store::write_bills(conn, &run, &mut bills, &settings.numbering, ctx.now).await?;
    errors.extend(refused);
    store::add_progress(conn, run.id, 1, created, &errors, ctx.now).await?;
    store::finish_run(conn, run.id, BillingRunStatus::Completed, None, ctx.now).await?;
    settlement.billing_run_id = Some(run.id);
    settlement.final_invoice_ids = bills
        .iter()
        .flat_map(|b| b.invoices.iter().map(|i| i.id))
        .collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_gives_back_what_was_billed_beyond_the_schedule_once() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        // 300.00 billed for November, 150.00 owed to the 15th: 150.00 back.
        assert_eq!(
            termination_credit(d("300.00"), d("150.00"), d("0")),
            d("150.00")
        );
        // Already credited in part (a dispute): only the rest.
        assert_eq!(
            termination_credit(d("300.00"), d("150.00"), d("100.00")),
            d("50.00")
        );
        // A period wholly after the termination: all of it; nothing beyond what was billed.
        assert_eq!(termination_credit(d("300.00"), d("0"), d("0")), d("300.00"));
        assert_eq!(termination_credit(d("300.00"), d("300.00"), d("0")), d("0"));
    }
}
