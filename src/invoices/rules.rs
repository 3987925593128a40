//! Rules of invoices: line amounts, totals and tax, presentment requirements, numbering,
//! issuing and voiding, days past due.

use rust_decimal::Decimal;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::model::{InvoiceRow, InvoiceStatus, LineKind, LineRow, NewLine, References};
use crate::accounts::model::AccountRow;
use crate::ledger::model::{DocumentType, EntryRow, LedgerKind};
use crate::money::Currency;
use crate::refusal::FieldError;
use crate::validate::Errors;

/// Most lines on a manual invoice.
pub const MAX_LINES: usize = 500;

/// quantity × unit price, rounded half-up to the currency.
pub fn line_amount(quantity: Decimal, unit_price: Decimal, currency: Currency) -> Decimal {
    currency.round(quantity * unit_price)
}

/// Subtotal, taxable amount, tax and total of lines: tax is the rate (percent) of the taxable
/// lines, rounded half-up once for the invoice.
pub fn totals(
    lines: &[LineRow],
    tax_rate: Decimal,
    currency: Currency,
) -> (Decimal, Decimal, Decimal, Decimal) {
    let subtotal: Decimal = lines.iter().map(|l| l.amount).sum();
    let taxable: Decimal = lines.iter().filter(|l| l.taxable).map(|l| l.amount).sum();
    let tax = currency.round(taxable * tax_rate / Decimal::ONE_HUNDRED);
    (
        currency.normalize(subtotal),
        currency.normalize(taxable),
        tax,
        currency.normalize(subtotal + tax),
    )
}

/// Sets an invoice's totals from its lines.
pub fn set_totals(invoice: &mut InvoiceRow, lines: &[LineRow], currency: Currency) {
    let (subtotal, taxable, tax, total) = totals(lines, invoice.tax_rate, currency);
    invoice.subtotal = subtotal;
    invoice.taxable_amount = taxable;
    invoice.tax_total = tax;
    invoice.total = total;
}

/// The account's tax rate in percent (zero when exempt or unset).
pub fn tax_rate(account: &AccountRow) -> Decimal {
    if account.tax_exempt {
        Decimal::ZERO
    } else {
        account.tax_rate.unwrap_or_default()
    }
}

pub fn validate_lines(lines: &[NewLine], currency: Currency, e: &mut Errors) {
    if lines.is_empty() || lines.len() > MAX_LINES {
        e.add("lines", "out_of_range", format!("1 to {MAX_LINES} lines"));
    }
    for (i, l) in lines.iter().enumerate() {
        let at = |name: &str| format!("lines[{i}].{name}");
        e.text(&at("description"), &l.description, 500);
        if l.quantity <= Decimal::ZERO {
            e.add(&at("quantity"), "out_of_range", "must be more than zero");
        } else if l.quantity.normalize().scale() > 4 {
            e.add(
                &at("quantity"),
                "too_many_decimals",
                "allows at most 4 decimals",
            );
        }
        if l.unit_price.normalize().scale() > 6 {
            e.add(
                &at("unit_price"),
                "too_many_decimals",
                "allows at most 6 decimals",
            );
        }
        let limit = Decimal::from(1_000_000_000i64);
        if l.unit_price.abs() >= limit || l.quantity >= limit {
            e.add(
                &at("unit_price"),
                "out_of_range",
                "quantity and unit price stay below 1,000,000,000",
            );
        } else if line_amount(l.quantity, l.unit_price, currency).abs() >= limit {
            e.add(
                &at("unit_price"),
                "out_of_range",
                "a line stays below 1,000,000,000",
            );
        }
    }
}

pub fn validate_header(
    po_number: Option<&str>,
    references: &References,
    memo: Option<&str>,
    e: &mut Errors,
) {
    e.optional_text("po_number", po_number, 64);
    e.optional_text("memo", memo, 2000);
    if references.0.len() > 20 {
        e.add("reference_fields", "too_many", "at most 20 references");
    }
    for (i, r) in references.0.iter().enumerate() {
        e.text(&format!("reference_fields[{i}].name"), &r.name, 100);
        e.text(&format!("reference_fields[{i}].value"), &r.value, 200);
    }
}

/// The rows of a manual invoice's lines.
pub fn manual_lines(invoice_id: Uuid, lines: &[NewLine], currency: Currency) -> Vec<LineRow> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| LineRow {
            id: Uuid::now_v7(),
            invoice_id,
            line_no: i as i32 + 1,
            kind: LineKind::Manual.as_str().into(),
            description: l.description.trim().to_string(),
            quantity: l.quantity.normalize(),
            unit_price: l.unit_price.normalize(),
            amount: line_amount(l.quantity, l.unit_price, currency),
            financial_code_id: l.financial_code_id,
            taxable: l.taxable.unwrap_or(true),
            ..Default::default()
        })
        .collect()
}

