//! Contract rows, the JSON shapes sent and received, and their conversions.

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::invoices::model::InvoiceStatus;
use crate::money::Currency;

crate::text_enum! {
    ContractKind { Lease => "lease", Rental => "rental", Service => "service", Sale => "sale" }
}

crate::text_enum! {
    /// draft → active ⇄ suspended → terminated; `expired` once past its end date.
    ContractStatus {
        Draft => "draft",
        Active => "active",
        Suspended => "suspended",
        Terminated => "terminated",
        Expired => "expired",
    }
}

crate::text_enum! {
    BillingFrequency { Monthly => "monthly", Quarterly => "quarterly", Annual => "annual" }
}

impl BillingFrequency {
    pub fn months(self) -> i32 {
        match self {
            BillingFrequency::Monthly => 1,
            BillingFrequency::Quarterly => 3,
            BillingFrequency::Annual => 12,
        }
    }
}

crate::text_enum! {
    /// Recurring charges billed at the start of their period, or after it ends. Meter usage
    /// is always billed after its period ends.
    BillingTiming { Advance => "advance", Arrears => "arrears" }
}

crate::text_enum! {
    AmendmentKind {
        Upgrade => "upgrade",
        Renewal => "renewal",
        OwnershipChange => "ownership_change",
        Suspension => "suspension",
        Resumption => "resumption",
        Termination => "termination",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::contracts, treat_none_as_null = true)]
pub struct ContractRow {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub kind: ContractKind,
    pub status: ContractStatus,
    pub currency: Currency,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub billing_frequency: BillingFrequency,
    pub anchor_day: i16,
    pub billing_timing: BillingTiming,
    pub payment_terms_days: Option<i32>,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    pub terminated_on: Option<Date>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub activated_at: Option<OffsetDateTime>,
    /// Quarterly and annual: the month of the grid's periods (1–12); none: from the start.
    pub anchor_month: Option<i16>,
    /// The CRM's id of the contract, set by CRM events (`contract.signed`).
    pub external_crm_id: Option<String>,
}

impl ContractRow {
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The last day that is billed: the end date or the termination date, whichever is first.
    pub fn last_billable_day(&self) -> Option<Date> {
        match (self.end_date, self.terminated_on) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = crate::schema::contract_charges, treat_none_as_null = true)]
pub struct ChargeRow {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub description: String,
    pub amount: Decimal,
    pub financial_code_id: Uuid,
    pub taxable: bool,
    pub effective_from: Date,
    pub effective_to: Option<Date>,
    pub amendment_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::contract_amendments)]
pub struct AmendmentRow {
    pub id: Uuid,
    pub contract_id: Uuid,
    pub kind: AmendmentKind,
    pub effective_date: Date,
    pub account_id: Option<Uuid>,
    pub previous_account_id: Option<Uuid>,
    pub new_end_date: Option<Date>,
    pub previous_end_date: Option<Date>,
    pub details: serde_json::Value,
    pub note: Option<String>,
    pub needs_review: bool,
    pub review_invoice_id: Option<Uuid>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
}

/// A recurring charge over the dates it is in effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChargeView {
    pub id: Uuid,
    #[schema(example = "Base lease charge")]
    pub description: String,
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub amount: Decimal,
    pub financial_code_id: Uuid,
    pub taxable: bool,
    pub effective_from: Date,
    /// Last day in effect; open-ended when absent.
    pub effective_to: Option<Date>,
    /// The amendment that added it, if any.
    pub amendment_id: Option<Uuid>,
}

impl ChargeView {
    pub fn new(r: ChargeRow, currency: Currency) -> ChargeView {
        ChargeView {
            id: r.id,
            description: r.description,
            amount: currency.normalize(r.amount),
            financial_code_id: r.financial_code_id,
            taxable: r.taxable,
            effective_from: r.effective_from,
            effective_to: r.effective_to,
            amendment_id: r.amendment_id,
        }
    }
}

