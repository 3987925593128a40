//! Credit memo rows and their JSON shapes.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;

crate::text_enum! {
    /// draft → issued, or draft → pending_approval → issued | rejected; void while nothing of
    /// it is applied or refunded.
    CreditMemoStatus {
        Draft => "draft",
        PendingApproval => "pending_approval",
        Rejected => "rejected",
        Issued => "issued",
        Void => "void",
    }
}

crate::text_enum! {
    /// Why the customer is credited.
    CreditReason {
        BillingError => "billing_error",
        Pricing => "pricing",
        MeterReading => "meter_reading",
        ServiceIssue => "service_issue",
        Goodwill => "goodwill",
        Dispute => "dispute",
        Termination => "termination",
        Other => "other",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::credit_memos, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CreditMemoRow {
    pub id: Uuid,
    pub number: Option<String>,
    pub account_id: Uuid,
    pub status: CreditMemoStatus,
    pub reason: CreditReason,
    pub financial_code_id: Uuid,
    pub currency: Currency,
    pub total: Decimal,
    pub amount_applied: Decimal,
    pub amount_refunded: Decimal,
    pub dispute_id: Option<Uuid>,
    pub memo: Option<String>,
    pub credit_date: Option<Date>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<OffsetDateTime>,
    pub approved_by: Option<String>,
    pub approved_at: Option<OffsetDateTime>,
    pub approval_note: Option<String>,
    pub rejected_by: Option<String>,
    pub rejection_note: Option<String>,
    pub issued_at: Option<OffsetDateTime>,
    pub voided_at: Option<OffsetDateTime>,
    pub void_reason: Option<String>,
    pub created_by: String,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The tax in `total` (lines of taxable invoice lines).
    pub tax_total: Decimal,
}

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::credit_memo_lines, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CreditLineRow {
    pub id: Uuid,
    pub credit_memo_id: Uuid,
    pub line_no: i32,
    pub description: String,
    /// Net of tax.
    pub amount: Decimal,
    /// The invoice it credits, when it credits a line of it (or a charge's period on it).
    pub invoice_id: Option<Uuid>,
    pub invoice_line_id: Option<Uuid>,
    /// The line's own code (a contract's credits carry the charge's revenue code); none: the
    /// memo's.
    pub financial_code_id: Option<Uuid>,
    /// Of a taxable invoice line: its tax is credited too.
    pub taxable: bool,
    pub tax_amount: Decimal,
    /// The days of a charge's period it credits.
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
}

impl CreditLineRow {
    /// The line with its tax.
    pub fn total(&self) -> Decimal {
        self.amount + self.tax_amount
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::credit_memo_targets)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TargetRow {
    pub credit_memo_id: Uuid,
    pub invoice_id: Uuid,
    pub amount: Decimal,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::credit_applications)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CreditApplicationRow {
    pub id: Uuid,
    pub credit_memo_id: Uuid,
    pub invoice_id: Uuid,
    pub amount: Decimal,
    pub applied_on: Date,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::credit_refunds)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CreditRefundRow {
    pub id: Uuid,
    pub credit_memo_id: Uuid,
    pub amount: Decimal,
    pub method: crate::payments::model::RefundMethod,
    pub reference: Option<String>,
    pub refunded_on: Date,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

fn money(currency: Currency, amount: Decimal) -> Decimal {
    currency.normalize(amount)
}

/// A line of a credit memo: net, tax and total.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditLineView {
    pub line_no: i32,
    pub description: String,
    /// Net of tax.
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
    /// The tax credited with it (lines of taxable invoice lines).
    #[schema(value_type = crate::money::DecimalString, example = "9.90")]
    pub tax_amount: Decimal,
    /// amount + tax_amount.
    #[schema(value_type = crate::money::DecimalString, example = "129.90")]
    pub total: Decimal,
    /// The invoice and line it credits.
    pub invoice_id: Option<Uuid>,
    pub invoice_line_id: Option<Uuid>,
    /// Its own code; absent: the memo's.
    pub financial_code_id: Option<Uuid>,
    /// The days of a charge's period it credits.
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
}

/// An invoice a credit memo is meant for, and how much of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditTarget {
    pub invoice_id: Uuid,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
}

/// One application of a credit memo to an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditApplicationView {
    pub id: Uuid,
    pub credit_memo_id: Uuid,
    /// The memo's number (`CM-2026-000001`).
    pub credit_memo_number: Option<String>,
    pub invoice_id: Uuid,
    pub invoice_number: Option<String>,
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
    pub currency: Currency,
    pub applied_on: Date,
    pub created_by: String,
}

impl CreditApplicationView {
    pub fn new(
        a: CreditApplicationRow,
        currency: Currency,
        memo_number: Option<String>,
        invoice_number: Option<String>,
    ) -> Self {
        CreditApplicationView {
            id: a.id,
            credit_memo_id: a.credit_memo_id,
            credit_memo_number: memo_number,
            invoice_id: a.invoice_id,
            invoice_number,
            amount: money(currency, a.amount),
            currency,
            applied_on: a.applied_on,
            created_by: a.created_by,
        }
    }
}

/// A refund of a credit memo's unapplied amount.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditRefundView {
    pub id: Uuid,
    #[schema(value_type = crate::money::DecimalString, example = "20.00")]
    pub amount: Decimal,
    pub method: crate::payments::model::RefundMethod,
    pub reference: Option<String>,
    pub refunded_on: Date,
    pub created_by: String,
}

