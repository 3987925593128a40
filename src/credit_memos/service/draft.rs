//! A new credit memo draft: its lines (each naming an invoice line tied to it) and its
//! targets checked against the account's invoices, and the rows written.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::{line_rows, new_memo, plain_line, targets_of_lines};
use crate::context::Ctx;
use crate::credit_memos::model::{CreditLineRow, CreditMemoView, CreditTarget, NewCreditMemo};
use crate::credit_memos::{rules, store};
use crate::db::Conn;
use crate::error::ApiError;
use crate::financial_codes::model::FinancialCodeKind;
use crate::idempotency::Written;
use crate::money::Currency;
use crate::payments::rules::check_amount;
use crate::validate::Errors;

/// Most lines on a credit memo.
const MAX_LINES: usize = 100;

/// Makes a draft of `new` on its account, once its fields, codes, invoice lines and targets
/// pass (422 naming each that does not).
pub async fn create(
    conn: &mut Conn,
    ctx: &Ctx,
    new: &NewCreditMemo,
) -> Result<Written<CreditMemoView>, ApiError> {
    let account = crate::accounts::store::find_named(conn, new.account_id, "account_id").await?;
    let currency = account.currency;
    let mut e = Errors::default();
    let mut lines = check_new(new, currency, &mut e);
    crate::financial_codes::store::check_codes(
        conn,
        &[("financial_code_id".into(), new.financial_code_id)],
        &[FinancialCodeKind::Credit],
        &mut e,
    )
    .await?;
    let line_codes: Vec<(String, Uuid)> = lines
        .iter()
        .enumerate()
        .filter_map(|(k, l)| {
            l.financial_code_id
                .map(|c| (format!("lines[{k}].financial_code_id"), c))
        })
        .collect();
    crate::financial_codes::store::check_codes(
        conn,
        &line_codes,
        &[FinancialCodeKind::Credit, FinancialCodeKind::Revenue],
        &mut e,
    )
    .await?;
    let credited = check_invoice_lines(conn, account.id, &mut lines, &new.targets, &mut e).await?;
    let mut ids: Vec<Uuid> = new.targets.iter().map(|t| t.invoice_id).collect();
    ids.extend(credited);
    let invoices = crate::invoices::store::lock_many(conn, &ids).await?;
    for (k, t) in new.targets.iter().enumerate() {
        let field = format!("targets[{k}].invoice_id");
        match invoices.iter().find(|i| i.id == t.invoice_id) {
            None => e.add(&field, "unknown", "no invoice has this id"),
            Some(i) if i.account_id != account.id => {
                e.add(&field, "other_account", "is an invoice of another account")
            }
            Some(i) if t.amount > rules::creditable(i) => e.add(
                &format!("targets[{k}].amount"),
                "exceeds_balance",
                format!(
                    "is more than the invoice's undisputed open balance ({})",
                    rules::creditable(i)
                ),
            ),
            Some(_) => {}
        }
    }
    e.finish()?;
    // The tax as things stand; fixed when the memo is issued.
    let taxes: Vec<rules::InvoiceTax> = invoices.iter().map(Into::into).collect();
    rules::tax_lines(&mut lines, &taxes, currency);
    let stamp = ctx.stamp();
    let memo = new_memo(
        account.id,
        account.currency,
        new.reason,
        new.financial_code_id,
        &lines,
        new.memo.clone(),
        None,
        &stamp,
    );
    let line_rows = line_rows(memo.id, &lines);
    let targets = targets_of_lines(memo.id, &line_rows, &new.targets);
    store::insert(conn, &memo, &line_rows, &targets).await?;
    let view = store::view(conn, memo).await?;
    Ok(Written::created("credit_memo.created", view))
}

