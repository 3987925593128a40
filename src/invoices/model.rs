//! Invoice and line rows and their JSON shapes.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;

crate::text_enum! {
    /// draft → open → paid | void | uncollectible.
    InvoiceStatus {
        Draft => "draft",
        Open => "open",
        Paid => "paid",
        Void => "void",
        Uncollectible => "uncollectible",
    }
}

crate::text_enum! {
    /// Where a line comes from.
    LineKind {
        Recurring => "recurring",
        Usage => "usage",
        Minimum => "minimum",
        TrueUp => "true_up",
        Manual => "manual",
    }
}

/// A reference the customer wants printed on the invoice (cost centre, project, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceValue {
    #[schema(max_length = 100, example = "Cost center")]
    pub name: String,
    #[schema(max_length = 200, example = "CC-4410")]
    pub value: String,
}

/// The references of an invoice, stored as JSON.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Serialize,
    Deserialize,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Jsonb)]
pub struct References(pub Vec<ReferenceValue>);
crate::jsonb_column!(References);

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::invoices, treat_none_as_null = true)]
pub struct InvoiceRow {
    pub id: Uuid,
    pub number: Option<String>,
    pub account_id: Uuid,
    pub contract_id: Option<Uuid>,
    pub billing_run_id: Option<Uuid>,
    pub status: InvoiceStatus,
    pub currency: Currency,
    pub invoice_date: Date,
    pub due_date: Date,
    pub payment_terms_days: i32,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    pub subtotal: Decimal,
    pub taxable_amount: Decimal,
    pub tax_rate: Decimal,
    pub tax_total: Decimal,
    pub total: Decimal,
    pub review_required: bool,
    pub review_reason: Option<String>,
    pub issued_at: Option<OffsetDateTime>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub po_number: Option<String>,
    pub reference_fields: References,
    pub memo: Option<String>,
    pub amount_paid: Decimal,
    pub amount_credited: Decimal,
    pub amount_written_off: Decimal,
    pub balance_due: Decimal,
    pub disputed_amount: Decimal,
    pub voided_at: Option<OffsetDateTime>,
    pub void_reason: Option<String>,
    /// The taxable amount (net) credited by issued credit memos' lines of its taxable lines.
    pub credited_taxable: Decimal,
}

impl InvoiceRow {
    /// Whether money was applied to it in any way (then it cannot be voided).
    pub fn has_applications(&self) -> bool {
        !(self.amount_paid.is_zero()
            && self.amount_credited.is_zero()
            && self.amount_written_off.is_zero())
    }
}

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::invoice_lines)]
pub struct LineRow {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub line_no: i32,
    pub kind: String,
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
    pub financial_code_id: Uuid,
    pub taxable: bool,
    pub contract_id: Option<Uuid>,
    pub charge_id: Option<Uuid>,
    pub meter_id: Option<Uuid>,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    pub billed_days: Option<i32>,
    pub period_days: Option<i32>,
    pub meter_type: Option<String>,
    pub start_reading: Option<i64>,
    pub start_read_on: Option<Date>,
    pub start_estimated: Option<bool>,
    pub end_reading: Option<i64>,
    pub end_read_on: Option<Date>,
    pub end_estimated: Option<bool>,
    pub estimate_method: Option<String>,
    pub usage: Option<i64>,
    pub included_units: Option<i64>,
    pub overage_units: Option<i64>,
    pub overage_rate: Option<Decimal>,
    pub explanation: Option<String>,
}