/// What the account's presentment preferences still miss on this invoice: a PO number when
/// required, each required reference without a value.
pub fn presentment_problems(account: &AccountRow, invoice: &InvoiceRow) -> Vec<FieldError> {
    let p = &account.presentment;
    let mut out = Vec::new();
    if p.po_number_required && invoice.po_number.is_none() && p.po_number.is_none() {
        out.push(FieldError::new(
            "po_number",
            "required",
            "the account requires a PO number on its invoices",
        ));
    }
    for field in p.reference_fields.iter().filter(|f| f.required) {
        let given = field.value.is_some()
            || invoice
                .reference_fields
                .0
                .iter()
                .any(|r| r.name == field.name && !r.value.trim().is_empty());
        if !given {
            out.push(FieldError::new(
                format!("reference_fields.{}", field.name),
                "required",
                format!(
                    "the account requires the reference {:?} on its invoices",
                    field.name
                ),
            ));
        }
    }
    out
}

/// The PO number printed: the invoice's own, else the account's standing one.
pub fn effective_po(account: &AccountRow, invoice: &InvoiceRow) -> Option<String> {
    invoice
        .po_number
        .clone()
        .or_else(|| account.presentment.po_number.clone())
}

/// How invoice numbers are made: a prefix and a format with the placeholders `{prefix}`,
/// `{year}` and `{seq:N}` (the series' counter, zero-padded to N digits). A format with
/// `{year}` numbers each year from 1; without it, one series runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbering {
    pub prefix: String,
    pub format: String,
}

impl Default for Numbering {
    fn default() -> Self {
        Numbering {
            prefix: "INV".into(),
            format: "{prefix}-{year}-{seq:6}".into(),
        }
    }
}

impl Numbering {
    /// Checks a format: exactly one `{seq:N}` (N from 1 to 12), no other placeholder than
    /// `{prefix}` and `{year}`.
    pub fn new(prefix: &str, format: &str) -> Result<Numbering, String> {
        let numbering = Numbering {
            prefix: prefix.to_string(),
            format: format.to_string(),
        };
        let mut seq = 0;
        let mut rest = format;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("{format:?} has an unclosed placeholder"))?;
            match &rest[open + 1..open + close] {
                "prefix" | "year" => {}
                other => match other.strip_prefix("seq:").map(str::parse::<usize>) {
                    Some(Ok(1..=12)) => seq += 1,
                    _ => return Err(format!("{format:?}: unknown placeholder {{{other}}}")),
                },
            }
            rest = &rest[open + close + 1..];
        }
        if seq != 1 {
            return Err(format!("{format:?} needs exactly one {{seq:N}}"));
        }
        Ok(numbering)
    }

    /// The counter this number is taken from.
    pub fn series(&self, year: i32) -> String {
        if self.format.contains("{year}") {
            format!("invoice:{}:{year}", self.prefix)
        } else {
            format!("invoice:{}", self.prefix)
        }
    }

    /// The `n`th number of the series.
    pub fn number(&self, year: i32, n: i64) -> String {
        let mut out = self
            .format
            .replace("{prefix}", &self.prefix)
            .replace("{year}", &year.to_string());
        if let Some(open) = out.find("{seq:") {
            let close = open + out[open..].find('}').expect("checked in new");
            let width: usize = out[open + 5..close].parse().expect("checked in new");
            out.replace_range(open..=close, &format!("{n:0width$}"));
        }
        out
    }
}

/// A new manual draft of the account, dated today, due after `terms` days; totals are set
/// from its lines with [`set_totals`].
pub fn new_draft(
    account: &AccountRow,
    id: Uuid,
    contract_id: Option<Uuid>,
    terms: i32,
    now: OffsetDateTime,
) -> InvoiceRow {
    let today = now.date();
    InvoiceRow {
        id,
        number: None,
        account_id: account.id,
        contract_id,
        billing_run_id: None,
        status: InvoiceStatus::Draft,
        currency: account.currency,
        invoice_date: today,
        due_date: today + Duration::days(terms as i64),
        payment_terms_days: terms,
        period_start: None,
        period_end: None,
        subtotal: Decimal::ZERO,
        taxable_amount: Decimal::ZERO,
        tax_rate: tax_rate(account),
        tax_total: Decimal::ZERO,
        total: Decimal::ZERO,
        review_required: false,
        review_reason: None,
        issued_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
        po_number: None,
        reference_fields: References::default(),
        memo: None,
        amount_paid: Decimal::ZERO,
        amount_credited: Decimal::ZERO,
        amount_written_off: Decimal::ZERO,
        balance_due: Decimal::ZERO,
        disputed_amount: Decimal::ZERO,
        credited_taxable: Decimal::ZERO,
        voided_at: None,
        void_reason: None,
    }
}

/// Why a draft cannot be issued, apart from presentment.
pub fn issue_problems(invoice: &InvoiceRow) -> Vec<FieldError> {
    let mut out = Vec::new();
    if invoice.total < Decimal::ZERO {
        out.push(FieldError::new(
            "total",
            "negative",
            "an invoice cannot total below zero; issue a credit memo instead",
        ));
    }
    out
}

