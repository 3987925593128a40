//! Payment, application, refund, deduction and adjustment rows and their JSON shapes.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::Currency;

crate::text_enum! {
    /// How the money came in.
    PaymentMethod {
        Ach => "ach",
        Check => "check",
        Wire => "wire",
        Card => "card",
        Cash => "cash",
        Lockbox => "lockbox",
        Portal => "portal",
    }
}

crate::text_enum! {
    /// How a new payment is applied: as its remittance says, oldest due first, or not at all.
    ApplicationMode { Remittance => "remittance", Auto => "auto", None => "none" }
}

crate::text_enum! {
    /// Where a payment stands: `unapplied` (nothing applied), `partially_applied`, `applied`
    /// (nothing left), `refunded` (everything not applied went back), `returned` (bounced).
    PaymentStatus {
        Unapplied => "unapplied",
        PartiallyApplied => "partially_applied",
        Applied => "applied",
        Refunded => "refunded",
        Returned => "returned",
    }
}

crate::text_enum! {
    /// What made an application: the remittance, auto application, or a person.
    ApplicationSource { Remittance => "remittance", Auto => "auto", Manual => "manual" }
}

crate::text_enum! {
    /// How a refund goes back to the customer.
    RefundMethod { Ach => "ach", Check => "check", Wire => "wire", Card => "card" }
}

crate::text_enum! {
    /// Why the bank gave a payment back.
    ReturnReason { Nsf => "nsf", AchReturn => "ach_return", Chargeback => "chargeback" }
}

crate::text_enum! {
    /// Why a customer paid less than the invoice's balance.
    DeductionReason {
        Pricing => "pricing",
        Tax => "tax",
        Damaged => "damaged",
        NotReceived => "not_received",
        Promotional => "promotional",
        Other => "other",
    }
}

crate::text_enum! {
    /// open → written_off | disputed | paid (a later payment covered it) | cancelled (its
    /// payment or application was reversed).
    DeductionStatus {
        Open => "open",
        WrittenOff => "written_off",
        Disputed => "disputed",
        Paid => "paid",
        Cancelled => "cancelled",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
// None is written as NULL (every such column is nullable without a default), not as
// DEFAULT: then the INSERT's text is the same for every row and its prepared statement is
// kept for the next one.
#[diesel(
    table_name = crate::schema::payments,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PaymentRow {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub amount: Decimal,
    pub currency: Currency,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub received_date: Date,
    pub application_mode: ApplicationMode,
    pub memo: Option<String>,
    pub amount_applied: Decimal,
    pub amount_refunded: Decimal,
    pub status: PaymentStatus,
    pub returned_on: Option<Date>,
    pub return_reason: Option<ReturnReason>,
    pub return_code: Option<String>,
    pub return_note: Option<String>,
    pub return_fee_invoice_id: Option<Uuid>,
    pub version: i32,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
// None as NULL, not DEFAULT, like `PaymentRow`.
#[diesel(
    table_name = crate::schema::payment_applications,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ApplicationRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub invoice_id: Uuid,
    pub amount: Decimal,
    pub source: ApplicationSource,
    pub applied_on: Date,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub reversed_at: Option<OffsetDateTime>,
    pub reversed_by: Option<String>,
    pub reversal_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::payment_refunds)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RefundRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Decimal,
    pub method: RefundMethod,
    pub reference: Option<String>,
    pub refunded_on: Date,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::deductions, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct DeductionRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub payment_id: Uuid,
    pub invoice_id: Uuid,
    pub amount: Decimal,
    pub currency: Currency,
    pub reason: DeductionReason,
    pub status: DeductionStatus,
    pub note: Option<String>,
    pub resolved_at: Option<OffsetDateTime>,
    pub resolved_by: Option<String>,
    pub adjustment_id: Option<Uuid>,
    pub settled_by_payment_id: Option<Uuid>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub dispute_id: Option<Uuid>,
}

fn money(currency: Currency, amount: Decimal) -> Decimal {
    currency.normalize(amount)
}

/// One application of a payment to an invoice; a reversed one keeps its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: Uuid,
    pub payment_id: Uuid,
    /// The payment's number (`PMT-000001`).
    pub payment_number: String,
    pub invoice_id: Uuid,
    /// The invoice's number.
    pub invoice_number: Option<String>,
    /// The invoice's account: the payer's, or one under it (a site its head office pays for).
    pub account_id: Uuid,
    #[schema(value_type = crate::money::DecimalString, example = "1000.00")]
    pub amount: Decimal,
    pub currency: Currency,
    pub source: ApplicationSource,
    pub applied_on: Date,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether it was reversed (then it no longer counts).
    pub reversed: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reversed_at: Option<OffsetDateTime>,
    pub reversed_by: Option<String>,
    pub reversal_reason: Option<String>,
}