/// The meter facts behind a usage line.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterFacts {
    pub meter_id: Uuid,
    #[schema(example = "bw")]
    pub meter_type: Option<String>,
    #[schema(example = 120000)]
    pub start_reading: Option<i64>,
    pub start_read_on: Option<Date>,
    pub start_estimated: Option<bool>,
    #[schema(example = 127350)]
    pub end_reading: Option<i64>,
    pub end_read_on: Option<Date>,
    pub end_estimated: Option<bool>,
    /// How an estimated end reading was made: `average_daily_usage` or `expected_volume`.
    pub estimate_method: Option<String>,
    #[schema(example = 7350)]
    pub usage: Option<i64>,
    #[schema(example = 5000)]
    pub included_units: Option<i64>,
    #[schema(example = 2350)]
    pub overage_units: Option<i64>,
    #[schema(value_type = Option<crate::money::DecimalString>, example = "0.0085")]
    pub overage_rate: Option<Decimal>,
}

/// An invoice line, with where its figures come from.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    pub id: Uuid,
    pub line_no: i32,
    /// recurring, usage, minimum, true_up or manual.
    pub kind: String,
    pub description: String,
    #[schema(value_type = crate::money::DecimalString, example = "1")]
    pub quantity: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub unit_price: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub amount: Decimal,
    pub financial_code_id: Uuid,
    pub taxable: bool,
    pub contract_id: Option<Uuid>,
    pub charge_id: Option<Uuid>,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    /// Proration: days billed of the full period's days.
    pub billed_days: Option<i32>,
    pub period_days: Option<i32>,
    pub meter: Option<MeterFacts>,
    /// How the amount was computed, in words.
    pub explanation: Option<String>,
}

impl LineView {
    fn new(l: LineRow, currency: Currency) -> LineView {
        let money = |d: Decimal| currency.normalize(d);
        LineView {
            id: l.id,
            line_no: l.line_no,
            kind: l.kind,
            description: l.description,
            quantity: l.quantity.normalize(),
            unit_price: l.unit_price.normalize(),
            amount: money(l.amount),
            financial_code_id: l.financial_code_id,
            taxable: l.taxable,
            contract_id: l.contract_id,
            charge_id: l.charge_id,
            period_start: l.period_start,
            period_end: l.period_end,
            billed_days: l.billed_days,
            period_days: l.period_days,
            meter: l.meter_id.map(|meter_id| MeterFacts {
                meter_id,
                meter_type: l.meter_type,
                start_reading: l.start_reading,
                start_read_on: l.start_read_on,
                start_estimated: l.start_estimated,
                end_reading: l.end_reading,
                end_read_on: l.end_read_on,
                end_estimated: l.end_estimated,
                estimate_method: l.estimate_method,
                usage: l.usage,
                included_units: l.included_units,
                overage_units: l.overage_units,
                overage_rate: l.overage_rate.map(|r| r.normalize()),
            }),
            explanation: l.explanation,
        }
    }
}

/// An invoice with its lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: Uuid,
    /// Assigned when issued (`INV-2026-000123`); drafts have none.
    pub number: Option<String>,
    pub account_id: Uuid,
    pub contract_id: Option<Uuid>,
    pub billing_run_id: Option<Uuid>,
    pub status: InvoiceStatus,
    pub currency: Currency,
    pub invoice_date: Date,
    pub due_date: Date,
    pub payment_terms_days: i32,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    #[schema(value_type = crate::money::DecimalString, example = "297.28")]
    pub subtotal: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "297.28")]
    pub taxable_amount: Decimal,
    /// Percent.
    #[schema(value_type = crate::money::DecimalString, example = "8.2500")]
    pub tax_rate: Decimal,
    /// Tax on the taxable lines, rounded half-up once for the invoice.
    #[schema(value_type = crate::money::DecimalString, example = "24.53")]
    pub tax_total: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "321.81")]
    pub total: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub amount_paid: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub amount_credited: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub amount_written_off: Decimal,
    /// total − paid − credited − written off; what the ledger says the invoice owes.
    #[schema(value_type = crate::money::DecimalString, example = "321.81")]
    pub balance_due: Decimal,
    /// The part of the balance under open dispute (not dunned).
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub disputed_amount: Decimal,
    /// Days since the due date while a balance is left (0 when not past due).
    pub days_past_due: i64,
    pub po_number: Option<String>,
    pub reference_fields: Vec<ReferenceValue>,
    pub memo: Option<String>,
    /// Set on the first invoice after an upgrade, renewal or ownership change.
    pub review_required: bool,
    pub review_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub issued_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub voided_at: Option<OffsetDateTime>,
    pub void_reason: Option<String>,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub lines: Vec<LineView>,
    /// The payments applied to it, oldest first; reversed applications stay, flagged.
    pub payments: Vec<crate::payments::model::ApplicationView>,
    /// The credit memos applied to it, oldest first.
    pub credits: Vec<crate::credit_memos::model::CreditApplicationView>,
    /// What short payments left unpaid on it, and why.
    pub deductions: Vec<crate::payments::model::DeductionView>,
}