/// One entry of a contract's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmendmentView {
    pub id: Uuid,
    pub kind: AmendmentKind,
    pub effective_date: Date,
    /// Ownership change: the new owner.
    pub account_id: Option<Uuid>,
    pub previous_account_id: Option<Uuid>,
    /// Renewal: the new end date.
    pub new_end_date: Option<Date>,
    pub previous_end_date: Option<Date>,
    /// What changed; which fields it has depends on the kind.
    #[schema(value_type = AmendmentDetails)]
    pub details: serde_json::Value,
    pub note: Option<String>,
    /// Whether the first invoice after it is flagged for review.
    pub needs_review: bool,
    /// The invoice that was flagged, once billed.
    pub review_invoice_id: Option<Uuid>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<AmendmentRow> for AmendmentView {
    fn from(r: AmendmentRow) -> Self {
        AmendmentView {
            id: r.id,
            kind: r.kind,
            effective_date: r.effective_date,
            account_id: r.account_id,
            previous_account_id: r.previous_account_id,
            new_end_date: r.new_end_date,
            previous_end_date: r.previous_end_date,
            details: r.details,
            note: r.note,
            needs_review: r.needs_review,
            review_invoice_id: r.review_invoice_id,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A contract with its charges (past and present) and its amendments, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractView {
    pub id: Uuid,
    #[schema(example = "CON-000042")]
    pub number: String,
    /// The account that owns it now.
    pub account_id: Uuid,
    pub kind: ContractKind,
    pub status: ContractStatus,
    #[schema(example = "USD")]
    pub currency: Currency,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub billing_frequency: BillingFrequency,
    /// Day of the month periods start on (on the month's last day when shorter).
    #[schema(example = 1)]
    pub anchor_day: i16,
    /// Quarterly and annual billing: a month periods start in (1–12; the grid steps 3 or 12
    /// months from it: 1 gives calendar quarters, 7 a fiscal year from July). Absent: the
    /// grid starts at the first anchor day on or after the start date.
    pub anchor_month: Option<i16>,
    pub billing_timing: BillingTiming,
    /// Net days; the account's terms when absent.
    pub payment_terms_days: Option<i32>,
    pub description: Option<String>,
    pub external_reference: Option<String>,
    /// The CRM's id of the contract, when a CRM event signed it (README, "CRM events").
    #[schema(example = "OPP-2026-0042")]
    pub external_crm_id: Option<String>,
    /// Last billed day of a terminated contract.
    pub terminated_on: Option<Date>,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub activated_at: Option<OffsetDateTime>,
    pub charges: Vec<ChargeView>,
    pub amendments: Vec<AmendmentView>,
}

impl ContractView {
    pub fn new(
        r: ContractRow,
        charges: Vec<ChargeRow>,
        amendments: Vec<AmendmentRow>,
    ) -> ContractView {
        let currency = r.currency();
        ContractView {
            id: r.id,
            number: r.number,
            account_id: r.account_id,
            kind: r.kind,
            status: r.status,
            currency: r.currency,
            start_date: r.start_date,
            end_date: r.end_date,
            billing_frequency: r.billing_frequency,
            anchor_day: r.anchor_day,
            anchor_month: r.anchor_month,
            billing_timing: r.billing_timing,
            payment_terms_days: r.payment_terms_days,
            description: r.description,
            external_reference: r.external_reference,
            external_crm_id: r.external_crm_id,
            terminated_on: r.terminated_on,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            activated_at: r.activated_at,
            charges: charges
                .into_iter()
                .map(|c| ChargeView::new(c, currency))
                .collect(),
            amendments: amendments.into_iter().map(AmendmentView::from).collect(),
        }
    }
}

impl crate::audit::Audited for ContractView {
    const ENTITY: &'static str = "contract";

    fn entity_id(&self) -> Uuid {
        self.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.account_id)
    }
}

/// A view of something that belongs to an account it does not name itself (equipment, a
/// meter, a reading, a document): sent and audited as the view alone, with the account known
/// to the audit log.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct OnAccount<V> {
    #[serde(skip)]
    pub account_id: Uuid,
    pub view: V,
}

/// A contract in a list (without charges and history).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractSummary {
    pub id: Uuid,
    pub number: String,
    pub account_id: Uuid,
    pub kind: ContractKind,
    pub status: ContractStatus,
    pub currency: Currency,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub billing_frequency: BillingFrequency,
    pub billing_timing: BillingTiming,
    pub terminated_on: Option<Date>,
    pub version: i32,
}

impl From<ContractRow> for ContractSummary {
    fn from(r: ContractRow) -> Self {
        ContractSummary {
            id: r.id,
            number: r.number,
            account_id: r.account_id,
            kind: r.kind,
            status: r.status,
            currency: r.currency,
            start_date: r.start_date,
            end_date: r.end_date,
            billing_frequency: r.billing_frequency,
            billing_timing: r.billing_timing,
            terminated_on: r.terminated_on,
            version: r.version,
        }
    }
}

fn yes() -> bool {
    true
}