/// Checks a new memo's fields; returns its lines (invoice lines named, not yet checked).
fn check_new(new: &NewCreditMemo, currency: Currency, e: &mut Errors) -> Vec<CreditLineRow> {
    let lines: Vec<CreditLineRow> = match (&new.lines, new.amount) {
        (Some(lines), None) => {
            if lines.is_empty() || lines.len() > MAX_LINES {
                e.add("lines", "out_of_range", format!("1 to {MAX_LINES} lines"));
            }
            for (k, l) in lines.iter().enumerate() {
                e.text(&format!("lines[{k}].description"), &l.description, 500);
                check_amount(&format!("lines[{k}].amount"), l.amount, Some(currency), e);
            }
            lines
                .iter()
                .map(|l| CreditLineRow {
                    invoice_line_id: l.invoice_line_id,
                    financial_code_id: l.financial_code_id,
                    ..plain_line(l.description.trim().to_string(), l.amount)
                })
                .collect()
        }
        (None, Some(amount)) => {
            e.optional_text("description", new.description.as_deref(), 500);
            check_amount("amount", amount, Some(currency), e);
            vec![plain_line(
                new.description
                    .as_deref()
                    .map_or("Credit".to_string(), |d| d.trim().to_string()),
                amount,
            )]
        }
        _ => {
            e.add("lines", "one_of", "give either lines or amount");
            Vec::new()
        }
    };
    e.optional_text("memo", new.memo.as_deref(), 1000);
    let total: Decimal = lines
        .iter()
        .filter(|l| l.invoice_line_id.is_none())
        .map(|l| l.amount.max(Decimal::ZERO))
        .sum();
    let targeted: Decimal = new
        .targets
        .iter()
        .map(|t| t.amount.max(Decimal::ZERO))
        .sum();
    let mut seen = std::collections::HashSet::new();
    for (k, t) in new.targets.iter().enumerate() {
        check_amount(&format!("targets[{k}].amount"), t.amount, Some(currency), e);
        if !seen.insert(t.invoice_id) {
            e.add(
                &format!("targets[{k}].invoice_id"),
                "duplicate",
                "names an invoice already targeted",
            );
        }
    }
    if targeted > total {
        e.add(
            "targets",
            "exceeds_total",
            format!("target {targeted}, more than the total of the lines not of an invoice line ({total})"),
        );
    }
    lines
}

/// Ties the lines naming an invoice line to it: the line must be a positive line of an issued,
/// not void or written-off invoice of the account, and not credit more than it; the invoice
/// may not also be a target given by hand. Returns the invoices the lines credit.
async fn check_invoice_lines(
    conn: &mut Conn,
    account_id: Uuid,
    lines: &mut [CreditLineRow],
    targets: &[CreditTarget],
    e: &mut Errors,
) -> Result<Vec<Uuid>, ApiError> {
    use crate::invoices::model::InvoiceStatus;
    let ids: Vec<Uuid> = lines.iter().filter_map(|l| l.invoice_line_id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = crate::invoices::store::lines_with_invoices(conn, &ids).await?;
    let mut invoices = Vec::new();
    for (k, line) in lines.iter_mut().enumerate() {
        let Some(line_id) = line.invoice_line_id else {
            continue;
        };
        let field = format!("lines[{k}].invoice_line_id");
        let Some((of, invoice)) = found.iter().find(|(l, _)| l.id == line_id) else {
            e.add(&field, "unknown", "no invoice line has this id");
            continue;
        };
        if invoice.account_id != account_id {
            e.add(
                &field,
                "other_account",
                "is a line of another account's invoice",
            );
        } else if !matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::Paid) {
            e.add(
                &field,
                "not_creditable",
                format!("its invoice is {}", invoice.status.as_str()),
            );
        } else if of.amount <= Decimal::ZERO {
            e.add(&field, "not_creditable", "is a credit or true-up line");
        } else if line.amount > of.amount {
            e.add(
                &format!("lines[{k}].amount"),
                "exceeds_line",
                format!("is more than the invoice line's amount ({})", of.amount),
            );
        }
        if let Some(t) = targets.iter().position(|t| t.invoice_id == invoice.id) {
            e.add(
                &format!("targets[{t}].invoice_id"),
                "implied_by_lines",
                "is credited by lines of it; their totals are its target",
            );
        }
        line.invoice_id = Some(invoice.id);
        line.taxable = of.taxable && !invoice.tax_rate.is_zero();
        line.period_start = of.period_start;
        line.period_end = of.period_end;
        invoices.push(invoice.id);
    }
    invoices.sort();
    invoices.dedup();
    Ok(invoices)
}