impl InvoiceView {
    /// The invoice with its lines (`lines` are this invoice's, in line order).
    pub fn new(i: InvoiceRow, lines: Vec<LineRow>, today: Date) -> InvoiceView {
        let currency = i.currency;
        let money = |d: Decimal| currency.normalize(d);
        let mut tax_rate = i.tax_rate;
        tax_rate.rescale(4);
        InvoiceView {
            id: i.id,
            number: i.number,
            account_id: i.account_id,
            contract_id: i.contract_id,
            billing_run_id: i.billing_run_id,
            status: i.status,
            invoice_date: i.invoice_date,
            due_date: i.due_date,
            payment_terms_days: i.payment_terms_days,
            period_start: i.period_start,
            period_end: i.period_end,
            subtotal: money(i.subtotal),
            taxable_amount: money(i.taxable_amount),
            tax_rate,
            tax_total: money(i.tax_total),
            total: money(i.total),
            amount_paid: money(i.amount_paid),
            amount_credited: money(i.amount_credited),
            amount_written_off: money(i.amount_written_off),
            balance_due: money(i.balance_due),
            disputed_amount: money(i.disputed_amount),
            days_past_due: days_past_due(i.status, i.due_date, i.balance_due, today),
            po_number: i.po_number,
            reference_fields: i.reference_fields.0,
            memo: i.memo,
            review_required: i.review_required,
            review_reason: i.review_reason,
            issued_at: i.issued_at,
            voided_at: i.voided_at,
            void_reason: i.void_reason,
            version: i.version,
            created_at: i.created_at,
            lines: lines
                .into_iter()
                .map(|l| LineView::new(l, currency))
                .collect(),
            payments: Vec::new(),
            credits: Vec::new(),
            deductions: Vec::new(),
            currency: i.currency,
        }
    }
}

/// Filters of the invoice list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceFilter {
    pub account_id: Option<Uuid>,
    /// Invoices of the partner's accounts.
    pub partner_id: Option<Uuid>,
    pub contract_id: Option<Uuid>,
    pub billing_run_id: Option<Uuid>,
    pub status: Option<InvoiceStatus>,
    pub review_required: Option<bool>,
    /// Invoice date on or after.
    pub issued_from: Option<Date>,
    /// Invoice date on or before.
    pub issued_to: Option<Date>,
    pub due_from: Option<Date>,
    pub due_to: Option<Date>,
    /// Open with a balance and due before today (`true`), or not (`false`).
    pub past_due: Option<bool>,
    /// With a disputed amount (`true`) or without (`false`).
    pub has_dispute: Option<bool>,
    /// Total at least.
    #[param(value_type = Option<String>, example = "100.00", pattern = "^-?[0-9]+(\\.[0-9]+)?$")]
    pub min_total: Option<String>,
    /// Total at most.
    #[param(value_type = Option<String>, example = "5000.00", pattern = "^-?[0-9]+(\\.[0-9]+)?$")]
    pub max_total: Option<String>,
    /// `created` (default), `invoice_date`, `due_date` or `total`.
    #[param(inline)]
    pub sort: Option<InvoiceSort>,
    /// `asc` (default) or `desc`.
    #[param(inline)]
    pub order: Option<SortOrder>,
}

