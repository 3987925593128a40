//! The invoice document a customer receives, as HTML and as PDF: seller, bill-to, numbers,
//! dates and terms, lines with their meter details, totals, what was paid and credited, the
//! balance due, where and how to pay. Both formats are drawn from one [`Sheet`], so they say
//! the same thing.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::model::{InvoiceRow, InvoiceStatus, LineRow};
use super::{rules, store};
use crate::accounts::model::AccountRow;
use crate::auth::Permission;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::invoices::settings::Seller;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pdf::{Align, Layout};
use crate::state::AppState;

crate::text_enum! {
    DocumentFormat { Html => "html", Pdf => "pdf" }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    /// `html` (default) or `pdf`.
    #[param(inline)]
    pub format: Option<DocumentFormat>,
}

/// One line of the document's table.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetLine {
    pub description: String,
    /// Meter details under the description, if any.
    pub detail: Option<String>,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

/// Everything printed on an invoice, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub title: String,
    /// `VOID`, `DRAFT` or nothing.
    pub stamp: Option<String>,
    pub seller: Vec<String>,
    pub bill_to: Vec<String>,
    /// Label and value: invoice number, PO, dates, terms, account, references.
    pub facts: Vec<(String, String)>,
    /// The heading of the lines: `Charges` on invoices, `Credits` on credit memos.
    pub lines_title: String,
    pub lines: Vec<SheetLine>,
    /// Label and amount: subtotal, tax, total, paid, credited, written off, balance due.
    pub totals: Vec<(String, String)>,
    pub remit_to: Vec<String>,
    pub how_to_pay: Vec<String>,
    pub memo: Option<String>,
}

