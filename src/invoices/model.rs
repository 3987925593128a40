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

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::invoices)]
pub struct InvoiceRow {
    pub id: Uuid,
    pub number: Option<String>,
    pub account_id: Uuid,
    pub contract_id: Option<Uuid>,
    pub billing_run_id: Option<Uuid>,
    pub status: InvoiceStatus,
    pub currency: String,
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
    #[schema(value_type = Option<String>, example = "0.0085")]
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
    #[schema(value_type = String, example = "1")]
    pub quantity: Decimal,
    #[schema(value_type = String, example = "250.00")]
    pub unit_price: Decimal,
    #[schema(value_type = String, example = "250.00")]
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
    fn new(l: LineRow, currency: Option<Currency>) -> LineView {
        let money = |d: Decimal| currency.map_or(d, |c| c.normalize(d));
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
    pub currency: String,
    pub invoice_date: Date,
    pub due_date: Date,
    pub payment_terms_days: i32,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    #[schema(value_type = String, example = "297.28")]
    pub subtotal: Decimal,
    #[schema(value_type = String, example = "297.28")]
    pub taxable_amount: Decimal,
    /// Percent.
    #[schema(value_type = String, example = "8.2500")]
    pub tax_rate: Decimal,
    /// Tax on the taxable lines, rounded half-up once for the invoice.
    #[schema(value_type = String, example = "24.53")]
    pub tax_total: Decimal,
    #[schema(value_type = String, example = "321.81")]
    pub total: Decimal,
    /// Set on the first invoice after an upgrade, renewal or ownership change.
    pub review_required: bool,
    pub review_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub issued_at: Option<OffsetDateTime>,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub lines: Vec<LineView>,
}

impl InvoiceView {
    /// The invoice with its lines (`lines` are this invoice's, in line order).
    pub fn new(i: InvoiceRow, lines: Vec<LineRow>) -> InvoiceView {
        let currency = Currency::parse(&i.currency);
        let money = |d: Decimal| currency.map_or(d, |c| c.normalize(d));
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
            review_required: i.review_required,
            review_reason: i.review_reason,
            issued_at: i.issued_at,
            version: i.version,
            created_at: i.created_at,
            lines: lines
                .into_iter()
                .map(|l| LineView::new(l, currency))
                .collect(),
            currency: i.currency,
        }
    }
}

/// Filters of the invoice list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceFilter {
    pub account_id: Option<Uuid>,
    pub contract_id: Option<Uuid>,
    pub billing_run_id: Option<Uuid>,
    pub status: Option<InvoiceStatus>,
    pub review_required: Option<bool>,
}
