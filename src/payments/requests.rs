//! What callers send about payments: a payment with its remittance, a manual application and
//! its reversal, a refund, a return, a deduction's write-off, and the list filters.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::model::{
    ApplicationMode, DeductionReason, DeductionStatus, PaymentMethod, PaymentStatus, RefundMethod,
    ReturnReason,
};

/// A line of a remittance advice: which invoice (by id or number) and how much of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"invoice_number": "INV-2026-000123", "amount": "950.00", "deduction_reason": "pricing"}))]
pub struct RemittanceLine {
    /// The invoice's id, or give `invoice_number`.
    pub invoice_id: Option<Uuid>,
    #[schema(max_length = 40)]
    pub invoice_number: Option<String>,
    /// More than zero and at most the invoice's balance.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "950.00")]
    pub amount: Decimal,
    /// Why less than the balance was paid (default `other` when the line pays less).
    pub deduction_reason: Option<DeductionReason>,
}

/// A payment received.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"account_id": "0192f1d2-0000-7000-8000-000000000010", "amount": "1600.00",
    "currency": "USD", "method": "check", "reference": "10442", "received_date": "2026-11-20",
    "application_mode": "auto"}))]
pub struct NewPayment {
    pub account_id: Uuid,
    /// More than zero, in the account's currency.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "1600.00")]
    pub amount: Decimal,
    /// Must be the account's currency.
    #[schema(value_type = crate::money::Currency)]
    pub currency: String,
    pub method: PaymentMethod,
    /// Check number, ACH trace, ... (up to 100 characters).
    #[schema(max_length = 100)]
    pub reference: Option<String>,
    /// Not in the future.
    pub received_date: Date,
    /// Which invoices the customer says it pays (up to 500 lines; each invoice once).
    pub remittance: Option<Vec<RemittanceLine>>,
    /// `remittance` (default when a remittance is given, and only then), `auto` (default
    /// otherwise: oldest due first, skipping disputed amounts) or `none`.
    pub application_mode: Option<ApplicationMode>,
    #[schema(max_length = 1000)]
    pub memo: Option<String>,
}

/// Applies part of a payment's unapplied amount to an invoice of its account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"invoice_id": "0192f1d2-0000-7000-8000-000000000020", "amount": "150.00"}))]
pub struct NewApplication {
    /// The invoice's id, or give `invoice_number`.
    pub invoice_id: Option<Uuid>,
    #[schema(max_length = 40)]
    pub invoice_number: Option<String>,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "150.00")]
    pub amount: Decimal,
}

/// Reverses one application: the amount goes back to the payment's unapplied cash and the
/// invoice's balance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Applied to the wrong invoice"}))]
pub struct ReverseApplication {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Sends part of a payment's unapplied amount back to the customer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "50.00", "method": "check", "reference": "CHK-7781"}))]
pub struct NewRefund {
    /// At most the payment's unapplied amount.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "50.00")]
    pub amount: Decimal,
    pub method: RefundMethod,
    #[schema(max_length = 100)]
    pub reference: Option<String>,
    /// Default today; not before the payment was received, not in the future.
    pub refunded_on: Option<Date>,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// The bank gave the payment back.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "ach_return", "return_code": "R01", "charge_fee": true}))]
pub struct ReturnPayment {
    pub reason: ReturnReason,
    /// The bank's return code (`R01` insufficient funds, ...).
    #[schema(max_length = 20)]
    pub return_code: Option<String>,
    /// Default today; not before the payment was received, not in the future.
    pub returned_on: Option<Date>,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// Adds the configured returned-payment fee as a new issued invoice (default false).
    #[serde(default)]
    pub charge_fee: bool,
}

/// Writes a small deduction off.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"financial_code_id": "0192f1d2-0000-7000-8000-000000000030", "note": "Below tolerance"}))]
pub struct WriteOffDeduction {
    /// An active code of kind `write_off`.
    pub financial_code_id: Uuid,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Filters of the payment list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentFilter {
    pub account_id: Option<Uuid>,
    pub method: Option<PaymentMethod>,
    pub status: Option<PaymentStatus>,
    /// Received on or after.
    pub received_from: Option<Date>,
    /// Received on or before.
    pub received_to: Option<Date>,
    /// Case-insensitive prefix of the reference (check number, ACH trace).
    pub reference: Option<String>,
}

/// Filters of the deduction list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeductionFilter {
    pub account_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub payment_id: Option<Uuid>,
    pub status: Option<DeductionStatus>,
    pub reason: Option<DeductionReason>,
}