/// A credit memo with its lines, targets, applications and refunds.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditMemoView {
    pub id: Uuid,
    /// Assigned when issued (`CM-2026-000001`).
    pub number: Option<String>,
    pub account_id: Uuid,
    pub status: CreditMemoStatus,
    pub reason: CreditReason,
    pub financial_code_id: Uuid,
    pub currency: Currency,
    /// The lines' net amounts.
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub subtotal: Decimal,
    /// The tax credited with them.
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub tax_total: Decimal,
    /// subtotal + tax_total.
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub total: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub applied: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub refunded: Decimal,
    /// total − applied − refunded once issued: unapplied credit on the account.
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub unapplied: Decimal,
    /// The dispute whose valid resolution made it.
    pub dispute_id: Option<Uuid>,
    pub memo: Option<String>,
    pub credit_date: Option<Date>,
    pub lines: Vec<CreditLineView>,
    /// Where the draft said the credit goes (applied when issued, up to each balance).
    pub targets: Vec<CreditTarget>,
    pub applications: Vec<CreditApplicationView>,
    pub refunds: Vec<CreditRefundView>,
    /// Who asked for it to be issued (and so may not approve it).
    pub submitted_by: Option<String>,
    pub approved_by: Option<String>,
    pub approval_note: Option<String>,
    pub rejected_by: Option<String>,
    pub rejection_note: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub issued_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub voided_at: Option<OffsetDateTime>,
    pub void_reason: Option<String>,
    pub created_by: String,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl CreditMemoView {
    pub fn new(
        m: CreditMemoRow,
        lines: Vec<CreditLineRow>,
        targets: Vec<TargetRow>,
        applications: Vec<CreditApplicationView>,
        refunds: Vec<CreditRefundRow>,
    ) -> Self {
        let c = m.currency;
        let unapplied = m.unapplied();
        CreditMemoView {
            id: m.id,
            number: m.number,
            account_id: m.account_id,
            status: m.status,
            reason: m.reason,
            financial_code_id: m.financial_code_id,
            subtotal: money(c, m.total - m.tax_total),
            tax_total: money(c, m.tax_total),
            total: money(c, m.total),
            applied: money(c, m.amount_applied),
            refunded: money(c, m.amount_refunded),
            unapplied: money(c, unapplied),
            dispute_id: m.dispute_id,
            memo: m.memo,
            credit_date: m.credit_date,
            lines: lines
                .into_iter()
                .map(|l| CreditLineView {
                    line_no: l.line_no,
                    total: money(c, l.total()),
                    description: l.description,
                    amount: money(c, l.amount),
                    tax_amount: money(c, l.tax_amount),
                    invoice_id: l.invoice_id,
                    invoice_line_id: l.invoice_line_id,
                    financial_code_id: l.financial_code_id,
                    period_start: l.period_start,
                    period_end: l.period_end,
                })
                .collect(),
            targets: targets
                .into_iter()
                .map(|t| CreditTarget {
                    invoice_id: t.invoice_id,
                    amount: money(c, t.amount),
                })
                .collect(),
            applications,
            refunds: refunds
                .into_iter()
                .map(|r| CreditRefundView {
                    id: r.id,
                    amount: money(c, r.amount),
                    method: r.method,
                    reference: r.reference,
                    refunded_on: r.refunded_on,
                    created_by: r.created_by,
                })
                .collect(),
            submitted_by: m.submitted_by,
            approved_by: m.approved_by,
            approval_note: m.approval_note,
            rejected_by: m.rejected_by,
            rejection_note: m.rejection_note,
            issued_at: m.issued_at,
            voided_at: m.voided_at,
            void_reason: m.void_reason,
            created_by: m.created_by,
            version: m.version,
            created_at: m.created_at,
            currency: c,
        }
    }
}

