//! What callers send to create, change and list contracts.

use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::model::{BillingFrequency, BillingTiming, ContractKind, ContractStatus, NewCharge};
use crate::validate::double_option;

/// A new contract, created as a draft.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "account_id": "0192f1d2-0000-7000-8000-000000000010",
    "kind": "lease",
    "start_date": "2026-10-01",
    "end_date": "2029-09-30",
    "billing_frequency": "monthly",
    "anchor_day": 1,
    "billing_timing": "advance",
    "charges": [{"description": "Base lease charge", "amount": "250.00", "financial_code_id": "0192f1d2-0000-7000-8000-000000000001"}]
}))]
pub struct NewContract {
    pub account_id: Uuid,
    pub kind: ContractKind,
    pub start_date: Date,
    pub end_date: Option<Date>,
    /// Default `monthly`.
    pub billing_frequency: Option<BillingFrequency>,
    /// 1 to 31; default the start date's day.
    pub anchor_day: Option<i16>,
    /// Quarterly and annual billing only: the month (1–12) periods start in; 1 gives calendar
    /// quarters (Jan, Apr, Jul, Oct), 7 a fiscal year from July. A first partial period is
    /// prorated over the whole grid period it falls in.
    pub anchor_month: Option<i16>,
    /// Default `advance`.
    pub billing_timing: Option<BillingTiming>,
    /// Net days; the account's terms when absent.
    pub payment_terms_days: Option<i32>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// The contract's id in the CRM or the signed paperwork.
    #[schema(max_length = 100)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub charges: Vec<NewCharge>,
}

/// Changes to a draft contract. Absent fields stay; `null` clears an optional field;
/// `charges` replaces every charge.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"anchor_day": 15, "version": 1}))]
pub struct ContractPatch {
    pub kind: Option<ContractKind>,
    pub start_date: Option<Date>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Date>)]
    pub end_date: Option<Option<Date>>,
    pub billing_frequency: Option<BillingFrequency>,
    pub anchor_day: Option<i16>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i16>)]
    pub anchor_month: Option<Option<i16>>,
    pub billing_timing: Option<BillingTiming>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub payment_terms_days: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 1000, value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(max_length = 100, value_type = Option<String>)]
    pub external_reference: Option<Option<String>>,
    pub charges: Option<Vec<NewCharge>>,
    /// The version being changed (or send `If-Match`).
    pub version: Option<i32>,
}

impl ContractPatch {
    /// Whether the patch changes nothing (only the version, or not even that).
    pub fn names_nothing(&self) -> bool {
        self.kind.is_none()
            && self.start_date.is_none()
            && self.end_date.is_none()
            && self.billing_frequency.is_none()
            && self.anchor_day.is_none()
            && self.anchor_month.is_none()
            && self.billing_timing.is_none()
            && self.payment_terms_days.is_none()
            && self.description.is_none()
            && self.external_reference.is_none()
            && self.charges.is_none()
    }
}

/// Filters of the contract list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContractFilter {
    pub account_id: Option<Uuid>,
    pub status: Option<ContractStatus>,
    pub kind: Option<ContractKind>,
    /// Contracts whose end date is before this date (renewal worklists).
    pub ending_before: Option<Date>,
    /// The contract the CRM knows by this id.
    pub external_crm_id: Option<String>,
}