/// A recurring charge.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Base lease charge", "amount": "250.00", "financial_code_id": "0192f1d2-0000-7000-8000-000000000001"}))]
pub struct NewCharge {
    #[schema(max_length = 200)]
    pub description: String,
    /// Per full billing period, in the contract's currency.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "250.00")]
    pub amount: Decimal,
    /// An active code of kind `revenue`.
    pub financial_code_id: Uuid,
    /// Whether the account's tax rate applies (default true).
    #[serde(default = "yes")]
    pub taxable: bool,
}

/// What an amendment changed, as recorded on it; each kind fills its own fields and leaves the
/// others out (an ownership change or a renewal without new prices records none).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct AmendmentDetails {
    /// Upgrade: the charges it added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charges_added: Option<Vec<Uuid>>,
    /// Upgrade: the charges it ended the day before its effective date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charges_ended: Option<Vec<Uuid>>,
    /// Upgrade: the meter plans in force from its effective date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_plans: Option<Vec<PlanChange>>,
    /// Renewal: the charges' new prices from its effective date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<Vec<PriceChange>>,
    /// Termination: serial numbers of the equipment ordered picked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equipment_for_pickup: Option<Vec<String>>,
    /// Termination: the credits and final invoices it made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement: Option<Settlement>,
}

impl AmendmentDetails {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("amendment details serialise")
    }
}

/// A new meter plan from an upgrade's effective date.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    pub meter_id: Uuid,
    pub included_units: i64,
    /// Up to 6 decimals.
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "0.0085")]
    pub overage_rate: Decimal,
    #[serde(default, with = "crate::money::decimal_option")]
    #[schema(value_type = Option<crate::money::DecimalString>, example = "0.00")]
    pub minimum_charge: Option<Decimal>,
}

/// A new price for a charge from a renewal's effective date.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    pub charge_id: Uuid,
    #[serde(with = "crate::money::decimal")]
    #[schema(value_type = crate::money::DecimalString, example = "265.00")]
    pub amount: Decimal,
}

/// An amendment. Fields by kind:
/// - `upgrade`: `charges` added, `end_charge_ids` ended the day before, `meter_plans` changed;
/// - `renewal`: `end_date` (later than the current one), optional `prices`;
/// - `ownership_change`: `account_id`, the new owner (same currency);
/// - `suspension`, `resumption`: nothing more; suspended days are not billed;
/// - `termination`: the effective date is the last billed day; equipment is listed for pick-up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "renewal", "effective_date": "2029-10-01", "end_date": "2031-09-30", "prices": [{"charge_id": "0192f1d2-0000-7000-8000-000000000020", "amount": "265.00"}]}))]
pub struct NewAmendment {
    pub kind: AmendmentKind,
    pub effective_date: Date,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    #[serde(default)]
    pub charges: Vec<NewCharge>,
    #[serde(default)]
    pub end_charge_ids: Vec<Uuid>,
    #[serde(default)]
    pub meter_plans: Vec<PlanChange>,
    pub end_date: Option<Date>,
    #[serde(default)]
    pub prices: Vec<PriceChange>,
    pub account_id: Option<Uuid>,
    /// The contract version being amended (optional; or send `If-Match`).
    pub version: Option<i32>,
}

/// What the settlement of a contract's termination made, as the audit log records it.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Settled<'a> {
    #[serde(skip)]
    pub contract: &'a ContractRow,
    pub settlement: &'a Settlement,
}

impl crate::audit::Audited for Settled<'_> {
    const ENTITY: &'static str = "contract";

    fn entity_id(&self) -> Uuid {
        self.contract.id
    }

    fn account_id(&self) -> Option<Uuid> {
        Some(self.contract.account_id)
    }
}

/// What a termination did, as recorded on the amendment.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Settlement {
    /// The credit memos of what was billed in advance for days after the termination.
    pub credit_memo_ids: Vec<Uuid>,
    /// The final invoices (charges in arrears and the final meter readings).
    pub final_invoice_ids: Vec<Uuid>,
    /// The billing run that made them, when one was needed.
    pub billing_run_id: Option<Uuid>,
    /// Why the final invoice could not be made (it is then billed by the next run).
    pub final_billing_error: Option<String>,
}

/// An invoice that billed a period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BilledBy {
    pub invoice_id: Uuid,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    /// What this invoice billed for the period.
    #[schema(value_type = crate::money::DecimalString)]
    pub amount: Decimal,
    /// What the invoice as a whole still owes.
    #[schema(value_type = crate::money::DecimalString)]
    pub balance_due: Decimal,
}

/// A recurring line of the contract on a non-void invoice.
#[derive(Debug, Clone)]
pub struct BilledLine {
    pub period_start: Date,
    pub amount: Decimal,
    /// Credited back of it by issued credit memos.
    pub credited: Decimal,
    pub invoice: BilledBy,
}