/// A line of a new credit memo.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCreditLine {
    #[schema(max_length = 500)]
    pub description: String,
    /// More than zero. Of a taxable invoice line: net of tax (the tax on it is added).
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "120.00")]
    pub amount: Decimal,
    /// A line of an issued invoice of the account that this credits (at most its amount): its
    /// invoice becomes a target for the line's total, and a taxable line's tax is credited too.
    pub invoice_line_id: Option<Uuid>,
    /// The line's own active code (`credit` or `revenue`); default the memo's.
    pub financial_code_id: Option<Uuid>,
}

/// A credit memo, created as a draft: lines, or a single `amount` with its `description`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"account_id": "0192f1d2-0000-7000-8000-000000000010", "reason": "billing_error",
    "financial_code_id": "0192f1d2-0000-7000-8000-000000000040", "amount": "120.00",
    "description": "Colour overage billed twice in October",
    "targets": [{"invoice_id": "0192f1d2-0000-7000-8000-000000000020", "amount": "120.00"}]}))]
pub struct NewCreditMemo {
    pub account_id: Uuid,
    pub reason: CreditReason,
    /// An active code of kind `credit`.
    pub financial_code_id: Uuid,
    /// 1 to 100 lines (or give `amount`).
    pub lines: Option<Vec<NewCreditLine>>,
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "120.00")]
    pub amount: Option<Decimal>,
    /// The single line's description with `amount` (default "Credit").
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Invoices of the account the credit goes to when issued (the rest stays on account).
    #[serde(default)]
    pub targets: Vec<CreditTarget>,
    #[schema(max_length = 1000)]
    pub memo: Option<String>,
}

/// An approver's note.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalNote {
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Why a memo is rejected: a rejection always says.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    #[schema(max_length = 1000)]
    pub note: String,
}

/// Applies part of a memo's unapplied credit to an invoice of its account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCreditApplication {
    pub invoice_id: Uuid,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "50.00")]
    pub amount: Decimal,
}

/// Pays part of a memo's unapplied credit back to the customer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCreditRefund {
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "20.00")]
    pub amount: Decimal,
    pub method: crate::payments::model::RefundMethod,
    #[schema(max_length = 100)]
    pub reference: Option<String>,
}

/// Voids a memo of which nothing is applied or refunded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidCreditMemo {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Filters of the credit memo list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreditMemoFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<CreditMemoStatus>,
    pub reason: Option<CreditReason>,
    pub financial_code_id: Option<Uuid>,
    /// Created on or after.
    pub from: Option<Date>,
    /// Created on or before.
    pub to: Option<Date>,
}

/// What is left of an issued memo to apply or refund.
impl CreditMemoRow {
    pub fn unapplied(&self) -> Decimal {
        if self.status == CreditMemoStatus::Issued {
            self.total - self.amount_applied - self.amount_refunded
        } else {
            Decimal::ZERO
        }
    }
}

impl crate::audit::Audited for CreditMemoView {
    const ENTITY: &'static str = "credit_memo";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}