/// Turns a draft into an issued invoice with its number and dates; the ledger entry that
/// posts it, when it is worth anything.
pub fn issue(
    invoice: &mut InvoiceRow,
    number: String,
    invoice_date: Date,
    now: OffsetDateTime,
    actor: &str,
    request_id: Option<String>,
) -> Option<EntryRow> {
    invoice.number = Some(number);
    invoice.invoice_date = invoice_date;
    invoice.due_date = invoice_date + Duration::days(invoice.payment_terms_days as i64);
    invoice.status = if invoice.total.is_zero() {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::Open
    };
    invoice.balance_due = invoice.total;
    invoice.issued_at = Some(now);
    invoice.updated_at = now;
    invoice.version += 1;
    (!invoice.total.is_zero()).then(|| EntryRow {
        id: Uuid::now_v7(),
        seq: 0,
        account_id: invoice.account_id,
        invoice_id: Some(invoice.id),
        kind: LedgerKind::InvoiceIssued,
        amount: invoice.total,
        currency: invoice.currency,
        entry_date: invoice_date,
        document_type: DocumentType::Invoice,
        document_id: invoice.id,
        description: format!(
            "Invoice {} issued",
            invoice.number.as_deref().unwrap_or_default()
        ),
        created_by: actor.to_string(),
        request_id,
        created_at: now,
    })
}

/// Why an invoice cannot be voided: only an issued invoice with nothing applied can be.
pub fn void_refusal(invoice: &InvoiceRow) -> Option<&'static str> {
    match invoice.status {
        InvoiceStatus::Draft => Some("A draft is deleted, not voided."),
        InvoiceStatus::Void => Some("The invoice is already void."),
        InvoiceStatus::Uncollectible => Some("The invoice was written off as uncollectible."),
        _ if invoice.has_applications() => {
            Some("Payments, credits or write-offs are applied to the invoice; reverse them first.")
        }
        _ if !invoice.disputed_amount.is_zero() => {
            Some("The invoice is under dispute; resolve or withdraw the dispute first.")
        }
        _ => None,
    }
}

/// Voids an invoice: the number stays used, the balance goes to zero through a reversing
/// ledger entry.
pub fn void(
    invoice: &mut InvoiceRow,
    reason: &str,
    today: Date,
    now: OffsetDateTime,
    actor: &str,
    request_id: Option<String>,
) -> Option<EntryRow> {
    let reversed = invoice.balance_due;
    invoice.status = InvoiceStatus::Void;
    invoice.balance_due = Decimal::ZERO;
    invoice.voided_at = Some(now);
    invoice.void_reason = Some(reason.trim().to_string());
    invoice.updated_at = now;
    invoice.version += 1;
    (!reversed.is_zero()).then(|| EntryRow {
        id: Uuid::now_v7(),
        seq: 0,
        account_id: invoice.account_id,
        invoice_id: Some(invoice.id),
        kind: LedgerKind::InvoiceVoided,
        amount: -reversed,
        currency: invoice.currency,
        entry_date: today,
        document_type: DocumentType::Invoice,
        document_id: invoice.id,
        description: format!(
            "Invoice {} voided: {}",
            invoice.number.as_deref().unwrap_or_default(),
            reason.trim()
        ),
        created_by: actor.to_string(),
        request_id,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn tax_is_rounded_once_on_the_taxable_lines() {
        let usd = Currency::parse("USD").unwrap();
        let line = |amount: &str, taxable| LineRow {
            amount: d(amount),
            taxable,
            ..Default::default()
        };
        let lines = vec![
            line("250.00", true),
            line("19.98", true),
            line("27.30", true),
            line("10.00", false),
        ];
        let (subtotal, taxable, tax, total) = totals(&lines, d("8.25"), usd);
        assert_eq!(subtotal, d("307.28"));
        assert_eq!(taxable, d("297.28"));
        assert_eq!(tax, d("24.53"));
        assert_eq!(total, d("331.81"));
    }

    #[test]
    fn line_amounts_round_half_up() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(line_amount(d("3"), d("0.335"), usd), d("1.01"));
        assert_eq!(line_amount(d("1.5"), d("-0.01"), usd), d("-0.02"));
    }

    #[test]
    fn numbers_follow_the_configured_format() {
        let default = Numbering::default();
        assert_eq!(default.number(2026, 123), "INV-2026-000123");
        assert_eq!(default.series(2026), "invoice:INV:2026");
        let running = Numbering::new("AR", "{prefix}{seq:8}").unwrap();
        assert_eq!(running.number(2026, 42), "AR00000042");
        assert_eq!(running.series(2027), "invoice:AR");
        assert!(Numbering::new("INV", "{prefix}-{year}").is_err());
        assert!(Numbering::new("INV", "{prefix}-{seq:6}-{seq:2}").is_err());
        assert!(Numbering::new("INV", "{prefix}-{month}-{seq:6}").is_err());
        assert!(Numbering::new("INV", "{prefix}-{seq:6").is_err());
    }
}
