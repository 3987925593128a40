//! Adjustment rows and their JSON shapes.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::money::Currency;

crate::text_enum! {
    /// What an adjustment does.
    AdjustmentKind {
        SmallBalanceWriteOff => "small_balance_write_off",
        LateFee => "late_fee",
        BadDebtWriteOff => "bad_debt_write_off",
        Recovery => "recovery",
        AgencyCommission => "agency_commission",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::adjustments)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AdjustmentRow {
    pub id: Uuid,
    pub account_id: Uuid,
    /// The invoice written off or recovered, or the fee invoice of a late fee.
    pub invoice_id: Option<Uuid>,
    pub kind: AdjustmentKind,
    pub amount: Decimal,
    pub currency: Currency,
    pub financial_code_id: Uuid,
    pub reason: String,
    pub deduction_id: Option<Uuid>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    /// The payment of a recovery.
    pub payment_id: Option<Uuid>,
}

/// An adjustment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentView {
    pub id: Uuid,
    pub account_id: Uuid,
    /// The invoice written off or recovered, or the fee invoice of a late fee.
    pub invoice_id: Option<Uuid>,
    pub kind: AdjustmentKind,
    #[schema(value_type = crate::money::DecimalString, example = "35.00")]
    pub amount: Decimal,
    pub currency: Currency,
    pub financial_code_id: Uuid,
    pub reason: String,
    /// The deduction a small-balance write-off settled.
    pub deduction_id: Option<Uuid>,
    /// The payment of a recovery.
    pub payment_id: Option<Uuid>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<AdjustmentRow> for AdjustmentView {
    fn from(a: AdjustmentRow) -> Self {
        AdjustmentView {
            id: a.id,
            account_id: a.account_id,
            invoice_id: a.invoice_id,
            kind: a.kind,
            amount: a.currency.normalize(a.amount),
            currency: a.currency,
            financial_code_id: a.financial_code_id,
            reason: a.reason,
            deduction_id: a.deduction_id,
            payment_id: a.payment_id,
            created_by: a.created_by,
            created_at: a.created_at,
        }
    }
}

crate::text_enum! {
    /// The adjustments a caller may make (recoveries come from payments).
    NewAdjustmentKind {
        LateFee => "late_fee",
        SmallBalanceWriteOff => "small_balance_write_off",
        BadDebtWriteOff => "bad_debt_write_off",
    }
}

/// A new adjustment.
///
/// - `late_fee`: `account_id`, `amount` or `percentage` (of the past-due balance: of
///   `invoice_id` when given, else of the account's, disputed amounts excluded), a `fee`
///   code; billed on a new issued invoice.
/// - `small_balance_write_off`: `invoice_id`, `amount` (default: the undisputed balance), at
///   most the small-balance tolerance, a `write_off` code.
/// - `bad_debt_write_off`: `invoice_id`, or `account_id` for every past-due invoice of the
///   account; the whole balance, a `write_off` code; the invoices become `uncollectible`.
///   Invoices not yet past due are written off only when the caller says so:
///   `include_not_yet_due: true` with `not_yet_due_reason`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "bad_debt_write_off", "account_id": "0192f1d2-0000-7000-8000-000000000010",
    "financial_code_id": "0192f1d2-0000-7000-8000-000000000050", "reason": "Customer in liquidation"}))]
pub struct NewAdjustment {
    pub kind: NewAdjustmentKind,
    pub account_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "35.00")]
    pub amount: Option<Decimal>,
    /// Late fees: percent of the past-due balance, up to 4 decimals.
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "1.5")]
    pub percentage: Option<Decimal>,
    pub financial_code_id: Uuid,
    #[schema(max_length = 500)]
    pub reason: String,
    /// Bad-debt write-offs: also write off invoices that are not past due yet (default
    /// false); needs `not_yet_due_reason`.
    #[serde(default)]
    pub include_not_yet_due: bool,
    /// Why invoices not yet due are written off too (with `include_not_yet_due`).
    #[schema(max_length = 2000)]
    pub not_yet_due_reason: Option<String>,
}

/// What an adjustment request made.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentResult {
    pub adjustments: Vec<AdjustmentView>,
}

/// Filters of the adjustment list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdjustmentFilter {
    pub kind: Option<AdjustmentKind>,
    pub account_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub financial_code_id: Option<Uuid>,
    /// Made on or after.
    pub from: Option<Date>,
    /// Made on or before.
    pub to: Option<Date>,
}