impl ApplicationView {
    pub fn new(
        a: ApplicationRow,
        currency: Currency,
        payment_number: String,
        invoice_number: Option<String>,
        account_id: Uuid,
    ) -> ApplicationView {
        ApplicationView {
            id: a.id,
            payment_id: a.payment_id,
            payment_number,
            invoice_id: a.invoice_id,
            invoice_number,
            account_id,
            amount: money(currency, a.amount),
            currency,
            source: a.source,
            applied_on: a.applied_on,
            created_by: a.created_by,
            created_at: a.created_at,
            reversed: a.reversed_at.is_some(),
            reversed_at: a.reversed_at,
            reversed_by: a.reversed_by,
            reversal_reason: a.reversal_reason,
        }
    }
}

/// Money sent back to the customer from a payment's unapplied amount.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: Uuid,
    #[schema(value_type = crate::money::DecimalString, example = "50.00")]
    pub amount: Decimal,
    pub method: RefundMethod,
    pub reference: Option<String>,
    pub refunded_on: Date,
    pub reason: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl RefundView {
    pub fn new(r: RefundRow, currency: Currency) -> RefundView {
        RefundView {
            id: r.id,
            amount: money(currency, r.amount),
            method: r.method,
            reference: r.reference,
            refunded_on: r.refunded_on,
            reason: r.reason,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// What a short payment left unpaid on an invoice, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeductionView {
    pub id: Uuid,
    pub account_id: Uuid,
    pub payment_id: Uuid,
    pub invoice_id: Uuid,
    #[schema(value_type = crate::money::DecimalString, example = "50.00")]
    pub amount: Decimal,
    pub currency: Currency,
    pub reason: DeductionReason,
    pub status: DeductionStatus,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    pub resolved_by: Option<String>,
    /// The write-off that settled it.
    pub adjustment_id: Option<Uuid>,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<DeductionRow> for DeductionView {
    fn from(d: DeductionRow) -> Self {
        DeductionView {
            id: d.id,
            account_id: d.account_id,
            payment_id: d.payment_id,
            invoice_id: d.invoice_id,
            amount: money(d.currency, d.amount),
            currency: d.currency,
            reason: d.reason,
            status: d.status,
            note: d.note,
            resolved_at: d.resolved_at,
            resolved_by: d.resolved_by,
            adjustment_id: d.adjustment_id,
            version: d.version,
            created_at: d.created_at,
        }
    }
}

/// How a payment came back from the bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnView {
    pub returned_on: Date,
    pub reason: ReturnReason,
    /// The bank's return code (`R01`), when given.
    pub code: Option<String>,
    pub note: Option<String>,
    /// The returned-payment fee invoice, when one was charged.
    pub fee_invoice_id: Option<Uuid>,
}

/// A payment with what became of it: applied, unapplied and refunded amounts, every
/// application (reversed ones included), refunds, deductions and its return.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    #[schema(example = "PMT-000001")]
    pub number: String,
    pub account_id: Uuid,
    #[schema(value_type = crate::money::DecimalString, example = "1600.00")]
    pub amount: Decimal,
    #[schema(example = "USD")]
    pub currency: Currency,
    pub method: PaymentMethod,
    /// Check number, ACH trace, card authorisation, ...
    pub reference: Option<String>,
    pub received_date: Date,
    pub application_mode: ApplicationMode,
    pub memo: Option<String>,
    pub status: PaymentStatus,
    #[schema(value_type = crate::money::DecimalString, example = "1600.00")]
    pub applied: Decimal,
    /// amount − applied − refunded (zero once returned): unapplied cash on the account.
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub unapplied: Decimal,
    #[schema(value_type = crate::money::DecimalString, example = "0.00")]
    pub refunded: Decimal,
    pub applications: Vec<ApplicationView>,
    pub refunds: Vec<RefundView>,
    pub deductions: Vec<DeductionView>,
    /// Set when the payment was returned.
    #[serde(rename = "return")]
    pub return_: Option<ReturnView>,
    pub created_by: String,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl PaymentView {
    pub fn new(
        p: PaymentRow,
        applications: Vec<ApplicationView>,
        refunds: Vec<RefundRow>,
        deductions: Vec<DeductionRow>,
    ) -> PaymentView {
        let unapplied = p.unapplied();
        let c = p.currency;
        PaymentView {
            id: p.id,
            number: p.number,
            account_id: p.account_id,
            amount: money(c, p.amount),
            method: p.method,
            reference: p.reference,
            received_date: p.received_date,
            application_mode: p.application_mode,
            memo: p.memo,
            status: p.status,
            applied: money(c, p.amount_applied),
            unapplied: money(c, unapplied),
            refunded: money(c, p.amount_refunded),
            applications,
            refunds: refunds.into_iter().map(|r| RefundView::new(r, c)).collect(),
            deductions: deductions.into_iter().map(DeductionView::from).collect(),
            return_: match (p.returned_on, p.return_reason) {
                (Some(returned_on), Some(reason)) => Some(ReturnView {
                    returned_on,
                    reason,
                    code: p.return_code,
                    note: p.return_note,
                    fee_invoice_id: p.return_fee_invoice_id,
                }),
                _ => None,
            },
            created_by: p.created_by,
            version: p.version,
            created_at: p.created_at,
            currency: c,
        }
    }
}

impl PaymentRow {
    /// A payment as it arrives: `amount` in `currency` from `account_id`, received on
    /// `received_date` by `method`, recorded by `by` at `at`; nothing applied, refunded or
    /// returned yet, applied oldest due first, with no reference or memo (set them with
    /// `PaymentRow { reference, ..PaymentRow::received(..) }`).
    #[allow(clippy::too_many_arguments)]
    pub fn received(
        number: String,
        account_id: Uuid,
        amount: Decimal,
        currency: Currency,
        method: PaymentMethod,
        received_date: Date,
        by: String,
        at: OffsetDateTime,
    ) -> PaymentRow {
        PaymentRow {
            id: Uuid::now_v7(),
            number,
            account_id,
            amount,
            currency,
            method,
            reference: None,
            received_date,
            application_mode: ApplicationMode::Auto,
            memo: None,
            amount_applied: Decimal::ZERO,
            amount_refunded: Decimal::ZERO,
            status: PaymentStatus::Unapplied,
            returned_on: None,
            return_reason: None,
            return_code: None,
            return_note: None,
            return_fee_invoice_id: None,
            version: 1,
            created_by: by,
            created_at: at,
            updated_at: at,
        }
    }

    /// What is left of the payment to apply or refund (nothing once returned).
    pub fn unapplied(&self) -> Decimal {
        if self.status == PaymentStatus::Returned {
            Decimal::ZERO
        } else {
            self.amount - self.amount_applied - self.amount_refunded
        }
    }
}

/// The account's history of payments: how many were received and returned (all time and in
/// the last 12 months), and the latest dates.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct PaymentHistory {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub payments_received: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    pub last_payment_date: Option<time::Date>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub returned_payments: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub returned_last_12_months: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    pub last_returned_on: Option<time::Date>,
}

impl crate::audit::Audited for PaymentView {
    const ENTITY: &'static str = "payment";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}
