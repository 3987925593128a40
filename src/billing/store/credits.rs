//! The bills' credits: true-ups too large for an invoice, credited on a credit memo.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::billing::engine::ContractBill;
use crate::billing::model::RunRow;
use crate::db::Conn;
use crate::error::ApiError;

/// Writes the bills' credits: the true-ups that would have taken an invoice below zero, as a
/// credit memo per account (reason `meter_reading`) whose lines credit the usage lines that
/// billed the re-rated periods, with their tax. An issuing run issues the memo and applies it
/// to those invoices; a draft run leaves it a draft for billing to review with the invoices.
/// A contract whose usage was billed on an invoice still a draft is refused (removed from
/// `bills`, returned with the reason): that draft is corrected by deleting and rebilling it.
pub async fn write_credits(
    conn: &mut Conn,
    run: &RunRow,
    bills: &mut Vec<ContractBill>,
    now: OffsetDateTime,
) -> Result<Vec<(Uuid, &'static str, String)>, ApiError> {
    use crate::credit_memos::model::{CreditLineRow, CreditReason};
    use crate::credit_memos::service as credits;
    use crate::invoices::model::InvoiceStatus;
    use crate::schema::audit_events::dsl as au;
    use crate::schema::invoice_lines::dsl as l;
    use crate::schema::meter_periods::dsl as mp;
    let stamp = crate::ledger::model::Stamp {
        now,
        actor: format!("billing-run:{}", run.id),
        request_id: run.request_id.clone(),
    };
    let issuing = run.mode == crate::billing::model::RunMode::Issue;
    // The usage lines that billed the re-rated periods, all in one query.
    let meters: Vec<Uuid> = bills
        .iter()
        .flat_map(|b| b.credits.iter())
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| l.meter_id))
        .collect();
    let starts: Vec<Date> = bills
        .iter()
        .flat_map(|b| b.credits.iter())
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| l.period_start))
        .collect();
    let billed: HashMap<(Uuid, Date), (Uuid, Uuid, bool)> = if meters.is_empty() {
        HashMap::new()
    } else {
        l::invoice_lines
            .inner_join(
                mp::meter_periods.on(mp::invoice_id
                    .eq(l::invoice_id)
                    .and(mp::meter_id.nullable().eq(l::meter_id))
                    .and(mp::period_start.nullable().eq(l::period_start))),
            )
            .filter(mp::meter_id.eq_any(&meters))
            .filter(mp::period_start.eq_any(&starts))
            .filter(l::kind.eq(crate::invoices::model::LineKind::Usage.as_str()))
            .select((
                mp::meter_id,
                mp::period_start,
                l::id,
                l::invoice_id,
                l::taxable,
            ))
            .load::<(Uuid, Date, Uuid, Uuid, bool)>(conn)
            .await?
            .into_iter()
            .map(|(meter, start, line, invoice, taxable)| {
                ((meter, start), (line, invoice, taxable))
            })
            .collect()
    };
    let mut refused = Vec::new();
    let mut kept = Vec::new();
    'bills: for bill in std::mem::take(bills) {
        // Every memo's lines and invoices first: a draft among them refuses the whole bill.
        let mut memos = Vec::new();
        for (account_id, true_ups) in &bill.credits {
            let mut lines = Vec::new();
            for t in true_ups {
                let (Some(meter), Some(start)) = (t.meter_id, t.period_start) else {
                    continue;
                };
                // The usage line of the invoice that billed the period.
                let Some(&(line_id, invoice_id, taxable)) = billed.get(&(meter, start)) else {
                    return Err(ApiError::internal(format!(
                        "no usage line billed the period of {start} of meter {meter}"
                    )));
                };
                lines.push(CreditLineRow {
                    invoice_id: Some(invoice_id),
                    invoice_line_id: Some(line_id),
                    financial_code_id: Some(t.financial_code_id),
                    taxable,
                    period_start: t.period_start,
                    period_end: t.period_end,
                    ..credits::plain_line(t.description.clone(), -t.amount)
                });
            }
            if lines.is_empty() {
                continue;
            }
            let ids: Vec<Uuid> = lines.iter().filter_map(|l| l.invoice_id).collect();
            let invoices = crate::invoices::store::lock_many(conn, &ids).await?;
            if let Some(draft) = invoices.iter().find(|i| i.status == InvoiceStatus::Draft) {
                refused.push((
                    bill.contract_id,
                    "usage_invoice_draft",
                    format!(
                        "a corrected reading re-rates usage billed on draft invoice {}, and the \
                         credit is more than the next invoice can take: delete that draft and \
                         bill its periods again",
                        draft.id
                    ),
                ));
                continue 'bills;
            }
            memos.push((*account_id, lines, invoices));
        }
        for (account_id, mut lines, invoices) in memos {
            let Some(currency) = invoices.as_slice().first().map(|i| i.currency) else {
                continue;
            };
            for line in lines.iter_mut() {
                line.taxable = line.taxable
                    && invoices
                        .iter()
                        .any(|i| Some(i.id) == line.invoice_id && !i.tax_rate.is_zero());
            }
            let taxes: Vec<_> = invoices.iter().map(Into::into).collect();
            crate::credit_memos::rules::tax_lines(&mut lines, &taxes, currency);
            let code = lines[0].financial_code_id.expect("the meter's code");
            let mut memo = credits::new_memo(
                account_id,
                currency,
                CreditReason::MeterReading,
                code,
                &lines,
                Some(
                    "Usage billed too high, re-rated by a corrected reading: more than the next \
                     invoice could take"
                        .into(),
                ),
                None,
                &stamp,
            );
            let rows = credits::line_rows(memo.id, &lines);
            let targets = credits::targets_of_lines(memo.id, &rows, &[]);
            crate::credit_memos::store::insert(conn, &memo, &rows, &targets).await?;
            if issuing {
                memo.submitted_by = Some(stamp.actor.clone());
                memo.submitted_at = Some(now);
                credits::issue_and_apply(conn, &mut memo, &stamp).await?;
            }
            let view = crate::credit_memos::store::view(conn, memo.clone()).await?;
            diesel::insert_into(au::audit_events)
                .values((
                    au::actor.eq(&stamp.actor),
                    au::actor_role.eq("system"),
                    au::action.eq("credit_memo.created"),
                    au::entity_type.eq("credit_memo"),
                    au::entity_id.eq(memo.id),
                    au::account_id.eq(Some(account_id)),
                    au::after.eq(serde_json::to_value(&view).ok()),
                    au::request_id.eq(run.request_id.clone()),
                    au::occurred_at.eq(now),
                ))
                .execute(conn)
                .await?;
        }
        kept.push(bill);
    }
    *bills = kept;
    Ok(refused)
}