crate::text_enum! {
    InvoiceSort { Created => "created", InvoiceDate => "invoice_date", DueDate => "due_date", Total => "total" }
}

crate::text_enum! {
    SortOrder { Asc => "asc", Desc => "desc" }
}

/// A line of a manual invoice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Toner cartridge, black", "quantity": "2", "unit_price": "89.50", "financial_code_id": "0192f1d2-0000-7000-8000-000000000001"}))]
pub struct NewLine {
    #[schema(max_length = 500)]
    pub description: String,
    /// Up to 4 decimals, more than zero.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "2")]
    pub quantity: Decimal,
    /// Up to 6 decimals; negative for a discount line.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "89.50")]
    pub unit_price: Decimal,
    /// An active code of kind `revenue` or `fee`.
    pub financial_code_id: Uuid,
    /// Default true.
    pub taxable: Option<bool>,
}

/// A manual invoice for one-off charges, created as a draft.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"account_id": "0192f1d2-0000-7000-8000-000000000010", "po_number": "PO-7781",
    "lines": [{"description": "Toner cartridge, black", "quantity": "2", "unit_price": "89.50", "financial_code_id": "0192f1d2-0000-7000-8000-000000000001"}]}))]
pub struct NewInvoice {
    pub account_id: Uuid,
    /// The contract the charges belong to, if any (must be the account's).
    pub contract_id: Option<Uuid>,
    #[schema(max_length = 64)]
    pub po_number: Option<String>,
    #[serde(default)]
    pub reference_fields: Vec<ReferenceValue>,
    #[schema(max_length = 2000)]
    pub memo: Option<String>,
    /// 1 to 500 lines.
    pub lines: Vec<NewLine>,
}

/// Changes to a draft. Absent fields stay; `null` clears; `lines` (manual invoices only)
/// replaces every line.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoicePatch {
    #[serde(default, deserialize_with = "crate::validate::double_option")]
    #[schema(max_length = 64, value_type = Option<String>)]
    pub po_number: Option<Option<String>>,
    pub reference_fields: Option<Vec<ReferenceValue>>,
    #[serde(default, deserialize_with = "crate::validate::double_option")]
    #[schema(max_length = 2000, value_type = Option<String>)]
    pub memo: Option<Option<String>>,
    pub lines: Option<Vec<NewLine>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl InvoicePatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.po_number.is_none()
            && self.reference_fields.is_none()
            && self.memo.is_none()
            && self.lines.is_none()
    }
}

/// Issues a draft: assigns its number, dates it and posts it to the ledger.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueInvoice {
    /// Default today; the due date follows from the payment terms.
    pub invoice_date: Option<Date>,
    /// The version being issued (optional; or send `If-Match`).
    pub version: Option<i32>,
}

/// Voids an issued invoice on which nothing is applied.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Billed to the wrong account"}))]
pub struct VoidInvoice {
    #[schema(max_length = 500)]
    pub reason: String,
    /// The version being voided (optional; or send `If-Match`).
    pub version: Option<i32>,
}

/// Days since the due date while an open invoice has a balance; 0 otherwise.
pub fn days_past_due(status: InvoiceStatus, due: Date, balance: Decimal, today: Date) -> i64 {
    if status == InvoiceStatus::Open && balance > Decimal::ZERO && today > due {
        (today - due).whole_days()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn only_open_invoices_with_a_balance_are_past_due() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let due = date!(2026 - 10 - 31);
        let today = date!(2026 - 11 - 22);
        assert_eq!(days_past_due(InvoiceStatus::Open, due, d("1"), today), 22);
        assert_eq!(days_past_due(InvoiceStatus::Open, due, d("0"), today), 0);
        assert_eq!(days_past_due(InvoiceStatus::Paid, due, d("1"), today), 0);
        assert_eq!(days_past_due(InvoiceStatus::Open, today, d("1"), today), 0);
    }
}