fn with_thousands(amount: &str) -> String {
    let (sign, rest) = amount.strip_prefix('-').map_or(("", amount), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// An amount as printed: thousands separators, the currency's decimals.
pub fn money(amount: rust_decimal::Decimal, currency: Currency) -> String {
    with_thousands(&currency.normalize(amount).to_string())
}

fn meter_detail(l: &LineRow) -> Option<String> {
    l.meter_id?;
    let mark = |estimated: Option<bool>| {
        if estimated == Some(true) {
            " (estimated)"
        } else {
            ""
        }
    };
    let reading = |v: Option<i64>, on: Option<time::Date>, estimated| match (v, on) {
        (Some(v), Some(on)) => format!(
            "{} on {on}{}",
            with_thousands(&v.to_string()),
            mark(estimated)
        ),
        (Some(v), None) => format!("{}{}", with_thousands(&v.to_string()), mark(estimated)),
        _ => "-".into(),
    };
    let mut text = format!(
        "Readings {} to {}; usage {}, included {}, overage {} at {}",
        reading(l.start_reading, l.start_read_on, l.start_estimated),
        reading(l.end_reading, l.end_read_on, l.end_estimated),
        with_thousands(&l.usage.unwrap_or_default().to_string()),
        with_thousands(&l.included_units.unwrap_or_default().to_string()),
        with_thousands(&l.overage_units.unwrap_or_default().to_string()),
        l.overage_rate
            .map(|r| r.normalize().to_string())
            .unwrap_or_default()
    );
    if let Some(method) = &l.estimate_method {
        text.push_str(&format!("; estimated by {}", method.replace('_', " ")));
    }
    Some(text)
}

/// The document of an invoice.
/// The seller as printed on documents: name, address and tax id.
pub fn seller_lines(seller: &Seller) -> Vec<String> {
    let mut lines = vec![seller.name.clone()];
    lines.extend(seller.address.iter().cloned());
    if let Some(tax_id) = &seller.tax_id {
        lines.push(format!("Tax ID {tax_id}"));
    }
    lines
}

/// The customer as printed on documents: legal name and billing address.
pub fn bill_to(account: &AccountRow) -> Vec<String> {
    let a = &account.billing_address;
    let mut lines = vec![account.legal_name.clone(), a.line1.clone()];
    lines.extend(a.line2.clone());
    lines.push(
        [
            Some(a.city.clone()),
            a.region.clone(),
            a.postal_code.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" "),
    );
    lines.push(a.country.clone());
    lines
}

pub fn sheet(
    invoice: &InvoiceRow,
    lines: &[LineRow],
    account: &AccountRow,
    seller: &Seller,
) -> Sheet {
    let currency = invoice.currency;
    let amount = |d| money(d, currency);
    let number = invoice.number.clone().unwrap_or_else(|| "(draft)".into());
    let stamp = match invoice.status {
        InvoiceStatus::Void => Some("VOID".to_string()),
        InvoiceStatus::Draft => Some("DRAFT".to_string()),
        _ => None,
    };
    let seller_lines = seller_lines(seller);
    let bill_to = bill_to(account);
    let mut facts = vec![
        ("Invoice number".to_string(), number.clone()),
        ("Invoice date".to_string(), invoice.invoice_date.to_string()),
        ("Due date".to_string(), invoice.due_date.to_string()),
        (
            "Terms".to_string(),
            format!("Net {} days", invoice.payment_terms_days),
        ),
        ("Account".to_string(), account.number.clone()),
    ];
    if let Some(po) = rules::effective_po(account, invoice) {
        facts.insert(1, ("PO number".to_string(), po));
    }
    if let (Some(from), Some(to)) = (invoice.period_start, invoice.period_end) {
        facts.push(("Service period".to_string(), format!("{from} to {to}")));
    }
    for r in &invoice.reference_fields.0 {
        facts.push((r.name.clone(), r.value.clone()));
    }
    for r in account
        .presentment
        .reference_fields
        .iter()
        .filter(|r| !invoice.reference_fields.0.iter().any(|i| i.name == r.name))
    {
        if let Some(value) = &r.value {
            facts.push((r.name.clone(), value.clone()));
        }
    }
    let sheet_lines = lines
        .iter()
        .map(|l| SheetLine {
            description: l.description.clone(),
            detail: meter_detail(l),
            quantity: with_thousands(&l.quantity.normalize().to_string()),
            unit_price: l.unit_price.normalize().to_string(),
            amount: amount(l.amount),
        })
        .collect();
    let mut totals = vec![
        ("Subtotal".to_string(), amount(invoice.subtotal)),
        (
            format!("Tax ({}%)", invoice.tax_rate.normalize()),
            amount(invoice.tax_total),
        ),
        (format!("Total {}", invoice.currency), amount(invoice.total)),
    ];
    if !invoice.amount_paid.is_zero() {
        totals.push(("Payments".into(), amount(-invoice.amount_paid)));
    }
    if !invoice.amount_credited.is_zero() {
        totals.push(("Credits".into(), amount(-invoice.amount_credited)));
    }
    if !invoice.amount_written_off.is_zero() {
        totals.push(("Written off".into(), amount(-invoice.amount_written_off)));
    }
    totals.push((
        format!("Balance due {}", invoice.currency),
        amount(invoice.balance_due),
    ));
    Sheet {
        title: format!("Invoice {number}"),
        stamp,
        seller: seller_lines,
        bill_to,
        facts,
        lines_title: "Charges".into(),
        lines: sheet_lines,
        totals,
        remit_to: seller.remit_to.clone(),
        how_to_pay: seller.payment_instructions.clone(),
        memo: invoice.memo.clone(),
    }
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn block(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| escape(l))
        .collect::<Vec<_>>()
        .join("<br>")
}

pub fn html(s: &Sheet) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
         body{{font-family:Helvetica,Arial,sans-serif;font-size:13px;margin:40px;color:#222}}\
         table{{border-collapse:collapse;width:100%}}td,th{{padding:4px 6px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}\
         .num{{text-align:right;white-space:nowrap}}.detail{{color:#666;font-size:11px}}\
         .stamp{{color:#b00;font-size:32px;font-weight:bold;border:3px solid #b00;display:inline-block;padding:4px 12px}}\
         .parties{{display:flex;gap:80px;margin:20px 0}}</style></head><body>\n",
        escape(&s.title)
    ));
    out.push_str(&format!("<h1>{}</h1>\n", escape(&s.title)));
    if let Some(stamp) = &s.stamp {
        out.push_str(&format!("<p class=\"stamp\">{}</p>\n", escape(stamp)));
    }
    out.push_str(&format!(
        "<div class=\"parties\"><div><h3>From</h3>{}</div><div><h3>Bill to</h3>{}</div></div>\n",
        block(&s.seller),
        block(&s.bill_to)
    ));
    out.push_str("<table class=\"facts\">");
    for (label, value) in &s.facts {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(label),
            escape(value)
        ));
    }
    out.push_str(&format!("</table>\n<h3>{}</h3>\n", escape(&s.lines_title)));
    out.push_str("<table class=\"lines\"><tr><th>Description</th><th class=\"num\">Quantity</th><th class=\"num\">Unit price</th><th class=\"num\">Amount</th></tr>\n");
    for l in &s.lines {
        let detail = l
            .detail
            .as_ref()
            .map(|d| format!("<div class=\"detail\">{}</div>", escape(d)))
            .unwrap_or_default();
        out.push_str(&format!(
            "<tr><td>{}{detail}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            escape(&l.description),
            escape(&l.quantity),
            escape(&l.unit_price),
            escape(&l.amount)
        ));
    }
    out.push_str("</table>\n<table class=\"totals\">");
    for (label, value) in &s.totals {
        out.push_str(&format!(
            "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
            escape(label),
            escape(value)
        ));
    }
    out.push_str("</table>\n");
    if let Some(memo) = &s.memo {
        out.push_str(&format!("<p>{}</p>\n", escape(memo)));
    }
    if !s.remit_to.is_empty() {
        out.push_str(&format!("<h3>Remit to</h3><p>{}</p>\n", block(&s.remit_to)));
    }
    if !s.how_to_pay.is_empty() {
        out.push_str(&format!(
            "<h3>How to pay</h3><p>{}</p>\n",
            block(&s.how_to_pay)
        ));
    }
    out.push_str("</body></html>\n");
    out
}

pub fn pdf(s: &Sheet) -> Vec<u8> {
    let mut page = Layout::new(50);
    page.line(18, true, &s.title);
    if let Some(stamp) = &s.stamp {
        page.line(16, true, stamp);
    }
    page.gap(8);
    page.line(10, true, "From");
    for l in &s.seller {
        page.line(10, false, l);
    }
    page.gap(6);
    page.line(10, true, "Bill to");
    for l in &s.bill_to {
        page.line(10, false, l);
    }
    page.gap(6);
    for (label, value) in &s.facts {
        page.row(
            10,
            false,
            &[(50, Align::Left, label), (180, Align::Left, value)],
        );
    }
    page.gap(8);
    page.line(11, true, &s.lines_title);
    page.row(
        9,
        true,
        &[
            (50, Align::Left, "Description"),
            (400, Align::Right, "Quantity"),
            (480, Align::Right, "Unit price"),
            (562, Align::Right, "Amount"),
        ],
    );
    page.rule();
    for l in &s.lines {
        page.row(
            9,
            false,
            &[
                (50, Align::Left, &l.description),
                (400, Align::Right, &l.quantity),
                (480, Align::Right, &l.unit_price),
                (562, Align::Right, &l.amount),
            ],
        );
        if let Some(detail) = &l.detail {
            page.row(7, false, &[(60, Align::Left, detail)]);
        }
    }
    page.rule();
    for (label, value) in &s.totals {
        page.row(
            10,
            true,
            &[(380, Align::Left, label), (562, Align::Right, value)],
        );
    }
    if let Some(memo) = &s.memo {
        page.gap(8);
        page.line(9, false, memo);
    }
    if !s.remit_to.is_empty() {
        page.gap(8);
        page.line(10, true, "Remit to");
        for l in &s.remit_to {
            page.line(9, false, l);
        }
    }
    if !s.how_to_pay.is_empty() {
        page.gap(8);
        page.line(10, true, "How to pay");
        for l in &s.how_to_pay {
            page.line(9, false, l);
        }
    }
    page.finish(&s.title)
}

/// Handles the GET /v1/invoices/{id}/document route: the invoice as the customer receives it.
#[utoipa::path(
    tag = "invoices",
    params(("id" = Uuid, Path, description = "Invoice id"), DocumentQuery),
    responses(
        (status = 200, description = "The document", content(
            (String = "text/html"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/invoices/{id}/document")]
pub async fn invoice_document(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<DocumentQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let invoice = store::find_visible(&conn, id.into_inner(), ctx.partner_scope()).await?;
    let lines = store::lines_of(&conn, &[invoice.id]).await?;
    let account = crate::accounts::store::find_visible(&mut conn, invoice.account_id, None).await?;
    let sheet = sheet(&invoice, &lines, &account, &state.config.seller);
    let name = invoice
        .number
        .clone()
        .unwrap_or_else(|| format!("draft-{}", invoice.id));
    Ok(respond(&sheet, query.0.format, &name))
}

/// A document in the asked format (HTML by default); a PDF is named `<name>.pdf`.
pub fn respond(sheet: &Sheet, format: Option<DocumentFormat>, name: &str) -> HttpResponse {
    match format.unwrap_or(DocumentFormat::Html) {
        DocumentFormat::Html => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html(sheet)),
        DocumentFormat::Pdf => HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}.pdf\""),
            ))
            .body(pdf(sheet)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_get_thousands_separators() {
        assert_eq!(with_thousands("1250.00"), "1,250.00");
        assert_eq!(with_thousands("-1234567.5"), "-1,234,567.5");
        assert_eq!(with_thousands("12.00"), "12.00");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
